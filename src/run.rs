//! One run of one export, end to end: read, plan, apply, record.
