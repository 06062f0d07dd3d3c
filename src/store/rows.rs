//! Rows: how an activity is written, read back and replayed, pruned, and queried.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::query::Query;
use super::schema::migrate;
use crate::activity::{
    Activity, ActivityResult, ActivityState, Commit, FailureReason, Source, Timings,
};
use crate::record::Recorder;

pub(super) fn micros(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp_micros())
}

pub(super) fn from_micros(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(DateTime::from_timestamp_micros)
}

pub(super) const INSERT: &str = "INSERT OR IGNORE INTO activities (
    id, state, type, project, environment, environment_type, platformsh_result, result,
    created_at, started_at, completed_at, cancelled_at, updated_at,
    timing_wait, timing_build, timing_deploy, timing_execute, commits, received_at,
    failure_reason, failed_commands, merged_child, source, commit_list
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
    ?20, ?21, ?22, ?23, ?24)";

pub(super) fn insert(
    tx: &rusqlite::Transaction<'_>,
    a: &Activity,
    received_at: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    let result = a.result.map(ActivityResult::as_str);
    let changed = tx.prepare_cached(INSERT)?.execute(params![
        a.id,
        a.state.as_str(),
        a.kind,
        a.project,
        a.environment,
        a.environment_type,
        result,
        a.finished().map(crate::activity::ResultLabel::as_str),
        micros(a.created_at),
        micros(a.started_at),
        micros(a.completed_at),
        micros(a.cancelled_at),
        micros(a.updated_at),
        a.timings.wait,
        a.timings.build,
        a.timings.deploy,
        a.timings.execute,
        // In range: the parser refuses larger counts.
        a.commits.map(|c| i64::try_from(c).unwrap_or(i64::MAX)),
        received_at.timestamp_micros(),
        a.failure_reason.map(FailureReason::as_str),
        // NULL rather than 0, as rows written before the column existed.
        (a.failed_commands > 0).then_some(a.failed_commands),
        a.merged_child,
        (a.source != Source::Webhook).then_some(a.source.as_str()),
        encode_commits(&a.commit_list, a.commits_dropped),
    ])?;
    Ok(changed == 1)
}

/// The `commit_list` column: a line per commit, its sha and author date in microseconds; then,
/// if commits were dropped by the limits, a line `+N` (no sha starts with `+`).
fn encode_commits(commits: &[Commit], dropped: u64) -> Option<String> {
    if commits.is_empty() && dropped == 0 {
        return None;
    }
    let mut text = String::with_capacity(commits.len() * 58);
    for commit in commits {
        text.push_str(&commit.sha);
        match commit.author_date {
            Some(date) => {
                text.push(' ');
                text.push_str(&date.timestamp_micros().to_string());
            }
            None => text.push_str(" -"),
        }
        text.push('\n');
    }
    if dropped > 0 {
        text.push('+');
        text.push_str(&dropped.to_string());
        text.push('\n');
    }
    Some(text)
}

