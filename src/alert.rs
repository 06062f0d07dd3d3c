//! Alert: an Alertmanager notification (webhook version 4) turned into the incidents it reports.
//!
//! Alertmanager posts every alert of a group at each notification, firing and resolved,
//! again and again until it resolves: the receiver identifies an incident by its
//! `fingerprint` (the hash of its label set) and `startsAt` (a later firing of the same labels
//! starts later), and keeps only the alerts that are incidents of a Platform.sh environment
//! (see [`Rules`]). Everything a notification can get wrong is caught here, before anything
//! is stored.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::activity::{MAX_LABEL_BYTES, ParseError, stored_precision};

/// Most alerts one notification may carry: Alertmanager's `max_alerts` bounds it at the sender.
pub const MAX_ALERTS: usize = 1_000;
/// Longest fingerprint kept: Alertmanager's are 16 hex digits.
const MAX_FINGERPRINT_BYTES: usize = 64;
/// Alert names longer than this are cut (on a character boundary) where they are kept.
const MAX_ALERTNAME_BYTES: usize = 200;
/// Alerts whose name starts so are this exporter's own (its bundled rules): about Platform.sh's
/// deployments or the exporter itself, never an incident of the service.
pub const OWN_ALERT_PREFIX: &str = "Platformsh";

/// Whether an alert fires or has resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "firing" => Some(AlertStatus::Firing),
            "resolved" => Some(AlertStatus::Resolved),
            _ => None,
        }
    }
}

/// One alert that is an incident of a Platform.sh environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub fingerprint: String,
    pub status: AlertStatus,
    pub starts_at: DateTime<Utc>,
    /// When it resolved; `None` while it fires (Alertmanager sends year 1 then).
    pub ends_at: Option<DateTime<Utc>>,
    pub project: String,
    pub environment: String,
    pub alertname: String,
    pub severity: String,
}

/// Which alerts are incidents, and where: `--alertmanager.severities`,
/// `--alertmanager.project-label`, `--alertmanager.environment-label`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub severities: Vec<String>,
    pub project_label: String,
    pub environment_label: String,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            severities: vec!["critical".into()],
            project_label: "project".into(),
            environment_label: "environment".into(),
        }
    }
}

/// Why an alert of a notification is not an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ignored {
    /// Its `severity` label is not one of `--alertmanager.severities`.
    Severity,
    /// It lacks the project or the environment label.
    Unplaced,
    /// One of this exporter's own alerts.
    Own,
}

impl Ignored {
    pub const ALL: [Ignored; 3] = [Ignored::Severity, Ignored::Unplaced, Ignored::Own];

    pub fn as_str(self) -> &'static str {
        match self {
            Ignored::Severity => "severity",
            Ignored::Unplaced => "unplaced",
            Ignored::Own => "own",
        }
    }
}

/// What one notification says: its incidents, and how many of its alerts are not.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Notification {
    pub incidents: Vec<Incident>,
    pub ignored: HashMap<Ignored, usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    version: String,
    alerts: Vec<WireAlert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAlert {
    status: AlertStatus,
    #[serde(default)]
    labels: HashMap<String, String>,
    starts_at: DateTime<Utc>,
    #[serde(default)]
    ends_at: Option<DateTime<Utc>>,
    fingerprint: String,
}

