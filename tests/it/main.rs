//! The integration-test binary (one binary, ripgrep style): a module per area.

mod batches;
mod bench_smoke;
mod check;
mod client;
mod crash;
mod daemon;
mod discovery;
mod eco;
mod ecosystem;
mod engine;
mod faults;
mod field_safety;
mod fields;
mod harness;
mod history;
mod hostile;
mod interrupted;
mod kill;
mod live;
mod ownership;
mod rows;
mod security;
mod shared_list;
mod sim;
mod sql;
mod util;
