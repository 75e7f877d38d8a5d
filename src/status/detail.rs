//! `acsync status NAME`: every field of one export's status file as plain
//! labelled lines, errors whole, times in the export's time zone with UTC
//! beside them. Built from sections (each a function returning lines) so a
//! caller can append its own, such as the last runs from the history.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::model::{CurrentRun, ExportState, Failure, LastRun, StatusFile};
use super::table::{ago, until};
use crate::config::Source;
use crate::model::printable;

/// Labels are padded to this width so values line up.
const LABEL_WIDTH: usize = 22;

/// The detail view: `sections` separated by blank lines, ending in a newline.
pub fn render_detail(sections: &[Vec<String>]) -> String {
    let mut out = String::new();
    for (i, lines) in sections.iter().filter(|s| !s.is_empty()).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for line in lines {
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// The sections of the status file itself: the export, its last run, the
/// failures listed. `tz` and `source` are the export's time zone and
/// source, `None` when its file does not validate: times are then shown in
/// UTC only, and rows as "row N" (neither a line nor a data row is known).
pub fn detail_sections(
    s: &StatusFile,
    tz: Option<Tz>,
    source: Option<&Source>,
    now: DateTime<Utc>,
) -> Vec<Vec<String>> {
    let mut sections = vec![export_lines(s, tz, now)];
    if let Some(run) = &s.current_run {
        sections.push(current_run_lines(run, tz));
    }
    if let Some(run) = &s.last_run {
        sections.push(run_lines(run, tz));
        sections.push(failure_lines(run, source));
    } else {
        sections.push(vec!["last run: none yet".to_owned()]);
    }
    sections
}

/// A time where the export runs, with UTC beside it:
/// `2026-11-30 09:00 Europe/Paris (08:00 UTC)`; the UTC date is shown too
/// when it differs. In UTC alone when `tz` is `None` or UTC.
pub fn time_text(t: DateTime<Utc>, tz: Option<Tz>) -> String {
    let utc_full = format!("{} UTC", t.format(&pattern(t, true)));
    let Some(tz) = tz.filter(|z| *z != chrono_tz::UTC) else {
        return utc_full;
    };
    let local = t.with_timezone(&tz);
    let utc = if local.date_naive() == t.date_naive() {
        format!("{} UTC", t.format(&pattern(t, false)))
    } else {
        utc_full
    };
    format!("{} {} ({utc})", local.format(&pattern(t, true)), tz.name())
}

/// `%Y-%m-%d %H:%M`, with seconds only when the time has some.
fn pattern(t: DateTime<Utc>, date: bool) -> String {
    use chrono::Timelike;
    let time = if t.second() == 0 { "%H:%M" } else { "%H:%M:%S" };
    if date {
        format!("%Y-%m-%d {time}")
    } else {
        time.to_owned()
    }
}

/// A labelled value, [`printable`]: values come from segments and from
/// ActiveCampaign's answers.
fn line(label: &str, value: impl std::fmt::Display) -> String {
    let value = value.to_string();
    format!("{:<LABEL_WIDTH$}{}", format!("{label}:"), printable(&value))
}

/// A labelled value that may span lines (an error): later lines are
/// indented under the first, and nothing is cut.
fn block(label: &str, text: &str) -> Vec<String> {
    let mut lines = text.lines();
    let first = line(label, lines.next().unwrap_or(""));
    let pad = " ".repeat(LABEL_WIDTH);
    std::iter::once(first)
        .chain(lines.map(|l| format!("{pad}{}", printable(l))))
        .collect()
}

fn export_lines(s: &StatusFile, tz: Option<Tz>, now: DateTime<Utc>) -> Vec<String> {
    // Without a zone (an export that does not validate) times are in UTC.
    let zone = tz.map_or_else(String::new, |z| format!(" ({})", z.name()));
    let next_run = match (s.state, s.next_run) {
        (ExportState::Invalid | ExportState::Disabled, _) | (_, None) => "none".to_owned(),
        (_, Some(t)) => format!("{}, {}", time_text(t, tz), until(t, now)),
    };
    let ago_or_never = |t: Option<DateTime<Utc>>| {
        t.map_or_else(
            || "never".to_owned(),
            |t| format!("{}, {}", time_text(t, tz), ago(t, now)),
        )
    };
    let mut out = vec![
        line("export", &s.export),
        line("config file", &s.config_file),
        line(
            "config sha256",
            s.config_sha256.as_deref().unwrap_or("none (unreadable)"),
        ),
        line("state", s.state.as_str()),
    ];
    out.extend(block(
        "config error",
        s.config_error.as_deref().unwrap_or("none"),
    ));
    out.extend([
        line(
            "schedule",
            s.schedule
                .as_deref()
                .map_or_else(|| "none".to_owned(), |c| format!("{c}{zone}")),
        ),
        line("next run", next_run),
        line("last success", ago_or_never(s.last_success_at)),
        line("consecutive failures", s.consecutive_failures),
        line("last full read", ago_or_never(s.last_full_read_at)),
        line(
            "status updated",
            format!(
                "{}, {}",
                time_text(s.updated_at, tz),
                ago(s.updated_at, now)
            ),
        ),
        line("acsync version", &s.acsync_version),
    ]);
    out
}

/// The run in progress.
fn current_run_lines(r: &CurrentRun, tz: Option<Tz>) -> Vec<String> {
    vec![
        "current run:".to_owned(),
        line("trigger", r.trigger.as_str()),
        line("started", time_text(r.started_at, tz)),
    ]
}

fn run_lines(r: &LastRun, tz: Option<Tz>) -> Vec<String> {
    let opt_when =
        |t: Option<DateTime<Utc>>| t.map_or_else(|| "not yet".to_owned(), |t| time_text(t, tz));
    let mut out = vec![
        "last run:".to_owned(),
        line("trigger", r.trigger.as_str()),
        line(
            "run id",
            r.run_id
                .map_or_else(|| "none".to_owned(), |id| id.to_string()),
        ),
        line("started", time_text(r.started_at, tz)),
        line("finished", opt_when(r.finished_at)),
        line(
            "duration",
            r.duration_ms
                .map_or_else(|| "still going".to_owned(), |ms| format!("{ms} ms")),
        ),
        line("outcome", r.outcome.map_or("running", |o| o.as_str())),
    ];
    out.extend(block("error", r.error.as_deref().unwrap_or("none")));
    out.push(line("full read", if r.full_read { "yes" } else { "no" }));
    if let Some(read) = &r.read {
        out.push(line("read", read));
    }
    if let Some(why) = &r.read_reason {
        out.push(line("read reason", why));
    }
    if let Some(d) = &r.drift {
        out.push(line("drift check", drift_text(d)));
    }
    out.extend(counter_lines(r));
    if !r.kept_for_deleted.is_empty() {
        let by: Vec<String> = r
            .kept_for_deleted
            .iter()
            .map(|(export, n)| format!("{n} for `{export}` (acsync release {export})"))
            .collect();
        out.push(line("kept for deleted", by.join(", ")));
    }
    if let Some(list) = &r.left_list {
        out.push(line("left list", list));
    }
    if let Some(n) = r.left_owned {
        out.push(line("left owned", n));
    }
    out
}

/// Every counter of a run, in the order docs/status-file.md lists them, then this
/// build's own.
/// A drift check's figures on one line, and why the next run reads in
/// full when its proof disagreed.
fn drift_text(d: &super::DriftCheck) -> String {
    let mut text = format!(
        "since {}: {} changed, counts {}, {} of {} sampled differ, {} gone",
        d.asked_from, d.changed, d.counts, d.sample_disagreed, d.sampled, d.gone
    );
    if let Some(why) = &d.disagreed {
        text.push_str(&format!("; the next run reads in full: {why}"));
    }
    text
}

fn counter_lines(r: &LastRun) -> Vec<String> {
    [
        ("source rows", r.source_rows),
        ("profiles", r.profiles),
        ("invalid rows", r.invalid_rows),
        ("duplicate rows", r.duplicate_rows),
        ("added", r.added),
        ("updated", r.updated),
        ("removed", r.removed),
        ("unchanged", r.unchanged),
        ("kept unsubscribed", r.kept_unsubscribed),
        ("kept bounced", r.kept_bounced),
        ("kept unconfirmed", r.kept_unconfirmed),
        ("kept other status", r.kept_other_status),
        ("failed", r.failed),
        ("api requests", r.api_requests),
        ("in doubt", r.in_doubt),
        ("not active", r.not_active),
        ("unread kept", r.unread_kept),
        ("settled by reading", r.settled_by_reading),
        ("conflicts", r.conflicts),
        ("kept for others", r.kept_for_others),
    ]
    .into_iter()
    .map(|(label, n)| line(label, n))
    .collect()
}

fn failure_lines(r: &LastRun, source: Option<&Source>) -> Vec<String> {
    if r.failures.is_empty() {
        return vec![line("failures", "none listed")];
    }
    let head = format!("failures listed ({}):", r.failures.len());
    std::iter::once(head)
        .chain(r.failures.iter().map(|f| failure_line(f, source)))
        .collect()
}

fn failure_line(f: &Failure, source: Option<&Source>) -> String {
    let row = match (f.row, source) {
        (None, _) => "no row".to_owned(),
        (Some(n), Some(source)) => source.row_place(n),
        (Some(n), None) => format!("row {n}"),
    };
    // The reason whole, on one line: a list reads badly otherwise.
    let reason = printable(&f.reason.replace(['\n', '\r'], " ")).into_owned();
    format!("  {row}: {}: {reason}", printable(&f.email))
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::status::model::Outcome;
    use crate::status::test_support::{sample, t};

    /// Each status-file field and the label the view shows it under.
    const LABELS: [(&str, &str); 48] = [
        ("export", "export:"),
        ("config_file", "config file:"),
        ("config_sha256", "config sha256:"),
        ("state", "state:"),
        ("config_error", "config error:"),
        ("schedule", "schedule:"),
        ("next_run", "next run:"),
        ("last_run", "last run:"),
        ("last_success_at", "last success:"),
        ("consecutive_failures", "consecutive failures:"),
        ("updated_at", "status updated:"),
        ("acsync_version", "acsync version:"),
        ("last_full_read_at", "last full read:"),
        ("trigger", "trigger:"),
        ("started_at", "started:"),
        ("finished_at", "finished:"),
        ("duration_ms", "duration:"),
        ("outcome", "outcome:"),
        ("error", "error:"),
        ("source_rows", "source rows:"),
        ("profiles", "profiles:"),
        ("invalid_rows", "invalid rows:"),
        ("duplicate_rows", "duplicate rows:"),
        ("added", "added:"),
        ("updated", "updated:"),
        ("removed", "removed:"),
        ("unchanged", "unchanged:"),
        ("kept_unsubscribed", "kept unsubscribed:"),
        ("kept_bounced", "kept bounced:"),
        ("kept_unconfirmed", "kept unconfirmed:"),
        ("kept_other_status", "kept other status:"),
        ("failed", "failed:"),
        ("api_requests", "api requests:"),
        ("failures", "failures listed (1):"),
        ("run_id", "run id:"),
        ("full_read", "full read:"),
        ("read", "read:"),
        ("read_reason", "read reason:"),
        ("drift", "drift check:"),
        ("in_doubt", "in doubt:"),
        ("not_active", "not active:"),
        ("unread_kept", "unread kept:"),
        ("settled_by_reading", "settled by reading:"),
        ("conflicts", "conflicts:"),
        ("kept_for_others", "kept for others:"),
        ("kept_for_deleted", "kept for deleted:"),
        ("left_list", "left list:"),
        ("left_owned", "left owned:"),
    ];

    fn full() -> StatusFile {
        let mut s = sample();
        let run = s.last_run.as_mut().expect("run");
        run.left_list = Some("acme.api-us1.com#list=7".into());
        run.left_owned = Some(4);
        run.kept_for_deleted = [("old".to_string(), 2)].into();
        run.kept_bounced = 31;
        run.in_doubt = 7;
        run.read = Some("drift".into());
        run.read_reason = Some("drift_check_every_elapsed".into());
        run.drift = Some(crate::status::DriftCheck {
            reason: "drift_check_every_elapsed".into(),
            asked_from: "2026-12-05".into(),
            changed: 12,
            sampled: 100,
            sample_disagreed: 0,
            counts: "agreed".into(),
            gone: 1,
            disagreed: None,
        });
        run.error = Some(format!("first line {}\nsecond line", "x".repeat(200)));
        s
    }

    #[test]
    fn every_field_of_the_status_file_has_a_labelled_line() {
        let s = full();
        let text = render_detail(&detail_sections(&s, None, None, t(1)));
        let v = serde_json::to_value(&s).expect("json");
        let run = v["last_run"].as_object().expect("run").keys();
        let labels: std::collections::BTreeMap<_, _> = LABELS.into_iter().collect();
        for key in v.as_object().expect("object").keys().chain(run) {
            let label = labels
                .get(key.as_str())
                .unwrap_or_else(|| panic!("no label for {key}"));
            assert!(
                text.lines()
                    .any(|l| l.starts_with(label) || l.trim_start().starts_with(label)),
                "{label} missing:\n{text}"
            );
        }
        assert!(text.contains(&line("left owned", 4)), "{text}");
        let deleted = line("kept for deleted", "2 for `old` (acsync release old)");
        assert!(text.contains(&deleted), "{text}");
        assert!(text.contains(&line("kept bounced", 31)), "{text}");
        // Errors whole, later lines indented under the first.
        assert!(text.contains(&"x".repeat(200)), "{text}");
        assert!(
            text.contains(&format!("\n{}second line\n", " ".repeat(LABEL_WIDTH))),
            "{text}"
        );
        assert!(
            text.contains("  row 3: j***@example.com: refused"),
            "{text}"
        );
        assert!(!text.contains("jane@"), "masked as in the file");
        assert!(text.lines().all(|l| l == l.trim_end()));
    }

    #[test]
    fn a_running_export_shows_its_current_run_beside_the_last_finished_one() {
        let mut s = sample();
        s.state = ExportState::Running;
        s.current_run = Some(CurrentRun {
            trigger: crate::status::Trigger::Manual,
            started_at: t(40),
        });
        let text = render_detail(&detail_sections(&s, None, None, t(41)));
        let current = text.find("current run:").expect("current run shown");
        let last = text.find("last run:").expect("last run shown");
        assert!(current < last, "{text}");
        assert!(text.contains(&line("trigger", "manual")), "{text}");
        assert!(text.contains(&line("outcome", "partial")), "{text}");
    }

    #[test]
    fn times_show_the_exports_zone_and_utc() {
        let paris: Tz = "Europe/Paris".parse().expect("tz");
        let at = t(-60) - Duration::days(1); // 2026-11-22 09:00 UTC
        assert_eq!(
            time_text(at, Some(paris)),
            "2026-11-22 10:00 Europe/Paris (09:00 UTC)"
        );
        assert_eq!(time_text(at, None), "2026-11-22 09:00 UTC");
        assert_eq!(time_text(at, Some(chrono_tz::UTC)), "2026-11-22 09:00 UTC");
        let late = at + Duration::hours(14) + Duration::seconds(5); // 23:00:05 UTC
        assert_eq!(
            time_text(late, Some(paris)),
            "2026-11-23 00:00:05 Europe/Paris (2026-11-22 23:00:05 UTC)"
        );
        let mut s = sample();
        s.next_run = Some(t(30));
        let text = render_detail(&detail_sections(&s, Some(paris), None, t(3)));
        assert!(
            text.contains(
                "next run:             2026-11-23 11:30 Europe/Paris (10:30 UTC), in 27 min"
            ),
            "{text}"
        );
        assert!(
            text.contains("schedule:             */30 * * * * (Europe/Paris)"),
            "{text}"
        );
    }

    #[test]
    fn no_next_run_when_invalid_and_sections_can_be_appended() {
        let mut s = sample();
        s.state = ExportState::Invalid;
        s.config_error = Some("vip.toml:2:14: unknown field `lst_id`".into());
        s.last_run = None;
        let mut sections = detail_sections(&s, None, None, t(1));
        sections.push(vec!["last runs:".into(), "  #12 success".into()]);
        let text = render_detail(&sections);
        assert!(text.contains("next run:             none\n"), "{text}");
        assert!(text.contains("config error:         vip.toml:2:14: unknown field `lst_id`"));
        assert!(
            text.contains("last run: none yet\n\nlast runs:\n  #12 success\n"),
            "{text}"
        );
        assert_eq!(Outcome::Success.as_str(), "success");
    }
}
