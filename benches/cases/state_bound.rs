//! The cases bound by local work, not by ActiveCampaign's limits: planning
//! a million rows against a million members (item 1), a run with nothing to
//! change (item 3), and 1% churn (item 4).

use std::time::Duration;

use super::figures::{Metric, Sizes, count, judged, limit_answers, mb, metric, wall_cpu};
use super::measure::Exec;
use super::world::{Mix, World};

/// Item 1: read a `big`-row CSV, load `big` members, plan (0.5% joined,
/// 0.5% left, 1% changed). `Runner::plan`: no request, nothing written.
pub async fn item1_plan(sizes: &Sizes, exec: &impl Exec) -> Vec<Metric> {
    let w = World::new(false).await;
    let mix = Mix::churn(sizes.big, 5, 5, 10);
    w.seed_state(mix.n, None);
    w.write_segment(mix.segment());
    w.sim.reset_ledger();
    let f = w.measure(exec, "plan", false).await;
    assert_eq!(f.added, mix.joined, "joined");
    assert_eq!(f.updated, mix.changed, "changed");
    assert_eq!(f.removed, mix.left, "left");
    assert!(!f.full_read, "no full read is due");
    assert_eq!(w.sim.ledger().total, 0, "planning sends nothing");
    let strict = sizes.big >= 1_000_000;
    vec![
        metric(
            1,
            &format!("plan {} rows vs {} members: wall (CPU)", sizes.big, mix.n),
            wall_cpu(&f),
            "≤ 3 s",
            strict.then_some(f.wall <= Duration::from_secs(3)),
        ),
        metric(
            1,
            "plan: peak RSS",
            mb(f.peak_rss_mb),
            "≤ 400 MB",
            if strict {
                judged(f.peak_rss_mb, 400.0)
            } else {
                None
            },
        ),
        metric(
            1,
            "plan: adds / updates / removals",
            format!("{} / {} / {}", f.added, f.updated, f.removed),
            "0.5% / 1% / 0.5%",
            Some(true),
        ),
    ]
}

/// Item 3: a run over `big` synced profiles with nothing changed, between full reads.
pub async fn item3_no_change(sizes: &Sizes, exec: &impl Exec) -> Vec<Metric> {
    let w = World::new(sizes.real_limits).await;
    let mix = Mix::same(sizes.big);
    w.seed_state(mix.n, None);
    w.write_segment(mix.segment());
    w.sim.reset_ledger();
    let f = w.measure(exec, "run", !sizes.real_limits).await;
    let l = w.sim.ledger();
    assert_eq!(f.outcome, "success");
    assert_eq!(f.unchanged, mix.n);
    let reads = count(&l, "GET /contacts");
    let strict = sizes.big >= 1_000_000;
    vec![
        metric(
            3,
            &format!("no-change run over {}: wall (CPU)", mix.n),
            wall_cpu(&f),
            "≤ 5 s",
            strict.then_some(f.wall <= Duration::from_secs(5)),
        ),
        metric(
            3,
            "no-change: write requests / membership reads",
            format!("{} / {reads}", l.writes),
            "0 / 0",
            Some(l.writes == 0 && reads == 0),
        ),
        metric(3, "no-change: peak RSS", mb(f.peak_rss_mb), "", None),
    ]
}

/// Item 4: 1% churn over `big` synced profiles (0.25% joined, 0.25% left,
/// 0.5% changed), against a list that holds them.
pub async fn item4_churn(sizes: &Sizes, exec: &impl Exec) -> Vec<Metric> {
    let w = World::new(sizes.real_limits).await;
    let mix = Mix {
        n: sizes.big,
        joined: sizes.big / 400,
        left: sizes.big / 400,
        changed: sizes.big / 200,
    };
    let ids = w.seed_sim(mix.n);
    w.seed_state(mix.n, Some(&ids));
    drop(ids);
    w.write_segment(mix.segment());
    w.sim.reset_ledger();
    let f = w.measure(exec, "run", !sizes.real_limits).await;
    let l = w.sim.ledger();
    assert_eq!(f.outcome, "success");
    assert_eq!(
        (f.added, f.updated, f.removed),
        (mix.joined, mix.changed, mix.left)
    );
    let min = mix.min_writes();
    // Verify before you write: one `GET /contacts?ids[]=…` per
    // 100 removals reads who is still active right before unsubscribing;
    // a bulk add of contacts with no record reads the list's status-0
    // members (one page: there are none) and counts each status (four);
    // a resubscribe reads its membership row (none here).
    let endpoint = |e: &str| l.by_endpoint.get(e).copied().unwrap_or(0);
    let census = if mix.joined > 0 { 5 } else { 0 };
    let verify_min = mix.left.div_ceil(100) + census;
    let checked =
        l.writes + endpoint("GET /contacts") + endpoint("GET /contacts/{id}/contactLists");
    vec![
        metric(
            4,
            &format!(
                "1% churn over {} (+{} ~{} -{}): write requests",
                mix.n, mix.joined, mix.changed, mix.left
            ),
            format!("{} (minimum {min})", l.writes),
            "≤ minimum + 2%",
            Some(l.writes as f64 <= min as f64 * 1.02),
        ),
        metric(
            4,
            "churn: writes + verification reads",
            format!(
                "{checked} (minimum {} = {min} writes + {verify_min} reads: ceil(removals/100) and {census} before adding); polls {}",
                min + verify_min,
                endpoint("GET /import/info")
            ),
            "≤ minimum + 5%",
            Some(checked as f64 <= (min + verify_min) as f64 * 1.05),
        ),
        metric(
            4,
            "churn: wall / limit answers",
            format!("{} / {}", wall_cpu(&f), limit_answers(&l)),
            "",
            None,
        ),
        metric(4, "churn: peak RSS", mb(f.peak_rss_mb), "", None),
    ]
}
