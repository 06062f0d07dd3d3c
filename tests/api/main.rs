//! Integration tests: each starts the real server on 127.0.0.1:0 and talks HTTP to it.

// Exact sample values are the point of these tests: every expected value is exactly
// representable or compared with a tolerance in `assert_exactly`.
#![allow(clippy::float_cmp)]

mod cardinality;
mod endpoints;
mod exposition;
mod failures;
mod fixtures;
mod helpers;
mod history;
mod hostile;
mod incidents;
mod kubernetes;
mod lead;
mod lifecycle;
mod logs;
mod mixin;
mod monitoring;
mod order;
mod packaging;
mod platformsh_double;
mod promtool;
mod readme;
mod reconcile;
mod setup;
mod signing;
mod status;
mod storage;
mod truth;
mod webconfig;
