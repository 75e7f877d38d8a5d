//! A throwaway PostgreSQL server for the postgres-source tests and the
//! `sql_source` bench: `initdb` into a temporary folder, `postgres` on a
//! free port of 127.0.0.1 (and a socket in that folder), TLS on with a
//! certificate made for the run, stopped at the end.
//!
//! - Binaries: `initdb`/`postgres` on PATH, else the newest
//!   `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package, which
//!   `.ci/run` installs when neither is there).
//! - Root: `initdb` and `postgres` refuse to run as root, and tests and CI
//!   run as root; so when the effective user is root both run as `nobody`
//!   (`setuid`/`setgid` in the child, supplementary groups dropped), with
//!   the temporary folder handed to that user.
//! - One server per process ([`shared`]), started on first use; each test
//!   takes its own database ([`PgServer::create_db`]). It is stopped and its
//!   folder removed when the process exits (an `atexit` hook: a `static` is
//!   never dropped) or when a [`PgServer`] is dropped; if the process dies
//!   without exiting (SIGKILL), the parent-death signal stops `postgres`
//!   and the next start removes the folder left behind.
//! - No binaries: [`shared`] prints why and returns `None` so the tests say
//!   they did not run; under CI (`CI=true`) it panics instead, so a CI
//!   machine without PostgreSQL fails rather than passes silently.
#![allow(dead_code)]

use std::io::Error;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Name prefix of the temporary folders, to find stale ones.
const PREFIX: &str = "acsync-pg-";
/// A role that must log in with a password (the others are trusted).
pub const PW_USER: &str = "acsync_pw";
pub const PW_PASSWORD: &str = "s3cret-Pa55word";

pub struct PgServer {
    dir: PathBuf,
    pub port: u16,
    child: Mutex<Option<Child>>,
    /// The CA certificate that signed the server's (for `sslrootcert`).
    pub ca_cert: Option<PathBuf>,
}

static SHARED: OnceLock<Option<PgServer>> = OnceLock::new();

/// The process's server, started on first use; `None` (after saying so)
/// when no PostgreSQL binaries exist outside CI.
pub fn shared() -> Option<&'static PgServer> {
    SHARED
        .get_or_init(|| {
            let Some(bin) = find_bin_dir() else {
                let msg = "PostgreSQL binaries (initdb, postgres) not found on PATH or under /usr/lib/postgresql/*/bin: the postgres-source tests did NOT run (apt-get install postgresql)";
                assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
                say(&format!("SKIPPED: {msg}"));
                return None;
            };
            let server = PgServer::start(&bin).unwrap_or_else(|e| panic!("starting PostgreSQL: {e}"));
            // SAFETY: registering a plain `extern "C"` function.
            unsafe { libc::atexit(stop_shared) };
            Some(server)
        })
        .as_ref()
}

/// To the real stderr: libtest captures `eprintln!` of passing tests, and a
/// skip must be seen.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

extern "C" fn stop_shared() {
    if let Some(Some(server)) = SHARED.get() {
        server.stop();
    }
}

/// Where `initdb` and `postgres` are.
pub fn find_bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
    });
    on_path.or_else(|| {
        let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
            .filter(|(_, bin)| bin.join("initdb").is_file())
            .collect();
        dirs.sort();
        dirs.pop().map(|(_, bin)| bin)
    })
}

