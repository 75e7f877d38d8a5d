//! The sections of an [`Explanation`] that describe the address as it is:
//! its rows in the segment, its record in the state, its status on the
//! list now, and the other exports of the list that want it. Pure.

use chrono::{DateTime, Utc};

use super::facts::{LiveRead, StateRead};
use super::model::{ListPart, OtherWanting, OthersPart, RowPart, SegmentPart, StatePart};
use crate::config::{Export, Source};
use crate::model::ListStatus;
use crate::segment::{RowFate, Segment, Sighting, email_problem};

fn row_part(source: &Source, s: &Sighting) -> RowPart {
    let (verdict, duplicate_of, reason) = match &s.fate {
        RowFate::Profile { issue } => ("profile", None, issue.clone()),
        RowFate::Duplicate { first_row } => ("duplicate", Some(source.row_place(*first_row)), None),
        RowFate::Invalid { reason } => ("invalid", None, Some(reason.clone())),
    };
    RowPart {
        place: source.row_place(s.row),
        row: s.row,
        line: s.line,
        verdict,
        duplicate_of,
        reason,
    }
}

pub fn segment_part(export: &Export, segment: &Segment, email: &str) -> SegmentPart {
    let src = &export.source;
    let profile = segment.profiles.iter().find(|p| p.email == email);
    let fields = profile.map(|p| {
        p.fields
            .sent()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
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
        rows: segment.watched.iter().map(|s| row_part(src, s)).collect(),
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

pub fn state_part(state: &StateRead, email: &str) -> StatePart {
    let snap = &state.snapshot;
    let m = snap.known().get(email);
    let window = m.and_then(|m| m.last_write);
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
        open_batches: snap
            .open_batches()
            .iter()
            .map(|b| (b.batch_id.clone(), b.submitted_at))
            .collect(),
        last_full_read: snap.meta().and_then(|m| m.last_full_read),
        unfinished_runs: snap.unfinished_runs(),
    }
}

pub fn list_part(live: Option<&LiveRead>, offline: bool, error: Option<&str>) -> ListPart {
    let note = if offline {
        Some("not asked (--offline)".to_string())
    } else {
        error.map(|e| format!("could not read: {e}"))
    };
    let c = live.and_then(|l| l.contact.as_ref());
    let row = live.and_then(|l| l.membership.as_ref());
    ListPart {
        checked: live.is_some(),
        note,
        contact_id: c.map(|c| c.id.0),
        status: live
            .and_then(LiveRead::status)
            .filter(|s| !matches!(s, ListStatus::Other(_)))
            .map(ListStatus::as_str),
        code: row.map(|r| r.status.code()),
        changed_at: row.and_then(|r| r.udate).and_then(at),
        first_name: c.and_then(|c| c.first_name.clone()),
        last_name: c.and_then(|c| c.last_name.clone()),
        phone: c.and_then(|c| c.phone.clone()),
    }
}

pub fn others_part(
    export: &Export,
    state: &StateRead,
    segment: &Segment,
    email: &str,
) -> OthersPart {
    let ours = segment
        .profiles
        .iter()
        .find(|p| p.email == email)
        .map(|p| p.fields.hash64());
    let rows = &state.wanted_by_others;
    let siblings = &state.snapshot.siblings;
    let mut wanting: Vec<OtherWanting> = rows
        .iter()
        .filter(|r| r.email == email && siblings.contains(&r.export))
        .map(|r| OtherWanting {
            export: r.export.clone(),
            same_values: ours.map(|h| h == r.hash),
            wins: r.export < export.id,
        })
        .collect();
    wanting.sort_by(|a, b| a.export.cmp(&b.export));
    let silent = siblings
        .iter()
        .filter(|s| !rows.iter().any(|r| &r.export == *s))
        .cloned()
        .collect();
    OthersPart {
        siblings: siblings.clone(),
        wanting,
        silent,
    }
}

#[cfg(test)]
mod tests {
    use super::lexical;
    use std::path::Path;

    #[test]
    fn paths_fold_parent_components() {
        let p = lexical(Path::new("/etc/acsync/exports/./../segments/a.csv"));
        assert_eq!(p, Path::new("/etc/acsync/segments/a.csv"));
        assert_eq!(lexical(Path::new("../a.csv")), Path::new("../a.csv"));
    }
}
