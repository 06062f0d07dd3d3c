//! What runs in the background beside the server: the recorder brought to the present (facts
//! applied once settled, stale unfinished activities and idle environments dropped), the
//! exporter's counters saved, the storage retention applied, the web config file watched. A
//! scrape only reads.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::http::AppState;
use crate::record;

/// How often the recorder is brought to the present: how late, at most, a settled fact or an
/// expiry shows. Each pass scans the tracked unfinished activities and environments (capped),
/// under the recorder's lock.
const EXPIRE_EVERY: Duration = Duration::from_secs(1);
/// How often the exporter's counters are saved, and the retention applied, while running.
const SAVE_EVERY: Duration = Duration::from_secs(10);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Activities received before this are past `retention`.
pub fn retention_cutoff(retention: Duration) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::TimeDelta::MAX)
}

/// Saves the counters and prunes old activities in the background, until aborted.
pub fn spawn(state: &AppState, retention: Option<Duration>) -> JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut expire = tokio::time::interval(EXPIRE_EVERY);
        let mut save = tokio::time::interval(SAVE_EVERY);
        let mut prune = tokio::time::interval(PRUNE_EVERY);
        loop {
            tokio::select! {
                _ = expire.tick() => {
                    let mut recorder = state
                        .recorder
                        .lock()
                        .expect("the recorder lock is never poisoned: recording does not panic");
                    record::expire(&mut recorder, chrono::Utc::now());
                    drop(recorder);
                    // The web config is read again when it changes even if no request
                    // comes to look (a bad new file is then reported at once).
                    state.web.current();
                }
                _ = save.tick() => state.save_counters().await,
                _ = prune.tick() => {
                    if let (Some(store), Some(retention)) = (&state.store, retention) {
                        match store.prune(retention_cutoff(retention)).await {
                            Ok(n) => tracing::debug!(pruned = n, "applied the storage retention"),
                            Err(e) => tracing::warn!(error = %e, "cannot apply the storage retention"),
                        }
                    }
                }
            }
        }
    })
}
