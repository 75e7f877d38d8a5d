//! The integration-test binary (one binary, ripgrep style): a module per area.

mod check;
mod client;
mod daemon;
mod eco;
mod engine;
mod harness;
mod kill;
mod live;
mod sim;
mod sql;
mod util;
