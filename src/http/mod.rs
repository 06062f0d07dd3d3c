//! The HTTP edge: application state, the webhook handler, `/metrics`, the activity API, basic
//! auth, the serve loop. It only serves: the composition root (`crate::app`) builds its state
//! and runs it beside the poller and housekeeping.

pub mod alertmanager;
pub mod api;
pub mod auth;
pub mod budget;
pub mod deadline;
pub mod error;
pub mod metrics;
pub mod receive;
pub mod refusals;
pub mod scrapes;
pub mod server;
pub mod state;
pub mod status;
pub mod webconfig;

pub use server::{app, serve, shutdown_signal, validate};
pub use state::{AppState, Parts};
