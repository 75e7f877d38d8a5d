//! Schedule arithmetic across DST changes, missed runs and schedule changes.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::*;
use crate::config::values;

fn sched(expr: &str, tz: Tz) -> Schedule {
    values::schedule(expr, tz).expect("valid schedule")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&Utc)
}

/// The next `n` instants after `from`, in UTC.
fn next_n(s: &Schedule, from: &str, n: usize) -> Vec<DateTime<Utc>> {
    let mut t = utc(from);
    let mut out = Vec::new();
    for _ in 0..n {
        t = next_after(s, t).expect("fires");
        out.push(t);
    }
    out
}

fn all(xs: &[&str]) -> Vec<DateTime<Utc>> {
    xs.iter().map(|s| utc(s)).collect()
}

#[test]
fn fixed_time_in_spring_gap_runs_after_the_gap_madrid() {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
    let s = sched("30 2 * * *", chrono_tz::Europe::Madrid);
    assert_eq!(
        next_n(&s, "2026-03-28T12:00:00Z", 2),
        all(&["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"])
    );
}

#[test]
fn fixed_time_in_spring_gap_runs_after_the_gap_new_york() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT.
    let s = sched("30 2 * * *", chrono_tz::America::New_York);
    assert_eq!(
        next_n(&s, "2026-03-07T12:00:00Z", 3),
        all(&[
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:30:00Z",
            "2026-03-10T06:30:00Z"
        ])
    );
}

#[test]
fn hourly_across_the_gap_and_overlap_moves_in_real_time() {
    let madrid = sched("0 * * * *", chrono_tz::Europe::Madrid);
    // Gap: 01:00 CET, then 03:00 CEST: consecutive UTC hours, none doubled.
    assert_eq!(
        next_n(&madrid, "2026-03-28T23:30:00Z", 3),
        all(&[
            "2026-03-29T00:00:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T02:00:00Z"
        ])
    );
    // Overlap: 02:00 CEST and 02:00 CET both happen.
    assert_eq!(
        next_n(&madrid, "2026-10-24T23:30:00Z", 3),
        all(&[
            "2026-10-25T00:00:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T02:00:00Z"
        ])
    );
    let ny = sched("0 * * * *", chrono_tz::America::New_York);
    assert_eq!(
        next_n(&ny, "2026-11-01T04:30:00Z", 3),
        all(&[
            "2026-11-01T05:00:00Z", // 01:00 EDT
            "2026-11-01T06:00:00Z", // 01:00 EST
            "2026-11-01T07:00:00Z", // 02:00 EST
        ])
    );
}

#[test]
fn fixed_time_in_fall_overlap_runs_once() {
    let ny = sched("30 1 * * *", chrono_tz::America::New_York);
    assert_eq!(
        next_n(&ny, "2026-10-31T12:00:00Z", 2),
        all(&["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"])
    );
    let madrid = sched("30 2 * * *", chrono_tz::Europe::Madrid);
    assert_eq!(
        next_n(&madrid, "2026-10-24T12:00:00Z", 2),
        all(&["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"])
    );
}

#[test]
fn six_field_seconds_pattern_across_the_gap() {
    let ny = sched("*/20 * * * * *", chrono_tz::America::New_York);
    // 06:59:40Z is 01:59:40 EST; 02:00:00 local does not exist.
    assert_eq!(
        next_n(&ny, "2026-03-08T06:59:40Z", 3),
        all(&[
            "2026-03-08T07:00:00Z",
            "2026-03-08T07:00:20Z",
            "2026-03-08T07:00:40Z"
        ])
    );
    let madrid = sched("0 30 2 * * *", chrono_tz::Europe::Madrid);
    assert_eq!(
        next_n(&madrid, "2026-03-28T12:00:00Z", 1),
        all(&["2026-03-29T01:00:00Z"])
    );
}

#[test]
fn due_returns_due_exports_and_the_earliest_next() {
    let mut t = Timetable::default();
    t.set(
        "a",
        sched("0 * * * *", chrono_tz::UTC),
        Some(utc("2026-06-10T10:00:00Z")),
    );
    t.set(
        "b",
        sched("30 * * * *", chrono_tz::UTC),
        Some(utc("2026-06-10T10:30:00Z")),
    );
    let (ready, next) = t.due(utc("2026-06-10T09:59:59Z"));
    assert!(ready.is_empty());
    assert_eq!(next, Some(utc("2026-06-10T10:00:00Z")));
    let (ready, next) = t.due(utc("2026-06-10T10:00:00Z"));
    assert_eq!(ready, vec!["a".to_string()]);
    assert_eq!(next, Some(utc("2026-06-10T10:30:00Z")));
    assert_eq!(t.next_run("a"), Some(utc("2026-06-10T11:00:00Z")));
    assert_eq!(t.earliest(), Some(("b", utc("2026-06-10T10:30:00Z"))));
}

