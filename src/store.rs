//! Store: every accepted activity, durably in SQLite before the 2xx answer, and replayed through
//! the recorder at start so a restart rebuilds exactly the metrics that were there.
//!
//! One writer thread owns the write connection. Deliveries that arrive while it commits wait in
//! its queue and share the next commit (group commit): one fsync serves many deliveries. The
//! writer records each committed activity in commit order, which is the order replay uses.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, params};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::activity::{Activity, Outcome, State, Timings};
use crate::record::{Recorded, Recorder};
use crate::telemetry::StoreCommits;

/// Schema migrations, applied in order; the index + 1 is the schema version. Never edit one
/// that has shipped: add another.
const MIGRATIONS: &[&str] = &[
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
];

/// Why the store could not take a delivery. The `reason` is the label of
/// `platformsh_exporter_store_errors_total`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct StoreError {
    pub reason: &'static str,
    pub message: String,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let reason = match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => "disk_full",
            Some(ErrorCode::ReadOnly) => "read_only",
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => "corrupt",
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => "locked",
            Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) => "io",
            _ => "other",
        };
        Self {
            reason,
            message: e.to_string(),
        }
    }
}

impl StoreError {
    fn stopped() -> Self {
        Self {
            reason: "stopped",
            message: "the store's writer has stopped".into(),
        }
    }
}

/// The database file this process opened, to notice when it is deleted or replaced under the
/// running exporter: SQLite would go on writing to the unlinked file, answering 2xx for
/// deliveries that no restart could replay.
#[derive(Debug)]
struct Identity {
    path: PathBuf,
    file: Option<(u64, u64)>,
}

/// An exclusive lock on the database, held by the writer until it stops: a second exporter
/// on the same database refuses to start instead of overwriting this one's saved counters.
/// On a file beside the database, not the database itself: closing any descriptor of the
/// database would drop SQLite's own locks on it.
#[derive(Debug)]
struct Lock(#[allow(dead_code)] std::fs::File);

impl Lock {
    fn take(path: &Path) -> Result<Self, String> {
        let lock_path = lock_path(path);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("cannot open the lock file {}: {e}", lock_path.display()))?;
        lock.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => format!(
                "another exporter is using the store {} (it holds {}); give each its own \
                 --storage.path",
                path.display(),
                lock_path.display()
            ),
            std::fs::TryLockError::Error(e) => {
                format!("cannot lock {}: {e}", lock_path.display())
            }
        })?;
        Ok(Self(lock))
    }
}

impl Identity {
    /// The file now at `path`: the one just opened.
    fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            file: Self::of(path),
        }
    }

    fn of(path: &Path) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }

    /// An error unless the path still names the file that was opened.
    fn check(&self) -> Result<(), StoreError> {
        if self.file.is_some() && Self::of(&self.path) == self.file {
            Ok(())
        } else {
            Err(StoreError {
                reason: "replaced",
                message: format!(
                    "the database {} was deleted or replaced while the exporter ran; restart \
                     it to open the file now there",
                    self.path.display()
                ),
            })
        }
    }
}

/// The lock file of the database at `path`.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// A recorded activity, as `/api/v1/activities` lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoredActivity {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub project: String,
    pub environment: String,
    pub environment_type: String,
    pub state: String,
    pub result: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
}

/// Filters of `/api/v1/activities`.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub project: Option<String>,
    pub environment: Option<String>,
    pub kind: Option<String>,
    /// `success`, `failure` or `cancelled`.
    pub result: Option<String>,
    pub limit: usize,
}

