//! The daemon shell.
pub mod schedule;