/// Parses one notification and keeps the alerts that are incidents under `rules`.
pub fn parse(body: &[u8], rules: &Rules) -> Result<Notification, ParseError> {
    // Counted first, without building any (a zero-sized element: no allocation), so that a
    // notification of too many alerts is refused for that, whatever its alerts hold.
    #[derive(Deserialize)]
    struct Count {
        alerts: Vec<serde::de::IgnoredAny>,
    }
    if let Ok(Count { alerts }) = serde_json::from_slice::<Count>(body)
        && alerts.len() > MAX_ALERTS
    {
        return Err(too_many(alerts.len()));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let wire: Wire = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." || path == "?" || path.is_empty() {
            "$".to_owned()
        } else {
            format!("$.{path}")
        };
        ParseError::new(path, e.into_inner().to_string())
    })?;
    deserializer
        .end()
        .map_err(|e| ParseError::new("$", format!("trailing data after the object: {e}")))?;
    if wire.version != "4" {
        return Err(ParseError::new(
            "$.version",
            format!(
                "webhook message version {:?}; this receiver reads version \"4\" (Alertmanager \
                 0.x's webhook_configs)",
                wire.version
            ),
        ));
    }
    if wire.alerts.len() > MAX_ALERTS {
        return Err(too_many(wire.alerts.len()));
    }
    let mut notification = Notification::default();
    for (i, alert) in wire.alerts.into_iter().enumerate() {
        match incident(alert, rules)
            .map_err(|e| ParseError::new(format!("$.alerts[{i}].{}", e.0), e.1))?
        {
            Ok(incident) => notification.incidents.push(incident),
            Err(ignored) => *notification.ignored.entry(ignored).or_default() += 1,
        }
    }
    Ok(notification)
}

fn too_many(alerts: usize) -> ParseError {
    ParseError::new(
        "$.alerts",
        format!(
            "{alerts} alerts in one notification, more than the {MAX_ALERTS} accepted; set \
             max_alerts: {MAX_ALERTS} in the receiver's webhook_configs"
        ),
    )
}

