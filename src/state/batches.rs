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
    /// The contacts a completed batch created (its `/import/info` names
    /// them by id only): acsync's, whatever address they have when a full
    /// read finds them (docs/ownership.md).
    Created(Vec<u64>),
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
        JournalStep::Created(ids) => {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO created (scope, contact_id, seen_at) VALUES (?1, ?2, ?3)",
            )?;
            let mut n = 0;
            for &id in ids {
                n += insert.execute(params![export, id as i64, now.timestamp()])?;
            }
            Ok(n)
        }
    }
}

/// A batch accepted by ActiveCampaign whose end is not yet known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenBatch {
    pub batch_id: String,
    pub submitted_at: DateTime<Utc>,
}

impl StateDb {
    /// The contacts acsync's imports created on `scope` that no full read
    /// has seen since ([`JournalStep::Created`]).
    /// Each with when acsync saw its import end (Unix seconds; 0 when a
    /// database older than that record does not say).
    pub fn created_ids(
        &self,
        scope: &str,
    ) -> Result<std::collections::HashMap<u64, i64>, StateError> {
        let seen = match self.version < super::schema::DRIFT_CHECK {
            true => "NULL",
            false => "seen_at",
        };
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT contact_id, {seen} FROM created WHERE scope = ?1"
            ))
            .at(&self.path)?;
        let ids = stmt
            .query_map([scope], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                ))
            })
            .at(&self.path)?
            .collect::<Result<_, _>>()
            .at(&self.path)?;
        Ok(ids)
    }

    /// Records created contacts (a batch a killed run left, followed to its
    /// end by the next one).
    pub fn record_created(&mut self, scope: &str, ids: &[u64]) -> Result<(), StateError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.save_with_journal(
            scope,
            &[],
            &[JournalStep::Created(ids.to_vec())],
            Utc::now(),
            None,
        )
    }

    /// Forgets the created contacts of `scope`: a full read has seen every
    /// one still on the list, and the record of those it found is theirs now.
    pub fn forget_created(&mut self, scope: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached("DELETE FROM created WHERE scope = ?1")
            .and_then(|mut s| s.execute([scope]))
            .at(&self.path)?;
        Ok(())
    }

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
