//! Puts the reads together into an [`Explanation`]: the sections as data,
//! and the next run's decision from the run's own planner
//! (`run::prepare::make_plan`) fed the segment, the state and (unless
//! `--offline`) what ActiveCampaign shows for the address now.

use chrono::{DateTime, Utc};

use super::decide::{Decision, Subject, decide};
use super::facts::{self, LiveRead, StateRead};
use super::model::{
    Explanation, ListPart, NextRun, OtherWanting, OthersPart, RowPart, SegmentPart, StatePart,
};
use crate::config::{Export, Source};
use crate::model::{Known, ListStatus, LiveMember};
use crate::plan::{self, Merge, OtherExports, PlanSettings};
use crate::run::{RunError, Runner, prepare};
use crate::segment::{Segment, Sighting, Verdict, email_problem};

/// Everything `explain` prints, and the error of the live read if it failed
/// (the rest is still answered).
pub async fn explain(
    runner: Runner,
    export: &Export,
    email: &str,
    offline: bool,
) -> Result<(Explanation, Option<String>), RunError> {
    let mut segment = crate::source::read_watching(&export.source, &export.mapping, email)
        .await
        .map_err(RunError::Source)?;
    let state = {
        let (dir, root) = (
            runner.paths().state_dir.clone(),
            runner.paths().config_root(),
        );
        let (e, who) = (export.clone(), email.to_string());
        tokio::task::spawn_blocking(move || facts::read_state(dir, root, &e, &who))
            .await
            .map_err(|e| RunError::Internal(format!("state reader stopped: {e}")))??
    };
    let online = if offline {
        Online::default()
    } else {
        read_online(&runner, export, email, &mut segment).await
    };
    let now = Utc::now();
    let x = Explanation {
        export: export.id.clone(),
        email: email.to_string(),
        list_id: export.list_id,
        connection: export.connection.name.clone(),
        segment: segment_part(export, &segment, email),
        state: state_part(&state, email),
        list: list_part(online.live.as_ref(), offline, online.error.as_deref()),
        others: others_part(export, &state, &segment, email),
        history: state.history.clone(),
        next_run: next_run(export, &segment, state, &online, email, now),
    };
    Ok((x, online.error))
}

/// What the online reads gave.
#[derive(Default)]
struct Online {
    live: Option<LiveRead>,
    error: Option<String>,
    /// Why the next run fails before writing (a custom field the account lacks).
    fails: Option<String>,
    /// Custom values were converted to their field types, as a run does.
    converted: bool,
}

async fn read_online(
    runner: &Runner,
    export: &Export,
    email: &str,
    segment: &mut Segment,
) -> Online {
    let client = match runner.client_for(&export.connection) {
        Ok(c) => c.scoped(),
        Err(e) => {
            return Online {
                error: Some(e.to_string()),
                ..Online::default()
            };
        }
    };
    let mut out = Online::default();
    match facts::convert_custom(&client, export, segment).await {
        Err(e @ RunError::UnknownField { .. }) => out.fails = Some(e.to_string()),
        Err(e) => out.error = Some(e.to_string()),
        Ok(()) => out.converted = true,
    }
    match facts::read_live(&client, export, email).await {
        Ok(l) => out.live = Some(l),
        Err(e) => out.error = out.error.or(Some(e.to_string())),
    }
    out
}

fn place(source: &Source, row: u64, line: Option<u64>) -> String {
    match (source, line) {
        (Source::Jsonl { .. }, _) => format!("line {row}"),
        (Source::Csv { .. }, Some(line)) => format!("line {line}"),
        _ => format!("data row {row}"),
    }
}

