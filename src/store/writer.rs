//! The writer thread: the one place deliveries are committed, then recorded in commit order.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::error::StoreError;
use super::file::{Identity, Lock};
use super::rows::{insert, prune, save_counters};
use crate::activity::Activity;
use crate::alert::Incident;
use crate::record::{IncidentOutcome, Recorded, Recorder};
use crate::telemetry::StoreCommits;

/// What the writer is asked to do, each with where its answer goes.
pub(super) enum Command {
    Insert {
        activity: Box<Activity>,
        received_at: DateTime<Utc>,
        reply: oneshot::Sender<Result<Recorded, StoreError>>,
    },
    InsertIncidents {
        incidents: Vec<Incident>,
        received_at: DateTime<Utc>,
        reply: oneshot::Sender<Result<Vec<IncidentOutcome>, StoreError>>,
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

/// The writer thread's state: the one place deliveries are committed and then recorded.
pub(super) struct Writer {
    pub(super) lock: Lock,
    pub(super) recorder: Arc<Mutex<Recorder>>,
    pub(super) identity: Arc<Identity>,
    pub(super) max_batch: usize,
}

impl Writer {
    pub(super) fn run(
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
pub(super) enum Done {
    Inserted(bool),
    /// Whether each incident was new.
    IncidentsInserted(Vec<bool>),
    Saved,
    Pruned(usize),
}

/// Answers every command of `batch` with `error`.
pub(super) fn fail(batch: Vec<Command>, error: &StoreError) {
    for command in batch {
        match command {
            Command::Insert { reply, .. } => drop(reply.send(Err(error.clone()))),
            Command::InsertIncidents { reply, .. } => drop(reply.send(Err(error.clone()))),
            Command::SaveCounters { reply, .. } | Command::Stop { reply } => {
                drop(reply.send(Err(error.clone())));
            }
            Command::Prune { reply, .. } => drop(reply.send(Err(error.clone()))),
        }
    }
}

pub(super) fn commit(
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
                Command::InsertIncidents {
                    incidents,
                    received_at,
                    ..
                } => Done::IncidentsInserted(
                    incidents
                        .iter()
                        .map(|i| super::incidents::insert(&tx, i, *received_at))
                        .collect::<rusqlite::Result<_>>()?,
                ),
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
            (
                Command::InsertIncidents {
                    incidents,
                    received_at,
                    reply,
                },
                Done::IncidentsInserted(new),
            ) => {
                let outcomes = incidents
                    .iter()
                    .zip(new)
                    .map(|(incident, new)| {
                        if new {
                            recorder.incident(incident, received_at)
                        } else {
                            IncidentOutcome::Duplicate
                        }
                    })
                    .collect();
                drop(reply.send(Ok(outcomes)));
            }
            (Command::SaveCounters { reply, .. }, _) => drop(reply.send(Ok(()))),
            (Command::Prune { reply, .. }, Done::Pruned(n)) => drop(reply.send(Ok(n))),
            _ => unreachable!("each command is paired with what it did"),
        }
    }
}
