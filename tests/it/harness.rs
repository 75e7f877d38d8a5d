//! A test world: a simulator, a temporary configuration folder whose one
//! connection points at it, and helpers to write segments and exports and to
//! run them in-process or through the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use acsync::config;
use acsync::run::{RunOptions, RunReport, Runner, RunnerPaths, Trigger};
use acsync::simulator::{SimConfig, Simulator};
use acsync::status::{self, StatusFile};
use tokio_util::sync::CancellationToken;

pub struct World {
    pub sim: Simulator,
    pub dir: tempfile::TempDir,
    pub list: u64,
}

/// A fast simulator: no general rate limit, batches done in ~50 ms.
pub fn fast_sim() -> SimConfig {
    SimConfig {
        requests_per_second: 0,
        info_false_for: Duration::from_millis(30),
        import_duration: Duration::from_millis(30),
        ..SimConfig::default()
    }
}

/// Short client waits, so in-process runs are quick.
pub fn fast_client(cfg: &mut acsync::activecampaign::ClientConfig) {
    cfg.poll_interval = Duration::from_millis(40);
    cfg.backoff_base = Duration::from_millis(20);
    cfg.backoff_max = Duration::from_millis(200);
    cfg.request_timeout = Duration::from_secs(5);
}

impl World {
    pub async fn new() -> World {
        World::with(fast_sim()).await
    }