fn row_part(source: &Source, seen: &[Sighting], s: &Sighting) -> RowPart {
    let (verdict, duplicate_of, reason) = match &s.verdict {
        Verdict::Profile { issue } => ("profile", None, issue.clone()),
        Verdict::Duplicate { first_row } => {
            let line = seen
                .iter()
                .find(|f| f.row == *first_row)
                .and_then(|f| f.line);
            ("duplicate", Some(place(source, *first_row, line)), None)
        }
        Verdict::Invalid { reason } => ("invalid", None, Some(reason.clone())),
    };
    RowPart {
        place: place(source, s.row, s.line),
        row: s.row,
        line: s.line,
        verdict,
        duplicate_of,
        reason,
    }
}

fn segment_part(export: &Export, segment: &Segment, email: &str) -> SegmentPart {
    let src = &export.source;
    let profile = segment.profiles.iter().find(|p| p.email == email);
    let fields = profile.map(|p| {
        let f = &p.fields;
        let named = [
            ("first_name", f.first_name()),
            ("last_name", f.last_name()),
            ("phone", f.phone()),
        ];
        let mut v: Vec<(String, String)> = named
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?.to_string())))
            .collect();
        v.extend(f.custom().map(|(k, v)| (k.to_string(), v.to_string())));
        v
    });
    let source = match src {
        Source::Csv { path, .. } | Source::Jsonl { path, .. } | Source::Sqlite { path, .. } => {
            lexical(path).display().to_string()
        }
        Source::Postgres { url_env, .. } => format!("${url_env}"),
    };
    let problem = email_problem(email);
    SegmentPart {
        kind: src.kind(),
        source,
        valid: problem.is_none(),
        problem,
        in_segment: profile.is_some(),
        rows: segment
            .watched
            .iter()
            .map(|s| row_part(src, &segment.watched, s))
            .collect(),
        fields: fields.unwrap_or_default(),
        source_rows: segment.source_rows,
        profiles: segment.profiles.len() as u64,
    }
}

