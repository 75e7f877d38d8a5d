//! The benchmark cases of issue 6, shared by `benches/suite.rs` (release
//! build, full sizes, every measured run in a child process of its own so
//! its peak RSS is its own) and `tests/it/bench_smoke.rs` (debug build, tiny
//! sizes, in-process), so that the suite is exercised by `cargo test` and
//! cannot rot.
//!
//! Every case builds a *world*: a simulator (real HTTP on loopback, owned
//! by the calling process so that its memory never counts against acsync's),
//! a temporary configuration folder whose connection points at it, segment
//! files, and, where a case starts from a synced export, a state database
//! seeded exactly as a previous run would have left it. The measured step is
//! then [`acsync::run::Runner::run`] or [`acsync::run::Runner::plan`], the
//! code paths `acsync sync`, `acsync plan` and the daemon use.
//!
//! Only acsync's public API is used here.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use acsync::config;
use acsync::model::{ListStatus, Member};
use acsync::run::{RunOptions, Runner, RunnerPaths, Trigger};
use acsync::simulator::{ChangedBy, Ledger, SimConfig, Simulator};
use acsync::state::{ExportMeta, StateDb};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The export every case runs.
pub const EXPORT: &str = "bench";

/// How large each case is.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Items 1, 3 and 4: profiles in the segment and members in the state.
    pub big: u64,
    /// Item 2: new profiles of the initial export.
    pub export: u64,
    /// Item 5: members of the list read in full.
    pub read: u64,
    /// Item 7: consecutive runs, and the profiles of each.
    pub soak_runs: u32,
    pub soak_profiles: u64,
    /// Item 6: export files the daemon watches, and how long it idles.
    pub daemon_exports: usize,
    pub daemon_idle: Duration,
    /// Items 2, 4 and 5 at ActiveCampaign's real limits (5 requests a
    /// second, 100 bulk imports a minute, 1 s of `status:false`). Off for
    /// the quick configuration, which only checks that everything works.
    pub real_limits: bool,
}

impl Sizes {
    /// Issue 6's sizes. Items 2 and 5 take about 4 minutes each.
    pub fn full() -> Sizes {
        Sizes {
            big: 1_000_000,
            export: 100_000,
            read: 100_000,
            soak_runs: 200,
            soak_profiles: 500,
            daemon_exports: 1000,
            daemon_idle: Duration::from_secs(60),
            real_limits: true,
        }
    }

    /// `-- --quick`: everything small and unthrottled, for CI and a first look.
    pub fn quick() -> Sizes {
        Sizes {
            big: 4_000,
            export: 1_000,
            read: 1_000,
            soak_runs: 20,
            soak_profiles: 100,
            daemon_exports: 50,
            daemon_idle: Duration::from_secs(2),
            real_limits: false,
        }
    }
}

/// One measured figure of the table.
#[derive(Debug, Clone)]
pub struct Metric {
    pub item: u8,
    pub name: String,
    pub value: String,
    pub target: String,
    /// `None`: informational, no target.
    pub met: Option<bool>,
}

fn metric(item: u8, name: &str, value: String, target: &str, met: Option<bool>) -> Metric {
    Metric {
        item,
        name: name.to_owned(),
        value,
        target: target.to_owned(),
        met,
    }
}

/// How a measured run is executed.
#[derive(Debug, Clone)]
pub enum Exec {
    /// In this process (the smoke test): no RSS figure.
    InProcess,
    /// `exe --child ...` (the suite): wall time and peak RSS of that process only.
    Child { exe: PathBuf },
}

/// What one measured run reports.
#[derive(Debug, Clone, Default)]
pub struct RunFigures {
    pub wall: Duration,
    /// VmHWM of the child process; `None` in-process.
    pub peak_rss_mb: Option<f64>,
    /// User + system CPU time of the child process (setup excluded: the
    /// child only runs); `None` in-process. Steadier than wall time on a
    /// machine other builds share.
    pub cpu: Option<Duration>,
    pub outcome: String,
    pub profiles: u64,
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    pub unchanged: u64,
    pub full_read: bool,
    pub api_requests: u64,
    /// Item 7: resident set after each run, MB.
    pub rss_series: Vec<f64>,
    /// Item 7: heap in use after each run, MB (with [`CountingAlloc`]).
    pub heap_series: Vec<f64>,
}

impl RunFigures {
    fn to_json(&self) -> Value {
        json!({
            "wall_ms": self.wall.as_secs_f64() * 1000.0,
            "peak_rss_mb": self.peak_rss_mb,
            "cpu_ms": self.cpu.map(|c| c.as_secs_f64() * 1000.0),
            "outcome": self.outcome,
            "profiles": self.profiles,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "full_read": self.full_read,
            "api_requests": self.api_requests,
            "rss_series": self.rss_series,
            "heap_series": self.heap_series,
        })
    }

