//! The plain-sentence form of an [`Explanation`]: one block per question.
//! Times in UTC and in the export's time zone. Pure.

use crate::model::quoted;
use crate::status::time_text;
use chrono_tz::Tz;

use crate::explain::{Explanation, ListPart, NextRun, OthersPart, SegmentPart, StatePart};

/// The lines `acsync explain` prints.
pub fn text(x: &Explanation, tz: &Tz) -> Vec<String> {
    let mut out = vec![format!(
        "{} in export {} (list {} on connection {})",
        x.email, x.export, x.list_id, x.connection
    )];
    out.push(String::new());
    segment(&mut out, &x.segment);
    out.push(String::new());
    state(&mut out, &x.state, tz);
    for h in &x.history {
        out.push(format!("  {h}"));
    }
    out.push(String::new());
    list(&mut out, &x.list, tz);
    out.push(String::new());
    others(&mut out, &x.others);
    out.push(String::new());
    out.push("Next run:".into());
    next(&mut out, &x.next_run, "  ");
    out
}

fn segment(out: &mut Vec<String>, s: &SegmentPart) {
    out.push(format!(
        "Segment ({} {}, {} rows read, {} profiles):",
        s.kind, s.source, s.source_rows, s.profiles
    ));
    if let Some(p) = s.problem {
        out.push(format!("  the address is not a valid email: {p}"));
    }
    if s.rows.is_empty() {
        out.push("  not in the segment: no row holds this address".into());
    }
    for r in &s.rows {
        let line = match (r.verdict, &r.duplicate_of, &r.reason) {
            ("profile", _, None) => "in the segment (this row is sent)".to_string(),
            ("profile", _, Some(why)) => format!("in the segment, but {why}"),
            ("duplicate", Some(first), _) => {
                format!("duplicate of {first}: not sent (the first row wins)")
            }
            (_, _, reason) => format!(
                "{}: counted as invalid, not sent",
                reason.as_deref().unwrap_or("invalid email")
            ),
        };
        out.push(format!("  {}: {line}", r.place));
    }
    if !s.fields.is_empty() {
        let f: Vec<String> = s
            .fields
            .iter()
            .map(|(k, v)| format!("{k} = {}", quoted(v)))
            .collect();
        out.push(format!("  it sends {}", f.join(", ")));
    }
}

fn state(out: &mut Vec<String>, s: &StatePart, tz: &Tz) {
    let Some(db) = &s.database else {
        out.push("State: no state database yet (no run has been recorded)".into());
        return;
    };
    out.push(format!("State ({db}):"));
    if !s.recorded {
        out.push(
            "  no record of this address: acsync never subscribed it nor saw it on the list".into(),
        );
    } else {
        let owner = if s.owned {
            "owned: this export subscribed it"
        } else {
            "not owned: this export did not subscribe it"
        };
        let id = s
            .contact_id
            .map_or(
                "its ActiveCampaign contact id is not known yet (the next full read of the list learns it)"
                    .into(),
                |i| format!("contact id {i}"),
            );
        out.push(format!("  {owner}; {id}"));
        let read = s
            .last_full_read
            .map_or("the list was never read in full".into(), |t| {
                format!("the list was last read in full {}", time_text(t, Some(*tz)))
            });
        let status = s.status.unwrap_or("not a member");
        out.push(format!("  recorded list status: {status}; {read}"));
        unsubscribed(out, s, tz);
        let sent = if s.sent_recorded {
            "a fingerprint of the fields it last sent is recorded"
        } else {
            "no record of the fields sent"
        };
        out.push(format!("  {sent}"));
    }
    doubt(out, s, tz);
}

