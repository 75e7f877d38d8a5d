//! The daemon shell.
pub mod ports;
pub mod registry;
pub mod schedule;
