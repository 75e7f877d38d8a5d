//! `acsync explain NAME EMAIL`: why an address is (or is not) on the list.
//! The answer is data ([`Explanation`]); `cli/explain` prints it. Where the
//! address is in the segment, what the state records, its status on the
//! list now (one read; offline skips it), which other exports of the list
//! want it, and what the next run does with it: the run's own preparation
//! (`run::prepare`), from the same snapshot, the same full-read decision
//! and the same planner, which names the action or why it leaves the
//! address alone. Writes nothing. See docs/commands.md, explain.

mod facts;
mod model;
mod parts;
mod words;

use chrono::{DateTime, Utc};

use crate::activecampaign::Client;
use crate::config::Export;
use crate::model::{Known, LeftAlone, LiveMember};
use crate::plan::{self, MemberPlan, Merge, Plan};
use crate::run::{RunError, RunOptions, Runner, Snapshot, prepare};
use crate::segment::Segment;
use facts::{LiveRead, StateRead};
pub use model::{
    Explanation, ListPart, NextRun, OtherWanting, OthersPart, RowPart, SegmentPart, StatePart,
};
pub use words::Decision;
use words::{Subject, say};

/// Everything `explain` answers, and the error of a read of ActiveCampaign
/// if one failed (the rest is still answered, from the state).
pub async fn explain(
    runner: &Runner,
    export: &Export,
    email: &str,
    offline: bool,
) -> Result<(Explanation, Option<String>), RunError> {
    let segment = crate::source::read_watching(&export.source, &export.mapping, email)
        .await
        .map_err(RunError::Source)?;
    let state = read_state(runner, export, email).await?;
    let client = match offline {
        true => None,
        false => Some(runner.client_for(&export.connection).map(|c| c.scoped())),
    };
    let live = match &client {
        None => None,
        Some(Ok(c)) => Some(
            facts::read_live(c, export, email)
                .await
                .map_err(|e| e.to_string()),
        ),
        Some(Err(e)) => Some(Err(e.to_string())),
    };
    let live_error = live.as_ref().and_then(|l| l.as_ref().err()).cloned();
    let live = live.and_then(Result::ok);
    let x = Explanation {
        export: export.id.clone(),
        email: email.to_string(),
        list_id: export.list_id,
        connection: export.connection.name.clone(),
        segment: parts::segment_part(export, &segment, email),
        state: parts::state_part(&state, email),
        list: parts::list_part(live.as_ref(), offline, live_error.as_deref()),
        others: parts::others_part(export, &state, &segment, email),
        history: state.history,
        next_run: NextRun::default(),
    };
    let (next_run, prepare_error) = match client {
        Some(Ok(c)) => online_next(export, &c, state.snapshot, segment, live, email).await,
        None | Some(Err(_)) => {
            let next = offline_next(export, state.snapshot, segment, email).await;
            (next, None)
        }
    };
    Ok((Explanation { next_run, ..x }, live_error.or(prepare_error)))
}

async fn read_state(runner: &Runner, export: &Export, email: &str) -> Result<StateRead, RunError> {
    let dir = runner.paths().state_dir.clone();
    let root = runner.paths().config_root();
    let export = export.clone();
    let email = email.to_string();
    tokio::task::spawn_blocking(move || facts::read_state(&dir, &root, &export, &email))
        .await
        .map_err(|e| RunError::Internal(format!("state reader stopped: {e}")))?
}

/// The next run from the state alone: what it decides without a full
/// read, and whether (and why) it would read.
async fn offline_next(export: &Export, snap: Snapshot, segment: Segment, email: &str) -> NextRun {
    let now = Utc::now();
    let p = match prepare::prepare_offline(export, snap, segment, now, Some(email)).await {
        Ok(p) => p,
        Err(e) => return NextRun::fails(&e),
    };
    let mut next = next_of(export, &p, None, email, "state");
    if next.decision.action == "update" && !export.mapping.fields.is_empty() {
        // Without `GET /fields` a date or a choice is compared as read.
        next.decision.reason.push_str(" (custom values compared as read, not converted to their field types: ask without --offline to be sure)");
    }
    next
}

