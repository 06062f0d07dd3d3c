//! The activity types the flags name: those that deploy a change and those that restart.

use hashbrown::HashSet;

use super::error::ConfigError;

/// A comma-separated list of activity types as a set, blanks dropped.
pub fn set(types: &[String]) -> HashSet<String> {
    types
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Refuses a type that is both a change and a restart, naming it.
pub fn check(changes: &[String], restarts: &[String]) -> Result<(), ConfigError> {
    let restarts = set(restarts);
    let mut both: Vec<String> = set(changes)
        .into_iter()
        .filter(|t| restarts.contains(t))
        .collect();
    both.sort();
    if both.is_empty() {
        return Ok(());
    }
    Err(ConfigError::Flags(format!(
        "{} in both --deployment.types and --deployment.restart-types: a (re)deployment is \
         either a change or a restart",
        both.join(", ")
    )))
}
