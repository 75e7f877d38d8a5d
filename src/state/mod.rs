//! The embedded state database: what each export manages, and its run journal.