/// The next run as the run prepares it: the full read when it decides to
/// read, the plan, the address's place in it. When the run does not read
/// and ActiveCampaign now shows the address otherwise than the state, what
/// the next full read decides instead.
async fn online_next(
    export: &Export,
    client: &Client,
    snap: Snapshot,
    segment: Segment,
    live: Option<LiveRead>,
    email: &str,
) -> (NextRun, Option<String>) {
    let now = Utc::now();
    // A read that fails leaves the answer from the state alone.
    let state_only = snap.clone();
    let segment_read = segment.clone();
    let opts = RunOptions::default();
    let p = prepare::prepare_from(export, client, snap, segment, &opts, now, Some(email)).await;
    let p = match p {
        Ok(p) => p,
        Err(e @ (RunError::UnknownField { .. } | RunError::Plan(_))) => {
            return (NextRun::fails(&e), None);
        }
        Err(e) => {
            let next = offline_next(export, state_only, segment_read, email).await;
            return (next, Some(e.to_string()));
        }
    };
    let member = live.as_ref().and_then(|l| l.member(email));
    if p.live.is_some() {
        let next = next_of(export, &p, None, email, "state and a full read of the list");
        return (next, None);
    }
    let mut next = next_of(export, &p, member.as_ref(), email, "state");
    if live.is_some() {
        let after = after_full_read(export, &p, member, email, now);
        if let Some(after) = after.filter(|a| a.decision.action != next.decision.action) {
            next.after_full_read = Some(Box::new(after));
        }
    }
    (next, None)
}

/// What the planner decides for the address once a full read shows it as
/// `member` (ActiveCampaign now), every other member as recorded.
fn after_full_read(
    export: &Export,
    p: &prepare::Prepared,
    member: Option<LiveMember>,
    email: &str,
    now: DateTime<Utc>,
) -> Option<NextRun> {
    let keep_pending = p.known.get(email).is_some_and(|m| m.pending.is_some());
    let known = with_live(
        p.known.clone(),
        email,
        member.clone(),
        keep_pending,
        now.timestamp(),
    );
    let read: Vec<LiveMember> = member.clone().into_iter().collect();
    let (plan, what) = prepare::make_plan(
        export,
        &p.segment,
        &known,
        Some(&read),
        false,
        &p.others,
        Some(email),
    )
    .ok()?;
    let s = subject(export, p, &plan, &known, member.as_ref(), email);
    Some(NextRun {
        decision: say(what?, &s),
        full_read: true,
        basis: "state and ActiveCampaign now",
        ..NextRun::default()
    })
}

/// The decision in words, and the full read's part.
fn next_of(
    export: &Export,
    p: &prepare::Prepared,
    one_read: Option<&LiveMember>,
    email: &str,
    basis: &'static str,
) -> NextRun {
    let read = p
        .live
        .as_ref()
        .and_then(|l| l.iter().find(|m| m.email == email));
    let s = subject(export, p, &p.plan, &p.known, read.or(one_read), email);
    let what = p
        .watched
        .unwrap_or(MemberPlan::LeftAlone(LeftAlone::NotMember));
    NextRun {
        decision: say(what, &s),
        full_read: p.full_read.is_some(),
        full_read_reason: p.full_read,
        full_read_why: p.full_read.map(|r| r.describe(export.full_read_every)),
        read: p.read_kind().kind(),
        read_reason: p.read_kind().reason(),
        read_why: p
            .read_kind()
            .describe(export.full_read_every, export.drift_check_every),
        basis,
        after_full_read: None,
    }
}

fn subject<'a>(
    export: &Export,
    p: &'a prepare::Prepared,
    plan: &'a Plan,
    known: &'a Known,
    seen: Option<&'a LiveMember>,
    email: &str,
) -> Subject<'a> {
    Subject {
        profile: p.segment.profiles.iter().find(|x| x.email == email),
        member: known.get(email),
        live: seen,
        prune: export.prune,
        other: p.others.wanted.get(email),
        deleted: known.get(email).and_then(|m| p.others.retired.wanting(m)),
        blocked: plan.blocked.as_deref(),
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
    let how = Merge {
        now,
        keep_pending,
        created: None,
    };
    for m in plan::merge_live(one, live.as_slice(), how).iter() {
        known.insert(m.clone());
    }
    known
}
