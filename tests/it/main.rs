//! The integration-test binary (one binary, ripgrep style): a module per area.

mod bench_smoke;
mod check;
mod client;
mod crash;
mod daemon;
mod eco;
mod ecosystem;
mod engine;
mod faults;
mod harness;
mod hostile;
mod kill;
mod live;
mod security;
mod sim;
mod sql;
mod util;
