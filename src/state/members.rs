//! Per-export member rows: load them all, upsert a batch, or replace the whole
//! set after a full read of the list without ever forgetting ownership.

use std::collections::{HashMap, HashSet};

use rusqlite::types::ValueRef;
use rusqlite::{Row, Statement, TransactionBehavior, params};

use chrono::{DateTime, Utc};

use super::{At, StateDb, StateError, corrupt};
use crate::model::{Known, ListStatus, Member, PendingOp, WriteWindow};

const SELECT: &str =
    "SELECT email, contact_id, status, owned, unsubscribed_by_us, sent_hash, pending,
            write_from, write_to, read_back
     FROM members WHERE export = ?1";

/// Upserts a row. Unchanged rows are left alone: a full read of a large list
/// mostly confirms what we knew, and skipping those writes keeps the WAL small.
const UPSERT: &str = "INSERT INTO members
       (export, email, contact_id, status, owned, unsubscribed_by_us, sent_hash, pending,
        write_from, write_to, read_back)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
     ON CONFLICT (export, email) DO UPDATE SET
       contact_id = excluded.contact_id, status = excluded.status, owned = excluded.owned,
       unsubscribed_by_us = excluded.unsubscribed_by_us, sent_hash = excluded.sent_hash,
       pending = excluded.pending, write_from = excluded.write_from,
       write_to = excluded.write_to, read_back = excluded.read_back
     WHERE contact_id IS NOT excluded.contact_id OR status IS NOT excluded.status
       OR owned IS NOT excluded.owned OR unsubscribed_by_us IS NOT excluded.unsubscribed_by_us
       OR sent_hash IS NOT excluded.sent_hash OR pending IS NOT excluded.pending
       OR write_from IS NOT excluded.write_from OR write_to IS NOT excluded.write_to
       OR read_back IS NOT excluded.read_back";

/// [`UPSERT`] for a full read: the reconciled row replaces the recorded one
/// (ownership included: the read's verdict on provenance is the run's, see
/// docs/ownership.md), unless acsync wrote the membership after the
/// snapshot the run planned from (`?12`, Unix seconds): another export of
/// the list, in another process, made a newer write the read may not show.
/// A write in the snapshot's own second counts as older: the read's verdict
/// may end an ownership, which errs on the side of unsubscribing nobody.
const UPSERT_READ: &str = "INSERT INTO members
       (export, email, contact_id, status, owned, unsubscribed_by_us, sent_hash, pending,
        write_from, write_to, read_back)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
     ON CONFLICT (export, email) DO UPDATE SET
       contact_id = excluded.contact_id, status = excluded.status, owned = excluded.owned,
       unsubscribed_by_us = excluded.unsubscribed_by_us, sent_hash = excluded.sent_hash,
       pending = excluded.pending, write_from = excluded.write_from,
       write_to = excluded.write_to, read_back = excluded.read_back
     WHERE (members.write_to IS NULL OR members.write_to <= ?12)
       AND (contact_id IS NOT excluded.contact_id OR status IS NOT excluded.status
       OR owned IS NOT excluded.owned OR unsubscribed_by_us IS NOT excluded.unsubscribed_by_us
       OR sent_hash IS NOT excluded.sent_hash OR pending IS NOT excluded.pending
       OR write_from IS NOT excluded.write_from OR write_to IS NOT excluded.write_to
       OR read_back IS NOT excluded.read_back)";

/// Rows a full read may drop: not those that carry ownership or our own
/// unsubscribe, since forgetting either would let a later run leave an owned
/// contact behind or refuse to resubscribe a contact we removed.
const DELETABLE: &str = "SELECT email FROM members
     WHERE export = ?1 AND owned = 0 AND unsubscribed_by_us = 0";

const DELETE: &str = "DELETE FROM members WHERE export = ?1 AND email = ?2";

