//! Basic authentication for everything but the webhook, configured the way Prometheus exporters
//! are (exporter-toolkit's `--web.config.file`): a YAML file with `basic_auth_users`, each
//! password a bcrypt hash. The webhook stays open: Platform.sh cannot send credentials, and its
//! deliveries are authenticated by their signature instead.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::http::HeaderValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// Users and their bcrypt hashes, with a cache of credentials already verified: bcrypt is slow
/// on purpose, and Prometheus sends the same credentials every scrape.
#[derive(Clone)]
pub struct BasicAuth {
    users: Arc<HashMap<String, String>>,
    /// A hash of a random password at the users' highest cost: an unknown user is checked
    /// against it, so that a wrong user takes as long as a wrong password (no enumeration).
    dummy: Arc<str>,
    /// SHA-256 of `user:password` pairs that verified; never the password itself. Failures are
    /// not cached, so a flood of wrong passwords cannot evict the scraper's credentials.
    verified: Arc<Mutex<HashSet<[u8; 32]>>>,
    /// bcrypt runs on blocking threads, at most this many at once: a flood of wrong passwords
    /// then takes one core, not every core the deliveries need.
    hashing: Arc<Semaphore>,
}

/// Credentials that verified, remembered at most: more users than a web config file holds.
const CACHE_CAPACITY: usize = 64;

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl BasicAuth {
    /// The users of a web configuration file's `basic_auth_users`; `Ok(None)` for none.
    pub fn from_users(users: HashMap<String, String>) -> Result<Option<Self>, String> {
        let mut cost = None;
        for (user, hash) in &users {
            let parts = hash.parse::<bcrypt::HashParts>().map_err(|e| {
                format!("the password of {user:?} is not a valid bcrypt hash ({e})")
            })?;
            cost = cost.max(Some(parts.get_cost()));
        }
        let Some(cost) = cost else {
            return Ok(None);
        };
        // Never accepted whatever it matches: `check` requires a known user as well.
        let dummy = bcrypt::hash("no such user", cost).map_err(|e| e.to_string())?;
        let parallel = std::thread::available_parallelism().map_or(1, |n| n.get() / 2);
        Ok(Some(Self {
            users: Arc::new(users),
            dummy: dummy.into(),
            verified: Arc::default(),
            hashing: Arc::new(Semaphore::new(parallel.max(1))),
        }))
    }

    /// Whether the `Authorization` header carries valid credentials.
    pub(super) async fn check(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = authorization.and_then(credentials) else {
            return false;
        };
        let key: [u8; 32] = Sha256::digest(format!("{user}:{password}")).into();
        if self.cache().contains(&key) {
            return true;
        }
        let (hash, known) = match self.users.get(&user) {
            Some(hash) => (hash.clone(), true),
            None => (self.dummy.to_string(), false),
        };
        let Ok(_permit) = self.hashing.acquire().await else {
            return false;
        };
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false)
            && known;
        if ok {
            let mut cache = self.cache();
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(key);
        }
        ok
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.verified
            .lock()
            .expect("the credential cache lock is never poisoned: no panic while held")
    }
}

/// The user and password of a `Basic` `Authorization` header; the scheme is case-insensitive
/// (RFC 7235).
fn credentials(value: &HeaderValue) -> Option<(String, String)> {
    let (scheme, encoded) = value.to_str().ok()?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(user: &str, hash: &str) -> HashMap<String, String> {
        HashMap::from([(user.to_owned(), hash.to_owned())])
    }

    #[test]
    fn no_users_enable_nothing_and_plain_text_passwords_are_refused() {
        assert!(BasicAuth::from_users(HashMap::new()).unwrap().is_none());
        let err = BasicAuth::from_users(users("alice", "secret")).unwrap_err();
        assert!(err.contains("not a valid bcrypt hash"), "{err}");
        // Shaped like bcrypt, but not one: refused at load, not at the first login.
        let err = BasicAuth::from_users(users("alice", "$2y$10$short")).unwrap_err();
        assert!(err.contains("not a valid bcrypt hash"), "{err}");
    }

    #[tokio::test]
    async fn only_the_right_password_passes() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = BasicAuth::from_users(users("alice", &hash))
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
        // RFC 7235: the scheme is case-insensitive.
        let lower = HeaderValue::from_str(&format!("basic {}", STANDARD.encode("alice:s3cret")));
        assert!(auth.check(Some(&lower.unwrap())).await);
        let other = HeaderValue::from_str(&format!("Bearer {}", STANDARD.encode("alice:s3cret")));
        assert!(!auth.check(Some(&other.unwrap())).await);
    }

    /// A wrong password costs a bcrypt check whether the user exists or not.
    #[tokio::test]
    async fn an_unknown_user_takes_as_long_as_a_wrong_password() {
        let hash = bcrypt::hash("s3cret", 8).unwrap();
        let auth = BasicAuth::from_users(users("alice", &hash))
            .unwrap()
            .unwrap();
        assert_eq!(
            auth.dummy.parse::<bcrypt::HashParts>().unwrap().get_cost(),
            8
        );
        let timed = |user_password: &'static str| {
            let auth = auth.clone();
            async move {
                let header =
                    HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(user_password)))
                        .unwrap();
                let started = std::time::Instant::now();
                assert!(!auth.check(Some(&header)).await);
                started.elapsed()
            }
        };
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            known.push(timed("alice:wrong").await);
            unknown.push(timed("mallory:wrong").await);
        }
        known.sort();
        unknown.sort();
        // Medians: an unknown user used to be refused in microseconds, a known one after a
        // bcrypt check of milliseconds; now both run one.
        let (known, unknown) = (known[2], unknown[2]);
        assert!(
            unknown * 3 > known && known * 3 > unknown,
            "known user {known:?}, unknown user {unknown:?}"
        );
    }
}
