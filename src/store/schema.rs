//! The database schema, its migrations, and how a connection is opened.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use rusqlite::{Connection, params};

/// Schema migrations, applied in order; the index + 1 is the schema version. Never edit one
/// that has shipped: add another.
pub(super) const MIGRATIONS: &[&str] = &[
    r"
    CREATE TABLE activities (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        state TEXT NOT NULL,
        type TEXT NOT NULL,
        project TEXT NOT NULL,
        environment TEXT NOT NULL,
        environment_type TEXT NOT NULL,
        result TEXT,
        outcome TEXT,
        created_at INTEGER,
        started_at INTEGER,
        completed_at INTEGER,
        cancelled_at INTEGER,
        updated_at INTEGER,
        timing_wait REAL,
        timing_build REAL,
        timing_deploy REAL,
        timing_execute REAL,
        commits INTEGER,
        received_at INTEGER NOT NULL,
        UNIQUE (id, state)
    );
    CREATE TABLE exporter_counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
",
    r"
    -- /api/v1/activities filters by project (did my delivery arrive?), newest first: without
    -- an index a project seen once took a scan of the whole table (130 ms at a million rows).
    -- One index only: each costs every durable insert (BENCHMARKS.md); a filter on type or
    -- result alone stops at the first `limit` matches, scanning newest first.
    CREATE INDEX activities_by_project ON activities (project, seq);
",
    r"
    -- Why an activity failed (Platform.sh's failure_reason: error, shell, or unknown for another
    -- value), how many of its commands exited non-zero (a success with a failed deploy hook is a
    -- failure), and a merge's child environment. Rows stored before have NULL: no reason, no
    -- failed command, no child, as those exporters read them.
    ALTER TABLE activities ADD COLUMN failure_reason TEXT;
    ALTER TABLE activities ADD COLUMN failed_commands INTEGER;
    ALTER TABLE activities ADD COLUMN merged_child TEXT;
",
    r"
    -- How the activity was received: NULL for a webhook delivery (all rows before this
    -- version), 'reconciliation' or 'backfill' when the Platform.sh API listed it.
    ALTER TABLE activities ADD COLUMN source TEXT;
",
    r"
    -- The commits a push lists, for lead time: one per line, its sha and its author date in
    -- microseconds ('-' without one). NULL for none, and for rows stored before.
    ALTER TABLE activities ADD COLUMN commit_list TEXT;
",
    r"
    -- The columns named as the metrics and the activity API name them: `result` is the result
    -- label the activity was counted under (it was `outcome`), `platformsh_result` what
    -- Platform.sh sent (it was `result`). A rename: no row is rewritten.
    ALTER TABLE activities RENAME COLUMN result TO platformsh_result;
    ALTER TABLE activities RENAME COLUMN outcome TO result;
",
    r"
    -- Alertmanager's alerts that are incidents, as received (POST /alertmanager). An alert is
    -- re-sent unchanged at every repeat: (fingerprint, starts_at, status) keeps each state of
    -- one incident once. Times in microseconds; ends_at NULL while it fires.
    CREATE TABLE incidents (
        seq INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        starts_at INTEGER NOT NULL,
        status TEXT NOT NULL,
        ends_at INTEGER,
        project TEXT NOT NULL,
        environment TEXT NOT NULL,
        alertname TEXT NOT NULL,
        severity TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        UNIQUE (fingerprint, starts_at, status)
    );
",
];

pub(super) fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // WAL lets the API read while the writer commits; synchronous=FULL fsyncs the WAL at every
    // commit, so a 2xx answer survives a crash or a power cut.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

pub(super) fn migrate(conn: &mut Connection) -> Result<(), String> {
    let current = schema_version(conn).map_err(|e| e.to_string())?;
    if current > MIGRATIONS.len() {
        return Err(format!(
            "the database has schema version {current}, newer than the {} this exporter knows; \
             run a newer exporter",
            MIGRATIONS.len()
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        apply(conn, i + 1, sql).map_err(|e| format!("migration to version {}: {e}", i + 1))?;
    }
    Ok(())
}

pub(super) fn apply(conn: &mut Connection, version: usize, sql: &str) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(sql)?;
    tx.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
        params![version, Utc::now().to_rfc3339()],
    )?;
    tx.commit()
}

pub(super) fn schema_version(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            applied_at TEXT NOT NULL
        )",
    )?;
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )
}
