//! acsync: keeps ActiveCampaign lists in sync with customer segments.
//!
//! The crate is a sans-IO core wrapped by a thin async shell:
//!
//! * pure: [`segment`] (email rules, dedup), [`plan`] (what a run changes),
//!   [`model`] (the shared vocabulary; `model::known` its compact member index),
//!   status rendering in [`status`];
//! * IO: [`config`] reads files, [`source`] reads segments, [`state`] owns the
//!   local database, [`activecampaign`] is the only module that speaks HTTP,
//!   [`run`] executes one export end to end, `daemon` owns time and signals;
//!   [`target_check`] is the one check that an export's list and mapped
//!   fields exist on its account (used by the run and both account checks),
//!   [`account_check`] the read-only checks of `doctor` and `check --online`;
//! * [`simulator`] is the other side of the wire: a faithful ActiveCampaign
//!   fake used by tests, benchmarks and `acsync demo`. It depends on nothing
//!   else in this crate.

pub mod account_check;
pub mod activecampaign;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod explain;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod run;
pub mod segment;
pub mod simulator;
pub mod source;
pub mod source_check;
pub mod state;
pub mod status;
pub mod target_check;
