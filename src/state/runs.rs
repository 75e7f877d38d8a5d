//! The run journal: a row written when a run starts and completed when it
//! ends. A row left without `finished_at` is a run that was killed mid-way.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{At, StateDb, StateError, fmt_ts};

/// Finished runs kept per export; older ones are pruned so the journal does
/// not grow forever under a `*/1 * * * *` schedule.
/// (Small under test, so pruning is exercised.)
pub(super) const KEEP_FINISHED: i64 = if cfg!(test) { 3 } else { 1000 };

impl StateDb {
    /// Journals the start of a run and returns its id.
    pub fn begin_run(
        &mut self,
        export: &str,
        trigger: &str,
        started: DateTime<Utc>,
    ) -> Result<i64, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("INSERT INTO runs (export, trigger, started_at) VALUES (?1, ?2, ?3)")
            .at(&self.path)?;
        stmt.execute(params![export, trigger, fmt_ts(started)])
            .at(&self.path)?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Completes run `run_id`. Also use this to close the runs reported by
    /// [`StateDb::unfinished_runs`] once a later run has converged them.
    /// (The schema's `summary` column stays NULL: nothing fills it.)
    pub fn finish_run(
        &mut self,
        run_id: i64,
        finished: DateTime<Utc>,
        outcome: &str,
    ) -> Result<(), StateError> {
        let tx = self.conn.transaction().at(&self.path)?;
        let changed = tx
            .prepare_cached(
                "UPDATE runs SET finished_at = ?2, outcome = ?3
                 WHERE id = ?1 AND finished_at IS NULL",
            )
            .and_then(|mut s| s.execute(params![run_id, fmt_ts(finished), outcome]))
            .at(&self.path)?;
        if changed == 0 {
            return Err(StateError::UnknownRun {
                path: self.path.clone(),
                run_id,
            });
        }
        tx.prepare_cached(
            "DELETE FROM runs WHERE export = (SELECT export FROM runs WHERE id = ?1)
               AND finished_at IS NOT NULL
               AND id <= (SELECT id FROM runs WHERE export = (SELECT export FROM runs WHERE id = ?1)
                          ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        )
        .and_then(|mut s| s.execute(params![run_id, KEEP_FINISHED]))
        .at(&self.path)?;
        tx.commit().at(&self.path)
    }

    /// Ids of `export`'s runs that started but never finished, oldest first.
    pub fn unfinished_runs(&self, export: &str) -> Result<Vec<i64>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id FROM runs WHERE export = ?1 AND finished_at IS NULL ORDER BY id",
            )
            .at(&self.path)?;
        let ids = stmt
            .query_map([export], |r| r.get(0))
            .at(&self.path)?
            .collect::<Result<Vec<i64>, _>>()
            .at(&self.path)?;
        Ok(ids)
    }
}
