//! The webhook's shared keys, from the flag, the variable or the key file.

use std::path::Path;

use super::error::{ConfigError, read};
use crate::verify::{BlankKey, MAX_KEYS, SharedKey};

/// The shared keys: the flag's or the variable's, or the file's, one per line (blank
/// lines skipped; a line is the key as written, its line ending removed). The first is the
/// one `setup` gives integrations; a delivery signed with any verifies (README, Rotating
/// the shared key).
pub fn shared_keys(
    file: Option<&Path>,
    flag: Option<&SharedKey>,
) -> Result<Vec<SharedKey>, ConfigError> {
    let Some(path) = file else {
        return Ok(flag.into_iter().cloned().collect());
    };
    let what = "shared key file";
    let text = read(what, path)?;
    let keys: Vec<SharedKey> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .map(SharedKey::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| ConfigError::invalid(what, path, e))?;
    if keys.is_empty() {
        return Err(ConfigError::invalid(what, path, BlankKey));
    }
    if keys.len() > MAX_KEYS {
        return Err(ConfigError::invalid(
            what,
            path,
            format!("{} keys, at most {MAX_KEYS}", keys.len()),
        ));
    }
    Ok(keys)
}
