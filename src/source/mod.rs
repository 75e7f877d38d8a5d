//! Segment sources: each kind yields rows; nothing else knows formats.
