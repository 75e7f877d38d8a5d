//! Email normalisation and validity, deduplication and row counts.
