//! The status page at `/`: what an operator opens before Grafana exists. Environments and their
//! last deployment (failing first), unfinished activities, the last deliveries, whether
//! signatures are required and whether reconciliation keeps up. Server-rendered HTML, a little
//! CSS, no script; every value that came from a sender is escaped.

use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::Html;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::state::AppState;
use crate::activity::DeliveryMode;
use crate::store;

/// Deliveries listed.
const RECENT: usize = 15;

#[derive(Debug, Deserialize)]
pub struct Params {
    /// Reload the page every this many seconds (5 to 3600).
    refresh: Option<u32>,
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape(text, &mut out);
    out
}

/// "3 min ago", "2 h ago", "5 days ago".
fn ago(seconds: f64, now: f64) -> String {
    format!("{} ago", span((now - seconds).max(0.0)))
}

/// A length of time, in the unit a person reads it in.
fn span(seconds: f64) -> String {
    match seconds {
        a if a < 90.0 => format!("{a:.0} s"),
        a if a < 5400.0 => format!("{:.0} min", a / 60.0),
        a if a < 172_800.0 => format!("{:.0} h", a / 3600.0),
        a => format!("{:.0} days", a / 86_400.0),
    }
}

fn when(seconds: f64) -> String {
    DateTime::from_timestamp_micros((seconds * 1e6) as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1rem;max-width:70rem;color:#222}\
table{border-collapse:collapse;width:100%;margin-bottom:1.5rem;font-size:.95rem}\
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}\
.failing td{background:#fde8e8}.failing .result{color:#b00;font-weight:bold}\
.succeeded .result{color:#070}.inactive{color:#777}\
.ok{color:#070}.warn{color:#b60}.bad{color:#b00}\
@media(max-width:40rem){th:nth-child(n+4),td:nth-child(n+4){display:none}}";

/// `GET /`: the status page.
/// What the page may do in a browser: show its own inline style, nothing else (no script, no
/// frame around it, no sniffing its type), so that a name an attacker chose can do nothing
/// even if escaping were ever missed.
const SECURITY_HEADERS: [(header::HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// `GET /`: the page, with `SECURITY_HEADERS`.
pub async fn page(
    state: State<AppState>,
    params: Query<Params>,
) -> ([(header::HeaderName, &'static str); 4], Html<String>) {
    (SECURITY_HEADERS, body(state, params).await)
}

async fn body(State(state): State<AppState>, Query(params): Query<Params>) -> Html<String> {
    let now_time = Utc::now();
    let now = now_time.timestamp_micros() as f64 / 1e6;
    let (environments, incidents, unfinished, settling) = {
        let recorder = state
            .recorder
            .lock()
            .expect("the recorder lock is never poisoned: recording does not panic");
        (
            recorder.environment_status(),
            recorder.open_incidents(),
            recorder.unfinished_activities(),
            recorder.settling(),
        )
    };
    let recent = match &state.store {
        Some(store) => Some(
            store
                .recent(store::Query {
                    limit: RECENT,
                    ..store::Query::default()
                })
                .await,
        ),
        None => None,
    };

    let mut html = String::with_capacity(16 * 1024);
    html.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    );
    if let Some(refresh) = params.refresh.map(|r| r.clamp(5, 3600)) {
        let _ = writeln!(html, "<meta http-equiv=\"refresh\" content=\"{refresh}\">");
    }
    let _ = writeln!(
        html,
        "<title>Platform.sh Exporter</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>Platform.sh Exporter</h1>\n<p>Version {}. <a href=\"{}\">Metrics</a> · \
         <a href=\"/api/v1/activities\">Activities (JSON)</a> · <a href=\"/-/ready\">Readiness</a> · \
         <a href=\"?refresh=30\">Refresh every 30 s</a></p>",
        env!("CARGO_PKG_VERSION"),
        escaped(&state.telemetry_path),
    );
    exporter_section(&state, now, &mut html);
    order_line(settling, &mut html);
    environments_section(&environments, now, &mut html);
    incidents_section(&incidents, now, &mut html);
    unfinished_section(&unfinished, now, &mut html);
    deliveries_section(recent, now, &mut html);
    let _ = writeln!(
        html,
        "<p class=\"inactive\">Rendered {}.</p>\n</body>\n</html>",
        now_time.format("%Y-%m-%d %H:%M:%S UTC")
    );
    Html(html)
}

fn exporter_section(state: &AppState, now: f64, html: &mut String) {
    html.push_str("<h2>Exporter</h2>\n<ul>\n");
    if state.verifier.load().is_some() {
        html.push_str("<li id=\"signatures\" class=\"ok\">Webhook signatures are required.</li>\n");
    } else {
        html.push_str(
            "<li id=\"signatures\" class=\"warn\">Webhook signatures are not required: anyone \
             who knows the URL can post activities (see --webhook.shared-key-file).</li>\n",
        );
    }
    match state.telemetry.api_started() {
        None => html.push_str(
            "<li id=\"reconciliation\">Reconciliation with the Platform.sh API is off.</li>\n",
        ),
        Some(api) => {
            let polls = api.last_polls();
            if polls.is_empty() {
                html.push_str(
                    "<li id=\"reconciliation\" class=\"warn\">Reconciliation is on; no poll has \
                     completed yet.</li>\n",
                );
            }
            let unread = api.unread_by_project();
            let modes = api.delivery_modes();
            for (project, at) in polls {
                // Behind by more than three poll intervals' worth of a default 5 min: stale.
                let mut class = if now - at > 900.0 { "bad" } else { "ok" };
                let behind = unread
                    .iter()
                    .find(|(p, _)| *p == project)
                    .map_or(0.0, |(_, s)| *s);
                let behind = if behind > 0.0 {
                    class = if class == "ok" { "warn" } else { class };
                    format!(
                        "; {} of activity history not read yet (the next polls go on)",
                        span(behind)
                    )
                } else {
                    String::new()
                };
                let mode = modes
                    .iter()
                    .find(|(p, _)| *p == project)
                    .map_or("", |(_, mode)| match mode {
                        DeliveryMode::Webhook => "; activities arrive by webhook",
                        DeliveryMode::ApiOnly => {
                            "; API-only: no webhook integration sends here, so activities \
                             show at each poll"
                        }
                        DeliveryMode::Unknown => {
                            "; its integrations cannot be read, so every activity found \
                             undelivered counts as missed"
                        }
                    });
                let _ = writeln!(
                    html,
                    "<li id=\"reconciliation\" class=\"{class}\">Reconciliation of {}: last \
                     complete poll {}{behind}{mode}.</li>",
                    escaped(&project),
                    ago(at, now)
                );
            }
        }
    }
    html.push_str("</ul>\n");
}

/// How lead time and time to recover are ordered (README, Order): a line after the exporter's.
fn order_line((waiting, window): (usize, std::time::Duration), html: &mut String) {
    if window.is_zero() {
        html.push_str(
            "<p id=\"order\" class=\"warn\">Lead time and time to recover are applied as \
             activities arrive (--activities.settle=0s): they depend on arrival order.</p>\n",
        );
        return;
    }
    let activities = if waiting == 1 {
        "activity"
    } else {
        "activities"
    };
    let _ = writeln!(
        html,
        "<p id=\"order\">Lead time and time to recover are applied in time order, {} after \
         each deployment (--activities.settle): {waiting} finished {activities} waiting.</p>",
        span(window.as_secs_f64())
    );
}

fn environments_section(
    environments: &[crate::record::EnvironmentStatus],
    now: f64,
    html: &mut String,
) {
    html.push_str("<h2>Environments</h2>\n");
    if environments.is_empty() {
        html.push_str("<p>No deployment recorded yet.</p>\n");
        return;
    }
    html.push_str(
        "<table id=\"environments\">\n<thead><tr><th>Project</th><th>Environment</th>\
         <th>Last deployment</th><th>When</th><th>Last success</th><th>Failing since</th>\
         </tr></thead>\n<tbody>\n",
    );
    for env in environments {
        let (class, result) = match (env.active, env.succeeded) {
            (false, _) => ("inactive", "inactive"),
            (true, true) => ("succeeded", "succeeded"),
            (true, false) => ("failing", "failed"),
        };
        let _ = writeln!(
            html,
            "<tr class=\"{class}\" data-project=\"{}\" data-environment=\"{}\"><td>{}</td>\
             <td>{}</td><td class=\"result\">{result}</td><td title=\"{}\">{}</td><td>{}</td>\
             <td>{}</td></tr>",
            escaped(&env.project),
            escaped(&env.environment),
            escaped(&env.project),
            escaped(&env.environment),
            when(env.last_deployment),
            ago(env.last_deployment, now),
            env.last_success.map(|t| ago(t, now)).unwrap_or_default(),
            env.failing_since.map(|t| ago(t, now)).unwrap_or_default(),
        );
    }
    html.push_str("</tbody>\n</table>\n");
}

/// Incidents firing now, from Alertmanager (README, Incidents); at most `RECENT`, the latest
/// first.
fn incidents_section(incidents: &[crate::record::OpenIncident], now: f64, html: &mut String) {
    html.push_str("<h2>Open incidents</h2>\n");
    if incidents.is_empty() {
        html.push_str("<p>None (from Alertmanager's notifications to /alertmanager).</p>\n");
        return;
    }
    html.push_str(
        "<table id=\"incidents\">\n<thead><tr><th>Project</th><th>Environment</th>\
         <th>Alert</th><th>Since</th></tr></thead>\n<tbody>\n",
    );
    for incident in incidents.iter().take(RECENT) {
        let _ = writeln!(
            html,
            "<tr class=\"failing\"><td>{}</td><td>{}</td><td>{}</td><td title=\"{}\">{}</td></tr>",
            escaped(&incident.project),
            escaped(&incident.environment),
            escaped(&incident.alertname),
            when(incident.started),
            ago(incident.started, now),
        );
    }
    html.push_str("</tbody>\n</table>\n");
    if incidents.len() > RECENT {
        let _ = writeln!(html, "<p>And {} more.</p>", incidents.len() - RECENT);
    }
}

fn unfinished_section(
    unfinished: &[(
        String,
        String,
        String,
        crate::activity::ActivityState,
        DateTime<Utc>,
    )],
    now: f64,
    html: &mut String,
) {
    html.push_str("<h2>Unfinished activities</h2>\n");
    if unfinished.is_empty() {
        html.push_str("<p>None.</p>\n");
        return;
    }
    html.push_str(
        "<table id=\"unfinished\">\n<thead><tr><th>Project</th><th>Environment</th>\
         <th>State</th><th>Last heard of</th><th>Activity</th></tr></thead>\n<tbody>\n",
    );
    for (id, project, environment, state, seen) in unfinished {
        let seen = seen.timestamp_micros() as f64 / 1e6;
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escaped(project),
            escaped(environment),
            state.as_str(),
            ago(seen, now),
            escaped(id),
        );
    }
    html.push_str("</tbody>\n</table>\n");
}

fn deliveries_section(
    recent: Option<Result<Vec<store::StoredActivity>, store::StoreError>>,
    now: f64,
    html: &mut String,
) {
    html.push_str("<h2>Last deliveries</h2>\n");
    let activities = match recent {
        None => {
            html.push_str("<p>Memory-only mode: no activity log is kept.</p>\n");
            return;
        }
        Some(Err(e)) => {
            let _ = writeln!(
                html,
                "<p class=\"bad\">The activity store cannot be read: {}</p>",
                escaped(&e.to_string())
            );
            return;
        }
        Some(Ok(activities)) if activities.is_empty() => {
            html.push_str("<p>None yet.</p>\n");
            return;
        }
        Some(Ok(activities)) => activities,
    };
    html.push_str(
        "<table id=\"deliveries\">\n<thead><tr><th>Project</th><th>Environment</th>\
         <th>Type</th><th>State</th><th>Outcome</th><th>Received</th></tr></thead>\n<tbody>\n",
    );
    for a in activities {
        let received = a.received_at.timestamp_micros() as f64 / 1e6;
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escaped(&a.project),
            escaped(&a.environment),
            escaped(&a.kind),
            escaped(&a.state),
            escaped(a.result.as_deref().unwrap_or("")),
            ago(received, now),
        );
    }
    html.push_str("</tbody>\n</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_text_is_escaped_for_html() {
        assert_eq!(
            escaped(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(ago(100.0, 130.0), "30 s ago");
        assert_eq!(ago(0.0, 600.0), "10 min ago");
        assert_eq!(ago(0.0, 7200.0), "2 h ago");
        assert_eq!(ago(0.0, 864_000.0), "10 days ago");
    }
}
