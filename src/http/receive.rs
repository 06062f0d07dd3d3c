//! Receive: the webhook endpoint. Reads the body within its limit, verifies its signature,
//! parses it, records it, and reports the outcome (counted and logged in one place); nothing is
//! recorded unless the whole delivery is valid.

use axum::Json;
use axum::body::{Body, Bytes};
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Serialize;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, error::Elapsed};

use super::budget::{BUDGET_UNIT, SMALL_BODY_BYTES};
use super::state::AppState;
use crate::activity::{self, ActivityState};
use crate::http::error::WebhookError;
use crate::record::Recorded;
use crate::telemetry::{DeliveryOutcome, Telemetry};
use crate::verify::SIGNATURE_HEADER;

/// The JSON body of an answered delivery.
#[derive(Debug, Serialize)]
pub struct Ack {
    /// `accepted` or `duplicate`.
    pub status: &'static str,
    pub id: String,
    pub state: ActivityState,
    #[serde(skip)]
    outcome: DeliveryOutcome,
    /// For the log line: what the delivery was.
    #[serde(skip)]
    summary: Summary,
}

/// What the log line of an accepted delivery says of it, besides its id and state.
#[derive(Debug, Default)]
struct Summary {
    kind: String,
    project: String,
    environment: String,
    result: &'static str,
}