/// Moves one key's rows into another, merging with rows already there:
/// ownership and our unsubscribe marks are kept if either side has them.
const FOLD: &str = "INSERT INTO members
       (export, email, contact_id, status, owned, unsubscribed_by_us, sent_hash, pending,
        write_from, write_to, read_back)
     SELECT ?2, email, contact_id, status, owned, unsubscribed_by_us, sent_hash, pending,
            write_from, write_to, read_back
     FROM members WHERE export = ?1
     ON CONFLICT (export, email) DO UPDATE SET
       contact_id = coalesce(contact_id, excluded.contact_id),
       owned = max(owned, excluded.owned),
       unsubscribed_by_us = max(unsubscribed_by_us, excluded.unsubscribed_by_us),
       write_from = coalesce(write_from, excluded.write_from),
       write_to = coalesce(write_to, excluded.write_to),
       pending = coalesce(pending, excluded.pending)";

impl StateDb {
    /// Re-keys the rows of acsync 0.1 (kept per export id) and of any
    /// export that last ran on this scope into the scope itself (see
    /// [`super::scope_of`]), in one transaction; the journaled batches too.
    /// A no-op once done. Returns how many keys were folded.
    pub fn fold_into_scope(&mut self, export: &str, scope: &str) -> Result<usize, StateError> {
        let keys = self.keys_to_fold(export, scope)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&self.path)?;
        let mut folded = 0;
        for key in &keys {
            let n = tx.execute(FOLD, params![key, scope]).at(&self.path)?;
            tx.execute("DELETE FROM members WHERE export = ?1", [key])
                .at(&self.path)?;
            tx.execute(
                "UPDATE OR IGNORE batches SET export = ?2 WHERE export = ?1",
                params![key, scope],
            )
            .at(&self.path)?;
            folded += usize::from(n > 0);
        }
        tx.commit().at(&self.path)?;
        Ok(folded)
    }

    /// Whether [`StateDb::fold_into_scope`] would change anything: some row
    /// or journaled batch is still kept under a key it folds. Read-only.
    pub fn fold_needed(&self, export: &str, scope: &str) -> Result<bool, StateError> {
        for key in self.keys_to_fold(export, scope)? {
            let kept: bool = self
                .conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM members WHERE export = ?1)
                         OR EXISTS (SELECT 1 FROM batches WHERE export = ?1)",
                    [&key],
                    |r| r.get(0),
                )
                .at(&self.path)?;
            if kept {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The keys whose rows belong to `scope`: the export's own (0.1) and
    /// those of every export that last ran on the scope (a moved file).
    fn keys_to_fold(&self, export: &str, scope: &str) -> Result<Vec<String>, StateError> {
        let mut keys = vec![export.to_string()];
        keys.extend(self.exports_on_scope(scope)?);
        keys.retain(|k| k != scope);
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Export ids whose last recorded target is `scope`.
    fn exports_on_scope(&self, scope: &str) -> Result<Vec<String>, StateError> {
        Ok(self
            .recorded_exports()?
            .into_iter()
            .filter(|e| e.scope.as_deref() == Some(scope))
            .map(|e| e.export)
            .collect())
    }

    /// Active members of `scope` that it owns: what an export leaving the
    /// list leaves behind as they are.
    pub fn owned_active(&self, scope: &str) -> Result<u64, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM members WHERE export = ?1 AND owned = 1 AND status = 1",
            )
            .at(&self.path)?;
        let n: i64 = stmt.query_row([scope], |r| r.get(0)).at(&self.path)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Every member row of `export`, keyed by email. Runs use the more
    /// compact [`StateDb::load_known`]; this map is for tools and tests.
    pub fn load_members(&self, export: &str) -> Result<HashMap<String, Member>, StateError> {
        Ok(self.load_known(export)?.to_map())
    }

    /// Every member row of `export`, as a [`Known`] index (in email order).
    pub fn load_known(&self, export: &str) -> Result<Known, StateError> {
        // Sized up front: growing a million-entry index mid-load costs more
        // than counting the rows through the primary-key index.
        let mut out = Known::with_capacity(self.count_members(export)?);
        let mut stmt = self.conn.prepare_cached(SELECT).at(&self.path)?;
        let mut rows = stmt.query([export]).at(&self.path)?;
        while let Some(row) = rows.next().at(&self.path)? {
            // Unique by the primary key (export, email): no lookup needed.
            out.push_unique(self.member_from_row(row)?);
        }
        Ok(out)
    }

    /// Upserts `members` in one transaction: the intents recorded before a
    /// batch is sent, or the outcomes after it.
    pub fn save_members(&mut self, export: &str, members: &[Member]) -> Result<(), StateError> {
        self.save_with_journal(export, members, &[], Utc::now(), None)
    }

    /// Saves member rows and changes the batch journal in one transaction:
    /// one commit (one fsync) where a bulk batch would otherwise take two,
    /// and no instant between them for a crash to fall into (an intent
    /// without its batch's journal row, an id forgotten before its
    /// replacement is written). `history`: the run history entries of what
    /// the rows record (a completed batch's landed changes), in the same
    /// transaction: the history never tells more or less than the rows.
    pub fn save_with_journal(
        &mut self,
        export: &str,
        members: &[Member],
        journal: &[super::JournalStep],
        now: DateTime<Utc>,
        history: Option<&super::history::RunEntries>,
    ) -> Result<(), StateError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&self.path)?;
        {
            let mut stmt = tx.prepare_cached(UPSERT).at(&self.path)?;
            for m in members {
                upsert(&mut stmt, export, m).at(&self.path)?;
            }
        }
        for step in journal {
            super::batches::apply_step(&tx, export, step, now).at(&self.path)?;
        }
        if let Some(run) = history {
            super::history::write_entries(&tx, run).at(&self.path)?;
        }
        tx.commit().at(&self.path)
    }

    /// Makes `export`'s rows `members`, after a full read of the list that
    /// a run planned from a snapshot taken at `snapshot_at` (Unix seconds).
    /// Rows not given are deleted unless owned or unsubscribed by us (those
    /// stay as they were); a given row replaces the recorded one unless
    /// acsync wrote that membership after the snapshot ([`UPSERT_READ`]).
    /// One transaction: a crash leaves the previous set intact.
    pub fn replace_members<'a>(
        &mut self,
        export: &str,
        members: impl Iterator<Item = &'a Member>,
        snapshot_at: i64,
    ) -> Result<(), StateError> {
        self.record_read(export, members, snapshot_at, true)
    }

    /// Records what a drift check read of some members (docs/run-rules.md,
    /// drift checks), as [`Self::replace_members`] does for a full read but
    /// dropping no row: the members not given were not read.
    pub fn update_read_members<'a>(
        &mut self,
        export: &str,
        members: impl Iterator<Item = &'a Member>,
        snapshot_at: i64,
    ) -> Result<(), StateError> {
        self.record_read(export, members, snapshot_at, false)
    }

    /// Upserts the rows a read showed; `whole`: the read was of the whole
    /// list, and rows it did not give may go.
    fn record_read<'a>(
        &mut self,
        export: &str,
        members: impl Iterator<Item = &'a Member>,
        snapshot_at: i64,
        whole: bool,
    ) -> Result<(), StateError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&self.path)?;
        let mut given: HashSet<&'a str> = HashSet::new();
        {
            let mut stmt = tx.prepare_cached(UPSERT_READ).at(&self.path)?;
            for m in members {
                upsert_read(&mut stmt, export, m, snapshot_at).at(&self.path)?;
                given.insert(&m.email);
            }
        }
        if whole {
            // Collected before deleting: changing a table under a live
            // SELECT on it is allowed but its results are unspecified.
            let doomed: Vec<String> = tx
                .prepare_cached(DELETABLE)
                .at(&self.path)?
                .query_map([export], |r| r.get::<_, String>(0))
                .at(&self.path)?
                .filter(|e| e.as_ref().map_or(true, |e| !given.contains(e.as_str())))
                .collect::<Result<_, _>>()
                .at(&self.path)?;
            let mut delete = tx.prepare_cached(DELETE).at(&self.path)?;
            for email in &doomed {
                delete.execute(params![export, email]).at(&self.path)?;
            }
        }
        tx.commit().at(&self.path)
    }

    /// Deletes every member row of `export`, ownership included: for when
    /// the export now points at another list or account (see
    /// [`super::list_fingerprint`]), whose members owe it nothing.
    pub fn forget_members(&mut self, export: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached("DELETE FROM members WHERE export = ?1")
            .and_then(|mut s| s.execute([export]))
            .at(&self.path)?;
        Ok(())
    }

    fn count_members(&self, export: &str) -> Result<usize, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT count(*) FROM members WHERE export = ?1")
            .at(&self.path)?;
        let n: i64 = stmt.query_row([export], |r| r.get(0)).at(&self.path)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Whether any member of `export` carries an intent whose outcome is
    /// unknown: the next run must then read the list in full.
    pub fn has_pending(&self, export: &str) -> Result<bool, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM members WHERE export = ?1 AND pending IS NOT NULL)",
            )
            .at(&self.path)?;
        stmt.query_row([export], |r| r.get(0)).at(&self.path)
    }

    /// Decodes one row. Borrows text from SQLite's buffer, so the only
    /// allocations are the member's own strings.
    fn member_from_row(&self, row: &Row<'_>) -> Result<Member, StateError> {
        let email = text(row, 0)
            .at(&self.path)?
            .ok_or_else(|| corrupt(&self.path, "member row without email"))?;
        let status = row
            .get::<_, Option<i64>>(2)
            .at(&self.path)?
            .map(ListStatus::from_code);
        let pending = match text(row, 6).at(&self.path)? {
            None => None,
            Some(s) => Some(
                PendingOp::parse(s)
                    .ok_or_else(|| corrupt(&self.path, format!("pending operation `{s}`")))?,
            ),
        };
        Ok(Member {
            email: email.to_owned(),
            contact_id: row.get::<_, Option<i64>>(1).at(&self.path)?.map(from_i64),
            status,
            owned: row.get(3).at(&self.path)?,
            unsubscribed_by_us: row.get(4).at(&self.path)?,
            sent_hash: row.get::<_, Option<i64>>(5).at(&self.path)?.map(from_i64),
            read_back_hash: row.get::<_, Option<i64>>(9).at(&self.path)?.map(from_i64),
            pending,
            last_write: window(row).at(&self.path)?,
        })
    }
}