/// `exports/../segments/a.csv` as `segments/a.csv`: `..` folded into the
/// component before it, without asking the file system.
fn lexical(path: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn at(secs: i64) -> Option<DateTime<Utc>> {
    (secs > 0)
        .then(|| DateTime::from_timestamp(secs, 0))
        .flatten()
}

fn state_part(state: &StateRead, email: &str) -> StatePart {
    let m = state.known.get(email);
    let window = m.and_then(|m| m.unsubscribed_at);
    StatePart {
        database: state.database.as_ref().map(|p| p.display().to_string()),
        recorded: m.is_some(),
        owned: m.is_some_and(|m| m.owned),
        status: m.and_then(|m| m.status).map(ListStatus::as_str),
        contact_id: m.and_then(|m| m.contact_id),
        unsubscribed_by_us: m.is_some_and(|m| m.unsubscribed_by_us),
        unsubscribed_from: window.and_then(|w| at(w.from)),
        unsubscribed_to: window.and_then(|w| at(w.to)),
        sent_recorded: m.is_some_and(|m| m.sent_hash.is_some()),
        pending: m.and_then(|m| m.pending).map(|p| p.as_str()),
        open_batches: state
            .open_batches
            .iter()
            .map(|b| (b.batch_id.clone(), b.submitted_at))
            .collect(),
        last_full_read: state.meta.as_ref().and_then(|m| m.last_full_read),
        unfinished_runs: state.unfinished_runs,
    }
}

fn list_part(live: Option<&LiveRead>, offline: bool, error: Option<&str>) -> ListPart {
    let note = if offline {
        Some("not asked (--offline)".to_string())
    } else {
        error.map(|e| format!("could not read: {e}"))
    };
    let c = live.and_then(|l| l.contact.as_ref());
    let row = live.and_then(|l| l.membership);
    ListPart {
        checked: live.is_some(),
        note,
        contact_id: c.map(|c| c.id.0),
        status: live.and_then(LiveRead::status).map(ListStatus::as_str),
        code: row.map(|r| r.code),
        changed_at: row.and_then(|r| r.udate).and_then(at),
        first_name: c.and_then(|c| c.first_name.clone()),
        last_name: c.and_then(|c| c.last_name.clone()),
        phone: c.and_then(|c| c.phone.clone()),
    }
}

fn others_part(export: &Export, state: &StateRead, segment: &Segment, email: &str) -> OthersPart {
    let ours = segment
        .profiles
        .iter()
        .find(|p| p.email == email)
        .map(|p| p.fields.hash64());
    let rows = &state.wanted_by_others;
    let mut wanting: Vec<OtherWanting> = rows
        .iter()
        .filter(|r| r.email == email && state.siblings.contains(&r.export))
        .map(|r| OtherWanting {
            export: r.export.clone(),
            same_values: ours.map(|h| h == r.hash),
            wins: r.export < export.id,
        })
        .collect();
    wanting.sort_by(|a, b| a.export.cmp(&b.export));
    let silent = state
        .siblings
        .iter()
        .filter(|s| !rows.iter().any(|r| &r.export == *s))
        .cloned()
        .collect();
    OthersPart {
        siblings: state.siblings.clone(),
        wanting,
        silent,
    }
}

fn next_run(
    export: &Export,
    segment: &Segment,
    state: StateRead,
    online: &Online,
    email: &str,
    now: DateTime<Utc>,
) -> NextRun {
    let pending = state.any_pending || state.unfinished_runs > 0 || !state.open_batches.is_empty();
    let due = state.old_scope.is_some()
        || prepare::full_read_due(export, state.meta.as_ref(), pending, now);
    let full_read_why = due.then(|| full_read_why(export, &state, pending));
    let others =
        crate::run::shared::others(&export.id, &state.siblings, state.wanted_by_others.clone());
    let outcome = |d: Decision, basis: &'static str| NextRun {
        action: d.action,
        reason: d.reason,
        fields: d.fields,
        full_read: due,
        full_read_why: full_read_why.clone(),
        basis,
        after_full_read: None,
    };
    if let Some(why) = &online.fails {
        let d = Decision {
            action: "fail",
            reason: format!("the run fails before writing anything: {why}"),
            fields: Vec::new(),
        };
        return outcome(d, "state");
    }
    let member = online.live.as_ref().and_then(|l| l.member(email));
    let read = member.clone().map(|m| vec![m]).unwrap_or_default();
    // What ActiveCampaign holds names an update's drifted fields either way.
    let seen = read.first();
    let mut from_state = judge(export, segment, (&state.known, None, seen), &others, email);
    if online.live.is_none() {
        if from_state.action == "update" && !online.converted && !export.mapping.fields.is_empty() {
            // Without `GET /fields` a date or a choice is compared as read.
            from_state.reason.push_str(" (custom values compared as read, not converted to their field types: ask without --offline to be sure)");
        }
        return outcome(from_state, "state");
    }
    let keep_pending = !state.open_batches.is_empty();
    let known = with_live(state.known, email, member, keep_pending, now.timestamp());
    let from_live = judge(export, segment, (&known, Some(&read), seen), &others, email);
    if due {
        return outcome(from_live, "state and ActiveCampaign now");
    }
    let differs = from_live.action != from_state.action;
    let mut next = outcome(from_state, "state");
    if differs {
        next.after_full_read = Some(Box::new(outcome(from_live, "state and ActiveCampaign now")));
    }
    next
}

/// Why the next run reads the list in full (it is due).
fn full_read_why(export: &Export, state: &StateRead, pending: bool) -> String {
    if pending {
        return "an earlier change has no known outcome (a pending intent, a killed run or an unfinished batch)".into();
    }
    if state.old_scope.is_some() {
        return "the export now targets another list".into();
    }
    let Some(meta) = &state.meta else {
        return "no run of this export is recorded yet".into();
    };
    if meta.fingerprint != prepare::export_fingerprint(export) {
        "the list or the mapping changed since the last run".into()
    } else if meta.last_full_read.is_none() || export.full_read_every.is_zero() {
        "the list has not been read in full yet, or full_read_every is 0".into()
    } else {
        format!(
            "full_read_every ({}) has passed since the last full read",
            humantime::format_duration(export.full_read_every)
        )
    }
}

