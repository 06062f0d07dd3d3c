//! Integration tests: each starts the real server on 127.0.0.1:0 and talks HTTP to it.

mod cardinality;
mod endpoints;
mod fixtures;
mod helpers;
mod promtool;
mod readme;
