//! The benchmark cases of issues 6 and 12, shared by `benches/suite.rs`
//! (release build, full sizes, every measured run in a child process of its
//! own so its peak RSS is its own: `benches/child/`) and
//! `tests/it/bench_smoke.rs` (debug build, tiny sizes, in-process), so that
//! the suite is exercised by `cargo test` and cannot rot. Both targets use
//! every item of these files; what only one of them needs lives in that
//! target (the child process and the counting allocator in the suite, the
//! in-process runner in the smoke test).
//!
//! Every case builds a *world* ([`world`]) and measures one step of it: a
//! run or plan ([`measure`]), or the `acsync daemon` binary ([`daemon`]).
//! The measured code paths are [`acsync::run::Runner::run`] and
//! [`acsync::run::Runner::plan`], what `acsync sync`, `acsync plan` and the
//! daemon run. Only acsync's public API is used here.

pub mod busy_soak;
pub mod daemon;
pub mod daemon_items;
pub mod drift;
pub mod figures;
pub mod measure;
pub mod parallel;
pub mod rate_bound;
pub mod soak;
pub mod state_bound;
pub mod world;