/// The incident an alert reports, why it is none, or (field, message) if it is malformed.
fn incident(
    alert: WireAlert,
    rules: &Rules,
) -> Result<Result<Incident, Ignored>, (&'static str, String)> {
    let fingerprint = alert.fingerprint;
    if fingerprint.is_empty()
        || fingerprint.len() > MAX_FINGERPRINT_BYTES
        || !fingerprint.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err((
            "fingerprint",
            format!(
                "a fingerprint is 1 to {MAX_FINGERPRINT_BYTES} ASCII letters and digits \
                 (Alertmanager sends 16 hex digits)"
            ),
        ));
    }
    // Alertmanager writes year 1 for an end not reached yet.
    let ends_at = alert.ends_at.filter(|t| t.timestamp() > 0);
    if alert.status == AlertStatus::Resolved && ends_at.is_none() {
        return Err(("endsAt", "a resolved alert needs the time it ended".into()));
    }
    let label = |name: &str| alert.labels.get(name).map_or("", String::as_str);
    let alertname = label("alertname");
    if alertname.starts_with(OWN_ALERT_PREFIX) {
        return Ok(Err(Ignored::Own));
    }
    let severity = label("severity");
    if !rules.severities.iter().any(|s| s == severity) {
        return Ok(Err(Ignored::Severity));
    }
    let (project, environment) = (label(&rules.project_label), label(&rules.environment_label));
    // A label value longer than any Platform.sh name names no environment the exporter knows.
    let fits = |v: &str| !v.is_empty() && v.len() <= MAX_LABEL_BYTES;
    if !fits(project) || !fits(environment) {
        return Ok(Err(Ignored::Unplaced));
    }
    Ok(Ok(Incident {
        fingerprint,
        status: alert.status,
        starts_at: stored_precision(alert.starts_at),
        ends_at: ends_at.map(stored_precision),
        project: project.to_owned(),
        environment: environment.to_owned(),
        alertname: cut(alertname, MAX_ALERTNAME_BYTES).to_owned(),
        severity: severity.to_owned(),
    }))
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(alerts: &serde_json::Value) -> Vec<u8> {
        json!({
            "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing",
            "receiver": "platformsh", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://am", "alerts": alerts,
        })
        .to_string()
        .into_bytes()
    }

    fn alert(labels: &serde_json::Value, status: &str, ends: &str) -> serde_json::Value {
        json!({
            "status": status, "labels": labels, "annotations": {},
            "startsAt": "2026-12-03T10:00:00.123456789Z", "endsAt": ends,
            "generatorURL": "", "fingerprint": "0123456789abcdef",
        })
    }

    #[test]
    fn keeps_placed_alerts_of_the_chosen_severities_and_counts_the_rest() {
        let zero = "0001-01-01T00:00:00Z";
        let n = parse(
            &body(&json!([
                alert(&json!({"alertname": "Down", "severity": "critical", "project": "p", "environment": "main"}), "firing", zero),
                alert(&json!({"alertname": "Down", "severity": "critical", "project": "p", "environment": "main"}), "resolved", "2026-12-03T10:05:00Z"),
                alert(&json!({"alertname": "Slow", "severity": "warning", "project": "p", "environment": "main"}), "firing", zero),
                alert(&json!({"alertname": "Down", "severity": "critical", "project": "p"}), "firing", zero),
                alert(&json!({"alertname": "PlatformshDeploymentFailed", "severity": "critical", "project": "p", "environment": "main"}), "firing", zero),
            ])),
            &Rules::default(),
        )
        .unwrap();
        assert_eq!(n.incidents.len(), 2);
        assert_eq!(n.incidents[0].ends_at, None);
        assert_eq!(
            n.incidents[0].starts_at.to_rfc3339(),
            "2026-12-03T10:00:00.123456+00:00"
        );
        assert_eq!(n.incidents[1].status, AlertStatus::Resolved);
        assert_eq!(
            n.ignored,
            HashMap::from([
                (Ignored::Severity, 1),
                (Ignored::Unplaced, 1),
                (Ignored::Own, 1)
            ])
        );
    }

    #[test]
    fn malformed_notifications_say_where() {
        let rules = Rules::default();
        let err = |b: &[u8]| parse(b, &rules).unwrap_err();
        assert_eq!(err(b"{").path, "$");
        let e = err(br#"{"version": "3", "alerts": []}"#);
        assert_eq!(e.path, "$.version");
        assert!(e.message.contains("\"3\""), "{e}");
        let e = err(br#"{"version": "4"}"#);
        assert!(e.message.contains("alerts"), "{e}");
        let mut a = alert(
            &json!({"severity": "critical"}),
            "firing",
            "0001-01-01T00:00:00Z",
        );
        a["startsAt"] = json!("yesterday");
        assert_eq!(err(&body(&json!([a]))).path, "$.alerts[0].startsAt");
        let mut a = alert(
            &json!({"severity": "critical"}),
            "firing",
            "0001-01-01T00:00:00Z",
        );
        a["fingerprint"] = json!("../x");
        assert_eq!(err(&body(&json!([a]))).path, "$.alerts[0].fingerprint");
        let a = alert(
            &json!({"severity": "critical"}),
            "resolved",
            "0001-01-01T00:00:00Z",
        );
        assert_eq!(err(&body(&json!([a]))).path, "$.alerts[0].endsAt");
        let many: Vec<_> = (0..=MAX_ALERTS)
            .map(|_| alert(&json!({}), "firing", "0001-01-01T00:00:00Z"))
            .collect();
        let e = err(&body(&json!(many)));
        assert!(e.message.contains("max_alerts: 1000"), "{e}");
    }

    #[test]
    fn hostile_label_values_are_not_incidents_and_long_names_are_cut() {
        let long = "x".repeat(10_000);
        let n = parse(
            &body(&json!([
                alert(&json!({"alertname": "A", "severity": "critical", "project": long, "environment": "main"}), "firing", "0001-01-01T00:00:00Z"),
                alert(&json!({"alertname": "é".repeat(500), "severity": "critical", "project": "p", "environment": "main"}), "firing", "0001-01-01T00:00:00Z"),
            ])),
            &Rules::default(),
        )
        .unwrap();
        assert_eq!(n.ignored[&Ignored::Unplaced], 1);
        assert_eq!(n.incidents[0].alertname.len(), MAX_ALERTNAME_BYTES);
    }
}
