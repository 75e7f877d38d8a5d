//! One request budget per account across processes (docs/run-rules.md,
//! one budget per account): two `acsync sync` processes on one account,
//! counted at the simulator, which enforces the real limit.

use acsync::simulator::{ChangedBy, SimConfig};

use crate::harness::{World, fast_sim};

const RPS: u32 = 5;

/// Two exports (`vip`, `news`) on two lists of one account, each list
/// with 1,500 members other tools added (each run's full read takes pages).
async fn two_busy_exports() -> (World, u64) {
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
    (w, news)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_account_stay_within_its_requests_per_second_together() {
    let (w, news) = two_busy_exports().await;
    let children: Vec<_> = ["vip", "news"]
        .iter()
        .map(|name| spawn_sync(w.command(&["sync", name])))
        .collect();
    both_within_the_budget(&w, news, children);
}

/// Two configuration folders (two state folders) on one account, both
/// naming the same `budget_dir` (docs/configuration.md): their processes
/// share the account's budget as two processes of one folder do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_folders_on_one_account_share_its_budget_through_budget_dir() {
    let (w, news) = two_busy_exports().await;
    let shared = tempfile::tempdir().expect("budget dir");
    let other = tempfile::tempdir().expect("second folder");
    let settings = std::fs::read_to_string(w.root().join("acsync.toml")).expect("settings");
    let settings = settings.replace(
        "[daemon]\n",
        &format!("[daemon]\nbudget_dir = \"{}\"\n", shared.path().display()),
    );
    std::fs::write(w.root().join("acsync.toml"), &settings).expect("settings");
    std::fs::write(other.path().join("acsync.toml"), &settings).expect("settings");
    std::fs::copy(w.root().join("sim.key"), other.path().join("sim.key")).expect("key");
    for dir in ["exports", "segments"] {
        std::fs::create_dir_all(other.path().join(dir)).expect("dir");
    }
    for file in ["exports/news.toml", "segments/news.csv"] {
        std::fs::rename(w.root().join(file), other.path().join(file)).expect("move");
    }
    let mut news_sync = std::process::Command::new(crate::util::bin());
    news_sync
        .args(["sync", "news", "--config-dir"])
        .arg(other.path())
        .env_remove("ACSYNC_CONFIG_DIR")
        .env_remove("RUST_LOG");
    let children = vec![
        spawn_sync(w.command(&["sync", "vip"])),
        spawn_sync(news_sync),
    ];
    both_within_the_budget(&w, news, children);
    assert!(
        std::fs::read_dir(shared.path())
            .expect("budget dir")
            .count()
            > 0,
        "the budget file is in the shared folder"
    );
}

fn spawn_sync(mut command: std::process::Command) -> std::process::Child {
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sync")
}

/// Both syncs succeed; together they never exceeded the account's
/// requests per second, nor met a 429.
fn both_within_the_budget(w: &World, news: u64, children: Vec<std::process::Child>) {
    let started = std::time::Instant::now();
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