    fn from_json(v: &Value) -> RunFigures {
        let u = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        RunFigures {
            wall: Duration::from_secs_f64(v["wall_ms"].as_f64().unwrap_or(0.0) / 1000.0),
            peak_rss_mb: v["peak_rss_mb"].as_f64(),
            cpu: v["cpu_ms"]
                .as_f64()
                .map(|ms| Duration::from_secs_f64(ms / 1000.0)),
            outcome: v["outcome"].as_str().unwrap_or("?").to_owned(),
            profiles: u("profiles"),
            added: u("added"),
            updated: u("updated"),
            removed: u("removed"),
            unchanged: u("unchanged"),
            full_read: v["full_read"].as_bool().unwrap_or(false),
            api_requests: u("api_requests"),
            rss_series: (v["rss_series"].as_array().into_iter().flatten())
                .filter_map(Value::as_f64)
                .collect(),
            heap_series: (v["heap_series"].as_array().into_iter().flatten())
                .filter_map(Value::as_f64)
                .collect(),
        }
    }
}

// ------------------------------------------------------------ heap in use

/// A global allocator that counts the bytes in use, so that a growing RSS
/// can be told apart: live bytes that grow are a leak, a flat heap under a
/// growing RSS is the allocator's fragmentation. The suite installs it
/// (`#[global_allocator]` in `suite.rs`); elsewhere [`heap_live_mb`] is `None`.
pub struct CountingAlloc;

static LIVE: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);
static COUNTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

// SAFETY: every call is forwarded to the system allocator unchanged; only
// counters are updated besides.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use std::sync::atomic::Ordering::Relaxed;
        COUNTING.store(true, Relaxed);
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size() as isize, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        let delta = new as isize - layout.size() as isize;
        LIVE.fetch_add(delta, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

/// Bytes allocated and not freed, MB; `None` without [`CountingAlloc`].
pub fn heap_live_mb() -> Option<f64> {
    use std::sync::atomic::Ordering::Relaxed;
    COUNTING
        .load(Relaxed)
        .then(|| LIVE.load(Relaxed) as f64 / 1024.0 / 1024.0)
}

// ---------------------------------------------------------------- fixtures

/// The email of profile `i`.
pub fn email(i: u64) -> String {
    format!("user{i}@example.com")
}

/// The CSV columns of profile `i` in `version` (a changed profile has another first name).
fn row(out: &mut String, i: u64, version: u32) {
    let first = if version == 0 { "First" } else { "Changed" };
    let _ = writeln!(out, "user{i}@example.com,{first}{i},Last{i},+1555{i:07}");
}

/// A segment population: members `0..n` were synced with version 0; the
/// segment drops the first `left`, adds `joined` new ones after `n`, and
/// changes the first name of `changed` of those that stay (spread evenly).
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    pub n: u64,
    pub joined: u64,
    pub left: u64,
    pub changed: u64,
}

impl Mix {
    pub fn same(n: u64) -> Mix {
        Mix {
            n,
            joined: 0,
            left: 0,
            changed: 0,
        }
    }

    /// Shares in per mille of `n`.
    pub fn churn(n: u64, joined: u64, left: u64, changed: u64) -> Mix {
        Mix {
            n,
            joined: n * joined / 1000,
            left: n * left / 1000,
            changed: n * changed / 1000,
        }
    }

    /// The segment's rows: `(index, version)`.
    fn segment(self) -> impl Iterator<Item = (u64, u32)> {
        let stay = self.n - self.left;
        let stride = stay.checked_div(self.changed).unwrap_or(u64::MAX).max(1);
        let changed = self.changed;
        (self.left..self.n)
            .map(move |i| {
                let k = i - self.left;
                let v = u32::from(k.is_multiple_of(stride) && k / stride < changed);
                (i, v)
            })
            .chain((self.n..self.n + self.joined).map(|i| (i, 0)))
    }

    /// Write requests a perfect run needs: bulk imports of 250 contacts,
    /// subscribes and updates in one stream, unsubscribes in another.
    pub fn min_writes(self) -> u64 {
        (self.joined + self.changed).div_ceil(250) + self.left.div_ceil(250)
    }
}

/// A configured world around a simulator.
pub struct World {
    pub sim: Simulator,
    pub dir: tempfile::TempDir,
    pub list: u64,
}

