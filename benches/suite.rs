//! The performance suite of issue 6: `cargo bench --bench suite` (full
//! sizes, ~12 minutes, of which items 2 and 5 take ~4 minutes each at
//! ActiveCampaign's real limits) or `cargo bench --bench suite -- --quick`
//! (small and unthrottled, seconds). Prints a table and writes the same
//! figures, with the machine, load, date and commit, to `BENCHMARKS.md`
//! (`--quick` writes `target/BENCHMARKS.quick.md` instead, so a quick look
//! never overwrites the full figures).
//!
//! Options: `--quick`; `--only 1,3` (items to run); `--out PATH`.
//! Every measured run is a child process (this binary with `--child`), so
//! its peak RSS is its own and not the simulator's or the fixtures'.
//!
//! The cases live in `benches/cases/`, which `tests/it/bench_smoke.rs` also
//! runs (tiny, in-process) under `cargo test`.

mod cases;

use std::path::PathBuf;
use std::process::ExitCode;

use cases::{Exec, Metric, Sizes};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        return cases::child_main(&args[i + 1..]);
    }
    // `cargo test --benches` runs bench targets without `--bench`: do the
    // quick configuration then (cargo bench always passes `--bench`).
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let only: Option<Vec<u8>> = value_of(&args, "--only")
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect());
    let sizes = if quick { Sizes::quick() } else { Sizes::full() };
    let out = value_of(&args, "--out")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            if quick {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/BENCHMARKS.quick.md")
            } else {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md")
            }
        });
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("suite: cannot find its own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let exec = Exec::Child { exe };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let wanted = |item: u8| only.as_ref().is_none_or(|o| o.contains(&item));
    let mut metrics: Vec<Metric> = Vec::new();
    let mut loads: Vec<(u8, String)> = Vec::new();
    let started = std::time::Instant::now();
    rt.block_on(async {
        type Case = for<'a> fn(
            &'a Sizes,
            &'a Exec,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Vec<Metric>> + 'a>,
        >;
        let cases: [(u8, Case); 8] = [
            (1, |s, e| Box::pin(cases::item1_plan(s, e))),
            (3, |s, e| Box::pin(cases::item3_no_change(s, e))),
            (4, |s, e| Box::pin(cases::item4_churn(s, e))),
            (7, |s, e| Box::pin(cases::item7_soak(s, e))),
            (7, |s, _| {
                Box::pin(cases::item7_daemon_soak(s.soak_runs, s.soak_profiles))
            }),
            (6, |s, _| {
                Box::pin(cases::item6_daemon(s.daemon_exports, s.daemon_idle))
            }),
            (2, |s, e| Box::pin(cases::item2_initial_export(s, e))),
            (5, |s, e| Box::pin(cases::item5_full_read(s, e))),
        ];
        for (item, case) in cases {
            if !wanted(item) {
                continue;
            }
            eprintln!("suite: item {item}…");
            let t = std::time::Instant::now();
            let m = case(&sizes, &exec).await;
            loads.push((item, load()));
            for x in &m {
                eprintln!("  {:<60} {}", x.name, x.value);
            }
            eprintln!("  ({:.1} s with setup)", t.elapsed().as_secs_f64());
            metrics.extend(m);
        }
    });
    metrics.sort_by_key(|m| m.item);
    let report = render(&metrics, &loads, quick, started.elapsed().as_secs_f64());
    println!("{report}");
    if let Err(e) = std::fs::write(&out, &report) {
        eprintln!("suite: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("suite: wrote {}", out.display());
    if metrics.iter().any(|m| m.met == Some(false)) {
        eprintln!("suite: some targets were missed (see the table)");
    }
    ExitCode::SUCCESS
}

fn value_of<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

/// `uptime`'s load averages: other work on this machine skews wall times.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".to_string(), |s| s.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!("{cores} cores (nproc), {model}, {mem_gib:.1} GiB memory")
}

fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head} (with uncommitted changes)")
    } else {
        head
    }
}

fn render(metrics: &[Metric], loads: &[(u8, String)], quick: bool, secs: f64) -> String {
    let mut s = String::new();
    s.push_str("# acsync benchmarks\n\n");
    s.push_str(
        "Generated by `cargo bench --bench suite` (see the README's \"Benchmarks\"); \
         every run is the real code path (`Runner::run` / `Runner::plan`) in a child \
         process, against the in-project ActiveCampaign simulator over HTTP on loopback.\n\n",
    );
    if quick {
        s.push_str("**Quick configuration** (small sizes, unthrottled simulator): targets are not judged.\n\n");
    }
    s.push_str(&format!(
        "- Machine: {}\n- Date: {}\n- Commit: {}\n- Suite wall time: {:.0} s\n- Load average (1/5/15 min) after each item: {}\n\n",
        machine(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        commit(),
        secs,
        loads
            .iter()
            .map(|(i, l)| format!("item {i}: {l}"))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    s.push_str("| Item | Metric | Measured | Target | Met |\n|---:|---|---|---|:---:|\n");
    for m in metrics {
        let met = match m.met {
            Some(true) => "yes",
            Some(false) => "**NO**",
            None => "",
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            m.item, m.name, m.value, m.target, met
        ));
    }
    s
}
