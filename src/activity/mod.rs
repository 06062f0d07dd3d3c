//! The activity: one normalised, validated record of what Platform.sh did, the only input of
//! the recorder (live, or replayed from the store). [`parse`] makes one from a webhook body.

mod lenient;
mod model;
mod timestamp;
mod wire;

pub use model::*;
pub use wire::{ParseError, check_project_id, parse};
