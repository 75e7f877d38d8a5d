//! The run history: what each run changed for each contact
//! (added, updated with the values sent, unsubscribed, resubscribed, kept
//! and why, failed and why), kept for a retention and a size bound so that
//! "when and why was she unsubscribed?" has an answer. Emails are stored in
//! full: the database is the operator's (mode 0600 in a 0700 directory);
//! status files and logs stay masked.
//!
//! A run's entries are written in one transaction through one prepared
//! statement (a first export of a million profiles records a million rows).
//! A contact kept for the same reason as its previous entry is not recorded
//! again: a list with many opted-out contacts would otherwise fill the
//! history with the same line on every run, and push real changes out.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::de::{MapAccess, Visitor};

use super::{At, StateDb, StateError, corrupt, fmt_ts, parse_ts, schema};
use crate::model::{Fields, LeftAlone};

/// At most this many history rows are kept per export (the size bound);
/// whole runs are dropped, oldest first, beyond it. About 100 bytes a row:
/// ~200 MB for an export at the bound.
pub const MAX_ROWS_PER_EXPORT: u64 = 2_000_000;

/// What a run did to one contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    Added,
    Updated,
    Unsubscribed,
    Resubscribed,
    Kept,
    Failed,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 6] = [
        ChangeKind::Added,
        ChangeKind::Updated,
        ChangeKind::Unsubscribed,
        ChangeKind::Resubscribed,
        ChangeKind::Kept,
        ChangeKind::Failed,
    ];

    /// The stored (and printed) name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Updated => "updated",
            ChangeKind::Unsubscribed => "unsubscribed",
            ChangeKind::Resubscribed => "resubscribed",
            ChangeKind::Kept => "kept",
            ChangeKind::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// A change that sent values to ActiveCampaign.
    pub fn sent_values(self) -> bool {
        matches!(
            self,
            ChangeKind::Added | ChangeKind::Updated | ChangeKind::Resubscribed
        )
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One contact's entry in one run, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub run_id: i64,
    pub at: DateTime<Utc>,
    pub export: String,
    pub email: String,
    pub change: ChangeKind,
    /// The values sent (field name, value), for added, updated and
    /// resubscribed; empty otherwise.
    pub fields: Vec<(String, String)>,
    pub reason: Option<String>,
    /// The id of the bulk import that made the change, when one did.
    pub batch: Option<String>,
}

impl HistoryEntry {
    /// Why the contact was kept, for a `kept` entry (stored by its
    /// [`LeftAlone::as_str`] name).
    pub fn kept_reason(&self) -> Option<LeftAlone> {
        match self.change {
            ChangeKind::Kept => LeftAlone::parse(self.reason.as_deref()?),
            _ => None,
        }
    }
}

/// One entry to record, borrowing the run's plan (a million entries must
/// not copy a million emails and their values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry<'a> {
    pub email: &'a str,
    pub change: ChangeKind,
    /// The values sent, when the change sent any.
    pub fields: Option<&'a Fields>,
    pub reason: Option<Cow<'a, str>>,
}

impl<'a> NewEntry<'a> {
    /// A contact the run kept as it is, and why.
    pub fn kept(email: &'a str, why: LeftAlone) -> NewEntry<'a> {
        NewEntry {
            email,
            change: ChangeKind::Kept,
            fields: None,
            reason: Some(Cow::Borrowed(why.as_str())),
        }
    }
}

/// Entries of one run, to record with [`StateDb::record_history`] or with
/// a batch's outcome ([`StateDb::save_with_journal`]).
#[derive(Debug, Clone, Copy)]
pub struct RunEntries<'a> {
    pub run_id: i64,
    pub export: &'a str,
    pub at: DateTime<Utc>,
    pub entries: &'a [NewEntry<'a>],
    /// The bulk import that made every one of `entries`, when one did.
    pub batch: Option<&'a str>,
}

/// Writes `run`'s entries and adds them to its run row, inside `tx`.
pub(super) fn write_entries(
    tx: &rusqlite::Transaction<'_>,
    run: &RunEntries,
) -> rusqlite::Result<()> {
    let mut written = 0i64;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO history (run_id, email, change, fields, reason, batch)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (run_id, email) DO NOTHING",
        )?;
        let mut previous = tx.prepare_cached(PREVIOUS)?;
        // In email order, both b-trees (by run, by email) grow at one
        // place rather than at random ones.
        let mut json = String::new();
        let mut sorted: Vec<&NewEntry> = run.entries.iter().collect();
        sorted.sort_unstable_by(|a, b| a.email.cmp(b.email));
        for e in sorted {
            if e.change == ChangeKind::Kept && kept_again(&mut previous, run.export, e)? {
                continue;
            }
            let fields = fields_json(e.fields, &mut json).then_some(json.as_str());
            let reason = e.reason.as_deref();
            written += insert.execute(params![
                run.run_id,
                e.email,
                e.change.as_str(),
                fields,
                reason,
                run.batch
            ])? as i64;
        }
    }
    tx.execute(
        "INSERT INTO history_runs (run_id, export, at, entries) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (run_id) DO UPDATE SET entries = entries + excluded.entries",
        params![run.run_id, run.export, fmt_ts(run.at), written],
    )?;
    Ok(())
}