enum Command {
    Insert {
        activity: Box<Activity>,
        received_at: DateTime<Utc>,
        reply: oneshot::Sender<Result<Recorded, StoreError>>,
    },
    SaveCounters {
        counters: Vec<(String, u64)>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Prune {
        before: DateTime<Utc>,
        reply: oneshot::Sender<Result<usize, StoreError>>,
    },
    /// Commit what came before, close the database and release its lock.
    Stop {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// What opening the store found.
#[derive(Debug)]
pub struct Opened {
    pub store: Store,
    /// Activities replayed through the recorder.
    pub replayed: u64,
    pub replay_time: Duration,
    /// The exporter's own counters as last saved.
    pub counters: Vec<(String, u64)>,
}

/// A handle to the store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    commands: mpsc::Sender<Command>,
    reader: Arc<Mutex<Connection>>,
    identity: Arc<Identity>,
}

fn micros(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp_micros())
}

fn from_micros(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(DateTime::from_timestamp_micros)
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // WAL lets the API read while the writer commits; synchronous=FULL fsyncs the WAL at every
    // commit, so a 2xx answer survives a crash or a power cut.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), String> {
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

fn apply(conn: &mut Connection, version: usize, sql: &str) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(sql)?;
    tx.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
        params![version, Utc::now().to_rfc3339()],
    )?;
    tx.commit()
}

fn schema_version(conn: &Connection) -> rusqlite::Result<usize> {
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

const INSERT: &str = "INSERT OR IGNORE INTO activities (
    id, state, type, project, environment, environment_type, result, outcome,
    created_at, started_at, completed_at, cancelled_at, updated_at,
    timing_wait, timing_build, timing_deploy, timing_execute, commits, received_at
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)";

fn insert(
    tx: &rusqlite::Transaction<'_>,
    a: &Activity,
    received_at: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    let result = a.result.map(Outcome::as_str);
    let changed = tx.prepare_cached(INSERT)?.execute(params![
        a.id,
        a.state.as_str(),
        a.kind,
        a.project,
        a.environment,
        a.environment_type,
        result,
        a.finished().map(crate::activity::Finished::as_str),
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
    ])?;
    Ok(changed == 1)
}