#[test]
fn a_late_wake_runs_once_not_once_per_missed_tick() {
    let mut t = Timetable::default();
    t.set(
        "a",
        sched("0 * * * *", chrono_tz::UTC),
        Some(utc("2026-06-10T10:00:00Z")),
    );
    // Suspended from 09:59 to 13:30: three instants missed.
    let (ready, next) = t.due(utc("2026-06-10T13:30:00Z"));
    assert_eq!(ready, vec!["a".to_string()]);
    assert_eq!(next, Some(utc("2026-06-10T14:00:00Z")));
    assert!(t.due(utc("2026-06-10T13:30:01Z")).0.is_empty());
}

#[test]
fn missed_run_while_down_is_made_up_once() {
    let s = sched("0 6 * * *", chrono_tz::UTC);
    let now = utc("2026-06-10T12:00:00Z");
    // Last ran two days ago: two instants missed, one catch-up run now.
    let first = first_run_at_start(&s, now, Some(utc("2026-06-08T06:00:01Z")));
    assert_eq!(first, Some(now));
    let mut t = Timetable::default();
    t.set("a", s.clone(), first);
    assert_eq!(t.due(now).0, vec!["a".to_string()]);
    assert_eq!(t.next_run("a"), Some(utc("2026-06-11T06:00:00Z")));
    assert!(t.due(utc("2026-06-10T12:00:05Z")).0.is_empty());
}

#[test]
fn no_catch_up_when_nothing_was_missed_or_never_run() {
    let s = sched("0 6 * * *", chrono_tz::UTC);
    let now = utc("2026-06-10T12:00:00Z");
    let tomorrow = Some(utc("2026-06-11T06:00:00Z"));
    // Ran at today's instant: nothing missed.
    assert_eq!(
        first_run_at_start(&s, now, Some(utc("2026-06-10T06:00:00Z"))),
        tomorrow
    );
    // Never ran: waits for its first scheduled time.
    assert_eq!(first_run_at_start(&s, now, None), tomorrow);
    // A manual run after the last instant counts as having run.
    assert_eq!(
        first_run_at_start(&s, now, Some(utc("2026-06-10T11:00:00Z"))),
        tomorrow
    );
}

#[test]
fn missed_run_uses_the_export_time_zone() {
    // 06:00 Madrid is 04:00Z in summer: a run at 05:00Z today did not miss it.
    let s = sched("0 6 * * *", chrono_tz::Europe::Madrid);
    let now = utc("2026-06-10T12:00:00Z");
    assert_eq!(
        first_run_at_start(&s, now, Some(utc("2026-06-10T05:00:00Z"))),
        Some(utc("2026-06-11T04:00:00Z"))
    );
    assert_eq!(
        first_run_at_start(&s, now, Some(utc("2026-06-10T03:59:00Z"))),
        Some(now)
    );
}

#[test]
fn changed_schedule_takes_effect_without_a_run_now() {
    let mut t = Timetable::default();
    let now = utc("2026-06-10T10:00:30Z");
    // Due under the old pattern (10:00 passed) when the file is saved.
    t.set(
        "a",
        sched("0 * * * *", chrono_tz::UTC),
        Some(utc("2026-06-10T10:00:00Z")),
    );
    t.reschedule("a", sched("45 * * * *", chrono_tz::UTC), now);
    let (ready, next) = t.due(now);
    assert!(ready.is_empty(), "a saved file must not run now");
    assert_eq!(next, Some(utc("2026-06-10T10:45:00Z")));
    assert_eq!(
        t.get("a").map(|e| e.schedule.expr.as_str()),
        Some("45 * * * *")
    );
}

#[test]
fn removed_exports_are_never_due() {
    let mut t = Timetable::default();
    t.set(
        "a",
        sched("0 * * * *", chrono_tz::UTC),
        Some(Utc.with_ymd_and_hms(2026, 6, 10, 10, 0, 0).unwrap()),
    );
    t.remove("a");
    assert_eq!(t.due(utc("2026-06-10T12:00:00Z")), (vec![], None));
}
