//! `acsync daemon` as a real child process, for the cases that measure the
//! daemon (items 6, 7 and 8): its notify socket, its `/proc` figures, its
//! export files and the status files it writes.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::world::World;

/// `acsync daemon` as a real process (the binary cargo built beside this
/// suite), reporting to a notify socket this process owns and drains as
/// systemd would: a unix datagram socket holds only a few unread messages
/// (`net.unix.max_dgram_qlen`, 10 by default), after which the sender blocks.
pub struct DaemonProc {
    child: std::process::Child,
    /// Every notify line received, in order.
    notes: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop_drain: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _sock_dir: tempfile::TempDir,
}

impl DaemonProc {
    pub fn start(root: &Path) -> DaemonProc {
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
            // `ACSYNC_BENCH_LOG`: another filter, e.g.
            // `info,acsync::run=debug,acsync::pace=trace` (each send's time).
            .env(
                "RUST_LOG",
                std::env::var("ACSYNC_BENCH_LOG")
                    .unwrap_or_else(|_| "info,acsync::run=debug".into()),
            )
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

    /// Starts the daemon on `root` and waits (off the async workers) for
    /// its `READY=1`, at most `within`.
    pub async fn start_ready(root: &Path, within: Duration) -> DaemonProc {
        let d = DaemonProc::start(root);
        let (d, ready) = tokio::task::spawn_blocking(move || {
            let ok = d.wait_notify("READY=1", within);
            (d, ok)
        })
        .await
        .expect("waiter");
        assert!(ready, "daemon never said READY=1");
        d
    }

    /// Stops the daemon (off the async workers) and checks it exits 0.
    pub async fn stop_cleanly(self) {
        let code = tokio::task::spawn_blocking(move || self.stop())
            .await
            .expect("stopper");
        assert_eq!(code, Some(0), "daemon exits 0 on SIGTERM");
    }

    /// Blocks until a notify line equals `needle`.
    fn wait_notify(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let seen = self
                .notes
                .lock()
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
    pub fn status_mb(&self, key: &str) -> f64 {
        let status = self.proc_file("status");
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// User + system CPU time of the daemon (all its threads).
    pub fn cpu(&self) -> Duration {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let ticks = stat_cpu_ticks(&self.proc_file("stat")).unwrap_or(0);
        Duration::from_secs_f64(ticks as f64 / hz)
    }

    /// Sends SIGHUP (reload the folder), as `systemctl reload` does.
    pub fn reload(&self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGHUP) };
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
        self.stop_drain
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An export file `exports/NAME.toml` of `w`'s list with its own schedule and segment.
/// An export of `segment` to `list` on `cron`. `max_removals = "100%"`: a
/// run that falls behind its segment's changes is never blocked (a blocked
/// run writes nothing, which would flatter item 7).
pub fn write_daemon_export(w: &World, name: &str, list: u64, cron: &str, segment: &str) {
    let text = format!(
        "connection = \"sim\"\nlist_id = {list}\nschedule = \"{cron}\"\nmax_removals = \"100%\"\n\n\
         [source]\nkind = \"csv\"\npath = \"../segments/{segment}.csv\"\n\n[mapping]\n\
         email = \"email\"\nfirst_name = \"first_name\"\nlast_name = \"last_name\"\nphone = \"phone\"\n"
    );
    std::fs::write(w.root().join("exports").join(format!("{name}.toml")), text)
        .expect("export file");
}

pub fn status_next_run(w: &World, name: &str) -> Option<String> {
    let path = w.root().join("exports").join(format!("{name}.status.json"));
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["next_run"].as_str().map(str::to_owned)
}

pub fn status_started(w: &World, name: &str) -> Option<String> {
    let path = w.root().join("exports").join(format!("{name}.status.json"));
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["last_run"]["finished_at"].as_str()?;
    v["last_run"]["started_at"].as_str().map(str::to_owned)
}

/// utime + stime, in clock ticks, of a `/proc/PID/stat` line: its 14th and
/// 15th fields, counted by position after the parenthesised command name
/// (fields 3.. from there). By position, not by parsing every field as a
/// number: `tpgid` (field 8) is -1 for a process without a terminal, and
/// skipping it would shift utime + stime to stime + cutime.
pub fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = stat.rsplit_once(')')?.1;
    let field = |n: usize| rest.split_whitespace().nth(n - 3)?.parse::<u64>().ok();
    Some(field(14)? + field(15)?)
}
