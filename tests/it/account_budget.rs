//! One request budget per account across processes (docs/run-rules.md,
//! one budget per account): two `acsync sync` processes on one account,
//! counted at the simulator, which enforces the real limit.

use acsync::simulator::{ChangedBy, SimConfig};

use crate::harness::{World, fast_sim};

const RPS: u32 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_account_stay_within_its_requests_per_second_together() {
    let w = World::with(SimConfig {
        requests_per_second: RPS,
        ..fast_sim()
    })
    .await;
    w.write_settings(RPS);
    let news = w.sim.add_list("News");
    w.write_people("vip", &World::people(0..30));
    w.write_people("news", &World::people(100..130));
    w.write_export("vip", "");
    w.write_export("news", "");
    let path = w.exports().join("news.toml");
    let text = std::fs::read_to_string(&path).expect("export");
    let text = text.replace(
        &format!("list_id = {}", w.list),
        &format!("list_id = {news}"),
    );
    std::fs::write(&path, text).expect("export");
    // Members other tools added make each run's full read take pages:
    // seconds of requests from each process at once.
    for (list, base) in [(w.list, 0), (news, 10_000)] {
        for i in base..base + 1_500 {
            let id = w
                .sim
                .add_contact(&format!("other{i}@example.com"), None, None, None);
            w.sim.set_membership(id, list, 1, ChangedBy::Contact);
        }
    }

    let started = std::time::Instant::now();
    let children: Vec<_> = ["vip", "news"]
        .iter()
        .map(|name| {
            w.command(&["sync", name])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn sync")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("sync ends");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let took = started.elapsed();
    let ledger = w.sim.ledger();
    eprintln!(
        "{} requests in {took:?}; most in one second: {}; 429: {}",
        ledger.total, ledger.max_in_any_second, ledger.rate_limited_429
    );
    assert_eq!(ledger.rate_limited_429, 0, "{ledger:?}");
    assert!(ledger.max_in_any_second <= RPS, "{ledger:?}");
    assert!(
        ledger.total >= 6 * u64::from(RPS),
        "both runs overlapped for seconds: {ledger:?}"
    );
    assert_eq!(w.active().len(), 1_530);
    assert_eq!(w.sim.active_emails(news).len(), 1_530);
}