/// `POST` handler for the webhook path.
pub async fn webhook(State(state): State<AppState>, request: Request) -> Response {
    // Taken apart rather than extracted as a HeaderMap, which would copy the headers.
    let (
        Parts {
            headers,
            extensions,
            ..
        },
        body,
    ) = request.into_parts();
    // The budget held for the body lives until the answer is built.
    let result = match read_body(&state, &headers, body).await {
        Ok((body, _budget)) => receive(&state, &headers, &body).await,
        Err(e) => Err(e),
    };
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    report(&state, &result, (peer, &headers));
    match result {
        Ok((status, ack)) => (status, Json(ack)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The one place a delivery's outcome is counted and logged, together. A refusal names its
/// sender: the connection's peer, and the address a trusted proxy forwarded for.
fn report(
    state: &AppState,
    result: &Result<(StatusCode, Ack), WebhookError>,
    (peer, headers): (Option<SocketAddr>, &HeaderMap),
) {
    let telemetry: &Telemetry = &state.telemetry;
    match result {
        Ok((_, ack)) => {
            telemetry.count_delivery(ack.outcome);
            let s = &ack.summary;
            // A duplicate changes nothing: at debug, so that a sender replaying thousands a
            // second cannot fill the disk with log lines (4.5 GB an hour at 5 000/s).
            macro_rules! delivery {
                ($level:expr) => {
                    tracing::event!(
                        $level,
                        outcome = ack.outcome.as_str(),
                        id = ack.id,
                        state = ack.state.as_str(),
                        r#type = s.kind,
                        project = s.project,
                        environment = s.environment,
                        result = s.result,
                        "webhook delivery"
                    )
                };
            }
            if ack.outcome == DeliveryOutcome::Duplicate {
                delivery!(tracing::Level::DEBUG);
            } else {
                delivery!(tracing::Level::INFO);
            }
        }
        Err(e) => {
            telemetry.count_delivery(e.outcome());
            if let WebhookError::Unavailable(e) = e {
                telemetry.count_store_error(e.reason);
                // Ours: the operator must know why (the body stays opaque to the sender).
                tracing::error!(reason = e.reason.as_str(), error = %e.message, "cannot store a delivery");
                return;
            }
            // The sender's mistake, or a forgery: at warn, so that a signature mismatch does
            // not look like a silent exporter, but a few a minute only.
            let admitted = state
                .refusals
                .lock()
                .expect("the refusal log lock is never poisoned")
                .admit(Instant::now());
            if let Some(unlogged) = admitted {
                let remote = peer.map_or_else(String::new, |p| p.ip().to_string());
                let forwarded = peer
                    .and_then(|p| forwarded_for(p.ip(), headers, &state.trusted_proxies))
                    .unwrap_or_default();
                tracing::warn!(
                    outcome = e.outcome().as_str(),
                    error = %e,
                    remote,
                    forwarded_for = forwarded,
                    unlogged_before = unlogged,
                    "webhook delivery refused"
                );
            }
        }
    }
}

/// The client a trusted proxy forwarded for: walking `X-Forwarded-For` from the right (each
/// proxy appends the address it received from), the first address that is not a trusted
/// proxy; `None` if `peer` itself is not trusted (anyone can write the header).
fn forwarded_for(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> Option<String> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return None;
    }
    let chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    chain
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .map(ToString::to_string)
}

/// Awaits `future` until `deadline`. A future that is ready at once (a body already received)
/// is taken without arming a timer, which costs more than the rest of reading it.
async fn within<F: Future>(deadline: Instant, future: F) -> Result<F::Output, Elapsed> {
    let mut future = std::pin::pin!(future);
    match futures_util::FutureExt::now_or_never(future.as_mut()) {
        Some(output) => Ok(output),
        None => tokio::time::timeout_at(deadline, future).await,
    }
}

/// Reads the whole body, refusing it as soon as it is known to exceed the limit: at once when
/// `Content-Length` says so, else when the bytes received pass it.
///
/// Memory for bodies is bounded by a byte budget shared by every delivery: each chunk takes
/// its share before it is kept, and the share is returned with the guards. A client that sends
/// slowly holds only what it sent, so slow clients cannot crowd out other deliveries the way a
/// limit on concurrent requests would let them; one that stops sending for the gap timeout is
/// answered 408 and gives its share back.
pub(super) async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    mut body: Body,
) -> Result<(Bytes, Vec<OwnedSemaphorePermit>), WebhookError> {
    let limit = state.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(WebhookError::TooLarge { limit });
    }
    // hyper ends a body at its Content-Length, so a declared size holds.
    let small = declared.is_some_and(|n| n <= SMALL_BODY_BYTES as u64);
    let timeout = WebhookError::Timeout {
        timeout: state.request_timeout,
    };
    let deadline = Instant::now() + state.request_timeout;
    let mut received: Vec<u8> = Vec::new();
    let mut budget: Vec<OwnedSemaphorePermit> = Vec::new();
    let mut held = 0;
    loop {
        let gap = Instant::now() + state.body_gap_timeout;
        let frame = match within(gap.min(deadline), body.frame()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) if gap < deadline => {
                return Err(WebhookError::Stalled {
                    gap: state.body_gap_timeout,
                });
            }
            Err(_) => return Err(timeout),
        };
        let frame = frame.map_err(|e| WebhookError::Unreadable(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let total = received.len() + data.len();
        if total > limit {
            return Err(WebhookError::TooLarge { limit });
        }
        let needed =
            u32::try_from(total.div_ceil(BUDGET_UNIT).saturating_sub(held)).unwrap_or(u32::MAX);
        if needed > 0 {
            // Waiting for room is not the sender's stall: only the request timeout bounds it.
            let more = within(deadline, state.body_budget.acquire(needed, small))
                .await
                .map_err(|_| timeout.clone())?;
            held += more.num_permits();
            budget.push(more);
        }
        // Most bodies come in one chunk: no copy then.
        if received.is_empty() && declared == Some(data.len() as u64) {
            return Ok((data, budget));
        }
        // Not reserved from Content-Length: a client could announce the limit and send a byte,
        // holding budget it never fills. (The price: bodies that together need more than the
        // budget can each hold part of it and wait on one another until the gap or request
        // timeout frees some.) The vector's doubling keeps at most twice what the budget counts.
        received.extend_from_slice(&data);
    }
    Ok((Bytes::from(received), budget))
}

async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(StatusCode, Ack), WebhookError> {
    if let Some(verifier) = &*state.verifier.load() {
        // Before parsing: an unauthenticated body gets no further than this.
        let signature = headers.get(SIGNATURE_HEADER).map(HeaderValue::as_bytes);
        let key = verifier.verify(signature, body)?;
        state.telemetry.count_verified(key);
    }
    let activity = activity::parse(body)?;
    let (id, activity_state) = (activity.id.clone(), activity.state);
    let summary = Summary {
        kind: activity.kind.clone(),
        project: activity.project.clone(),
        environment: activity.environment.clone(),
        result: activity.finished().map_or("", |r| r.as_str()),
    };
    let received_at = activity::stored_precision(chrono::Utc::now());
    let recorded = state
        .intake
        .accept(activity, received_at)
        .await
        .map_err(WebhookError::Unavailable)?;
    let (status, outcome) = match recorded {
        Recorded::Accepted => (StatusCode::ACCEPTED, DeliveryOutcome::Accepted),
        Recorded::Duplicate => (StatusCode::OK, DeliveryOutcome::Duplicate),
    };
    Ok((
        status,
        Ack {
            status: outcome.as_str(),
            id,
            state: activity_state,
            outcome,
            summary,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a trusted proxy's X-Forwarded-For is believed, and in it the nearest address that
    /// is not a trusted proxy (a client can put anything at the left end).
    #[test]
    fn the_forwarded_address_is_taken_from_trusted_proxies_only() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.1.2.3"),
        );
        let proxy: IpAddr = "10.9.9.9".parse().unwrap();
        assert_eq!(
            forwarded_for(proxy, &headers, &trusted).as_deref(),
            Some("203.0.113.7")
        );
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(forwarded_for(stranger, &headers, &trusted), None);
        assert_eq!(forwarded_for(proxy, &HeaderMap::new(), &trusted), None);
    }
}
