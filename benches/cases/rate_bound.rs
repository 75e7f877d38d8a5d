//! The cases bound by ActiveCampaign's limits (5 requests a second, 100 bulk
//! imports a minute): the initial export (item 2) and the full read (item 5),
//! each judged against the fewest seconds the limits allow.

use super::figures::{
    Metric, RunFigures, Sizes, by_endpoint, count, limit_answers, mb, metric, secs, writes_of,
};
use super::measure::Exec;
use super::world::World;

/// The fewest seconds an initial export of `batches` bulk imports can take
/// at `rps` requests a second and `per_minute` imports a sliding minute:
/// `reads` requests come first (the list and its two empty status pages),
/// every batch needs at least one `/import/info` poll after it, and batch
/// `k + per_minute` cannot be accepted within 60 s of batch `k`. So the
/// last window's imports start `60 × ⌊(batches − 1) / per_minute⌋` s after
/// the first and, with their polls, need `2 × c / rps` s more.
pub fn export_floor(batches: u64, reads: u64, rps: f64, per_minute: u64) -> f64 {
    if batches == 0 {
        return reads as f64 / rps;
    }
    let first = reads as f64 / rps;
    let windows = (batches - 1) / per_minute;
    let last = batches - windows * per_minute;
    let by_window = first + windows as f64 * 60.0 + (2 * last) as f64 / rps;
    let by_rate = (reads + 2 * batches) as f64 / rps;
    by_window.max(by_rate)
}

/// Item 2: the initial export of `export` new profiles.
pub async fn item2_initial_export(sizes: &Sizes, exec: &impl Exec) -> Vec<Metric> {
    let n = sizes.export;
    let w = World::new(sizes.real_limits).await;
    w.write_segment((0..n).map(|i| (i, 0)));
    let f = w.measure(exec, "run", !sizes.real_limits).await;
    let l = w.sim.ledger();
    assert_eq!(f.outcome, "success");
    assert_eq!(f.added, n);
    assert_eq!(w.sim.active_emails(w.list).len() as u64, n);
    let batches = n.div_ceil(250);
    let writes = writes_of(&l);
    let real = sizes.real_limits;
    let polls = count(&l, "GET /import/info");
    let mut rows = vec![
        metric(
            2,
            &format!("initial export {n}: write requests"),
            format!("{writes} (ceil(N/250) = {batches})"),
            "≤ 1.02 × ceil(N/250)",
            Some(writes as f64 <= 1.02 * batches as f64),
        ),
        metric(
            2,
            "initial export: limit answers (429 + bulk 400)",
            limit_answers(&l).to_string(),
            "a handful (≤ 5)",
            Some(limit_answers(&l) <= 5),
        ),
        metric(
            2,
            "initial export: all requests (polls)",
            format!("{} ({polls} /import/info)", l.total),
            "",
            None,
        ),
    ];
    rows.extend(timed_rows(n, writes, l.total, &f, real));
    rows
}

/// Item 2's wall time against the floor, the projection to a million
/// profiles, the naive integration's cost, and the peak RSS.
fn timed_rows(n: u64, writes: u64, total: u64, f: &RunFigures, real: bool) -> Vec<Metric> {
    let wall = f.wall.as_secs_f64();
    let floor = export_floor(n.div_ceil(250), 3, 5.0, 100);
    let floor_1m = export_floor(1_000_000u64.div_ceil(250), 3, 5.0, 100);
    let ratio = wall / floor;
    vec![
        metric(
            2,
            "initial export: wall vs floor",
            if real {
                format!(
                    "{wall:.1} s vs {floor:.1} s ({:+.1}%; CPU {})",
                    (ratio - 1.0) * 100.0,
                    f.cpu.map_or_else(|| "n/a".into(), secs)
                )
            } else {
                format!("{wall:.2} s (unthrottled)")
            },
            "≤ floor + 5%",
            real.then_some(ratio <= 1.05),
        ),
        metric(
            2,
            "projection, 1,000,000 profiles",
            if real {
                format!(
                    "{:.1} min ({} writes; floor {:.1} min)",
                    floor_1m * ratio / 60.0,
                    (writes as f64 * 1_000_000.0 / n as f64).round(),
                    floor_1m / 60.0
                )
            } else {
                "n/a (unthrottled)".into()
            },
            "reference: ≤ 90 min",
            None,
        ),
        metric(
            2,
            "vs naive (contact/sync + contactLists per contact)",
            format!(
                "{}× fewer writes ({} vs {}), {:.0}× fewer requests; naive needs {:.1} h for 1M",
                2 * n / writes.max(1),
                writes,
                2 * n,
                (2 * n) as f64 / total.max(1) as f64,
                2_000_000.0 / 5.0 / 3600.0
            ),
            "",
            None,
        ),
        metric(2, "initial export: peak RSS", mb(f.peak_rss_mb), "", None),
    ]
}

/// Item 5: a full read of a `read`-member list (the state is new, so the
/// run reads the list in full; the segment matches it, so nothing is written).
pub async fn item5_full_read(sizes: &Sizes, exec: &impl Exec) -> Vec<Metric> {
    let n = sizes.read;
    let w = World::new(sizes.real_limits).await;
    w.seed_sim(n);
    w.write_segment((0..n).map(|i| (i, 0)));
    w.sim.reset_ledger();
    let f = w.measure(exec, "run", !sizes.real_limits).await;
    let l = w.sim.ledger();
    assert_eq!(f.outcome, "success");
    assert!(f.full_read);
    let pages = n.div_ceil(100);
    let wall = f.wall.as_secs_f64();
    // The floor: ceil(n/100) pages of status 1, plus GET /lists/{id}, the
    // empty page that ends each of the four status reads, the count of
    // every status, and the cross-check of 5 sampled active members, at 5
    // a second.
    let fixed = 1 + 4 + 1 + 5;
    let floor = (pages + fixed) as f64 / 5.0;
    let real = sizes.real_limits;
    vec![
        metric(
            5,
            &format!("full read of {n} members: requests"),
            format!("{} (ceil(n/100) = {pages}; writes {})", l.total, l.writes),
            "ceil(n/100) + 11 (list, 4 status reads' ends, a count of every status, 5 cross-checks)",
            Some(l.total <= pages + fixed && l.writes == 0),
        ),
        metric(
            5,
            "full read: wall vs floor",
            if real {
                format!(
                    "{wall:.1} s vs {floor:.1} s ({:+.1}%; CPU {})",
                    (wall / floor - 1.0) * 100.0,
                    f.cpu.map_or_else(|| "n/a".into(), secs)
                )
            } else {
                format!("{wall:.2} s (unthrottled)")
            },
            "≤ floor + 5%",
            real.then_some(wall <= floor * 1.05),
        ),
        metric(
            5,
            "full read: requests by endpoint; limit answers",
            format!("{}; {}", by_endpoint(&l), limit_answers(&l)),
            "",
            None,
        ),
        metric(5, "full read: peak RSS", mb(f.peak_rss_mb), "", None),
    ]
}
