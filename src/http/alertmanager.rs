//! The Alertmanager receiver: `POST /alertmanager` takes Alertmanager's webhook notifications
//! (version 4), keeps the alerts that are incidents of a Platform.sh environment, stores them
//! before answering and records them (see [`crate::record::IncidentOutcome`]). Bounded as the
//! activity webhook is: the same body limit, memory budget and timeouts, at most
//! [`crate::alert::MAX_ALERTS`] alerts a notification.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use super::error::WebhookError;
use super::receive::read_body;
use super::state::{AppState, Receiver};
use crate::alert::{self, Ignored};
use crate::record::IncidentOutcome;
use crate::telemetry::DeliveryOutcome;

/// The path Alertmanager posts to.
pub const PATH: &str = "/alertmanager";

/// The JSON body of an accepted notification: what became of its alerts.
#[derive(Debug, Default, Serialize)]
pub struct Ack {
    pub status: &'static str,
    pub alerts: usize,
    pub opened: usize,
    pub resolved: usize,
    pub duplicate: usize,
    pub unknown_environment: usize,
    pub ignored: usize,
}

/// `POST /alertmanager`.
pub async fn receive(State(state): State<AppState>, request: Request) -> Response {
    let (
        Parts {
            headers,
            extensions,
            ..
        },
        body,
    ) = request.into_parts();
    let result = match authenticate(&state.alertmanager, &headers) {
        Err(e) => Err(e),
        Ok(()) => match read_body(&state, &headers, body).await {
            Ok((body, _budget)) => accept(&state, &body).await,
            Err(e) => Err(e),
        },
    };
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    report(&state, &result, peer);
    match result {
        Ok(ack) => (StatusCode::OK, Json(ack)).into_response(),
        Err(e) => {
            let challenge = matches!(e, WebhookError::Credentials);
            let mut response = e.into_response();
            if challenge {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"platformsh-exporter\""),
                );
            }
            response
        }
    }
}

/// Whether the request carries the credential, as a bearer token or as basic auth's password
/// (any user name); compared in constant time. Without a configured credential, anyone may
/// post (the exporter says so at start).
fn authenticate(receiver: &Receiver, headers: &HeaderMap) -> Result<(), WebhookError> {
    let Some(credential) = &*receiver.credential.load() else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .and_then(|(scheme, value)| {
            let value = value.trim();
            if scheme.eq_ignore_ascii_case("bearer") {
                Some(value.as_bytes().to_vec())
            } else if scheme.eq_ignore_ascii_case("basic") {
                let decoded = STANDARD.decode(value).ok()?;
                let at = decoded.iter().position(|&b| b == b':')?;
                Some(decoded[at + 1..].to_vec())
            } else {
                None
            }
        });
    match given {
        Some(given) if bool::from(given.ct_eq(credential.as_bytes())) => Ok(()),
        _ => Err(WebhookError::Credentials),
    }
}

async fn accept(state: &AppState, body: &[u8]) -> Result<Ack, WebhookError> {
    let notification = alert::parse(body, &state.alertmanager.rules)?;
    let ignored: usize = notification.ignored.values().sum();
    for reason in Ignored::ALL {
        if let Some(&n) = notification.ignored.get(&reason) {
            let outcome = format!("ignored_{}", reason.as_str());
            state.telemetry.count_alerts(&outcome, n);
        }
    }
    let alerts = notification.incidents.len() + ignored;
    let received_at = crate::activity::stored_precision(chrono::Utc::now());
    let outcomes = state
        .intake
        .accept_incidents(notification.incidents, received_at)
        .await
        .map_err(WebhookError::Unavailable)?;
    let mut ack = Ack {
        status: "accepted",
        alerts,
        ignored,
        ..Ack::default()
    };
    for outcome in IncidentOutcome::ALL {
        let n = outcomes.iter().filter(|&&o| o == outcome).count();
        if n > 0 {
            state.telemetry.count_alerts(outcome.as_str(), n);
        }
        *match outcome {
            IncidentOutcome::Opened => &mut ack.opened,
            IncidentOutcome::Resolved => &mut ack.resolved,
            IncidentOutcome::Duplicate => &mut ack.duplicate,
            IncidentOutcome::UnknownEnvironment => &mut ack.unknown_environment,
        } = n;
    }
    Ok(ack)
}

