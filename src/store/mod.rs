//! Store: every accepted activity, durably in SQLite before the 2xx answer, and replayed through
//! the recorder at start so a restart rebuilds exactly the metrics that were there.
//!
//! One writer thread owns the write connection. Deliveries that arrive while it commits wait in
//! its queue and share the next commit (group commit): one fsync serves many deliveries. The
//! writer records each committed activity in commit order, which is the order replay uses.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::activity::Activity;
use crate::alert::Incident;
use crate::record::{IncidentOutcome, Recorded, Recorder};
use crate::telemetry::StoreCommits;

mod error;
mod file;
mod incidents;
mod query;
mod rows;
mod schema;
mod writer;

pub use error::StoreError;
pub use query::Query;

pub use rows::round_trip;

use file::{Identity, Lock};
use rows::{from_micros, prune, recent_sql, replay};
use schema::{migrate, open_connection};
use writer::{Command, Writer};

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
    /// What Platform.sh sent: `success`, `failure` or null.
    pub platformsh_result: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    /// The `result` label it was counted under (a success with a failed command is a
    /// failure, a cancelled activity `cancelled`); null while unfinished.
    pub result: Option<String>,
    /// Platform.sh's `failure_reason` (`error`, `shell`, `unknown` for another value).
    pub failure_reason: Option<String>,
    /// Commands that exited non-zero.
    pub failed_commands: u32,
    /// A merge's child environment.
    pub merged_child: Option<String>,
}

/// Where a valid activity goes, whoever received it (a webhook delivery, the API poller): the
/// store, which records it once committed, or straight to the recorder without a store.
#[derive(Debug, Clone)]
pub struct Intake {
    pub recorder: Arc<Mutex<Recorder>>,
    /// Absent with `--storage.in-memory`.
    pub store: Option<Store>,
    /// `--limits.commits-per-push`: commits past it are neither stored nor followed.
    pub commits_per_push: usize,
}

impl Intake {
    /// Stores (durably, if there is a store) and records `activity`; `Duplicate` if its
    /// (id, state) was recorded before. An error means nothing was stored or recorded.
    pub async fn accept(
        &self,
        mut activity: Activity,
        received_at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        activity.limit_commits(self.commits_per_push);
        match &self.store {
            Some(store) => store.insert(activity, received_at).await,
            None => Ok(self
                .recorder
                .lock()
                .expect("the recorder lock is never poisoned: recording does not panic")
                .record(&activity, received_at)),
        }
    }

    /// Stores (durably, if there is a store) and records the incidents of one notification;
    /// the outcome of each. An error means nothing was stored or recorded.
    pub async fn accept_incidents(
        &self,
        incidents: Vec<Incident>,
        received_at: DateTime<Utc>,
    ) -> Result<Vec<IncidentOutcome>, StoreError> {
        if let Some(store) = &self.store {
            store.insert_incidents(incidents, received_at).await
        } else {
            let mut recorder = self
                .recorder
                .lock()
                .expect("the recorder lock is never poisoned: recording does not panic");
            Ok(incidents
                .iter()
                .map(|i| recorder.incident(i, received_at))
                .collect())
        }
    }
}

/// Reads every activity of the store at `path` in the order of the activities' own times
/// (their latest timestamp, else the time of receipt), oldest first, without taking the store's
/// lock: a running exporter may keep writing (WAL readers see a consistent snapshot). The
/// store must have this exporter's schema (run the exporter once on an older one).
pub fn read_in_time_order(
    path: &Path,
    mut each: impl FnMut(Activity, DateTime<Utc>),
) -> Result<u64, String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot read the store {}: {e}", path.display());
    if !path.exists() {
        return Err(fail(&"no such file"));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| fail(&e))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| fail(&e))?;
    let version = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get::<_, usize>(0),
        )
        .map_err(|e| fail(&e))?;
    if version != schema::MIGRATIONS.len() {
        return Err(fail(&format!(
            "its schema version is {version}, this exporter's {}: start the exporter on it \
             once to migrate it",
            schema::MIGRATIONS.len()
        )));
    }
    rows::in_time_order(&conn, &mut each).map_err(|e| fail(&e))
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

    /// Stores the incidents durably, then records each that was not stored already; the
    /// outcome of each, in order. An error means nothing was stored and nothing recorded.
    pub async fn insert_incidents(
        &self,
        incidents: Vec<Incident>,
        received_at: DateTime<Utc>,
    ) -> Result<Vec<IncidentOutcome>, StoreError> {
        self.send(|reply| Command::InsertIncidents {
            incidents,
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
                    platformsh_result: r.get(6)?,
                    created_at: from_micros(r.get(7)?),
                    started_at: from_micros(r.get(8)?),
                    completed_at: from_micros(r.get(9)?),
                    received_at: from_micros(r.get(10)?).unwrap_or_default(),
                    result: r.get(11)?,
                    failure_reason: r.get(12)?,
                    failed_commands: r.get::<_, Option<u32>>(13)?.unwrap_or(0),
                    merged_child: r.get(14)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
        .map_err(|_| StoreError::stopped())?
    }
}
