//! What `acsync plan --json` prints, as one serialisable type: the plan's
//! counts, the segment's row counts, whether and why the list was read in
//! full, and masked samples of each kind of change (docs/commands.md, plan).

use serde::Serialize;

use super::{Change, FullReadReason, Plan, PlanCounts, UpdateDiff};
use crate::model::mask_email;
use crate::segment::{RowIssue, Segment};

/// How many masked sample emails are shown per kind of change.
pub const SAMPLES: usize = 10;

/// The stable `plan --json` object.
#[derive(Debug, Clone, Serialize)]
pub struct PlanSummary {
    pub export: String,
    #[serde(flatten)]
    pub counts: PlanCounts,
    /// The list the export last ran on, when it changed, and how many
    /// members it owns there (left as they are).
    pub left_list: Option<String>,
    pub left_owned: Option<u64>,
    pub source_rows: u64,
    pub profiles: u64,
    pub invalid_rows: u64,
    pub duplicate_rows: u64,
    pub full_read: bool,
    pub full_read_reason: Option<FullReadReason>,
    /// The read the plan was made from: `full`, `drift` or `none`, and
    /// why (docs/commands.md).
    pub read: &'static str,
    pub read_reason: Option<&'static str>,
    /// What a drift check read and proved.
    pub drift: Option<crate::status::DriftCheck>,
    pub api_requests: u64,
    /// Recorded members a read of a changing list could not settle, and
    /// changes in doubt the read settles (the status file's keys).
    pub unread_kept: u64,
    pub settled_by_reading: u64,
    pub samples: Samples,
    pub row_issues: Vec<RowIssue>,
    /// The first updates field by field, emails masked, values shown.
    pub update_diffs: Vec<UpdateDiff>,
}

/// Masked sample emails of each kind of change.
#[derive(Debug, Clone, Serialize)]
pub struct Samples {
    pub add: Vec<String>,
    pub update: Vec<String>,
    pub resubscribe: Vec<String>,
    pub remove: Vec<String>,
    /// Whom a blocked plan does not unsubscribe (`--allow-removals` would).
    pub held_back: Vec<String>,
    pub kept_unsubscribed: Vec<String>,
}

/// What the plan was made from besides the plan itself.
pub struct Planned<'a> {
    pub segment: &'a Segment,
    pub left: Option<&'a (String, u64)>,
    pub full_read: Option<FullReadReason>,
    pub read: super::ReadKind,
    pub drift: Option<&'a crate::status::DriftCheck>,
    pub api_requests: u64,
    /// What the run's read left and settled (docs/status-file.md).
    pub unread_kept: u64,
    pub settled_by_reading: u64,
}

impl PlanSummary {
    pub fn new(export: &str, plan: &Plan, from: &Planned<'_>) -> PlanSummary {
        let s = from.segment;
        PlanSummary {
            export: export.to_string(),
            counts: plan.counts(),
            left_list: from.left.map(|l| l.0.clone()),
            left_owned: from.left.map(|l| l.1),
            source_rows: s.source_rows,
            profiles: s.profiles.len() as u64,
            invalid_rows: s.invalid_rows,
            duplicate_rows: s.duplicate_rows,
            full_read: from.full_read.is_some(),
            full_read_reason: from.full_read,
            read: from.read.kind(),
            read_reason: from.read.reason(),
            drift: from.drift.cloned(),
            api_requests: from.api_requests,
            unread_kept: from.unread_kept,
            settled_by_reading: from.settled_by_reading,
            samples: Samples {
                add: changes(&plan.adds),
                update: changes(&plan.updates),
                resubscribe: changes(&plan.resubscribes),
                remove: masked(plan.removals.iter().map(|r| r.email.as_str())),
                held_back: masked(plan.held_back.iter().map(|r| r.email.as_str())),
                kept_unsubscribed: masked(plan.kept_unsubscribed.iter().map(String::as_str)),
            },
            row_issues: s.samples.clone(),
            update_diffs: plan
                .update_diffs
                .iter()
                .map(|d| UpdateDiff {
                    email: mask_email(&d.email),
                    fields: d.fields.clone(),
                })
                .collect(),
        }
    }
}

fn changes(list: &[Change]) -> Vec<String> {
    masked(list.iter().map(|c| c.email.as_str()))
}

/// The first [`SAMPLES`] emails, masked.
pub fn masked<'a>(emails: impl Iterator<Item = &'a str>) -> Vec<String> {
    emails.take(SAMPLES).map(mask_email).collect()
}
