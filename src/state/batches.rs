//! The batch journal: every bulk-import batch ActiveCampaign accepted and
//! whose end this export has not yet seen. A batch id is written the moment
//! the importer returns it, and removed once `/import/info` reports a
//! terminal status, so a run killed while ActiveCampaign still processes a
//! batch leaves its id for the next run to follow (see docs/run-rules.md, crash safety).

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{At, StateDb, StateError, corrupt, fmt_ts, parse_ts};

/// The journal id of a batch sent but not (yet) acknowledged with a batch
/// id, followed by a process-unique tag: a run killed between the request
/// and its answer leaves it. It can only be followed through the account's
/// outstanding-batch count.
pub const UNACKNOWLEDGED: &str = "unacknowledged:";

/// One change of the batch journal, made with member rows in one
/// transaction ([`StateDb::save_with_journal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalStep {
    /// A batch (or an unacknowledged placeholder) submitted now.
    Add(String),
    /// A batch whose end was seen, or a placeholder its answer replaced.
    Remove(String),
}

/// Performs one [`JournalStep`] inside the caller's transaction.
pub(super) fn apply_step(
    tx: &rusqlite::Transaction<'_>,
    export: &str,
    step: &JournalStep,
    now: DateTime<Utc>,
) -> rusqlite::Result<usize> {
    match step {
        JournalStep::Add(id) => tx
            .prepare_cached(
                "INSERT OR REPLACE INTO batches (export, batch_id, submitted_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![export, id, fmt_ts(now)]),
        JournalStep::Remove(id) => tx
            .prepare_cached("DELETE FROM batches WHERE export = ?1 AND batch_id = ?2")?
            .execute(params![export, id]),
    }
}

/// A batch accepted by ActiveCampaign whose end is not yet known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenBatch {
    pub batch_id: String,
    pub submitted_at: DateTime<Utc>,
}

impl StateDb {
    /// Journals an accepted batch.
    pub fn journal_batch(
        &mut self,
        export: &str,
        batch_id: &str,
        submitted_at: DateTime<Utc>,
    ) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO batches (export, batch_id, submitted_at) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![export, batch_id, fmt_ts(submitted_at)]))
            .at(&self.path)?;
        Ok(())
    }

    /// Forgets a batch whose end was seen.
    pub fn settle_batch(&mut self, export: &str, batch_id: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached("DELETE FROM batches WHERE export = ?1 AND batch_id = ?2")
            .and_then(|mut s| s.execute(params![export, batch_id]))
            .at(&self.path)?;
        Ok(())
    }

    /// The batches of `export` whose end was never seen, oldest first.
    pub fn open_batches(&self, export: &str) -> Result<Vec<OpenBatch>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT batch_id, submitted_at FROM batches WHERE export = ?1 ORDER BY submitted_at",
            )
            .at(&self.path)?;
        let rows: Vec<(String, String)> = stmt
            .query_map([export], |r| Ok((r.get(0)?, r.get(1)?)))
            .at(&self.path)?
            .collect::<Result<_, _>>()
            .at(&self.path)?;
        rows.into_iter()
            .map(|(batch_id, at)| {
                let submitted_at = parse_ts(&at)
                    .ok_or_else(|| corrupt(&self.path, format!("batch {batch_id} time `{at}`")))?;
                Ok(OpenBatch {
                    batch_id,
                    submitted_at,
                })
            })
            .collect()
    }
}