/// Deletes the activities received before `before`.
///
/// Rows are appended in the order they are received, so `received_at` grows with `seq` (but
/// for the microseconds between a handler stamping a delivery and the writer appending it).
/// A binary search over `seq` finds the boundary in O(log n) reads: no index on `received_at`
/// to maintain on every insert, which costs durable ingest about 7 % (BENCHMARKS.md).
fn prune(conn: &Connection, before: DateTime<Utc>) -> rusqlite::Result<usize> {
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

fn parse_state(s: &str) -> Option<State> {
    State::ALL.into_iter().find(|state| state.as_str() == s)
}

fn save_counters(
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

impl Store {
    /// Opens (creating if need be) the database at `path`, migrates it, prunes rows received
    /// before `prune_before`, replays every row through `recorder`, and starts the writer.
    pub fn open(
        path: &Path,
        recorder: Arc<Mutex<Recorder>>,
        commits: StoreCommits,
        max_batch: usize,
        prune_before: Option<DateTime<Utc>>,
    ) -> Result<Opened, String> {
        let fail =
            |e: &dyn std::fmt::Display| format!("cannot open the store {}: {e}", path.display());
        let lock = Lock::take(path)?;
        let mut conn = open_connection(path).map_err(|e| fail(&e))?;
        let identity = Arc::new(Identity::new(path));
        migrate(&mut conn).map_err(|e| fail(&e))?;
        if let Some(before) = prune_before {
            prune(&conn, before).map_err(|e| fail(&e))?;
        }
        let started = Instant::now();
        let replayed = {
            let mut recorder = recorder
                .lock()
                .expect("the recorder lock is never poisoned: recording does not panic");
            replay(&conn, &mut recorder).map_err(|e| fail(&e))?
        };
        let replay_time = started.elapsed();
        let counters = conn
            .prepare("SELECT name, value FROM exporter_counters")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                    .map(|row| row.map(|(n, v)| (n, u64::try_from(v).unwrap_or(0))))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| fail(&e))?;
        let reader = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| fail(&e))?;

        // Bounded: when the disk is slow, deliveries wait for room instead of piling up.
        let (commands, receiver) = mpsc::channel(4 * max_batch.max(1));
        let writer = Writer {
            lock,
            recorder,
            identity: Arc::clone(&identity),
            max_batch: max_batch.max(1),
        };
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run(conn, receiver, &commits))
            .map_err(|e| fail(&e))?;
        Ok(Opened {
            store: Store {
                commands,
                reader: Arc::new(Mutex::new(reader)),
                identity,
            },
            replayed,
            replay_time,
            counters,
        })
    }

    async fn send<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| StoreError::stopped())?;
        answer.await.map_err(|_| StoreError::stopped())?
    }

    /// Stores the activity durably, then records it; `Duplicate` if (id, state) is stored
    /// already. An error means nothing was stored and nothing recorded.
    pub async fn insert(
        &self,
        activity: Activity,
        received_at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        self.send(|reply| Command::Insert {
            activity: Box::new(activity),
            received_at,
            reply,
        })
        .await
    }

    /// An error when the database file was deleted or replaced since it was opened: nothing
    /// written now would be replayed.
    pub fn check(&self) -> Result<(), StoreError> {
        self.identity.check()
    }

    /// Commits what was sent before, closes the database and releases its lock, so that
    /// another exporter (or this one again) can open it once this returns.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.send(|reply| Command::Stop { reply }).await
    }

    /// Saves the exporter's own counters, so a restart carries them on.
    pub async fn save_counters(&self, counters: Vec<(String, u64)>) -> Result<(), StoreError> {
        self.send(|reply| Command::SaveCounters { counters, reply })
            .await
    }

    /// Deletes activities received before `before`; returns how many.
    pub async fn prune(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        self.send(|reply| Command::Prune { before, reply }).await
    }

    /// The newest recorded activities matching `query`.
    pub async fn recent(&self, query: Query) -> Result<Vec<StoredActivity>, StoreError> {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            let conn = reader
                .lock()
                .expect("the reader lock is never poisoned: no panic while held");
            let (sql, mut values) = recent_sql(&query);
            let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
            values.push(&limit);
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(values.as_slice(), |r| {
                Ok(StoredActivity {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    project: r.get(2)?,
                    environment: r.get(3)?,
                    environment_type: r.get(4)?,
                    state: r.get(5)?,
                    result: r.get(6)?,
                    created_at: from_micros(r.get(7)?),
                    started_at: from_micros(r.get(8)?),
                    completed_at: from_micros(r.get(9)?),
                    received_at: from_micros(r.get(10)?).unwrap_or_default(),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
        .map_err(|_| StoreError::stopped())?
    }
}

const SELECT_ACTIVITY: &str =
    "SELECT id, state, type, project, environment, environment_type, result,
            created_at, started_at, completed_at, cancelled_at, updated_at,
            timing_wait, timing_build, timing_deploy, timing_execute, commits, received_at
     FROM activities";

/// The activity a row of [`SELECT_ACTIVITY`] holds and when it was received; `None` for a
/// state this exporter does not know.
fn read_activity(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<(Activity, DateTime<Utc>)>> {
    let state: String = r.get(1)?;
    let Some(state) = parse_state(&state) else {
        tracing::warn!(state, "skipping a stored activity with an unknown state");
        return Ok(None);
    };
    let result: Option<String> = r.get(6)?;
    let activity = Activity {
        id: r.get(0)?,
        state,
        kind: r.get(2)?,
        project: r.get(3)?,
        environment: r.get(4)?,
        environment_type: r.get(5)?,
        result: Outcome::ALL
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
    };
    let received_at = from_micros(Some(r.get(17)?)).unwrap_or_default();
    Ok(Some((activity, received_at)))
}

/// The query of [`Store::recent`] and its parameters but the limit: only the filters given,
/// so that SQLite can use the project index (a `?1 IS NULL OR project = ?1` condition uses
/// none).
fn recent_sql(query: &Query) -> (String, Vec<&dyn rusqlite::ToSql>) {
    let filters = [
        ("project", &query.project),
        ("environment", &query.environment),
        ("type", &query.kind),
        ("outcome", &query.result),
    ];
    let mut sql = String::from(
        "SELECT id, type, project, environment, environment_type, state, result,
                created_at, started_at, completed_at, received_at
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
    sql.push_str(" ORDER BY seq DESC LIMIT ?");
    (sql, values)
}

/// Replays every stored activity, in the order it was first recorded.
fn replay(conn: &Connection, recorder: &mut Recorder) -> rusqlite::Result<u64> {
    let mut stmt = conn.prepare(&format!("{SELECT_ACTIVITY} ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        if let Some((activity, received_at)) = read_activity(r)? {
            recorder.record(&activity, received_at);
            n += 1;
        }
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

/// The writer thread's state: the one place deliveries are committed and then recorded.
struct Writer {
    lock: Lock,
    recorder: Arc<Mutex<Recorder>>,
    identity: Arc<Identity>,
    max_batch: usize,
}

impl Writer {
    fn run(
        self,
        mut conn: Connection,
        mut receiver: mpsc::Receiver<Command>,
        observed: &StoreCommits,
    ) {
        while let Some(first) = receiver.blocking_recv() {
            // Everything that arrived while the last commit ran joins this one.
            let mut batch = Vec::new();
            let mut stop = None;
            let mut next = Some(first);
            while let Some(command) = next {
                match command {
                    Command::Stop { reply } => {
                        stop = Some(reply);
                        break;
                    }
                    command => batch.push(command),
                }
                next = if batch.len() < self.max_batch {
                    receiver.try_recv().ok()
                } else {
                    None
                };
            }
            if !batch.is_empty() {
                // A stat per commit (a microsecond, next to the fsync): a delivery committed
                // to a deleted file would be answered 2xx and lost at the next start.
                match self.identity.check() {
                    Ok(()) => commit(&mut conn, batch, &self.recorder, observed),
                    Err(e) => fail(batch, &e),
                }
            }
            if let Some(reply) = stop {
                // The lock goes last, once the connection is closed.
                drop(conn);
                drop(self.lock);
                drop(reply.send(Ok(())));
                return;
            }
        }
    }
}

/// What one command of a batch did inside the transaction.
enum Done {
    Inserted(bool),
    Saved,
    Pruned(usize),
}

/// Answers every command of `batch` with `error`.
fn fail(batch: Vec<Command>, error: &StoreError) {
    for command in batch {
        match command {
            Command::Insert { reply, .. } => drop(reply.send(Err(error.clone()))),
            Command::SaveCounters { reply, .. } | Command::Stop { reply } => {
                drop(reply.send(Err(error.clone())));
            }
            Command::Prune { reply, .. } => drop(reply.send(Err(error.clone()))),
        }
    }
}

fn commit(
    conn: &mut Connection,
    batch: Vec<Command>,
    recorder: &Mutex<Recorder>,
    observed: &StoreCommits,
) {
    let started = Instant::now();
    let written = (|| -> rusqlite::Result<Vec<Done>> {
        let tx = conn.transaction()?;
        let mut done = Vec::with_capacity(batch.len());
        for command in &batch {
            done.push(match command {
                Command::Insert {
                    activity,
                    received_at,
                    ..
                } => Done::Inserted(insert(&tx, activity, *received_at)?),
                Command::SaveCounters { counters, .. } => {
                    save_counters(&tx, counters)?;
                    Done::Saved
                }
                Command::Prune { before, .. } => Done::Pruned(prune(&tx, *before)?),
                Command::Stop { .. } => unreachable!("the writer keeps Stop out of batches"),
            });
        }
        tx.commit()?;
        Ok(done)
    })();
    let done = match written {
        Ok(done) => {
            observed.duration.observe(started.elapsed().as_secs_f64());
            observed.batch_size.observe(batch.len() as f64);
            done
        }
        Err(e) => {
            // The transaction rolled back when dropped: nothing of the batch is stored, and
            // nothing is recorded.
            fail(batch, &StoreError::from(e));
            return;
        }
    };
    let mut recorder = recorder
        .lock()
        .expect("the recorder lock is never poisoned: recording does not panic");
    for (command, done) in batch.into_iter().zip(done) {
        match (command, done) {
            (
                Command::Insert {
                    activity,
                    received_at,
                    reply,
                },
                Done::Inserted(new),
            ) => {
                let outcome = if new {
                    recorder.record(&activity, received_at)
                } else {
                    Recorded::Duplicate
                };
                drop(reply.send(Ok(outcome)));
            }
            (Command::SaveCounters { reply, .. }, _) => drop(reply.send(Ok(()))),
            (Command::Prune { reply, .. }, Done::Pruned(n)) => drop(reply.send(Ok(n))),
            _ => unreachable!("each command is paired with what it did"),
        }
    }
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
}