fn upsert(stmt: &mut Statement<'_>, export: &str, m: &Member) -> rusqlite::Result<usize> {
    bind_member(stmt, export, m)?;
    stmt.raw_execute()
}

/// [`upsert`] for [`UPSERT_READ`]: the row, then the snapshot's time.
fn upsert_read(
    stmt: &mut Statement<'_>,
    export: &str,
    m: &Member,
    snapshot_at: i64,
) -> rusqlite::Result<usize> {
    bind_member(stmt, export, m)?;
    stmt.raw_bind_parameter(12, snapshot_at)?;
    stmt.raw_execute()
}

/// Binds a member row to parameters 1 to 11 of an upsert.
fn bind_member(stmt: &mut Statement<'_>, export: &str, m: &Member) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(1, export)?;
    stmt.raw_bind_parameter(2, &m.email)?;
    stmt.raw_bind_parameter(3, m.contact_id.map(to_i64))?;
    stmt.raw_bind_parameter(4, m.status.map(ListStatus::code))?;
    stmt.raw_bind_parameter(5, m.owned)?;
    stmt.raw_bind_parameter(6, m.unsubscribed_by_us)?;
    stmt.raw_bind_parameter(7, m.sent_hash.map(to_i64))?;
    stmt.raw_bind_parameter(8, m.pending.map(PendingOp::as_str))?;
    stmt.raw_bind_parameter(9, m.last_write.map(|w| w.from))?;
    stmt.raw_bind_parameter(10, m.last_write.map(|w| w.to))?;
    stmt.raw_bind_parameter(11, m.read_back_hash.map(to_i64))
}

/// The window of acsync's last write, when both ends are recorded.
fn window(row: &Row<'_>) -> rusqlite::Result<Option<WriteWindow>> {
    let from = row.get::<_, Option<i64>>(7)?;
    let to = row.get::<_, Option<i64>>(8)?;
    Ok(from.zip(to).map(|(from, to)| WriteWindow { from, to }))
}

/// A nullable text column, borrowed.
fn text<'r>(row: &'r Row<'_>, idx: usize) -> rusqlite::Result<Option<&'r str>> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        v => v.as_str().map(Some).map_err(Into::into),
    }
}

/// SQLite integers are signed 64-bit: u64 values (hashes above `i64::MAX`
/// included) are stored bit for bit and read back the same way.
fn to_i64(v: u64) -> i64 {
    v as i64
}

fn from_i64(v: i64) -> u64 {
    v as u64
}
