//! Incident rows: how an Alertmanager alert that is an incident is written, read back for
//! replay (between the activities, by receipt time), and pruned.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use crate::alert::{AlertStatus, Incident};

/// Stores `incident` received at `received_at`; false if the same state of the same incident
/// (fingerprint, start, status) is stored already.
pub(super) fn insert(
    tx: &rusqlite::Transaction<'_>,
    incident: &Incident,
    received_at: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO incidents (fingerprint, starts_at, status, ends_at, project,
            environment, alertname, severity, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let added = stmt.execute(params![
        incident.fingerprint,
        incident.starts_at.timestamp_micros(),
        incident.status.as_str(),
        incident.ends_at.map(|t| t.timestamp_micros()),
        incident.project,
        incident.environment,
        incident.alertname,
        incident.severity,
        received_at.timestamp_micros(),
    ])?;
    Ok(added == 1)
}

/// Every stored incident with its receipt time, in the order received (then stored).
pub(super) fn all(conn: &Connection) -> rusqlite::Result<Vec<(Incident, DateTime<Utc>)>> {
    let mut stmt = conn.prepare(
        "SELECT fingerprint, starts_at, status, ends_at, project, environment, alertname,
            severity, received_at
         FROM incidents ORDER BY received_at, seq",
    )?;
    let rows = stmt.query_map([], |r| {
        let status: String = r.get(2)?;
        Ok((
            Incident {
                fingerprint: r.get(0)?,
                starts_at: DateTime::from_timestamp_micros(r.get(1)?).unwrap_or_default(),
                // Only this exporter writes the column.
                status: AlertStatus::parse(&status).unwrap_or(AlertStatus::Firing),
                ends_at: r
                    .get::<_, Option<i64>>(3)?
                    .and_then(DateTime::from_timestamp_micros),
                project: r.get(4)?,
                environment: r.get(5)?,
                alertname: r.get(6)?,
                severity: r.get(7)?,
            },
            DateTime::from_timestamp_micros(r.get(8)?).unwrap_or_default(),
        ))
    })?;
    rows.collect()
}

/// Deletes the incidents received before `before`; returns how many.
pub(super) fn prune(conn: &Connection, before: DateTime<Utc>) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM incidents WHERE received_at < ?1",
        [before.timestamp_micros()],
    )
}
