//! `acsync plan NAME`: a dry run. Reads the segment, the local state and (when
//! a full read is due) the list; prints what a run would add, update,
//! resubscribe and unsubscribe. Sends no write request and writes no file.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use super::sync::Spinner;
use super::{load_one, runtime};
use crate::model::mask_email;
use crate::plan::Change;
use crate::plan::diff::{FieldDiff, field_diffs};
use crate::run::{PlanReport, Runner, RunnerPaths};
use crate::state::StateDb;
use crate::state::history::field_pairs;

/// How many masked sample emails are shown per kind of change.
const SAMPLES: usize = 10;

/// How many updates show which fields change, from what to what.
const DIFFS: usize = 10;

/// Values longer than this are cut in the text output.
const VALUE_MAX: usize = 60;

/// Exit code of `plan --detailed-exitcode` when the plan has changes.
const CHANGES: u8 = 2;

pub fn run(
    config_dir: &Path,
    name: &str,
    json: bool,
    detailed_exitcode: bool,
    full_read: bool,
) -> anyhow::Result<ExitCode> {
    let (folder, export) = match load_one(config_dir, name) {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    super::logging::init(folder.settings.daemon.log_format, "warn");
    let runner = Runner::new(RunnerPaths::new(config_dir, &folder.settings.daemon));
    let rt = runtime()?;
    let report = rt.block_on(async {
        let spinner = Spinner::start(&export.id);
        let r = runner.plan(&export, false, full_read).await;
        spinner.stop();
        r
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("acsync plan: {}: {e}", export.id);
            return Ok(ExitCode::from(1));
        }
    };
    let diffs = update_diffs(&folder.settings.daemon.state_dir, &export.id, &report);
    if json {
        let mut v = to_json(&export.id, &report);
        v["update_diffs"] = diffs_json(&diffs);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_text(&export.id, &report, &diffs);
    }
    if detailed_exitcode && has_changes(&report) {
        return Ok(ExitCode::from(CHANGES));
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether a run would do anything (or is blocked from doing it): the
/// meaning of exit 2 under `--detailed-exitcode`.
pub fn has_changes(r: &PlanReport) -> bool {
    let p = &r.plan;
    !(p.adds.is_empty()
        && p.updates.is_empty()
        && p.resubscribes.is_empty()
        && p.removals.is_empty()
        && p.blocked.is_none())
}

fn samples(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .take(SAMPLES)
        .map(|c| mask_email(&c.email))
        .collect()
}

/// The stable `plan --json` object (SPEC §4b): the counts, the segment's
/// row counts, and masked samples of each kind of change.
pub fn to_json(id: &str, r: &PlanReport) -> serde_json::Value {
    let p = &r.plan;
    let removals: Vec<String> = p
        .removals
        .iter()
        .take(SAMPLES)
        .map(|x| mask_email(&x.email))
        .collect();
    let kept: Vec<String> = p
        .kept_unsubscribed
        .iter()
        .take(SAMPLES)
        .map(|e| mask_email(e))
        .collect();
    json!({
        "export": id,
        "to_add": p.adds.len(),
        "to_update": p.updates.len(),
        "to_remove": p.removals.len(),
        "to_resubscribe": p.resubscribes.len(),
        "kept_unsubscribed": p.kept_unsubscribed.len(),
        "kept_bounced": p.kept_bounced.len(),
        "kept_unconfirmed": p.kept_unconfirmed.len(),
        "in_doubt": p.in_doubt.len(),
        "managed_members": p.managed_members,
        "conflicts": p.conflicts.len(),
        "kept_for_others": p.kept_for_others,
        "left_list": r.left.as_ref().map(|l| l.0.clone()),
        "left_owned": r.left.as_ref().map(|l| l.1),
        "unchanged": p.unchanged,
        "would_remove": p.would_remove,
        "blocked": p.blocked,
        "source_rows": r.segment.source_rows,
        "profiles": r.segment.profiles.len(),
        "invalid_rows": r.segment.invalid_rows,
        "duplicate_rows": r.segment.duplicate_rows,
        "full_read": r.full_read,
        "api_requests": r.api_requests,
        "samples": {
            "add": samples(&p.adds),
            "update": samples(&p.updates),
            "resubscribe": samples(&p.resubscribes),
            "remove": removals,
            "kept_unsubscribed": kept,
        },
        "row_issues": r.segment.samples,
    })
}

/// The first updates' field changes: "from" is the last value this export
/// sent as the run history recorded it (`None`: no send recorded).
pub struct UpdateDiff {
    /// Masked.
    pub email: String,
    /// When the values compared against were sent.
    pub last_sent_at: Option<chrono::DateTime<chrono::Utc>>,
    pub fields: Vec<FieldDiff>,
}

fn update_diffs(state_dir: &Path, id: &str, r: &PlanReport) -> Vec<UpdateDiff> {
    // The plan just read this database; if it cannot be opened now, every
    // "from" is simply not recorded.
    let db = StateDb::open(state_dir).ok();
    (r.plan.updates.iter().take(DIFFS))
        .map(|c| {
            let last = db
                .as_ref()
                .and_then(|d| d.last_sent(id, &c.email).ok().flatten());
            let sent = field_pairs(&c.fields);
            UpdateDiff {
                email: mask_email(&c.email),
                last_sent_at: last.as_ref().map(|e| e.at),
                fields: field_diffs(&sent, last.as_ref().map(|e| e.fields.as_slice())),
            }
        })
        .collect()
}

fn diffs_json(diffs: &[UpdateDiff]) -> serde_json::Value {
    let one = |d: &UpdateDiff| {
        let fields: Vec<serde_json::Value> = (d.fields.iter())
            .map(|f| json!({ "field": f.field, "from": f.from, "to": f.to }))
            .collect();
        json!({
            "email": d.email,
            "recorded": d.last_sent_at.is_some(),
            "last_sent_at": d.last_sent_at,
            "fields": fields,
        })
    };
    serde_json::Value::Array(diffs.iter().map(one).collect())
}

/// `"Jane"`, cut past [`VALUE_MAX`] characters.
fn quoted(v: &str) -> String {
    match v.char_indices().nth(VALUE_MAX) {
        Some((at, _)) => format!("\"{}…\"", &v[..at]),
        None => format!("\"{v}\""),
    }
}

/// `first_name "Jane" -> "Janet", phone (not recorded) -> "+1"`.
fn diff_text(d: &UpdateDiff) -> String {
    if d.fields.is_empty() {
        return "values as last sent (repairs a change made in ActiveCampaign)".into();
    }
    let from = |f: &FieldDiff| match (&f.from, d.last_sent_at) {
        (Some(v), _) => quoted(v),
        (None, Some(_)) => "(not sent before)".into(),
        (None, None) => "(not recorded)".into(),
    };
    (d.fields.iter())
        .map(|f| format!("{} {} -> {}", f.field, from(f), quoted(&f.to)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_text(id: &str, r: &PlanReport, diffs: &[UpdateDiff]) {
    let p = &r.plan;
    let s = &r.segment;
    println!(
        "{id}: {} rows, {} profiles ({} invalid, {} duplicate rows)",
        s.source_rows,
        s.profiles.len(),
        s.invalid_rows,
        s.duplicate_rows
    );
    let line = |label: &str, n: usize, sample: Vec<String>| {
        let sample = if sample.is_empty() {
            String::new()
        } else {
            format!("  e.g. {}", sample.join(", "))
        };
        println!("  {label:<20}{n:>9}{sample}");
    };
    line("to add", p.adds.len(), samples(&p.adds));
    line("to update", p.updates.len(), samples(&p.updates));
    for d in diffs {
        println!("    {}: {}", d.email, diff_text(d));
    }
    line(
        "to resubscribe",
        p.resubscribes.len(),
        samples(&p.resubscribes),
    );
    line(
        "to unsubscribe",
        p.removals.len(),
        p.removals
            .iter()
            .take(SAMPLES)
            .map(|x| mask_email(&x.email))
            .collect(),
    );
    line("kept unsubscribed", p.kept_unsubscribed.len(), Vec::new());
    line("kept bounced", p.kept_bounced.len(), Vec::new());
    line("kept unconfirmed", p.kept_unconfirmed.len(), Vec::new());
    if !p.in_doubt.is_empty() {
        line("in doubt (left)", p.in_doubt.len(), Vec::new());
    }
    println!("  {:<20}{:>9}", "unchanged", p.unchanged);
    print_notes(id, r);
}

/// What follows the counts: a list left, removals blocked, row issues, and
/// where the plan's knowledge came from.
fn print_notes(id: &str, r: &PlanReport) {
    let (p, s) = (&r.plan, &r.segment);
    if let Some((list, owned)) = &r.left {
        println!("  LEFT {list}: the {owned} members this export owns there stay as they are");
    }
    if let Some(reason) = &p.blocked {
        println!("  BLOCKED: {reason}; `acsync sync {id} --allow-removals` applies it once");
    }
    for issue in &s.samples {
        println!("  row {}: {} ({})", issue.row, issue.email, issue.reason);
    }
    println!(
        "  ({}; {} API requests, no writes)",
        if r.full_read {
            "read the list in full"
        } else {
            "from local state"
        },
        r.api_requests
    );
}