impl World {
    /// A world whose connection is paced like a real account when
    /// `real_limits`, else unthrottled.
    pub async fn new(real_limits: bool) -> World {
        let cfg = if real_limits {
            SimConfig::default()
        } else {
            SimConfig {
                requests_per_second: 0,
                bulk_per_minute: 0,
                bulk_single_per_minute: 0,
                info_false_for: Duration::from_millis(20),
                import_duration: Duration::from_millis(10),
                ..SimConfig::default()
            }
        };
        let sim = Simulator::start(cfg).await.expect("simulator starts");
        let list = sim.add_list("Benchmark list");
        let mut dir = tempfile::tempdir().expect("tempdir");
        // `ACSYNC_BENCH_KEEP=1`: leave the world on disk, to profile a step
        // by hand (`suite --child plan DIR` under perf or valgrind).
        if std::env::var_os("ACSYNC_BENCH_KEEP").is_some() {
            dir.disable_cleanup(true);
            eprintln!("bench world kept in {}", dir.path().display());
        }
        let root = dir.path();
        std::fs::create_dir_all(root.join("exports")).expect("exports dir");
        std::fs::create_dir_all(root.join("segments")).expect("segments dir");
        std::fs::write(root.join("sim.key"), sim.api_key()).expect("key file");
        // Unthrottled worlds pace the client at the most the config allows.
        let rps = if real_limits { 5 } else { 100 };
        let settings = format!(
            "[daemon]\nstate_dir = \"state\"\n\n[connections.sim]\nurl = \"{}\"\n\
             api_key_file = \"sim.key\"\naccept_data_transfer = true\nrequests_per_second = {rps}\n",
            sim.base_url()
        );
        std::fs::write(root.join("acsync.toml"), settings).expect("settings");
        let export = format!(
            "connection = \"sim\"\nlist_id = {list}\nschedule = \"@hourly\"\n\
             max_profiles = 10000000\n\n[source]\nkind = \"csv\"\npath = \"../segments/{EXPORT}.csv\"\n\n\
             [mapping]\nemail = \"email\"\nfirst_name = \"first_name\"\nlast_name = \"last_name\"\nphone = \"phone\"\n"
        );
        std::fs::write(root.join("exports").join(format!("{EXPORT}.toml")), export)
            .expect("export file");
        World { sim, dir, list }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn segment_path(&self) -> PathBuf {
        self.root().join("segments").join(format!("{EXPORT}.csv"))
    }

    /// Writes the segment file.
    pub fn write_segment(&self, rows: impl Iterator<Item = (u64, u32)>) {
        write_csv(&self.segment_path(), rows);
    }

    pub fn export(&self) -> config::Export {
        export_in(self.root())
    }

    /// Makes members `0..n` (version 0) active contacts of the list.
    /// Returns their contact ids by index.
    pub fn seed_sim(&self, n: u64) -> Vec<u64> {
        (0..n)
            .map(|i| {
                let id = self.sim.add_contact(
                    &email(i),
                    Some(&format!("First{i}")),
                    Some(&format!("Last{i}")),
                    Some(&format!("+1555{i:07}")),
                );
                self.sim.set_membership(id, self.list, 1, ChangedBy::Import);
                id
            })
            .collect()
    }

    /// Seeds the state database as a converged run would leave it: members
    /// `0..n` owned, active, and sent version 0 (hashes computed by reading
    /// that version through acsync's own CSV reader, so they are exactly
    /// what a run compares with), and a full read just done.
    pub fn seed_state(&self, n: u64, contact_ids: Option<&[u64]>) {
        let sent = self.root().join("sent.csv");
        write_csv(&sent, (0..n).map(|i| (i, 0)));
        let export = self.export();
        let segment = acsync::source::read(
            &config::Source::Csv {
                path: sent.clone(),
                timeout: config::DEFAULT_SOURCE_TIMEOUT,
            },
            &export.mapping,
        )
        .expect("seed segment reads");
        std::fs::remove_file(&sent).ok();
        let mut db = StateDb::open(&self.root().join("state")).expect("state opens");
        let members: Vec<Member> = (segment.profiles.iter())
            .enumerate()
            .map(|(i, p)| Member {
                contact_id: Some(contact_ids.map_or(i as u64 + 1, |ids| ids[i])),
                status: Some(ListStatus::Active),
                owned: true,
                sent_hash: Some(p.fields.hash64()),
                ..Member::unknown(p.email.as_str())
            })
            .collect();
        drop(segment);
        // Member rows are kept per account and list (SPEC §4c).
        let scope = acsync::state::scope_of(&export);
        for chunk in members.chunks(100_000) {
            db.save_members(&scope, chunk).expect("seed members");
        }
        let meta = ExportMeta {
            fingerprint: acsync::run::prepare::export_fingerprint(&export),
            last_full_read: Some(chrono::Utc::now()),
        };
        db.set_export_meta(EXPORT, &meta).expect("seed meta");
    }

    /// Runs the export once, as `exec` says.
    pub async fn measure(&self, exec: &Exec, kind: &str, fast_client: bool) -> RunFigures {
        match exec {
            Exec::InProcess => run_in_process(self.root(), kind, fast_client, 0).await,
            Exec::Child { exe } => {
                let mut cmd = std::process::Command::new(exe);
                cmd.arg("--child").arg(kind).arg(self.root());
                if fast_client {
                    cmd.arg("--fast-client");
                }
                let out = tokio::task::spawn_blocking(move || cmd.output())
                    .await
                    .expect("waiter")
                    .expect("child starts");
                let stdout = String::from_utf8_lossy(&out.stdout);
                let line = stdout.lines().find_map(|l| l.strip_prefix("BENCH-RESULT "));
                match line.and_then(|l| serde_json::from_str::<Value>(l).ok()) {
                    Some(v) => RunFigures::from_json(&v),
                    None => panic!(
                        "child {kind} failed ({}): {}\n{}",
                        out.status,
                        stdout,
                        String::from_utf8_lossy(&out.stderr)
                    ),
                }
            }
        }
    }
}

fn write_csv(path: &Path, rows: impl Iterator<Item = (u64, u32)>) {
    let file = std::fs::File::create(path).expect("create csv");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut buf = String::from("email,first_name,last_name,phone\n");
    for (i, v) in rows {
        row(&mut buf, i, v);
        if buf.len() > 1 << 16 {
            w.write_all(buf.as_bytes()).expect("write csv");
            buf.clear();
        }
    }
    w.write_all(buf.as_bytes()).expect("write csv");
    w.flush().expect("flush csv");
}

fn export_in(root: &Path) -> config::Export {
    let folder = config::load_folder(root);
    match folder.export(EXPORT) {
        Ok(e) => e.clone(),
        Err(e) => panic!("bench export: {e}"),
    }
}

fn runner_in(root: &Path, fast_client: bool) -> Runner {
    let settings = config::load_settings(root);
    assert!(settings.errors.is_empty(), "{:?}", settings.errors);
    let runner = Runner::new(RunnerPaths::new(root, &settings.daemon));
    if fast_client {
        runner.with_client_tuning(|c| {
            c.poll_interval = Duration::from_millis(20);
            c.backoff_base = Duration::from_millis(20);
            // The unthrottled simulator has no bulk window either.
            c.bulk_per_minute = 100_000;
            c.bulk_single_per_minute = 100_000;
        })
    } else {
        runner
    }
}

/// Resident set (VmRSS) or its peak (VmHWM) of this process, MB.
pub fn proc_status_mb(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// User + system CPU time of this process so far.
pub fn cpu_time() -> Option<Duration> {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return None;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Some(tv(ru.ru_utime) + tv(ru.ru_stime))
}

/// The measured step: `plan` (read + state + plan, `Runner::plan`), `run`
/// (`Runner::run`), or `soak` (`runs` runs of one `Runner`, the segment
/// changing between them, RSS sampled after each).
async fn run_in_process(root: &Path, kind: &str, fast_client: bool, runs: u32) -> RunFigures {
    let runner = runner_in(root, fast_client);
    let export = export_in(root);
    let started = Instant::now();
    let mut f = RunFigures::default();
    match kind {
        "plan" => {
            let r = runner.plan(&export, false, false).await.expect("plan");
            f.wall = started.elapsed();
            f.outcome = "planned".into();
            f.profiles = r.segment.profiles.len() as u64;
            f.added = r.plan.adds.len() as u64;
            f.updated = r.plan.updates.len() as u64;
            f.removed = r.plan.removals.len() as u64;
            f.unchanged = r.plan.unchanged;
            f.full_read = r.full_read;
            f.api_requests = r.api_requests;
        }
        "run" => {
            let r = run_once(&runner, &export).await;
            f.wall = started.elapsed();
            fill(&mut f, &r);
        }
        "soak" => {
            let seg = root.join("segments").join(format!("{EXPORT}.csv"));
            let n = std::fs::read_to_string(root.join("soak.n"))
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(100);
            let runs = if runs == 0 {
                std::fs::read_to_string(root.join("soak.runs"))
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
                    .unwrap_or(20)
            } else {
                runs
            };
            for r in 0..runs {
                write_csv(&seg, soak_segment(n, r));
                let rep = run_once(&runner, &export).await;
                assert_eq!(rep.outcome.as_str(), "success", "soak run {r}");
                fill(&mut f, &rep);
                f.rss_series.push(proc_status_mb("VmRSS:").unwrap_or(0.0));
                f.heap_series.extend(heap_live_mb());
            }
            f.wall = started.elapsed();
        }
        other => panic!("unknown measured step {other}"),
    }
    f
}

async fn run_once(runner: &Runner, export: &config::Export) -> acsync::run::RunReport {
    runner
        .run(
            export,
            Trigger::Manual,
            RunOptions::default(),
            CancellationToken::new(),
        )
        .await
        .expect("run starts")
}

fn fill(f: &mut RunFigures, r: &acsync::run::RunReport) {
    let l = &r.last_run;
    f.outcome = r.outcome.as_str().to_owned();
    f.profiles = l.profiles;
    f.added = l.added;
    f.updated = l.updated;
    f.removed = l.removed;
    f.unchanged = l.unchanged;
    f.full_read = l.full_read;
    f.api_requests = l.api_requests;
}

/// Run `r` of the soak: a window of `n` profiles sliding by 2% a run, and
/// 2% of them renamed, so every run adds, updates and removes a little.
fn soak_segment(n: u64, r: u32) -> impl Iterator<Item = (u64, u32)> {
    let step = (n / 50).max(1);
    let start = u64::from(r) * step;
    (start..start + n).map(move |i| (i, u32::from((i + u64::from(r)) % 50 == 0)))
}

/// The child-process entry point: `--child KIND ROOT [--fast-client]`.
/// Prints `BENCH-RESULT {json}` with the figures and this process's peak RSS.
pub fn child_main(args: &[String]) -> std::process::ExitCode {
    let (Some(kind), Some(root)) = (args.first(), args.get(1)) else {
        eprintln!("usage: --child plan|run|soak ROOT [--fast-client]");
        return std::process::ExitCode::from(2);
    };
    let fast = args.iter().any(|a| a == "--fast-client");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut f = rt.block_on(run_in_process(Path::new(root), kind, fast, 0));
    f.peak_rss_mb = proc_status_mb("VmHWM:");
    f.cpu = cpu_time();
    println!("BENCH-RESULT {}", f.to_json());
    std::process::ExitCode::SUCCESS
}

// ------------------------------------------------------------------- cases

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Wall time, with the CPU time beside it when measured.
fn wall_cpu(f: &RunFigures) -> String {
    match f.cpu {
        Some(cpu) => format!("{} (CPU {})", secs(f.wall), secs(cpu)),
        None => secs(f.wall),
    }
}

fn mb(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a (in-process)".into(), |v| format!("{v:.0} MB"))
}

fn judged(v: Option<f64>, max: f64) -> Option<bool> {
    v.map(|v| v <= max)
}

/// The share of bulk requests and limit answers in a ledger.
fn writes_of(l: &Ledger) -> u64 {
    l.writes
}

fn limit_answers(l: &Ledger) -> u64 {
    l.rate_limited_429 + l.bulk_rate_limited_400
}

fn count(l: &Ledger, endpoint: &str) -> u64 {
    l.by_endpoint.get(endpoint).copied().unwrap_or(0)
}

/// Item 1: read a `big`-row CSV, load `big` members, plan (0.5% joined,
/// 0.5% left, 1% changed). `Runner::plan`: no request, nothing written.
pub async fn item1_plan(sizes: &Sizes, exec: &Exec) -> Vec<Metric> {
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
pub async fn item2_initial_export(sizes: &Sizes, exec: &Exec) -> Vec<Metric> {
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
    let wall = f.wall.as_secs_f64();
    let floor = export_floor(batches, 3, 5.0, 100);
    let floor_1m = export_floor(1_000_000u64.div_ceil(250), 3, 5.0, 100);
    let real = sizes.real_limits;
    let ratio = wall / floor;
    let polls = count(&l, "GET /import/info");
    vec![
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
                (2 * n) as f64 / l.total.max(1) as f64,
                2_000_000.0 / 5.0 / 3600.0
            ),
            "",
            None,
        ),
        metric(2, "initial export: peak RSS", mb(f.peak_rss_mb), "", None),
    ]
}

/// Item 3: a run over `big` synced profiles with nothing changed, between full reads.
pub async fn item3_no_change(sizes: &Sizes, exec: &Exec) -> Vec<Metric> {
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
pub async fn item4_churn(sizes: &Sizes, exec: &Exec) -> Vec<Metric> {
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
            "churn: wall / limit answers",
            format!("{} / {}", wall_cpu(&f), limit_answers(&l)),
            "",
            None,
        ),
        metric(4, "churn: peak RSS", mb(f.peak_rss_mb), "", None),
    ]
}