/// A recorded run and how many entries of each kind it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub run_id: i64,
    pub at: DateTime<Utc>,
    /// Counts by kind, in [`ChangeKind::ALL`] order; kinds with none left out.
    pub counts: Vec<(ChangeKind, u64)>,
}

/// The field names a history entry uses: those of `[mapping]` for the
/// standard fields, the `[mapping.fields]` key for custom ones.
pub fn field_pairs(f: &Fields) -> Vec<(&str, &str)> {
    let standard = [
        ("first_name", f.first_name()),
        ("last_name", f.last_name()),
        ("phone", f.phone()),
    ];
    standard
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .chain(f.custom())
        .collect()
}

/// Writes `{"first_name":"Jane","COMPANY":"Acme"}` (field order) into
/// `out`; `false` when nothing was sent. By hand into one reused buffer: a
/// million entries through `serde_json::Value` cost seconds.
fn fields_json(f: Option<&Fields>, out: &mut String) -> bool {
    out.clear();
    let Some(f) = f.filter(|f| !f.is_empty()) else {
        return false;
    };
    out.push('{');
    for (i, (k, v)) in field_pairs(f).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(k, out);
        out.push(':');
        json_str(v, out);
    }
    out.push('}');
    true
}

/// A JSON string literal (RFC 8259 escapes).
fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Reads a fields object back in its stored order.
struct Pairs(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of field values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Pairs, A::Error> {
                let mut out = Vec::new();
                while let Some(pair) = m.next_entry::<String, String>()? {
                    out.push(pair);
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V)
    }
}

const ENTRY_COLUMNS: &str = "r.run_id, r.at, r.export, h.email, h.change, h.fields, h.reason";

const ENTRY_FROM: &str = "FROM history h JOIN history_runs r ON r.run_id = h.run_id";