    pub async fn with(cfg: SimConfig) -> World {
        let sim = Simulator::start(cfg).await.expect("simulator");
        let list = sim.add_list("Segment list");
        let dir = tempfile::tempdir().expect("tempdir");
        let w = World { sim, dir, list };
        std::fs::create_dir_all(w.exports()).expect("exports dir");
        std::fs::create_dir_all(w.root().join("segments")).expect("segments dir");
        std::fs::write(w.root().join("sim.key"), w.sim.api_key()).expect("key");
        w.write_settings(100);
        w
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn exports(&self) -> PathBuf {
        self.root().join("exports")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root().join("state")
    }

    /// `secs` pass: every time ActiveCampaign shows (`Simulator::age`) and
    /// every time the state database recorded that a rule compares with
    /// them (write windows, reads, checks, batch submissions) move that far
    /// into the past together, so that what acsync knows stays consistent
    /// with what the account shows, as it is after a real wait.
    pub fn pass_time(&self, secs: i64) {
        self.sim.age(secs);
        let path = self.state_dir().join(acsync::state::DB_FILE);
        if !path.exists() {
            return;
        }
        let db = rusqlite::Connection::open(&path).expect("open the state database");
        let earlier = format!("-{secs} seconds");
        let text = |table: &str, column: &str| {
            format!(
                "UPDATE {table} SET {column} = strftime('%Y-%m-%dT%H:%M:%fZ', {column}, '{earlier}') \
                 WHERE {column} IS NOT NULL"
            )
        };
        let sql = [
            // A window from 0 is "since ever": it stays.
            format!("UPDATE members SET write_from = write_from - {secs} WHERE write_from > 0"),
            format!("UPDATE members SET write_to = write_to - {secs} WHERE write_to IS NOT NULL"),
            format!("UPDATE created SET seen_at = seen_at - {secs} WHERE seen_at > 0"),
            text("exports", "last_full_read"),
            text("exports", "last_check"),
            text("batches", "submitted_at"),
        ];
        for statement in sql {
            db.execute(&statement, []).expect(&statement);
        }
    }

    /// `acsync.toml` with one connection `sim` at `rps` requests a second.
    pub fn write_settings(&self, rps: u32) {
        let toml = format!(
            "[daemon]\nstate_dir = \"state\"\n\n[connections.sim]\nurl = \"{}\"\napi_key_file = \"sim.key\"\naccept_data_transfer = true\nrequests_per_second = {rps}\n",
            self.sim.base_url()
        );
        std::fs::write(self.root().join("acsync.toml"), toml).expect("settings");
    }

    /// Writes `segments/NAME.csv` with header `email,first_name,last_name` and `rows`.
    pub fn write_csv(&self, name: &str, rows: &[(&str, &str)]) {
        let mut s = String::from("email,first_name,last_name\n");
        for (email, first) in rows {
            s.push_str(&format!("{email},{first},Last\n"));
        }
        std::fs::write(self.root().join("segments").join(format!("{name}.csv")), s).expect("csv");
    }

    /// `n` profiles `user{i}@example.com` named `First{i}`.
    pub fn people(range: std::ops::Range<usize>) -> Vec<(String, String)> {
        range
            .map(|i| (format!("user{i}@example.com"), format!("First{i}")))
            .collect()
    }

    pub fn write_people(&self, name: &str, people: &[(String, String)]) {
        let rows: Vec<(&str, &str)> = people
            .iter()
            .map(|(e, f)| (e.as_str(), f.as_str()))
            .collect();
        self.write_csv(name, &rows);
    }

    /// Writes `exports/NAME.toml` syncing `segments/NAME.csv` to the list, plus `extra` lines.
    pub fn write_export(&self, name: &str, extra: &str) {
        let toml = format!(
            "connection = \"sim\"\nlist_id = {}\nschedule = \"@hourly\"\n{extra}\n\n[source]\nkind = \"csv\"\npath = \"../segments/{name}.csv\"\n\n[mapping]\nemail = \"email\"\nfirst_name = \"first_name\"\nlast_name = \"last_name\"\n",
            self.list
        );
        std::fs::write(self.exports().join(format!("{name}.toml")), toml).expect("export");
    }

    pub fn runner(&self) -> Runner {
        let settings = config::load_settings(self.root());
        assert!(settings.errors.is_empty(), "{:?}", settings.errors);
        Runner::new(RunnerPaths::new(self.root(), &settings.daemon)).with_client_tuning(fast_client)
    }

    pub fn export(&self, name: &str) -> config::Export {
        let folder = config::load_folder(self.root());
        match folder.export(name) {
            Ok(e) => e.clone(),
            Err(e) => panic!("export {name}: {e}"),
        }
    }

    /// Runs export `name` in-process.
    pub async fn sync(&self, name: &str) -> RunReport {
        self.sync_with(name, RunOptions::default()).await
    }

    /// Retries a run that found its export lock busy for a moment: a child
    /// process another test spawns holds a copy of every open file of this
    /// test process, an earlier run's lock included, between its fork and
    /// its exec.
    pub async fn sync_with(&self, name: &str, opts: RunOptions) -> RunReport {
        let export = self.export(name);
        let mut attempt = 0;
        loop {
            let run = self
                .runner()
                .run(
                    &export,
                    Trigger::Manual,
                    opts.clone(),
                    CancellationToken::new(),
                )
                .await;
            match run {
                Err(acsync::run::RunError::Busy(_)) if attempt < 20 => attempt += 1,
                other => return other.expect("run started"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn status(&self, name: &str) -> StatusFile {
        let path = self.exports().join(format!("{name}.status.json"));
        status::read(&path)
            .expect("status readable")
            .expect("status exists")
    }

    pub fn status_json(&self, name: &str) -> serde_json::Value {
        let path = self.exports().join(format!("{name}.status.json"));
        serde_json::from_slice(&std::fs::read(path).expect("status")).expect("json")
    }

    pub fn active(&self) -> Vec<String> {
        self.sim.active_emails(self.list).into_iter().collect()
    }

    /// Runs the real binary with `args` and this world's config folder.
    pub fn acsync(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().expect("run acsync")
    }

    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(crate::util::bin());
        c.args(args)
            .arg("--config-dir")
            .arg(self.root())
            .env_remove("ACSYNC_CONFIG_DIR")
            .env_remove("RUST_LOG");
        c
    }
}

/// A simulator whose bulk batches take `secs` seconds to land, as
/// ActiveCampaign's queue does under load.
pub fn slow_batches(secs: u64) -> SimConfig {
    SimConfig {
        requests_per_second: 0,
        info_false_for: Duration::from_millis(100),
        import_duration: Duration::from_secs(secs),
        ..SimConfig::default()
    }
}

impl World {
    /// Runs export `name` in-process and asserts it succeeded.
    pub async fn sync_success(&self, name: &str) -> RunReport {
        let r = self.sync(name).await;
        assert_eq!(
            r.outcome,
            acsync::status::Outcome::Success,
            "{name}: {:?}",
            r.last_run.error
        );
        r
    }

    /// Bulk imports the simulator has answered so far.
    pub fn bulk_imports(&self) -> u64 {
        let l = self.sim.ledger();
        l.by_endpoint
            .get("POST /import/bulk_import")
            .copied()
            .unwrap_or(0)
    }

    /// Spawns `acsync daemon` on the world's folder, its output discarded.
    pub fn spawn_daemon(&self) -> std::process::Child {
        self.command(&["daemon"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn daemon")
    }

    /// Spawns `acsync sync NAME` and returns it once ActiveCampaign has
    /// accepted a new bulk import (and the answer had time to be journaled).
    pub fn spawn_sync_until_a_batch_is_queued(&self, name: &str) -> std::process::Child {
        let before = self.bulk_imports();
        let mut child = self.command(&["sync", name]).spawn().expect("spawn");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.bulk_imports() == before {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no bulk import sent");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(150));
        child
    }
}

pub fn emails(people: &[(String, String)]) -> Vec<String> {
    let mut v: Vec<String> = people.iter().map(|(e, _)| e.clone()).collect();
    v.sort();
    v
}
