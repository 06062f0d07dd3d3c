//! Basic authentication for everything but the webhook, configured the way Prometheus exporters
//! are (exporter-toolkit's `--web.config.file`): a YAML file with `basic_auth_users`, each
//! password a bcrypt hash. The webhook stays open: Platform.sh cannot send credentials, and its
//! deliveries are authenticated by their signature instead.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The parts of exporter-toolkit's web configuration file this exporter understands.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebConfigFile {
    #[serde(default)]
    basic_auth_users: HashMap<String, String>,
    /// Accepted so that a file shared with other exporters loads; TLS is refused below.
    #[serde(default)]
    tls_server_config: Option<serde_yaml_ng::Value>,
    /// Accepted and not applied: its HTTP/2 and header settings have no counterpart here.
    #[serde(default)]
    #[allow(dead_code)]
    http_server_config: Option<serde_yaml_ng::Value>,
}

/// Users and their bcrypt hashes, with a cache of credentials already verified: bcrypt is slow
/// on purpose, and Prometheus sends the same credentials every scrape.
#[derive(Clone)]
pub struct BasicAuth {
    users: Arc<HashMap<String, String>>,
    /// SHA-256 of `user:password` pairs that verified; never the password itself.
    verified: Arc<Mutex<HashMap<[u8; 32], bool>>>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl BasicAuth {
    /// Loads a web configuration file. `Ok(None)` when it configures no users.
    pub fn load(path: &Path) -> Result<Option<Self>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read web config file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("web config file {}: {e}", path.display()))
    }

    fn parse(text: &str) -> Result<Option<Self>, String> {
        let file: WebConfigFile = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        if file.tls_server_config.is_some() {
            return Err(
                "tls_server_config is not supported; terminate TLS in a reverse proxy".into(),
            );
        }
        for (user, hash) in &file.basic_auth_users {
            if !hash.starts_with("$2") {
                return Err(format!("the password of {user:?} is not a bcrypt hash"));
            }
        }
        Ok((!file.basic_auth_users.is_empty()).then(|| Self {
            users: Arc::new(file.basic_auth_users),
            verified: Arc::default(),
        }))
    }

    /// Whether the `Authorization` header carries valid credentials.
    async fn check(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = authorization.and_then(credentials) else {
            return false;
        };
        let Some(hash) = self.users.get(&user).cloned() else {
            return false;
        };
        let key: [u8; 32] = Sha256::digest(format!("{user}:{password}")).into();
        let cached = self.cache().get(&key).copied();
        if let Some(ok) = cached {
            return ok;
        }
        // bcrypt takes tens of milliseconds: keep it off the async workers.
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        let mut cache = self.cache();
        // Bounded: a stream of wrong passwords must not grow it forever.
        if cache.len() >= 1024 {
            cache.clear();
        }
        cache.insert(key, ok);
        ok
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], bool>> {
        self.verified
            .lock()
            .expect("the credential cache lock is never poisoned: no panic while held")
    }
}

fn credentials(value: &HeaderValue) -> Option<(String, String)> {
    let encoded = value.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Middleware: answers 401 with a `WWW-Authenticate` challenge unless the request is authorised.
pub async fn require(State(auth): State<BasicAuth>, request: Request, next: Next) -> Response {
    if auth
        .check(request.headers().get(header::AUTHORIZATION))
        .await
    {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"platformsh-exporter\"",
            )],
            "Unauthorized\n",
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_users_enables_nothing() {
        assert!(
            BasicAuth::parse("basic_auth_users: {}\n")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn plain_text_passwords_and_tls_are_refused() {
        let err = BasicAuth::parse("basic_auth_users:\n  alice: secret\n").unwrap_err();
        assert!(err.contains("not a bcrypt hash"), "{err}");
        let err = BasicAuth::parse("tls_server_config:\n  cert_file: x\n").unwrap_err();
        assert!(err.contains("tls_server_config"), "{err}");
        assert!(BasicAuth::parse("unknown_key: 1\n").is_err());
    }

    #[tokio::test]
    async fn only_the_right_password_passes() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = BasicAuth::parse(&format!("basic_auth_users:\n  alice: '{hash}'\n"))
            .unwrap()
            .unwrap();
        let header = |user_password: &str| {
            HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(user_password))).unwrap()
        };
        assert!(auth.check(Some(&header("alice:s3cret"))).await);
        // Twice: the second answer comes from the cache and must agree.
        assert!(auth.check(Some(&header("alice:s3cret"))).await);
        assert!(!auth.check(Some(&header("alice:wrong"))).await);
        assert!(!auth.check(Some(&header("bob:s3cret"))).await);
        assert!(!auth.check(None).await);
    }
}
