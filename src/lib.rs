//! Receives Platform.sh (Upsun) activity webhooks and exposes them as Prometheus metrics.
//!
//! The modules follow the data path: [`receive`] (HTTP) → [`verify`] (signature) →
//! [`activity`] (parse) → [`labels`]
//! (cardinality caps) → [`store`] (durable, replayed at start) → [`record`] (metrics and
//! cross-activity state) → [`expose`] (`/metrics`).

pub mod activity;
pub mod catalogue;
pub mod config;
pub mod http;
pub mod labels;
pub mod record;
pub mod series;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod verify;

pub use config::Config;
