//! Item 9, a busy account over a long service: the daemon with four
//! exports (one list each) on one account where, every second, a contact
//! signs up through a form and a member opts out; another tool queues a
//! bulk import every ten seconds (the account's import queue is never
//! empty for long); the API key is rotated once (file rewritten, SIGHUP)
//! and a storm of 50 SIGHUPs comes later. What must hold (docs/run-rules.md
//! and docs/verification.md, "A busy account"): every run ends `success`
//! or `partial` with a reason, no answer is a 429, the daemon's RSS stays
//! flat.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use acsync::simulator::ChangedBy;
use serde_json::Value;

use super::daemon::DaemonProc;
use super::figures::{Metric, Sizes, metric};
use super::measure::soak_segment;
use super::world::{World, email, write_csv};

/// Exports of the soak, each on a list of its own.
const EXPORTS: u64 = 4;

/// How each run of the soak ended, counted by outcome.
#[derive(Debug, Default)]
struct Runs {
    by_outcome: BTreeMap<String, u64>,
    /// Runs that ended neither `success` nor `partial` with a reason, with
    /// their error: none is allowed.
    unexplained: Vec<String>,
}

impl Runs {
    fn record(&mut self, last_run: &Value) {
        let outcome = last_run["outcome"].as_str().unwrap_or("none").to_string();
        let error = last_run["error"].as_str().map(str::to_owned);
        let failures = last_run["failures"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        let explained = match outcome.as_str() {
            "success" => true,
            "partial" => error.is_some() || failures,
            _ => false,
        };
        if !explained {
            self.unexplained
                .push(format!("{outcome}: {}", error.unwrap_or_default()));
        }
        *self.by_outcome.entry(outcome).or_default() += 1;
    }

    fn total(&self) -> u64 {
        self.by_outcome.values().sum()
    }
}

/// The soak for `sizes.busy_soak` (30 minutes in the suite), at
/// ActiveCampaign's real limits when `sizes.real_limits`, exports due every
/// `every_secs` seconds with `profiles` profiles each.
pub async fn item9_busy_soak(sizes: &Sizes, every_secs: u64, profiles: u64) -> Vec<Metric> {
    let length = sizes.busy_soak;
    let w = World::new(sizes.real_limits).await;
    std::fs::remove_file(
        w.root()
            .join("exports")
            .join(format!("{}.toml", super::world::EXPORT)),
    )
    .ok();
    let mut lists = vec![w.list];
    lists.extend((1..EXPORTS).map(|k| w.sim.add_list(&format!("Busy list {k}"))));
    for (k, list) in lists.iter().enumerate() {
        write_segment(&w, k as u64, profiles, 0);
        write_export(&w, k as u64, *list, every_secs);
    }
    let d = DaemonProc::start_ready(w.root(), Duration::from_secs(60)).await;
    let started = Instant::now();
    let (mut runs, mut rss) = (Runs::default(), Vec::new());
    let mut last_started: Vec<Option<String>> = vec![None; EXPORTS as usize];
    let mut rounds = vec![0u32; EXPORTS as usize];
    let (mut rotated, mut stormed) = (false, false);
    let mut tick = 0u64;
    let mut rotated_at_run = None;
    while started.elapsed() < length {
        tick += 1;
        busy_second(&w, &lists, tick, profiles);
        if !rotated && started.elapsed() >= length / 3 {
            rotate_key(&w, &d);
            rotated = true;
            rotated_at_run = Some(runs.total());
        }
        if !stormed && started.elapsed() >= length * 2 / 3 {
            for _ in 0..50 {
                d.reload();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            stormed = true;
        }
        for k in 0..EXPORTS as usize {
            let Some(status) = status_of(&w, k as u64) else {
                continue;
            };
            let this = status["last_run"]["started_at"].as_str().map(str::to_owned);
            if this.is_some() && this != last_started[k] {
                last_started[k] = this;
                runs.record(&status["last_run"]);
                rounds[k] += 1;
                write_segment(&w, k as u64, profiles, rounds[k]);
            }
        }
        rss.push(d.status_mb("VmRSS:"));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let peak = d.status_mb("VmHWM:");
    d.stop_cleanly().await;
    report(&w, &runs, &rss, peak, rotated_at_run)
}

/// One second of a busy account: a form sign-up on one list, an opt-out
/// of a member of another, and every ten seconds another tool's import.
fn busy_second(w: &World, lists: &[u64], tick: u64, profiles: u64) {
    let list = lists[(tick % EXPORTS) as usize];
    let id = w.sim.add_contact(
        &format!("signup{tick}@example.org"),
        Some("Form"),
        None,
        None,
    );
    w.sim.set_membership(id, list, 1, ChangedBy::Contact);
    let k = (tick + 1) % EXPORTS;
    let member = email(k * 1_000_000 + (tick * 7) % profiles);
    if let Some(c) = w.sim.contact(&member) {
        w.sim
            .set_membership(c.id, lists[k as usize], 2, ChangedBy::Contact);
    }
    if tick.is_multiple_of(10) {
        w.sim.import_by_others(50);
    }
}

/// The key is rotated: the account takes only the new one, the key file
/// is rewritten, the daemon is told (SIGHUP).
fn rotate_key(w: &World, d: &DaemonProc) {
    let key = format!("rotated-{}", w.sim.api_key());
    w.sim.rotate_api_key(&key);
    std::fs::write(w.root().join("sim.key"), &key).expect("key file");
    d.reload();
}

fn report(w: &World, runs: &Runs, rss: &[f64], peak: f64, rotated_at: Option<u64>) -> Vec<Metric> {
    let ledger = w.sim.ledger();
    let tenth = (rss.len() / 10).max(1);
    let high = |s: &[f64]| s.iter().copied().fold(0.0_f64, f64::max);
    let (early, late) = (
        high(&rss[tenth..2 * tenth]),
        high(&rss[rss.len() - tenth..]),
    );
    let outcomes: Vec<String> = runs
        .by_outcome
        .iter()
        .map(|(o, n)| format!("{n} {o}"))
        .collect();
    let unexplained = runs.unexplained.iter().take(3).cloned().collect::<Vec<_>>();
    vec![
        metric(
            9,
            "busy account: runs by outcome",
            format!(
                "{} ({} runs; key rotated after run {})",
                outcomes.join(", "),
                runs.total(),
                rotated_at.unwrap_or(0)
            ),
            "every run success, or partial with a reason",
            Some(runs.unexplained.is_empty() && runs.total() > 0),
        ),
        metric(
            9,
            "busy account: runs without a reason",
            if unexplained.is_empty() {
                "none".into()
            } else {
                unexplained.join("; ")
            },
            "",
            None,
        ),
        metric(
            9,
            "busy account: answers 429 (requests; most in one second)",
            format!(
                "{} ({} requests; {} in one second at most)",
                ledger.rate_limited_429, ledger.total, ledger.max_in_any_second
            ),
            "0",
            Some(ledger.rate_limited_429 == 0),
        ),
        metric(
            9,
            "busy account: daemon RSS after warm-up → end (peak)",
            format!(
                "{early:.1} → {late:.1} MB ({:+.1} MB; peak {peak:.0} MB)",
                late - early
            ),
            "flat (≤ 2 MB)",
            Some(late - early <= 2.0),
        ),
    ]
}

fn write_segment(w: &World, k: u64, profiles: u64, round: u32) {
    let seg = w.root().join("segments").join(format!("busy{k}.csv"));
    write_csv(
        &seg,
        soak_segment(profiles, round).map(|(i, v)| (i + k * 1_000_000, v)),
    );
}

fn write_export(w: &World, k: u64, list: u64, every_secs: u64) {
    let text = format!(
        "connection = \"sim\"\nlist_id = {list}\nschedule = \"*/{every_secs} * * * * *\"\n\
         max_removals = \"100%\"\n\n[source]\nkind = \"csv\"\npath = \"../segments/busy{k}.csv\"\n\n\
         [mapping]\nemail = \"email\"\nfirst_name = \"first_name\"\nlast_name = \"last_name\"\nphone = \"phone\"\n"
    );
    std::fs::write(w.root().join("exports").join(format!("busy{k}.toml")), text)
        .expect("export file");
}

fn status_of(w: &World, k: u64) -> Option<Value> {
    let path = w
        .root()
        .join("exports")
        .join(format!("busy{k}.status.json"));
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}
