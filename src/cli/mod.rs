//! Command-line commands, one file each.
