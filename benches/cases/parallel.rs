//! Item 8: many accounts in one daemon. Each account is a simulator of its
//! own at ActiveCampaign's real limits (5 requests a second, 100 bulk
//! imports a minute), each with one export of `profiles` new profiles, and
//! all of them due at the same second in one `acsync daemon` process (the
//! real binary, so that the case depends on no internal daemon API). Each
//! account's wall time, from the second its export was due to the end of its
//! run, is judged against its own floor (what its limits allow, computed as
//! item 2 does): no shared lock, database writer or runtime thread may
//! starve an account. The daemon's peak RSS and CPU time cover the whole run.

use std::path::Path;
use std::time::{Duration, Instant};

use acsync::simulator::Simulator;
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::Value;

use super::daemon::DaemonProc;
use super::figures::{Metric, Sizes, limit_answers, metric};
use super::rate_bound::export_floor;
use super::world::{sim_config, write_csv};

/// One simulated account and its export `pNN`.
struct Account {
    name: String,
    sim: Simulator,
    list: u64,
}

/// How one account's first run went, from its status file.
#[derive(Debug, Clone)]
struct Finished {
    /// From the due second to the run's start and to its end.
    start_lag: f64,
    wall: f64,
    outcome: String,
    added: u64,
}

/// Item 8: `parallel_accounts` accounts, each an initial export of
/// `parallel_profiles` profiles, due at once in one daemon.
pub async fn item8_parallel(sizes: &Sizes) -> Vec<Metric> {
    let (n, profiles, real) = (
        sizes.parallel_accounts,
        sizes.parallel_profiles,
        sizes.real_limits,
    );
    let mut dir = tempfile::tempdir().expect("tempdir");
    // `ACSYNC_BENCH_KEEP=1`: leave the folder (and the daemon's log) on disk.
    if std::env::var_os("ACSYNC_BENCH_KEEP").is_some() {
        dir.disable_cleanup(true);
        eprintln!("bench world kept in {}", dir.path().display());
    }
    let root = dir.path();
    let mut accounts = Vec::with_capacity(n);
    for k in 0..n {
        let sim = Simulator::start(sim_config(real))
            .await
            .expect("simulator starts");
        let list = sim.add_list("Parallel list");
        let name = format!("p{k:02}");
        accounts.push(Account { name, sim, list });
    }
    write_folder(root, &accounts, profiles, real);
    // Due on a whole second far enough ahead for the daemon to be up.
    let lead = if real { 6 } else { 2 };
    let due = next_second(Utc::now() + chrono::Duration::seconds(lead));
    for a in &accounts {
        write_export(root, a, due);
    }
    let d = DaemonProc::start_ready(root, Duration::from_secs(60)).await;
    assert!(Utc::now() < due, "the daemon started after the due second");
    let floor = export_floor(profiles.div_ceil(250), 3, 5.0, 100);
    let done = wait_finished(root, &accounts, due, floor).await;
    let peak = d.status_mb("VmHWM:");
    let cpu = d.cpu();
    d.stop_cleanly().await;
    for (a, f) in accounts.iter().zip(&done) {
        assert_eq!(f.outcome, "success", "{}", a.name);
        assert_eq!(f.added, profiles, "{}", a.name);
        assert_eq!(a.sim.active_emails(a.list).len() as u64, profiles);
    }
    figures(sizes, &accounts, &done, floor, peak, cpu)
}

/// `acsync.toml` with one connection per account, their key files, and
/// each account's segment (profiles `0..profiles`: every account its own).
fn write_folder(root: &Path, accounts: &[Account], profiles: u64, real: bool) {
    std::fs::create_dir_all(root.join("exports")).expect("exports dir");
    std::fs::create_dir_all(root.join("segments")).expect("segments dir");
    let rps = if real { 5 } else { 100 };
    let mut settings = String::from("[daemon]\nstate_dir = \"state\"\n");
    for a in accounts {
        let key = format!("{}.key", a.name);
        std::fs::write(root.join(&key), a.sim.api_key()).expect("key file");
        settings.push_str(&format!(
            "\n[connections.{}]\nurl = \"{}\"\napi_key_file = \"{key}\"\n\
             accept_data_transfer = true\nrequests_per_second = {rps}\n",
            a.name,
            a.sim.base_url()
        ));
        let seg = root.join("segments").join(format!("{}.csv", a.name));
        write_csv(&seg, (0..profiles).map(|i| (i, 0)));
    }
    std::fs::write(root.join("acsync.toml"), settings).expect("settings");
}

/// The export file of `a`, scheduled once a year: at `due` (UTC).
fn write_export(root: &Path, a: &Account, due: DateTime<Utc>) {
    let cron = format!(
        "{} {} {} {} {} *",
        due.second(),
        due.minute(),
        due.hour(),
        due.day(),
        due.month()
    );
    let text = format!(
        "connection = \"{name}\"\nlist_id = {list}\nschedule = \"{cron}\"\ntimezone = \"UTC\"\n\
         max_profiles = 10000000\n\n[source]\nkind = \"csv\"\npath = \"../segments/{name}.csv\"\n\n\
         [mapping]\nemail = \"email\"\nfirst_name = \"first_name\"\nlast_name = \"last_name\"\n\
         phone = \"phone\"\n",
        name = a.name,
        list = a.list
    );
    let file = root.join("exports").join(format!("{}.toml", a.name));
    std::fs::write(file, text).expect("export file");
}

