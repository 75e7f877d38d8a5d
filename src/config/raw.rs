//! Raw serde types: the TOML exactly as written, with spans.