impl PgServer {
    /// initdb, TLS files, configuration, start; waits until it accepts connections.
    pub fn start(bin: &Path) -> std::io::Result<PgServer> {
        remove_stale();
        let dir = tempfile::Builder::new().prefix(PREFIX).tempdir()?.keep();
        let owner = unprivileged();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
        }
        let data = dir.join("data");
        let mut initdb = as_owner(Command::new(bin.join("initdb")), owner, &dir);
        initdb.args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "-D",
        ]);
        run(initdb.arg(&data))?;
        let ca_cert = make_certs(&data, owner);
        std::fs::write(
            data.join("pg_hba.conf"),
            format!(
                "local all all trust\nhost all {PW_USER} 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n"
            ),
        )?;
        let port = free_port()?;
        let child = spawn_postgres(bin, &dir, port, ca_cert.is_some(), owner)?;
        let server = PgServer {
            dir,
            port,
            child: Mutex::new(Some(child)),
            ca_cert,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// A connection URL for `db` as the trusted superuser; `params` are
    /// appended (e.g. `sslmode=require`).
    pub fn url(&self, db: &str, params: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}?{params}", self.port)
    }

    /// Creates database `name` (dropping an older one) and runs `setup` in it.
    pub async fn create_db(&self, name: &str, setup: &str) -> String {
        use sqlx::{AssertSqlSafe, Connection, Executor};
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres", "sslmode=disable"))
            .await
            .expect("admin connection");
        // Two requests: a multi-statement one is an implicit transaction,
        // where CREATE DATABASE cannot run.
        for sql in [
            format!("DROP DATABASE IF EXISTS \"{name}\""),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            (admin.execute(sqlx::raw_sql(AssertSqlSafe(sql))).await).expect("create database");
        }
        let url = self.url(name, "sslmode=disable");
        if !setup.is_empty() {
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            let setup = setup.to_owned();
            (conn.execute(sqlx::raw_sql(AssertSqlSafe(setup))).await).expect("setup SQL");
        }
        url
    }

    /// Fast shutdown (SIGINT), SIGKILL after 10 s; then removes the folder.
    pub fn stop(&self) {
        let child = self.child.lock().map(|mut c| c.take()).unwrap_or(None);
        if let Some(mut child) = child {
            let pid = child.id() as libc::pid_t;
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGINT) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// `postmaster.pid`'s status line says `ready` once connections are accepted.
    fn wait_ready(&self) -> std::io::Result<()> {
        let pid_file = self.dir.join("data/postmaster.pid");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = std::fs::read_to_string(&pid_file).unwrap_or_default();
            if status.lines().nth(7).is_some_and(|l| l.trim() == "ready") {
                return Ok(());
            }
            let exited = self
                .child
                .lock()
                .ok()
                .and_then(|mut c| c.as_mut().and_then(|c| c.try_wait().ok().flatten()));
            if exited.is_some() || Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
                return Err(Error::other(format!(
                    "postgres did not start: {exited:?}\n{log}"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `(uid, gid)` of `nobody` when running as root: PostgreSQL refuses root.
fn unprivileged() -> Option<(u32, u32)> {
    // SAFETY: plain libc queries; getpwnam's result is read before any other call.
    unsafe {
        if libc::geteuid() != 0 {
            return None;
        }
        let pw = libc::getpwnam(c"nobody".as_ptr());
        assert!(
            !pw.is_null(),
            "running as root and no `nobody` user to run PostgreSQL as"
        );
        Some(((*pw).pw_uid, (*pw).pw_gid))
    }
}

/// `c` as `owner` (std drops supplementary groups when root changes uid),
/// run in `cwd`: the test's own folder may be closed to that user (a CI
/// checkout under /root), and initdb fails if it cannot see where it is.
fn as_owner(mut c: Command, owner: Option<(u32, u32)>, cwd: &Path) -> Command {
    if let Some((uid, gid)) = owner {
        c.uid(uid).gid(gid);
    }
    c.current_dir(cwd).env("LC_ALL", "C").env_remove("PGDATA");
    c.stdin(Stdio::null());
    c
}

fn run(c: &mut Command) -> std::io::Result<()> {
    let out = c.output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::other(format!(
        "{c:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    )))
}

/// A CA and a server certificate for 127.0.0.1/localhost, signed by it.
/// `None` (TLS off) when there is no `openssl` command.
fn make_certs(data: &Path, owner: Option<(u32, u32)>) -> Option<PathBuf> {
    let ssl = |args: &[&str]| {
        let mut c = Command::new("openssl");
        c.args(args).current_dir(data).stdin(Stdio::null());
        run(&mut c)
    };
    let steps = [
        "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=acsync-test-CA -keyout ca.key -out ca.crt",
        "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr",
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out server.crt -extfile san.ext",
    ];
    std::fs::write(
        data.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .ok()?;
    for step in steps {
        if let Err(e) = ssl(&step.split(' ').collect::<Vec<_>>()) {
            say(&format!("note: no TLS for the test PostgreSQL server: {e}"));
            return None;
        }
    }
    for f in ["server.key", "server.crt", "ca.crt"] {
        let path = data.join(f);
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .ok()?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).ok()?;
        }
    }
    // Readable by this process when it dropped nothing (root reads anything).
    Some(data.join("ca.crt"))
}

fn spawn_postgres(
    bin: &Path,
    dir: &Path,
    port: u16,
    tls: bool,
    owner: Option<(u32, u32)>,
) -> std::io::Result<Child> {
    let log = std::fs::File::create(dir.join("postgres.log"))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir.join("postgres.log"), Some(uid), Some(gid))?;
    }
    let mut c = as_owner(Command::new(bin.join("postgres")), owner, dir);
    c.arg("-D").arg(dir.join("data"));
    c.args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
        .arg(dir);
    // Throwaway data: durability off, small footprint.
    for setting in [
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
        "shared_buffers=32MB",
        "max_connections=60",
    ] {
        c.args(["-c", setting]);
    }
    if tls {
        c.args([
            "-c",
            "ssl=on",
            "-c",
            "ssl_cert_file=server.crt",
            "-c",
            "ssl_key_file=server.key",
        ]);
    }
    c.stdout(log.try_clone()?).stderr(log);
    // SAFETY: prctl is async-signal-safe. Set after the uid change (which
    // would clear it), so postgres is stopped if this process dies unexited.
    unsafe {
        c.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                return Err(Error::last_os_error());
            }
            Ok(())
        });
    }
    spawn_from_lasting_thread(c)
}

/// The parent-death signal fires when the spawning *thread* ends, and test
/// threads end with their test: spawn from a thread that lives as long as
/// the process.
fn spawn_from_lasting_thread(mut c: Command) -> std::io::Result<Child> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("postgres-parent".into())
        .spawn(move || {
            let _ = tx.send(c.spawn());
            loop {
                std::thread::park();
            }
        })?;
    rx.recv().map_err(|_| Error::other("spawner thread died"))?
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Removes folders of earlier runs whose `postgres` is gone (killed runs).
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let pid_file = std::fs::read_to_string(e.path().join("data/postmaster.pid"));
        let alive = match pid_file
            .ok()
            .and_then(|s| s.lines().next()?.trim().parse::<u32>().ok())
        {
            Some(pid) => Path::new(&format!("/proc/{pid}")).exists(),
            // Not started yet, or being set up by another process right now.
            None => e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default() < Duration::from_secs(3600)),
        };
        if !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