impl StateDb {
    /// Records run `run_id` of `export` (at `at`) and its entries, in one
    /// transaction. A `Kept` entry equal to the contact's previous entry
    /// (same reason) is left out. Recording a run twice adds to it.
    pub fn record_history(
        &mut self,
        run_id: i64,
        export: &str,
        at: DateTime<Utc>,
        entries: &[NewEntry],
    ) -> Result<(), StateError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let run = RunEntries {
            run_id,
            export,
            at,
            entries,
            batch: None,
        };
        write_entries(&tx, &run).at(&path)?;
        tx.commit().at(&path)
    }

    /// `email`'s entries in `export`, newest first, at most `limit`.
    pub fn contact_history(
        &self,
        export: &str,
        email: &str,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StateError> {
        let sql = format!(
            "SELECT {} WHERE h.email = ?1 AND r.export = ?2
             ORDER BY h.run_id DESC LIMIT ?3",
            self.entry_columns()
        );
        self.entries(&sql, params![email, export, limit_of(limit)])
    }

    /// The entries of run `run_id` of `export` (its latest recorded run
    /// when `None`), by email, at most `limit`.
    pub fn run_history(
        &self,
        export: &str,
        run_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StateError> {
        let sql = format!(
            "SELECT {} WHERE r.export = ?1 AND r.run_id = coalesce(?2,
               (SELECT max(run_id) FROM history_runs WHERE export = ?1))
             ORDER BY h.email LIMIT ?3",
            self.entry_columns()
        );
        self.entries(&sql, params![export, run_id, limit_of(limit)])
    }

    /// The last entry that sent `email`'s values (added, updated or
    /// resubscribed): what ActiveCampaign was last given, and when.
    pub fn last_sent(&self, export: &str, email: &str) -> Result<Option<HistoryEntry>, StateError> {
        let sql = format!(
            "SELECT {} WHERE h.email = ?1 AND r.export = ?2
               AND h.change IN ('added', 'updated', 'resubscribed')
             ORDER BY h.run_id DESC LIMIT 1",
            self.entry_columns()
        );
        Ok(self.entries(&sql, params![email, export])?.pop())
    }

    /// `export`'s last `limit` recorded runs, newest first, with their counts.
    pub fn recent_runs(&self, export: &str, limit: usize) -> Result<Vec<RunSummary>, StateError> {
        if self.version < schema::HISTORY {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.run_id, r.at, h.change, count(h.change)
                 FROM (SELECT run_id, at FROM history_runs WHERE export = ?1
                       ORDER BY run_id DESC LIMIT ?2) r
                 LEFT JOIN history h ON h.run_id = r.run_id
                 GROUP BY r.run_id, h.change ORDER BY r.run_id DESC",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map(params![export, limit_of(limit)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .at(&self.path)?
            .collect::<Result<Vec<(i64, String, Option<String>, i64)>, _>>()
            .at(&self.path)?;
        let mut out: Vec<RunSummary> = Vec::new();
        for (run_id, at, change, n) in rows {
            if out.last().is_none_or(|s| s.run_id != run_id) {
                let at = parse_ts(&at)
                    .ok_or_else(|| corrupt(&self.path, format!("bad history time `{at}`")))?;
                out.push(RunSummary {
                    run_id,
                    at,
                    counts: Vec::new(),
                });
            }
            if let (Some(last), Some(kind)) = (out.last_mut(), change.as_deref()) {
                let kind = ChangeKind::parse(kind).ok_or_else(|| bad_kind(&self.path, kind))?;
                last.counts.push((kind, n.max(0) as u64));
            }
        }
        for s in &mut out {
            s.counts.sort();
        }
        Ok(out)
    }

    /// Drops `export`'s runs recorded before `older_than`, then its oldest
    /// runs beyond `max_rows` entries in all (the newest run is always
    /// kept). Returns how many entries were dropped.
    pub fn prune_history(
        &mut self,
        export: &str,
        older_than: DateTime<Utc>,
        max_rows: u64,
    ) -> Result<u64, StateError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let runs = tx
            .prepare_cached(
                "SELECT run_id, at, entries FROM history_runs WHERE export = ?1
                 ORDER BY run_id DESC",
            )
            .and_then(|mut s| {
                s.query_map([export], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<Vec<(i64, String, i64)>, _>>()
            })
            .at(&path)?;
        let cutoff = fmt_ts(older_than);
        let mut kept = 0u64;
        let mut dropped = 0u64;
        for (i, (run_id, at, entries)) in runs.into_iter().enumerate() {
            let entries = entries.max(0) as u64;
            kept += entries;
            if i == 0 || (at >= cutoff && kept <= max_rows) {
                continue;
            }
            tx.prepare_cached("DELETE FROM history WHERE run_id = ?1")
                .and_then(|mut s| s.execute([run_id]))
                .at(&path)?;
            tx.prepare_cached("DELETE FROM history_runs WHERE run_id = ?1")
                .and_then(|mut s| s.execute([run_id]))
                .at(&path)?;
            dropped += entries;
        }
        tx.commit().at(&path)?;
        Ok(dropped)
    }

    /// The columns of an entry and their tables, as this database's
    /// version has them (one opened read-only may predate `batch`).
    fn entry_columns(&self) -> String {
        let batch = if self.version < schema::HISTORY_BATCH {
            "NULL"
        } else {
            "h.batch"
        };
        format!("{ENTRY_COLUMNS}, {batch} {ENTRY_FROM}")
    }

    fn entries(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<HistoryEntry>, StateError> {
        if self.version < schema::HISTORY {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(sql).at(&self.path)?;
        let raw = stmt
            .query_map(params, RawEntry::of)
            .at(&self.path)?
            .collect::<Result<Vec<RawEntry>, _>>()
            .at(&self.path)?;
        raw.into_iter().map(|r| r.decode(&self.path)).collect()
    }
}

/// The contact's previous entry in the export, for the `Kept` dedup.
const PREVIOUS: &str = "SELECT h.change, h.reason FROM history h
     JOIN history_runs r ON r.run_id = h.run_id
     WHERE h.email = ?1 AND r.export = ?2 ORDER BY h.run_id DESC LIMIT 1";

fn kept_again(
    previous: &mut rusqlite::CachedStatement<'_>,
    export: &str,
    e: &NewEntry,
) -> rusqlite::Result<bool> {
    let last: Option<(String, Option<String>)> = previous
        .query_row(params![e.email, export], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(last.is_some_and(|(change, reason)| {
        change == ChangeKind::Kept.as_str() && reason.as_deref() == e.reason.as_deref()
    }))
}

/// SQLite's LIMIT takes a signed integer.
fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn bad_kind(path: &std::path::Path, kind: &str) -> StateError {
    corrupt(path, format!("unknown history change `{kind}`"))
}

/// A history row as stored, before its text is checked.
struct RawEntry {
    run_id: i64,
    at: String,
    export: String,
    email: String,
    change: String,
    fields: Option<String>,
    reason: Option<String>,
    batch: Option<String>,
}

impl RawEntry {
    fn of(r: &Row<'_>) -> rusqlite::Result<RawEntry> {
        Ok(RawEntry {
            run_id: r.get(0)?,
            at: r.get(1)?,
            export: r.get(2)?,
            email: r.get(3)?,
            change: r.get(4)?,
            fields: r.get(5)?,
            reason: r.get(6)?,
            batch: r.get(7)?,
        })
    }

    fn decode(self, path: &std::path::Path) -> Result<HistoryEntry, StateError> {
        let at = parse_ts(&self.at)
            .ok_or_else(|| corrupt(path, format!("bad history time `{}`", self.at)))?;
        let change = ChangeKind::parse(&self.change).ok_or_else(|| bad_kind(path, &self.change))?;
        let fields = match &self.fields {
            Some(json) => {
                serde_json::from_str::<Pairs>(json)
                    .map_err(|e| corrupt(path, format!("bad history fields: {e}")))?
                    .0
            }
            None => Vec::new(),
        };
        Ok(HistoryEntry {
            run_id: self.run_id,
            at,
            export: self.export,
            email: self.email,
            change,
            fields,
            reason: self.reason,
            batch: self.batch,
        })
    }
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