fn unsubscribed(out: &mut Vec<String>, s: &StatePart, tz: &Tz) {
    if !s.unsubscribed_by_us {
        return;
    }
    let window = match (s.unsubscribed_from, s.unsubscribed_to) {
        (Some(a), Some(b)) => format!(
            " between {} and {}",
            time_text(a, Some(*tz)),
            time_text(b, Some(*tz))
        ),
        (None, Some(b)) => format!(" by {}", time_text(b, Some(*tz))),
        _ => String::new(),
    };
    out.push(format!(
        "  unsubscribed by this export{window}: it is resubscribed if it re-enters the segment"
    ));
}

fn doubt(out: &mut Vec<String>, s: &StatePart, tz: &Tz) {
    match s.pending {
        Some(op) => out.push(format!(
            "  pending intent: {op} (sent or about to be sent by a run; its outcome is not known yet)"
        )),
        None if s.recorded => out.push("  no pending intent".into()),
        None => {}
    }
    for (id, at) in &s.open_batches {
        out.push(format!(
            "  bulk batch {id} accepted {} has not been seen to end (the next run follows it first)",
            time_text(*at, Some(*tz))
        ));
    }
    if s.unfinished_runs > 0 {
        out.push(format!(
            "  {} run(s) of this export started and did not finish (running now, or killed)",
            s.unfinished_runs
        ));
    }
}

fn list(out: &mut Vec<String>, l: &ListPart, tz: &Tz) {
    out.push("ActiveCampaign now:".into());
    if let Some(note) = &l.note {
        out.push(format!("  {note}"));
    }
    if !l.checked {
        return;
    }
    let Some(id) = l.contact_id else {
        out.push("  no contact has this email".into());
        return;
    };
    let status = match (l.status, l.code) {
        (Some(s), Some(c)) => format!("{s} (status {c})"),
        (None, Some(c)) => format!("status {c}, which acsync does not manage"),
        _ => "not a member of the list".into(),
    };
    let changed = l.changed_at.map_or(String::new(), |t| {
        format!(", changed {}", time_text(t, Some(*tz)))
    });
    out.push(format!("  contact {id}: {status}{changed}"));
    let names = [
        ("first_name", &l.first_name),
        ("last_name", &l.last_name),
        ("phone", &l.phone),
    ];
    let held: Vec<String> = names
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} = {}", quoted(v))))
        .collect();
    if !held.is_empty() {
        out.push(format!("  it holds {}", held.join(", ")));
    }
}

fn others(out: &mut Vec<String>, o: &OthersPart) {
    if o.siblings.is_empty() {
        out.push("Other exports of this list: none".into());
        return;
    }
    out.push(format!(
        "Other exports of this list: {}",
        o.siblings.join(", ")
    ));
    if o.wanting.is_empty() {
        out.push("  none of them wants this address".into());
    }
    for w in &o.wanting {
        let values = match (w.same_values, w.wins) {
            (None, _) => "",
            (Some(true), _) => " with the same values",
            (Some(false), true) => " with other values, which win (its id sorts first)",
            (Some(false), false) => " with other values; this export's win (its id sorts first)",
        };
        out.push(format!("  {} wants it{values}", w.export));
    }
    for s in &o.silent {
        out.push(format!(
            "  {s} has not recorded its segment yet (removals wait for it)"
        ));
    }
}

fn next(out: &mut Vec<String>, n: &NextRun, indent: &str) {
    out.push(format!(
        "{indent}{}: {}",
        n.decision.action, n.decision.reason
    ));
    if !n.decision.fields.is_empty() {
        out.push(format!("{indent}fields: {}", n.decision.fields.join(", ")));
    }
    let read = match (&n.full_read_why, n.read) {
        (Some(why), _) => format!("it reads the list in full first: {why}"),
        (None, "drift") => format!("it {}", n.read_why),
        _ => "it does not read the list in full".into(),
    };
    out.push(format!("{indent}(judged from the {}; {read})", n.basis));
    if let Some(after) = &n.after_full_read {
        out.push(format!(
            "{indent}ActiveCampaign now differs from the state: the next full read (or `acsync sync --full-read`) would instead:"
        ));
        next(out, after, "    ");
    }
}