/// The one place a notification's outcome is counted and logged.
fn report(state: &AppState, result: &Result<Ack, WebhookError>, peer: Option<SocketAddr>) {
    match result {
        Ok(ack) => {
            state
                .telemetry
                .count_notification(DeliveryOutcome::Accepted);
            // Alertmanager repeats every group at each interval: only a change is news.
            let news = ack.opened + ack.resolved > 0;
            macro_rules! notification {
                ($level:expr) => {
                    tracing::event!(
                        $level,
                        alerts = ack.alerts,
                        opened = ack.opened,
                        resolved = ack.resolved,
                        duplicate = ack.duplicate,
                        unknown_environment = ack.unknown_environment,
                        ignored = ack.ignored,
                        "alertmanager notification"
                    )
                };
            }
            if news {
                notification!(tracing::Level::INFO);
            } else {
                notification!(tracing::Level::DEBUG);
            }
        }
        Err(e) => {
            state.telemetry.count_notification(e.outcome());
            if let WebhookError::Unavailable(e) = e {
                state.telemetry.count_store_error(e.reason);
                tracing::error!(reason = e.reason.as_str(), error = %e.message, "cannot store an alertmanager notification");
                return;
            }
            let admitted = state
                .refusals
                .lock()
                .expect("the refusal log lock is never poisoned")
                .admit(Instant::now());
            if let Some(unlogged) = admitted {
                let remote = peer.map_or_else(String::new, |p| p.ip().to_string());
                tracing::warn!(
                    outcome = e.outcome().as_str(),
                    error = %e,
                    remote,
                    unlogged_before = unlogged,
                    "alertmanager notification refused"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Rules;
    use axum::http::HeaderValue;

    fn receiver(credential: Option<&str>) -> Receiver {
        Receiver {
            rules: Rules::default(),
            credential: arc_swap::ArcSwapOption::from(credential.map(|c| {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("c");
                std::fs::write(&path, c).unwrap();
                let flags = crate::config::AlertmanagerFlags {
                    credentials_file: Some(path),
                    severities: vec![],
                    project_label: String::new(),
                    environment_label: String::new(),
                    window: std::time::Duration::from_secs(1),
                    environment_types: vec![],
                };
                std::sync::Arc::new(flags.credential().unwrap().unwrap())
            })),
        }
    }

    fn with(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(authorization).unwrap(),
        );
        headers
    }

    #[test]
    fn a_bearer_token_or_basic_auth_password_equal_to_the_credential_passes() {
        let r = receiver(Some("s3cret\n"));
        assert!(authenticate(&r, &with("Bearer s3cret")).is_ok());
        assert!(authenticate(&r, &with("bearer s3cret")).is_ok());
        let basic = STANDARD.encode("alertmanager:s3cret");
        assert!(authenticate(&r, &with(&format!("Basic {basic}"))).is_ok());
        for wrong in [
            "Bearer s3cre".to_owned(),
            "Bearer s3cret2".to_owned(),
            format!("Basic {}", STANDARD.encode("s3cret:x")),
            format!("Basic {}", STANDARD.encode("s3cret")),
            "Token s3cret".to_owned(),
            "Basic !!!".to_owned(),
        ] {
            assert!(authenticate(&r, &with(&wrong)).is_err(), "{wrong}");
        }
        assert!(authenticate(&r, &HeaderMap::new()).is_err());
        assert!(authenticate(&receiver(None), &HeaderMap::new()).is_ok());
    }
}