/// The first whole second at or after `t`.
fn next_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let whole = t.with_nanosecond(0).unwrap_or(t);
    if whole < t {
        whole + chrono::Duration::seconds(1)
    } else {
        whole
    }
}

/// Polls every status file every 50 ms until each account's run that
/// started at `due` has finished (at most 3 floors and a minute).
async fn wait_finished(
    root: &Path,
    accounts: &[Account],
    due: DateTime<Utc>,
    floor: f64,
) -> Vec<Finished> {
    let mut done: Vec<Option<Finished>> = vec![None; accounts.len()];
    let deadline = Instant::now() + Duration::from_secs_f64(floor * 3.0 + 60.0);
    while done.iter().any(Option::is_none) {
        assert!(
            Instant::now() < deadline,
            "runs not finished in time: {:?}",
            accounts
                .iter()
                .zip(&done)
                .filter(|(_, f)| f.is_none())
                .map(|(a, _)| &a.name)
                .collect::<Vec<_>>()
        );
        for (a, slot) in accounts.iter().zip(done.iter_mut()) {
            if slot.is_none() {
                *slot = finished(root, &a.name, due);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done.into_iter().flatten().collect()
}

/// The run of `name` that started at or after `due`, once it has finished.
fn finished(root: &Path, name: &str, due: DateTime<Utc>) -> Option<Finished> {
    let path = root.join("exports").join(format!("{name}.status.json"));
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let run = &v["last_run"];
    let at = |k: &str| {
        (run[k].as_str()?.parse::<DateTime<Utc>>().ok())
            .map(|t| (t - due).num_milliseconds() as f64 / 1000.0)
    };
    let (start_lag, wall) = (at("started_at")?, at("finished_at")?);
    // A run before the due second would be another run than the one measured.
    (start_lag >= -0.5).then(|| Finished {
        start_lag,
        wall,
        outcome: run["outcome"].as_str().unwrap_or("?").to_owned(),
        added: run["added"].as_u64().unwrap_or(0),
    })
}

/// The table rows: one per account, then the totals and the daemon's figures.
fn figures(
    sizes: &Sizes,
    accounts: &[Account],
    done: &[Finished],
    floor: f64,
    peak: f64,
    cpu: Duration,
) -> Vec<Metric> {
    let real = sizes.real_limits;
    let (n, profiles) = (accounts.len(), sizes.parallel_profiles);
    let mut out: Vec<Metric> = accounts
        .iter()
        .zip(done)
        .map(|(a, f)| account_row(&a.name, f, floor, real, limit_answers(&a.sim.ledger())))
        .collect();
    let within = done.iter().filter(|f| f.wall <= floor * 1.05).count();
    let worst = done.iter().map(|f| f.wall).fold(0.0_f64, f64::max);
    let (writes, limits) = accounts.iter().fold((0, 0), |(w, l), a| {
        let ledger = a.sim.ledger();
        (w + ledger.writes, l + limit_answers(&ledger))
    });
    out.push(metric(
        8,
        &format!("parallel: {n} accounts × {profiles} profiles in one daemon: within 5% of floor"),
        format!("{within} of {n} (slowest {worst:.1} s; floor {floor:.1} s)"),
        "all",
        real.then_some(within == n),
    ));
    out.push(metric(
        8,
        "parallel: write requests / limit answers (all accounts)",
        format!(
            "{writes} (ceil(N/250) × {n} = {}) / {limits}",
            profiles.div_ceil(250) * n as u64
        ),
        "",
        None,
    ));
    out.push(metric(
        8,
        "parallel: daemon peak RSS (VmHWM) / CPU (utime + stime), whole run",
        format!("{peak:.0} MB / {:.2} s", cpu.as_secs_f64()),
        "",
        None,
    ));
    out
}

/// One account's wall time against its floor, when its run started, and
/// the limit answers (429 and bulk 400) its simulator gave.
fn account_row(name: &str, f: &Finished, floor: f64, real: bool, limits: u64) -> Metric {
    let ratio = f.wall / floor;
    metric(
        8,
        &format!("parallel: account {name} wall vs floor (start; limit answers)"),
        if real {
            format!(
                "{:.1} s vs {floor:.1} s ({:+.1}%; started +{:.2} s; {limits})",
                f.wall,
                (ratio - 1.0) * 100.0,
                f.start_lag
            )
        } else {
            format!(
                "{:.2} s (unthrottled; started +{:.2} s; {limits})",
                f.wall, f.start_lag
            )
        },
        "≤ floor + 5%",
        real.then_some(ratio <= 1.05),
    )
}
