//! Receives Platform.sh (Upsun) activity webhooks and exposes them as Prometheus metrics.
//!
//! The modules form layers, and imports point inward (checked by `tests/layers.rs`):
//!
//! 1. **Core**, the domain without its edges (no HTTP, SQLite or async runtime):
//!    [`activity`] (the typed, validated activity, parsed from the wire shape), [`alert`] (the
//!    incidents an Alertmanager notification reports), [`labels`]
//!    (cardinality caps), [`catalogue`] (every metric family, defined once), [`series`] (the
//!    series the recorder keeps), [`exposition`] (the one walk out of every family, into a
//!    sink per format: text, OpenMetrics, `history`'s timeline) and [`record`] (the
//!    recorder: the one function that turns an activity into metric updates, over sub-states
//!    that own what spans activities, each with its own fields and tests: environments,
//!    finished-activity counts, time to recover, unfinished activities, lead time's commits
//!    (`record::lead`), the deliveries recorded already (`dedup`), the facts applied in
//!    time order whatever order they arrive in (`settle`), and incidents attributed to the
//!    changes they follow (`incidents`)).
//! 2. [`verify`] (the JWS signature check, pure), [`logging`] (the log line formats) and
//!    [`telemetry`] (the process-lifetime
//!    instruments in the `prometheus` crate's registry). The rule: what replay rebuilds from
//!    stored activities is the recorder's; what describes this process is telemetry's.
//! 3. [`store`]: SQLite schema and migrations, the writer with group commit, replay, queries.
//! 4. [`reconcile`]: the Platform.sh API client and poller, which takes in what the webhook
//!    missed through the same intake as a delivery (its paging rules pure: `gaps`, `walk`); and [`history`], the stored activities'
//!    metrics over time in OpenMetrics, for Prometheus's backfill.
//! 5. [`config`]: the flags; and [`setup`], which points each project's webhook integration
//!    at the exporter through the API client (`platformsh-exporter setup`).
//! 6. [`http`]: what the handlers share, the webhook handler, `/metrics`, the activity API,
//!    basic auth, the serve loop. It only serves.
//! 7. [`app`]: the composition root. `App::build` checks every flag and reads every file they
//!    name (typed [`app::StartError`]s) before the store opens; `run_until_stopped` runs the
//!    server, the poller and housekeeping side by side and orders the shutdown. Nothing
//!    imports it but `main.rs`.
//!
//! A delivery goes `http::receive` → [`verify`] → [`activity::parse`] → [`store`] (durable,
//! then recorded) → [`record`] → `http::metrics` (`/metrics`).

pub mod activity;
pub mod alert;
pub mod app;
pub mod catalogue;
pub mod config;
pub mod exposition;
pub mod history;
pub mod http;
pub mod labels;
pub mod logging;
pub mod reconcile;
pub mod record;
pub mod series;
pub mod setup;
pub mod store;
pub mod telemetry;
pub mod verify;

pub use config::Config;
