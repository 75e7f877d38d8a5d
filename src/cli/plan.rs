//! `acsync plan NAME`: a dry run. Reads the segment, the local state and (when
//! a full read is due) the list; prints what a run would add, update,
//! resubscribe and unsubscribe. Sends no write request and writes no file.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use super::sync::Spinner;
use super::{load_one, runtime};
use crate::model::mask_email;
use crate::plan::{Change, UpdateDiff, diff};
use crate::run::{PlanReport, Runner, RunnerPaths};

/// How many masked sample emails are shown per kind of change.
const SAMPLES: usize = 10;

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
    let mut report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("acsync plan: {}: {e}", export.id);
            return Ok(ExitCode::from(1));
        }
    };
    fill_from_history(&runner.paths().state_dir, &export.id, &mut report);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&export.id, &report))?
        );
    } else {
        print_text(&export.id, &report);
    }
    if detailed_exitcode && has_changes(&report) {
        return Ok(ExitCode::from(CHANGES));
    }
    Ok(ExitCode::SUCCESS)
}

/// The old values a full read did not show: the values this export last
/// sent, as the run history recorded them. Without a database (or on any
/// error reading it) they simply stay unknown: a plan never fails for this.
fn fill_from_history(state_dir: &Path, id: &str, report: &mut PlanReport) {
    if !state_dir.join(crate::state::DB_FILE).exists() {
        return;
    }
    let Ok(db) = crate::state::StateDb::open(state_dir) else {
        return;
    };
    for d in &mut report.plan.update_diffs {
        if let Ok(Some(last)) = db.last_sent(id, &d.email) {
            diff::fill_from_last_sent(&mut d.fields, &last.fields);
        }
    }
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
        "update_diffs": update_diffs(&p.update_diffs),
    })
}

/// The first updates field by field, emails masked, values shown.
fn update_diffs(diffs: &[UpdateDiff]) -> serde_json::Value {
    diffs
        .iter()
        .map(|d| json!({ "email": mask_email(&d.email), "fields": d.fields }))
        .collect()
}

/// The `to update` line, then the first updates field by field.
fn print_updates(p: &crate::plan::Plan) {
    println!("  {:<20}{:>9}", "to update", p.updates.len());
    for d in &p.update_diffs {
        println!(
            "    {}: {}",
            mask_email(&d.email),
            diff::describe(&d.fields)
        );
    }
    if p.updates.len() > p.update_diffs.len() {
        println!("    … and {} more", p.updates.len() - p.update_diffs.len());
    }
}

fn print_text(id: &str, r: &PlanReport) {
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
    print_updates(p);
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
