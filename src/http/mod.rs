//! The HTTP edge: application state and its construction, the webhook handler, `/metrics`, the
//! activity API, basic auth, the serve loop and shutdown. Nothing in the crate imports it but
//! `main.rs`.

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

pub use server::{app, run, shutdown_signal, validate};
pub use state::{AppState, StartError};
