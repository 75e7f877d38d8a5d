//! What `acsync explain` answers, as data: one section per question, each
//! serialised as is by `--json` and put into sentences by `render`. Holds
//! the full address (the command runs on the host, for the operator).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::words::Decision;
use crate::plan::FullReadReason;
use crate::run::RunError;

/// The whole answer for one address of one export.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub export: String,
    /// Trimmed and lowercased, as the segment compares addresses.
    pub email: String,
    pub list_id: u64,
    pub connection: String,
    pub segment: SegmentPart,
    pub state: StatePart,
    pub list: ListPart,
    pub others: OthersPart,
    pub next_run: NextRun,
    /// The address's run history, in sentences.
    pub history: Vec<String>,
}

/// Where the address is in the segment.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentPart {
    pub kind: &'static str,
    /// The file, or the variable a PostgreSQL source names.
    pub source: String,
    /// Whether the address itself passes the segment's email rules; why not.
    pub valid: bool,
    pub problem: Option<&'static str>,
    /// In the segment: a row holds it with a valid email.
    pub in_segment: bool,
    /// Every row holding it, in source order.
    pub rows: Vec<RowPart>,
    /// The fields its profile sends (name → value), when in the segment.
    pub fields: Vec<(String, String)>,
    pub source_rows: u64,
    pub profiles: u64,
}

/// One row holding the address.
#[derive(Debug, Clone, Serialize)]
pub struct RowPart {
    /// `line 5` for CSV and JSONL (the file's line), `data row 3` for SQL.
    pub place: String,
    pub row: u64,
    pub line: Option<u64>,
    /// What became of the row: `profile`, `duplicate` or `invalid`.
    pub verdict: &'static str,
    /// For a duplicate: the place of the row that counts.
    pub duplicate_of: Option<String>,
    /// Why invalid, or which field was left out of a kept row.
    pub reason: Option<String>,
}

/// What the state database records.
#[derive(Debug, Clone, Serialize)]
pub struct StatePart {
    /// The database file; `None` when no run created it yet.
    pub database: Option<String>,
    /// A member row exists for this address.
    pub recorded: bool,
    pub owned: bool,
    pub status: Option<&'static str>,
    pub contact_id: Option<u64>,
    pub unsubscribed_by_us: bool,
    /// The window of this export's unsubscribe, when it did it.
    pub unsubscribed_from: Option<DateTime<Utc>>,
    pub unsubscribed_to: Option<DateTime<Utc>>,
    /// A hash of the fields last sent is recorded.
    pub sent_recorded: bool,
    pub pending: Option<&'static str>,
    /// Bulk batches in the journal whose end no run has seen yet.
    pub open_batches: Vec<(String, DateTime<Utc>)>,
    pub last_full_read: Option<DateTime<Utc>>,
    /// Runs of the export that started and never finished (killed, or running now).
    pub unfinished_runs: usize,
}

/// The address on the list now (one read), or why it was not asked.
#[derive(Debug, Clone, Serialize)]
pub struct ListPart {
    pub checked: bool,
    /// Why not checked (`--offline`), or the read's error.
    pub note: Option<String>,
    pub contact_id: Option<u64>,
    /// `active`, `unsubscribed`, `bounced`, `unconfirmed`, or `None`: no
    /// membership on the list (or no such contact).
    pub status: Option<&'static str>,
    /// The wire code, when the contact has a row on the list.
    pub code: Option<i64>,
    pub changed_at: Option<DateTime<Utc>>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

/// The other exports of the folder on the same list.
#[derive(Debug, Clone, Serialize)]
pub struct OthersPart {
    pub siblings: Vec<String>,
    pub wanting: Vec<OtherWanting>,
    /// Siblings that never recorded their segment (they hold removals back).
    pub silent: Vec<String>,
}

/// A sibling export whose recorded segment holds the address.
#[derive(Debug, Clone, Serialize)]
pub struct OtherWanting {
    pub export: String,
    /// It sends the same values as this export would; `None` when this
    /// export's segment does not hold the address.
    pub same_values: Option<bool>,
    /// Its id sorts first: on a value conflict its values are the ones written.
    pub wins: bool,
}

/// What the next run would do for the address, and why.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NextRun {
    #[serde(flatten)]
    pub decision: Decision,
    /// Whether the next run reads the list in full, and why.
    pub full_read: bool,
    pub full_read_reason: Option<FullReadReason>,
    pub full_read_why: Option<String>,
    /// The read the next run makes: `full`, `drift` (a drift check) or
    /// `none`, its reason's name, and in words.
    pub read: &'static str,
    pub read_reason: Option<&'static str>,
    pub read_why: String,
    /// What the planner was given: the state, a full read, or the state
    /// and what ActiveCampaign shows for the address now.
    pub basis: &'static str,
    /// When ActiveCampaign now disagrees with the state, what the next full
    /// read will decide instead.
    pub after_full_read: Option<Box<NextRun>>,
}

impl NextRun {
    /// The run fails before it writes anything.
    pub fn fails(e: &RunError) -> NextRun {
        NextRun {
            decision: Decision {
                action: "fail",
                reason: format!("the run fails before writing anything: {e}"),
                ..Decision::default()
            },
            basis: "state",
            ..NextRun::default()
        }
    }
}
