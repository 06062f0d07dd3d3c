//! SIGHUP: read the configuration files again, as Prometheus and its exporters do. The web
//! config file (basic auth, TLS certificates), the shared key file and the Alertmanager
//! credential file; a file that cannot be used keeps what was in use, and the log says which.
//! (The web config is also read again by itself when it changes: see `http::webconfig`.)

use std::sync::Arc;

use crate::config::Config;
use crate::http::AppState;
use crate::http::webconfig::Reload;
use crate::verify::Verifier;

/// Reloads on every SIGHUP until aborted. Without the signal handler, SIGHUP would end the
/// process silently.
pub async fn on_hangup(state: AppState, config: Config) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => signal,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        reload(&state, &config);
    }
}

/// Reads every configuration file again; true if all could be used.
pub fn reload(state: &AppState, config: &Config) -> bool {
    let mut failed = Vec::new();
    if let Reload::Refused(e) = state.web.reload_if_changed(true) {
        failed.push(format!("web config file: {e}"));
    }
    match config.shared_keys() {
        Ok(keys) => {
            state.telemetry.expect_keys(keys.len());
            let verifier = (!keys.is_empty()).then(|| Arc::new(Verifier::new(&keys)));
            state.verifier.store(verifier);
        }
        Err(e) => failed.push(e.to_string()),
    }
    match config.alertmanager.credential() {
        Ok(credential) => state
            .alertmanager
            .credential
            .store(credential.map(Arc::new)),
        Err(e) => failed.push(e.to_string()),
    }
    state.telemetry.config_reloaded(failed.is_empty());
    if failed.is_empty() {
        tracing::info!("SIGHUP: reloaded the configuration files");
    } else {
        tracing::warn!(
            errors = failed.join("; "),
            "SIGHUP: some configuration files cannot be used; what was in use stays for those"
        );
    }
    failed.is_empty()
}
