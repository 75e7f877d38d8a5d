//! The exports whose runs this state recorded, as the rule for deleted
//! exports needs them (docs/ownership.md, "Deleting an export"): the scope
//! each last ran on, the content of its file then, and when its last run
//! ended; and forgetting one (a release, or a take-over by its moved file).

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{At, StateDb, StateError, corrupt, parse_ts};

/// One export with a record in the state database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedExport {
    pub export: String,
    /// The scope of its last run (`None`: a fingerprint this build cannot read).
    pub scope: Option<String>,
    /// The SHA-256 of its file at its last run (`None` before schema 4).
    pub config_sha256: Option<String>,
    /// When its last run ended; `None` when its last journaled run never
    /// finished (killed, or still going): no bound is known for its writes.
    pub last_run_end: Option<DateTime<Utc>>,
}

impl StateDb {
    /// Every export with a record, in id order.
    pub fn recorded_exports(&self) -> Result<Vec<RecordedExport>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(&self.select_exports("ORDER BY export"))
            .at(&self.path)?;
        let rows: Vec<(String, String, Option<String>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(3)?)))
            .at(&self.path)?
            .collect::<Result<_, _>>()
            .at(&self.path)?;
        let mut out = Vec::with_capacity(rows.len());
        for (export, fingerprint, config_sha256) in rows {
            out.push(RecordedExport {
                scope: super::scope_of_fingerprint(&fingerprint),
                config_sha256,
                last_run_end: self.last_run_end(&export)?,
                export,
            });
        }
        Ok(out)
    }

    /// The end of `export`'s last run: `None` when its newest journaled run
    /// has not finished, or none is journaled.
    fn last_run_end(&self, export: &str) -> Result<Option<DateTime<Utc>>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT CASE WHEN (SELECT finished_at FROM runs WHERE export = ?1
                                   ORDER BY id DESC LIMIT 1) IS NULL THEN NULL
                        ELSE (SELECT max(finished_at) FROM runs WHERE export = ?1) END",
            )
            .at(&self.path)?;
        let end: Option<String> = stmt.query_row([export], |r| r.get(0)).at(&self.path)?;
        end.map(|s| {
            parse_ts(&s)
                .ok_or_else(|| corrupt(&self.path, format!("bad finished_at `{s}` for `{export}`")))
        })
        .transpose()
    }

    /// Forgets `export`'s record and what it wanted on its list; its run
    /// journal and history stay (they tell what it did). Returns whether
    /// there was a record.
    pub fn forget_export(&mut self, export: &str) -> Result<bool, StateError> {
        let tx = self.conn.transaction().at(&self.path)?;
        let n = tx
            .execute("DELETE FROM exports WHERE export = ?1", params![export])
            .at(&self.path)?;
        tx.execute("DELETE FROM wanted WHERE export = ?1", params![export])
            .at(&self.path)?;
        tx.commit().at(&self.path)?;
        Ok(n > 0)
    }
}