/// The commits of a `commit_list` column, and how many were dropped.
fn decode_commits(text: Option<&str>) -> (Vec<Commit>, u64) {
    let text = text.unwrap_or_default();
    let dropped = text
        .lines()
        .last()
        .and_then(|l| l.strip_prefix('+'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let commits = text
        .lines()
        .filter_map(|line| {
            let (sha, date) = line.split_once(' ')?;
            Some(Commit {
                sha: sha.to_owned(),
                author_date: date.parse().ok().and_then(DateTime::from_timestamp_micros),
            })
        })
        .collect();
    (commits, dropped)
}

/// Deletes the activities received before `before`.
///
/// Rows are appended in the order they are received, so `received_at` grows with `seq` (but
/// for the microseconds between a handler stamping a delivery and the writer appending it).
/// A binary search over `seq` finds the boundary in O(log n) reads: no index on `received_at`
/// to maintain on every insert, which costs durable ingest about 7 % (BENCHMARKS.md).
pub(super) fn prune(conn: &Connection, before: DateTime<Utc>) -> rusqlite::Result<usize> {
    // Incidents go with the activities of their time: their deployments are gone.
    super::incidents::prune(conn, before)?;
    let before = before.timestamp_micros();
    let (Some(mut low), Some(mut high)) =
        conn.query_row("SELECT MIN(seq), MAX(seq) FROM activities", [], |r| {
            Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
        })?
    else {
        return Ok(0);
    };
    // The first row (by seq) at or after `seq` and when it was received.
    let row_at = |seq: i64| {
        conn.query_row(
            "SELECT seq, received_at FROM activities WHERE seq >= ?1 ORDER BY seq LIMIT 1",
            [seq],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )
    };
    // Find the last seq received before `before`; `low - 1` if there is none.
    low -= 1;
    while low < high {
        let middle = low + (high - low + 1) / 2;
        let (seq, received_at) = row_at(middle)?;
        if received_at < before {
            low = seq;
        } else {
            high = middle - 1;
        }
    }
    conn.execute("DELETE FROM activities WHERE seq <= ?1", [low])
}

pub(super) fn parse_state(s: &str) -> Option<ActivityState> {
    ActivityState::ALL
        .into_iter()
        .find(|state| state.as_str() == s)
}

pub(super) fn save_counters(
    tx: &rusqlite::Transaction<'_>,
    counters: &[(String, u64)],
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO exporter_counters (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )?;
    for (name, value) in counters {
        stmt.execute(params![name, i64::try_from(*value).unwrap_or(i64::MAX)])?;
    }
    Ok(())
}

pub(super) const SELECT_ACTIVITY: &str =
    "SELECT id, state, type, project, environment, environment_type, platformsh_result,
            created_at, started_at, completed_at, cancelled_at, updated_at,
            timing_wait, timing_build, timing_deploy, timing_execute, commits, received_at,
            failure_reason, failed_commands, merged_child, source, commit_list
     FROM activities";

/// The activity a row of [`SELECT_ACTIVITY`] holds and when it was received; `None` for a
/// state this exporter does not know.
pub(super) fn read_activity(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<Option<(Activity, DateTime<Utc>)>> {
    let state: String = r.get(1)?;
    let Some(state) = parse_state(&state) else {
        tracing::warn!(state, "skipping a stored activity with an unknown state");
        return Ok(None);
    };
    let result: Option<String> = r.get(6)?;
    let (commit_list, commits_dropped) = decode_commits(r.get::<_, Option<String>>(22)?.as_deref());
    let activity = Activity {
        id: r.get(0)?,
        state,
        kind: r.get(2)?,
        project: r.get(3)?,
        environment: r.get(4)?,
        environment_type: r.get(5)?,
        result: ActivityResult::ALL
            .into_iter()
            .find(|o| result.as_deref() == Some(o.as_str())),
        created_at: from_micros(r.get(7)?),
        started_at: from_micros(r.get(8)?),
        completed_at: from_micros(r.get(9)?),
        cancelled_at: from_micros(r.get(10)?),
        updated_at: from_micros(r.get(11)?),
        timings: Timings {
            wait: r.get(12)?,
            build: r.get(13)?,
            deploy: r.get(14)?,
            execute: r.get(15)?,
        },
        commits: r
            .get::<_, Option<i64>>(16)?
            .map(|c| u64::try_from(c).unwrap_or(0)),
        failure_reason: r
            .get::<_, Option<String>>(18)?
            .as_deref()
            .and_then(FailureReason::parse),
        failed_commands: r.get::<_, Option<u32>>(19)?.unwrap_or(0),
        merged_child: r.get(20)?,
        source: r
            .get::<_, Option<String>>(21)?
            .as_deref()
            .and_then(Source::parse)
            .unwrap_or_default(),
        commit_list,
        commits_dropped,
    };
    let received_at = from_micros(Some(r.get(17)?)).unwrap_or_default();
    Ok(Some((activity, received_at)))
}

/// The query of [`Store::recent`] and its parameters but the limit: only the filters given,
/// so that SQLite can use the project index (a `?1 IS NULL OR project = ?1` condition uses
/// none).
pub(super) fn recent_sql(query: &Query) -> (String, Vec<&dyn rusqlite::ToSql>) {
    let filters = [
        ("project", &query.project),
        ("environment", &query.environment),
        ("type", &query.kind),
        ("result", &query.result),
    ];
    let mut sql = String::from(
        "SELECT id, type, project, environment, environment_type, state, platformsh_result,
                created_at, started_at, completed_at, received_at, result, failure_reason,
                failed_commands, merged_child
         FROM activities WHERE 1",
    );
    let mut values: Vec<&dyn rusqlite::ToSql> = Vec::new();
    for (column, value) in filters {
        if let Some(value) = value {
            sql.push_str(" AND ");
            sql.push_str(column);
            sql.push_str(" = ?");
            values.push(value);
        }
    }
    // The project filter has an index; the others do not (an index per column cost a third
    // of the insert rate): with one of them, only the newest SCANNED_BY_FILTERS activities
    // are looked at, so a filter that matches nothing costs milliseconds, not a table scan.
    if query.environment.is_some() || query.kind.is_some() || query.result.is_some() {
        sql.push_str(" AND seq > (SELECT COALESCE(MAX(seq), 0) FROM activities) - ");
        sql.push_str(&SCANNED_BY_FILTERS.to_string());
    }
    sql.push_str(" ORDER BY seq DESC LIMIT ?");
    (sql, values)
}

/// How many of the newest activities a filter other than the project looks at.
pub const SCANNED_BY_FILTERS: u64 = 100_000;

/// Every stored activity, oldest first by its latest timestamp (else its time of receipt),
/// in the order of receipt among equals.
pub(super) fn in_time_order(
    conn: &Connection,
    each: &mut dyn FnMut(Activity, DateTime<Utc>),
) -> rusqlite::Result<u64> {
    let all_null = "created_at IS NULL AND started_at IS NULL AND completed_at IS NULL
                    AND cancelled_at IS NULL AND updated_at IS NULL";
    let mut stmt = conn.prepare(&format!(
        "{SELECT_ACTIVITY} ORDER BY CASE WHEN {all_null} THEN received_at ELSE
            MAX(COALESCE(created_at, 0), COALESCE(started_at, 0), COALESCE(completed_at, 0),
                COALESCE(cancelled_at, 0), COALESCE(updated_at, 0)) END, seq"
    ))?;
    let mut rows = stmt.query([])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        if let Some((activity, received_at)) = read_activity(r)? {
            each(activity, received_at);
            n += 1;
        }
    }
    Ok(n)
}

/// Replays every stored activity, in the order it was first recorded.
/// Records every stored activity in commit order and, between them, every stored incident
/// by receipt time (before an activity received at the same instant): the order they were
/// recorded in live, but for deliveries whose receipt and commit orders crossed.
pub(super) fn replay(conn: &Connection, recorder: &mut Recorder) -> rusqlite::Result<u64> {
    let mut incidents = super::incidents::all(conn)?.into_iter().peekable();
    let mut stmt = conn.prepare(&format!("{SELECT_ACTIVITY} ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        if let Some((activity, received_at)) = read_activity(r)? {
            while let Some((incident, at)) = incidents.next_if(|(_, at)| *at <= received_at) {
                recorder.incident(&incident, at);
            }
            recorder.record(&activity, received_at);
            n += 1;
        }
    }
    for (incident, at) in incidents {
        recorder.incident(&incident, at);
    }
    Ok(n)
}

/// What replay reads back of `activity` once stored: the property tests check that recording
/// it gives exactly what recording `activity` live gave.
#[doc(hidden)]
pub fn round_trip(
    activity: &Activity,
    received_at: DateTime<Utc>,
) -> Result<(Activity, DateTime<Utc>), String> {
    let mut conn = Connection::open_in_memory().map_err(|e| e.to_string())?;
    migrate(&mut conn)?;
    let stored = (|| {
        let tx = conn.transaction()?;
        insert(&tx, activity, received_at)?;
        tx.commit()?;
        conn.query_row(SELECT_ACTIVITY, [], read_activity)
    })();
    stored
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "a state this exporter wrote is unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(received: &[i64]) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        for (i, at) in received.iter().enumerate() {
            conn.execute(
                "INSERT INTO activities (id, state, type, project, environment,
                    environment_type, received_at) VALUES (?1, 'complete', 't', 'p', 'e', '', ?2)",
                params![format!("id-{i}"), at],
            )
            .unwrap();
        }
        conn
    }

    fn remaining(conn: &Connection) -> Vec<i64> {
        let mut stmt = conn
            .prepare("SELECT received_at FROM activities ORDER BY seq")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    fn at(micros: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(micros).unwrap()
    }

    /// A project filter walks the project's index newest first: no scan of the table, no sort.
    #[test]
    fn a_project_filter_uses_the_project_index() {
        let conn = store_with(&[1, 2, 3]);
        for environment in [None, Some("e".to_owned())] {
            let query = Query {
                project: Some("p".into()),
                environment,
                ..Query::default()
            };
            let (sql, mut values) = recent_sql(&query);
            values.push(&10);
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(values.as_slice(), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let plan = plan.join("; ");
            assert!(plan.contains("USING INDEX activities_by_project"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "sorts: {plan}");
        }
    }

    #[test]
    fn prune_deletes_exactly_the_rows_received_before_the_cutoff() {
        for cutoff in 0..=12 {
            let conn = store_with(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
            let deleted = prune(&conn, at(cutoff)).unwrap();
            let expected: Vec<i64> = (1..=10).filter(|&t| t >= cutoff).collect();
            assert_eq!(remaining(&conn), expected, "cutoff {cutoff}");
            assert_eq!(deleted, 10 - expected.len());
        }
    }

    #[test]
    fn prune_works_across_gaps_left_by_an_earlier_prune_and_on_an_empty_store() {
        let conn = store_with(&[]);
        assert_eq!(prune(&conn, at(5)).unwrap(), 0);
        let conn = store_with(&[1, 2, 3, 4, 5, 6, 7, 8]);
        conn.execute("DELETE FROM activities WHERE seq IN (4, 5, 6)", [])
            .unwrap();
        assert_eq!(prune(&conn, at(8)).unwrap(), 4);
        assert_eq!(remaining(&conn), vec![8]);
    }

    /// A store written by an exporter of schema version 2 (no failure columns) is migrated in
    /// place: its rows read back with no reason, no failed command and no merged child, and
    /// new rows keep them.
    #[test]
    fn a_version_2_store_is_migrated_and_its_rows_read_as_before() {
        use super::super::schema::{MIGRATIONS, apply, schema_version};
        let mut conn = Connection::open_in_memory().unwrap();
        schema_version(&conn).unwrap();
        for (i, sql) in MIGRATIONS.iter().enumerate().take(2) {
            apply(&mut conn, i + 1, sql).unwrap();
        }
        conn.execute(
            "INSERT INTO activities (id, state, type, project, environment, environment_type,
                result, outcome, received_at)
             VALUES ('old', 'complete', 'environment.push', 'p', 'main', 'production',
                'failure', 'failure', 1)",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len());
        let (old, _) = conn
            .query_row(
                &format!("{SELECT_ACTIVITY} WHERE id = 'old'"),
                [],
                read_activity,
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                old.failure_reason,
                old.failed_commands,
                old.merged_child.as_deref()
            ),
            (None, 0, None)
        );
        assert_eq!(old.failure(), Some(crate::activity::FailureReason::Unknown));

        let new = Activity {
            id: "new".into(),
            failure_reason: Some(FailureReason::Shell),
            failed_commands: 2,
            merged_child: Some("feature".into()),
            source: Source::Backfill,
            ..old
        };
        let tx = conn.transaction().unwrap();
        insert(&tx, &new, at(2)).unwrap();
        tx.commit().unwrap();
        let (read, _) = conn
            .query_row(
                &format!("{SELECT_ACTIVITY} WHERE id = 'new'"),
                [],
                read_activity,
            )
            .unwrap()
            .unwrap();
        assert_eq!(read, new);
    }

    /// Schema 6 renames `outcome` to `result` and `result` to `platformsh_result`: a row stored
    /// before keeps both values, each under its new name.
    #[test]
    fn a_version_5_store_keeps_both_results_under_their_new_names() {
        use super::super::schema::{MIGRATIONS, apply, schema_version};
        let mut conn = Connection::open_in_memory().unwrap();
        schema_version(&conn).unwrap();
        for (i, sql) in MIGRATIONS.iter().enumerate().take(5) {
            apply(&mut conn, i + 1, sql).unwrap();
        }
        conn.execute(
            "INSERT INTO activities (id, state, type, project, environment, environment_type,
                result, outcome, failed_commands, received_at)
             VALUES ('old', 'complete', 'environment.redeploy', 'p', 'main', 'production',
                'success', 'failure', 1, 1)",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let (platformsh, label): (String, String) = conn
            .query_row(
                "SELECT platformsh_result, result FROM activities WHERE id = 'old'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (platformsh.as_str(), label.as_str()),
            ("success", "failure")
        );
        let query = Query {
            result: Some("failure".into()),
            ..Query::default()
        };
        assert_eq!(found(&conn, &query), ["old"]);
    }

    /// The ids `recent_sql` finds for `query`.
    fn found(conn: &Connection, query: &Query) -> Vec<String> {
        let (sql, mut values) = recent_sql(query);
        let limit = 10_i64;
        values.push(&limit);
        let mut stmt = conn.prepare(&sql).unwrap();
        stmt.query_map(values.as_slice(), |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn filters_without_an_index_look_only_among_the_newest_activities() {
        let mut conn = store_with(&[]);
        let tx = conn.transaction().unwrap();
        let rows = SCANNED_BY_FILTERS + 10;
        for i in 0..rows {
            let kind = if i == 0 { "rare" } else { "t" };
            tx.execute(
                "INSERT INTO activities (id, state, type, project, environment,
                    environment_type, received_at) VALUES (?1, 'complete', ?2, 'p', 'e', '', 0)",
                params![format!("id-{i}"), kind],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        let query = |kind: &str| Query {
            project: None,
            environment: None,
            kind: Some(kind.to_owned()),
            result: None,
            limit: 10,
        };
        // The oldest is past the window: a type found only there answers nothing, at once.
        assert_eq!(found(&conn, &query("rare")), Vec::<String>::new());
        assert_eq!(found(&conn, &query("t")).len(), 10);
        // The project filter has its index and no window.
        let project = Query {
            project: Some("p".into()),
            kind: None,
            ..query("t")
        };
        assert_eq!(found(&conn, &project)[0], format!("id-{}", rows - 1));
    }
}
