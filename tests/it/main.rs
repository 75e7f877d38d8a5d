//! The integration-test binary (one binary, ripgrep style): a module per area.

mod check;
mod client;
mod engine;
mod harness;
mod kill;
mod sim;
mod sql;
mod util;