/// The address's member as a full read showing `live` would leave it,
/// settled by the planner's own merge; every other member as recorded.
fn with_live(
    mut known: Known,
    email: &str,
    live: Option<LiveMember>,
    keep_pending: bool,
    now: i64,
) -> Known {
    let mut one = Known::new();
    if let Some(m) = known.get(email) {
        one.insert(m.clone());
    }
    let how = Merge { now, keep_pending };
    for m in plan::merge_live(one, live.as_slice(), how).iter() {
        known.insert(m.clone());
    }
    known
}

/// What the planner is given: the members, the live read it plans with
/// (a full read), and the address as ActiveCampaign holds it (for words).
type Inputs<'a> = (&'a Known, Option<&'a [LiveMember]>, Option<&'a LiveMember>);

/// Plans the run (the run's own [`prepare::make_plan`]) and reads the
/// decision for `email` off it.
fn judge(
    export: &Export,
    segment: &Segment,
    (known, live, seen): Inputs<'_>,
    others: &OtherExports,
    email: &str,
) -> Decision {
    let plan = match prepare::make_plan(export, segment, known, live, false, others) {
        Ok(p) => p,
        Err(e) => {
            let reason = format!("the run fails before writing anything: {e}");
            return Decision {
                action: "fail",
                reason,
                fields: Vec::new(),
            };
        }
    };
    let profile = segment.profiles.iter().find(|p| p.email == email);
    let mut s = Subject {
        email,
        profile,
        member: known.get(email),
        live: seen,
        prune: export.prune,
        other: others.wanted.get(email),
        removal_candidate: false,
    };
    if profile.is_none() && plan.blocked.is_some() {
        s.removal_candidate = unguarded_removal(export, segment, known, live, others, email);
    }
    decide(&plan, &s)
}

/// Whether the planner unsubscribes `email` once no guard holds removals
/// back (`max_removals`, a sibling or a partial read): a blocked removal.
fn unguarded_removal(
    export: &Export,
    segment: &Segment,
    known: &Known,
    live: Option<&[LiveMember]>,
    others: &OtherExports,
    email: &str,
) -> bool {
    let settings = PlanSettings::from_export(export, true);
    let unheld = OtherExports {
        wanted: others.wanted.clone(),
        hold_removals: None,
    };
    let live_fields: Option<std::collections::HashMap<String, LiveMember>> =
        live.map(|l| l.iter().map(|m| (m.email.clone(), m.clone())).collect());
    plan::plan_shared(segment, known, live_fields.as_ref(), &settings, &unheld)
        .is_ok_and(|p| p.removals.iter().any(|r| r.email == email))
}

#[cfg(test)]
mod tests {
    use super::{lexical, place};
    use crate::config::Source;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    #[test]
    fn rows_are_file_lines_for_files_and_data_rows_for_sql() {
        let (path, timeout) = (PathBuf::from("a"), Duration::from_secs(1));
        let csv = Source::Csv {
            path: path.clone(),
            timeout,
        };
        let jsonl = Source::Jsonl {
            path: path.clone(),
            timeout,
        };
        let query = String::from("SELECT 1");
        let sqlite = Source::Sqlite {
            path,
            query,
            timeout,
        };
        assert_eq!(place(&csv, 4, Some(6)), "line 6");
        assert_eq!(place(&jsonl, 7, None), "line 7");
        assert_eq!(place(&sqlite, 7, None), "data row 7");
    }

    #[test]
    fn paths_fold_parent_components() {
        let p = lexical(Path::new("/etc/acsync/exports/./../segments/a.csv"));
        assert_eq!(p, Path::new("/etc/acsync/segments/a.csv"));
        assert_eq!(lexical(Path::new("../a.csv")), Path::new("../a.csv"));
    }
}
