//! The integration-test binary (one binary, ripgrep style): a module per area.

mod bench_smoke;
mod check;
mod client;
mod daemon;
mod engine;
mod harness;
mod kill;
mod live;
mod sim;
mod util;