/// Item 5: a full read of a `read`-member list (the state is new, so the
/// run reads the list in full; the segment matches it, so nothing is written).
pub async fn item5_full_read(sizes: &Sizes, exec: &Exec) -> Vec<Metric> {
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
    // empty page that ends each of the four status reads, and the
    // cross-check of 5 sampled active members, at 5 a second.
    let fixed = 1 + 4 + 5;
    let floor = (pages + fixed) as f64 / 5.0;
    let real = sizes.real_limits;
    vec![
        metric(
            5,
            &format!("full read of {n} members: requests"),
            format!("{} (ceil(n/100) = {pages}; writes {})", l.total, l.writes),
            "ceil(n/100) + 10 (list, 4 status reads' ends, 5 cross-checks)",
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
            format!(
                "{}; {}",
                (l.by_endpoint.iter())
                    .map(|(e, n)| format!("{e} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                limit_answers(&l)
            ),
            "",
            None,
        ),
        metric(5, "full read: peak RSS", mb(f.peak_rss_mb), "", None),
    ]
}

/// Item 7: `soak_runs` consecutive small runs by one `Runner`, as the daemon does.
pub async fn item7_soak(sizes: &Sizes, exec: &Exec) -> Vec<Metric> {
    let w = World::new(false).await;
    std::fs::write(w.root().join("soak.n"), sizes.soak_profiles.to_string()).expect("soak.n");
    std::fs::write(w.root().join("soak.runs"), sizes.soak_runs.to_string()).expect("soak.runs");
    let f = w.measure(exec, "soak", true).await;
    let s = &f.rss_series;
    assert_eq!(s.len(), sizes.soak_runs as usize);
    // After a warm-up (allocator arenas, statement caches, connection pool),
    // the resident set must stay flat: compare the first tenth with the last.
    let tenth = (s.len() / 10).max(1);
    let early = s[tenth - 1..2 * tenth - 1]
        .iter()
        .copied()
        .fold(f64::MIN, f64::max);
    let late = s[s.len() - tenth..]
        .iter()
        .copied()
        .fold(f64::MIN, f64::max);
    let growth = late - early;
    let in_process = matches!(exec, Exec::InProcess);
    let deciles: Vec<String> = (s.chunks(tenth))
        .map(|c| format!("{:.1}", c.iter().copied().fold(f64::MIN, f64::max)))
        .collect();
    let heap = &f.heap_series;
    let heap_line = if heap.len() == s.len() {
        let (a, b) = (heap[tenth - 1], heap[heap.len() - 1]);
        format!("{a:.2} → {b:.2} MB ({:+.0} kB)", (b - a) * 1024.0)
    } else {
        "n/a (in-process)".into()
    };
    vec![
        metric(
            7,
            "soak: RSS by tenth of the runs, MB",
            deciles.join(" "),
            "",
            None,
        ),
        metric(
            7,
            "soak: heap in use (live allocations) after warm-up → end",
            heap_line,
            "no growth (a leak would show here)",
            None,
        ),
        metric(
            7,
            &format!("{} runs in one process: RSS after warm-up → end", s.len()),
            format!("{early:.1} → {late:.1} MB ({growth:+.1} MB)"),
            "no growth beyond noise (≤ 2 MB)",
            (!in_process).then_some(growth <= 2.0),
        ),
        metric(
            7,
            "soak: wall per run",
            format!("{:.0} ms", f.wall.as_secs_f64() * 1000.0 / s.len() as f64),
            "",
            None,
        ),
    ]
}

// ------------------------------------------------------------ the daemon

/// `acsync daemon` as a real process (the binary cargo built beside this
/// suite), reporting to a notify socket this process owns and drains as
/// systemd would: a unix datagram socket holds only a few unread messages
/// (`net.unix.max_dgram_qlen`, 10 by default), after which the sender blocks.
struct DaemonProc {
    child: std::process::Child,
    /// Every notify line received, in order.
    notes: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop_drain: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _sock_dir: tempfile::TempDir,
}

impl DaemonProc {
    fn start(root: &Path) -> DaemonProc {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let sock_dir = tempfile::tempdir().expect("tempdir");
        let sock = sock_dir.path().join("notify.sock");
        let notify = std::os::unix::net::UnixDatagram::bind(&sock).expect("notify socket");
        notify
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("socket timeout");
        let notes = Arc::new(Mutex::new(Vec::new()));
        let stop_drain = Arc::new(AtomicBool::new(false));
        let (n, stop) = (notes.clone(), stop_drain.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stop.load(Ordering::Relaxed) {
                if let Ok(len) = notify.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..len]).into_owned();
                    let mut n = n.lock().unwrap_or_else(|p| p.into_inner());
                    n.extend(text.lines().map(str::to_owned));
                }
            }
        });
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_acsync"))
            .arg("daemon")
            .arg("--config-dir")
            .arg(root)
            .env("NOTIFY_SOCKET", &sock)
            .env("RUST_LOG", "info,acsync::run=debug")
            .env_remove("ACSYNC_CONFIG_DIR")
            .stdout(std::process::Stdio::null())
            .stderr(
                // The daemon's log stays in its config folder (kept with
                // ACSYNC_BENCH_KEEP), for when a measurement looks odd.
                std::fs::File::create(root.join("daemon.log"))
                    .map_or_else(|_| std::process::Stdio::null(), Into::into),
            )
            .spawn()
            .expect("spawn acsync daemon");
        DaemonProc {
            child,
            notes,
            stop_drain,
            _sock_dir: sock_dir,
        }
    }

    /// Blocks until a notify line equals `needle`.
    fn wait_notify(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let seen = (self.notes.lock())
                .map(|n| n.iter().any(|l| l == needle))
                .unwrap_or(false);
            if seen {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    fn proc_file(&self, name: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{name}", self.child.id())).unwrap_or_default()
    }

    /// VmRSS or VmHWM of the daemon, MB.
    fn status_mb(&self, key: &str) -> f64 {
        let status = self.proc_file("status");
        (status.lines().find(|l| l.starts_with(key)))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// User + system CPU time of the daemon (all its threads).
    fn cpu(&self) -> Duration {
        let stat = self.proc_file("stat");
        // Fields after the parenthesised command name; utime and stime are
        // the 14th and 15th fields of the line, in clock ticks.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
        Duration::from_secs_f64(ticks as f64 / hz)
    }

    /// SIGTERM and wait (bounded); the exit code.
    fn stop(mut self) -> Option<i32> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for DaemonProc {
    fn drop(&mut self) {
        (self.stop_drain).store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An export file `exports/NAME.toml` of `w`'s list with its own schedule and segment.
fn write_daemon_export(w: &World, name: &str, cron: &str, segment: &str) {
    let text = format!(
        "connection = \"sim\"\nlist_id = {}\nschedule = \"{cron}\"\n\n[source]\nkind = \"csv\"\n\
         path = \"../segments/{segment}.csv\"\n\n[mapping]\nemail = \"email\"\n\
         first_name = \"first_name\"\nlast_name = \"last_name\"\nphone = \"phone\"\n",
        w.list
    );
    std::fs::write(w.root().join("exports").join(format!("{name}.toml")), text)
        .expect("export file");
}

fn status_next_run(w: &World, name: &str) -> Option<String> {
    let path = w.root().join("exports").join(format!("{name}.status.json"));
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["next_run"].as_str().map(str::to_owned)
}

fn status_started(w: &World, name: &str) -> Option<String> {
    let path = w.root().join("exports").join(format!("{name}.status.json"));
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["last_run"]["finished_at"].as_str()?;
    v["last_run"]["started_at"].as_str().map(str::to_owned)
}

/// Item 6: a daemon over `exports` export files whose schedules never fire
/// during the measurement: start-up to `READY=1`, CPU while idle for
/// `idle`, peak RSS, and how long an edited schedule takes to be in force
/// (the status file's `next_run` changes).
pub async fn item6_daemon(exports: usize, idle: Duration) -> Vec<Metric> {
    let w = World::new(false).await;
    std::fs::remove_file(w.root().join("exports").join(format!("{EXPORT}.toml"))).ok();
    write_csv(&w.segment_path(), (0..50).map(|i| (i, 0)));
    // Every export on New Year's Day at midnight: never during the run.
    for i in 0..exports {
        write_daemon_export(&w, &format!("e{i:04}"), "0 0 1 1 *", EXPORT);
    }
    let started = Instant::now();
    let d = DaemonProc::start(w.root());
    let d = tokio::task::spawn_blocking(move || {
        let ok = d.wait_notify("READY=1", Duration::from_secs(120));
        (d, ok)
    })
    .await
    .expect("waiter");
    let (d, ready) = d;
    assert!(ready, "daemon never said READY=1");
    let to_ready = started.elapsed();
    // Let start-up work (status files) settle, then measure idle CPU.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu0 = d.cpu();
    tokio::time::sleep(idle).await;
    let idle_cpu = d.cpu().saturating_sub(cpu0);
    let idle_pct = idle_cpu.as_secs_f64() / idle.as_secs_f64() * 100.0;
    // Edit one file's schedule; its status file shows the new next_run.
    let victim = format!("e{:04}", exports / 2);
    let before = status_next_run(&w, &victim);
    assert!(before.is_some(), "status file of {victim} has a next_run");
    write_daemon_export(&w, &victim, "0 0 2 2 *", EXPORT);
    let edited = Instant::now();
    let mut in_force = None;
    while edited.elapsed() < Duration::from_secs(30) {
        if status_next_run(&w, &victim) != before {
            in_force = Some(edited.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let peak = d.status_mb("VmHWM:");
    let rss = d.status_mb("VmRSS:");
    let code = tokio::task::spawn_blocking(move || d.stop())
        .await
        .expect("stopper");
    assert_eq!(code, Some(0), "daemon exits 0 on SIGTERM");
    let strict = exports >= 1000;
    vec![
        metric(
            6,
            &format!("daemon, {exports} exports: start-up to READY=1"),
            secs(to_ready),
            "",
            None,
        ),
        metric(
            6,
            &format!("daemon: idle CPU over {:.0} s", idle.as_secs_f64()),
            format!("{:.2} s ({idle_pct:.2}% of a core)", idle_cpu.as_secs_f64()),
            "near zero (≤ 1%)",
            strict.then_some(idle_pct <= 1.0),
        ),
        metric(
            6,
            "daemon: peak RSS (RSS at the end)",
            format!("{peak:.0} MB ({rss:.0} MB)"),
            "≤ 100 MB",
            strict.then_some(peak <= 100.0),
        ),
        metric(
            6,
            "daemon: edit one file → new schedule in force",
            in_force.map_or_else(|| "never (30 s)".into(), secs),
            "≤ 2 s",
            Some(in_force.is_some_and(|t| t <= Duration::from_secs(2))),
        ),
    ]
}

/// Item 7 through the daemon: `runs` scheduled runs (four exports due
/// every second, their segments changing as they go) in one daemon
/// process; its RSS after the first tenth of the runs against the last.
pub async fn item7_daemon_soak(runs: u32, profiles: u64) -> Vec<Metric> {
    let w = World::new(false).await;
    std::fs::remove_file(w.root().join("exports").join(format!("{EXPORT}.toml"))).ok();
    let names: Vec<String> = (0..4).map(|i| format!("s{i}")).collect();
    for (k, name) in names.iter().enumerate() {
        let seg = w.root().join("segments").join(format!("{name}.csv"));
        write_csv(
            &seg,
            soak_segment(profiles, 0).map(|(i, v)| (i + k as u64 * 1_000_000, v)),
        );
        write_daemon_export(&w, name, "* * * * * *", name);
    }
    let d = DaemonProc::start(w.root());
    let d = tokio::task::spawn_blocking(move || {
        let ok = d.wait_notify("READY=1", Duration::from_secs(60));
        (d, ok)
    })
    .await
    .expect("waiter");
    let (d, ready) = d;
    assert!(ready, "daemon never said READY=1");
    let mut last: Vec<Option<String>> = vec![None; names.len()];
    let mut done = 0u32;
    let mut series: Vec<(u32, f64)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(u64::from(runs) + 120);
    let mut round = 0u32;
    while done < runs && Instant::now() < deadline {
        for (k, name) in names.iter().enumerate() {
            let now = status_started(&w, name);
            if now.is_some() && now != last[k] {
                last[k] = now;
                done += 1;
                // The next run of this export sees a changed segment.
                round += 1;
                let seg = w.root().join("segments").join(format!("{name}.csv"));
                write_csv(
                    &seg,
                    soak_segment(profiles, round).map(|(i, v)| (i + k as u64 * 1_000_000, v)),
                );
            }
        }
        series.push((done, d.status_mb("VmRSS:")));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let peak = d.status_mb("VmHWM:");
    let code = tokio::task::spawn_blocking(move || d.stop())
        .await
        .expect("stopper");
    assert_eq!(code, Some(0), "daemon exits 0 on SIGTERM");
    assert!(done >= runs, "only {done} runs in time");
    let tenth = (runs / 10).max(1);
    let max_where = |lo: u32, hi: u32| {
        (series.iter())
            .filter(|(n, _)| *n >= lo && *n <= hi)
            .map(|(_, r)| *r)
            .fold(0.0_f64, f64::max)
    };
    let early = max_where(tenth, 2 * tenth);
    let late = max_where(runs - tenth, u32::MAX);
    let growth = late - early;
    let deciles: Vec<String> = (1..=10)
        .map(|k| format!("{:.1}", max_where((k - 1) * tenth, k * tenth)))
        .collect();
    vec![
        metric(
            7,
            "daemon: RSS by tenth of the runs, MB",
            deciles.join(" "),
            "",
            None,
        ),
        metric(
            7,
            &format!("daemon: {done} scheduled runs: RSS after warm-up → end (peak)"),
            format!("{early:.1} → {late:.1} MB ({growth:+.1} MB; peak {peak:.0} MB)"),
            "no growth beyond noise (≤ 2 MB)",
            (runs >= 200).then_some(growth <= 2.0),
        ),
    ]
}
