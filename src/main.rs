//! The `acsync` binary.
fn main() {}
