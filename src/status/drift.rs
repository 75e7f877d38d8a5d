//! What a drift check read and proved, as the status file's
//! `last_run.drift` shows it (docs/status-file.md; the check itself is
//! docs/run-rules.md, drift checks).

use serde::{Deserialize, Serialize};

/// The figures of one drift check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftCheck {
    /// Why the run checked (`drift_check_every_elapsed`, `every_run`).
    pub reason: String,
    /// The day the check asked for changes from (`filters[updated_after]`).
    pub asked_from: String,
    /// Members read as updated since then.
    pub changed: u64,
    /// Members read in their own rows as a sample, and how many of them
    /// showed something else than the record.
    pub sampled: u64,
    pub sample_disagreed: u64,
    /// `agreed`, `disagreed`, or `unproven` (the list changed while it was
    /// counted, or a count was not answered).
    pub counts: String,
    /// Members the counts show gone from the list (deleted contacts) that
    /// no filter can name: their records stand until the next full read.
    pub gone: u64,
    /// Why the next run reads in full; absent when the check held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disagreed: Option<String>,
}

impl DriftCheck {
    /// The check held: its read can stand for a read of the list now (a
    /// bulk add then needs no census of its own, docs/verification.md).
    pub fn proven(&self) -> bool {
        self.disagreed.is_none() && self.counts == "agreed"
    }
}
