//! Security (docs/configuration.md, secrets): the API key never shows in logs (trace
//! included, on success and on a refused key), status files, the state
//! database, any file acsync writes, panic messages or `Debug` output; plain
//! `http://` only to loopback; TLS certificates verified; redirects not
//! followed; loose file modes warned about; status files 0644 and the state
//! folder 0700 whatever the umask.

use std::io::{Read, Write};
use std::net::TcpListener as StdListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use acsync::activecampaign::{Client, ClientConfig};
use acsync::config::{ApiKeySource, Connection};
use acsync::simulator::SimConfig;
use acsync::status::Outcome;

use crate::harness::{World, fast_sim};
use crate::util::bin;

/// The account's key: shaped like ActiveCampaign's (72 hex digits).
const KEY: &str = "5f1c0a9e3b7d4c2a8e6f0b1d3c5a7e9f2b4d6c8a0e1f3b5d7c9a2e4f6b8d0c1a3e5f7b9d";
/// A wrong key (revoked, mistyped): refused with 403.
const WRONG: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d";

/// Pieces of a secret a leak could show: the whole, and its first and last
/// 16 characters (a log that truncates still leaks).
fn fragments(secret: &str) -> [&str; 3] {
    [secret, &secret[..16], &secret[secret.len() - 16..]]
}

/// Where `haystack` holds a piece of `KEY` or `WRONG`, if anywhere.
fn leak_in(haystack: &[u8]) -> Option<&'static str> {
    [KEY, WRONG]
        .into_iter()
        .flat_map(fragments)
        .find(|f| haystack.windows(f.len()).any(|w| w == f.as_bytes()))
}

/// A world whose simulator wants [`KEY`] (kept in `sim.key`).
async fn keyed_world() -> World {
    World::with(SimConfig {
        api_key: KEY.into(),
        ..fast_sim()
    })
    .await
}

/// `acsync.toml` with the connection's key from `key_line`.
fn write_settings_with(w: &World, url: &str, key_line: &str) {
    let toml = format!(
        "[daemon]\nstate_dir = \"state\"\n\n[connections.sim]\nurl = \"{url}\"\n{key_line}\naccept_data_transfer = true\nrequests_per_second = 100\n"
    );
    std::fs::write(w.root().join("acsync.toml"), toml).expect("settings");
}

/// Runs the binary with `RUST_LOG=trace` and `envs`.
fn traced(w: &World, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = w.command(args);
    c.env("RUST_LOG", "trace");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("acsync")
}

fn all_text(out: &Output) -> String {
    format!(
        "exit {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn the_key_never_leaks_into_logs_outputs_status_or_state() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(keyed_world());
    let url = w.sim.base_url();
    let mut people = World::people(0..30);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    let mut outputs: Vec<(String, Output)> = Vec::new();

    // Key from a file: a successful sync, plan, status and check, all at trace.
    let out = traced(&w, &["sync", "vip"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("TRACE"),
        "trace logging is on"
    );
    outputs.push(("sync (file)".into(), out));
    for args in [
        &["plan", "vip", "--json"][..],
        &["status", "--json"],
        &["check"],
    ] {
        outputs.push((args.join(" "), traced(&w, args, &[])));
    }

    // The daemon at trace: one scheduled run with a change, then SIGTERM.
    let export = w.exports().join("vip.toml");
    let hourly = std::fs::read_to_string(&export).expect("export");
    let every_2s = hourly.replace("schedule = \"@hourly\"", "schedule = \"*/2 * * * * *\"");
    std::fs::write(&export, every_2s).expect("schedule");
    people.push(("daemon@example.com".into(), "Daemon".into()));
    w.write_people("vip", &people);
    let daemon = w
        .command(&["daemon"])
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("daemon");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !w.active().contains(&"daemon@example.com".to_string())
        || w.status_json("vip")["state"] != "idle"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon ran the export"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(daemon.id() as libc::pid_t, libc::SIGTERM) };
    let out = daemon.wait_with_output().expect("daemon output");
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TRACE"));
    outputs.push(("daemon (file)".into(), out));
    std::fs::write(&export, hourly).expect("schedule");

    // Key from the environment.
    write_settings_with(&w, &url, "api_key_env = \"ACSYNC_TEST_KEY\"");
    people[3].1 = "Renamed".into();
    w.write_people("vip", &people);
    let out = traced(&w, &["sync", "vip"], &[("ACSYNC_TEST_KEY", KEY)]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    outputs.push(("sync (env)".into(), out));

    // Key from a systemd credential.
    let creds = w.root().join("creds");
    std::fs::create_dir_all(&creds).expect("creds");
    std::fs::write(creds.join("ac-sim"), KEY).expect("credential");
    write_settings_with(&w, &url, "api_key_credential = \"ac-sim\"");
    people.push(("new@example.com".into(), "New".into()));
    w.write_people("vip", &people);
    let creds_dir = creds.to_string_lossy().to_string();
    let out = traced(
        &w,
        &["sync", "vip"],
        &[("CREDENTIALS_DIRECTORY", creds_dir.as_str())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    outputs.push(("sync (credential)".into(), out));

    // A wrong key: refused (403), the run fails and says why, at trace.
    std::fs::write(w.root().join("wrong.key"), WRONG).expect("wrong key");
    write_settings_with(&w, &url, "api_key_file = \"wrong.key\"");
    people.push(("newer@example.com".into(), "Newer".into()));
    w.write_people("vip", &people);
    let out = traced(&w, &["sync", "vip"], &[]);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("refused the API key (403)"), "{text}");
    outputs.push(("sync (refused key)".into(), out));
    let status = w.status_json("vip");
    assert_eq!(status["last_run"]["outcome"], "failed");
    assert!(
        status["last_run"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("403")),
        "{status}"
    );

    // Personal data stays out of logs too: no address in full, even at trace.
    for (what, out) in &outputs {
        let log = String::from_utf8_lossy(&out.stderr);
        for (email, _) in &people {
            assert!(!log.contains(email.as_str()), "{what} logged {email}");
        }
    }
    let mut leaks = Vec::new();
    let mut scanned_bytes = 0;
    for (what, out) in &outputs {
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            scanned_bytes += bytes.len();
            if let Some(f) = leak_in(bytes) {
                leaks.push(format!("{what} {stream}: `{f}`"));
            }
        }
    }
    // Everything acsync wrote under the folder (status files, the state
    // database with its WAL, lock files), except the key files we wrote.
    let mut files = Vec::new();
    files_under(w.root(), &mut files);
    let ours = [
        w.root().join("sim.key"),
        w.root().join("wrong.key"),
        creds.join("ac-sim"),
    ];
    let scanned: Vec<&PathBuf> = files.iter().filter(|f| !ours.contains(f)).collect();
    for f in &scanned {
        let bytes = std::fs::read(f).expect("read");
        scanned_bytes += bytes.len();
        if let Some(piece) = leak_in(&bytes) {
            leaks.push(format!("{}: `{piece}`", f.display()));
        }
    }
    let names: Vec<String> = scanned
        .iter()
        .filter_map(|f| f.strip_prefix(w.root()).ok())
        .map(|f| f.display().to_string())
        .collect();
    for expected in ["state/state.sqlite3", "exports/vip.status.json"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    println!(
        "SECURITY leaked_secrets={} outputs={} files={} bytes_scanned={scanned_bytes} files: {names:?}",
        leaks.len(),
        outputs.len() * 2,
        scanned.len()
    );
    assert!(leaks.is_empty(), "the key leaked: {leaks:#?}");
}

/// A careless caller: `expect` on an API result (its panic message holds the
/// error's `Debug`).
fn unwraps(r: Result<(), acsync::activecampaign::ApiError>) {
    r.expect("a caller that unwraps an API error")
}

fn connection(url: &str, key_file: &Path) -> Connection {
    Connection {
        name: "sim".into(),
        base_url: url.parse().expect("url"),
        api_key: ApiKeySource::File(key_file.to_path_buf()),
        requests_per_second: 100,
        allowed_exports: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_output_errors_and_panics_never_show_the_key() {
    let w = keyed_world().await;
    std::fs::write(w.root().join("wrong.key"), WRONG).expect("key");
    let conn = connection(&w.sim.base_url(), &w.root().join("wrong.key"));
    let secret = conn.read_api_key().expect("key read");
    let cfg = ClientConfig::new(&conn, secret);
    let client = Client::new(cfg.clone()).expect("client");
    // A real refusal of the key, as the server answers it.
    let err = client.get_list(w.list).await.expect_err("403");
    assert_eq!(err.status(), Some(403));

    // A whole failed run: its report and error.
    write_settings_with(&w, &w.sim.base_url(), "api_key_file = \"wrong.key\"");
    w.write_people("vip", &World::people(0..3));
    w.write_export("vip", "");
    let report = w.sync("vip").await;
    assert_eq!(report.outcome, Outcome::Failed);
    let export = w.export("vip");

    let shown = [
        format!("{conn:?}"),
        format!("{cfg:?}"),
        format!("{client:?}"),
        format!("{err:?}"),
        format!("{err}"),
        format!("{report:?}"),
        format!("{export:?}"),
        format!("{:?}", w.status("vip")),
    ];
    for s in &shown {
        assert!(leak_in(s.as_bytes()).is_none(), "leak in {s}");
    }
    assert!(
        shown[1].contains("api_key") && shown[1].contains("REDACTED"),
        "{}",
        shown[1]
    );

    // `unwrap()` on these errors: the panic message is their Debug, checked
    // here for real (the payload is the message).
    let payload = std::panic::catch_unwind(|| unwraps(Err(err))).expect_err("panicked");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("403"), "{message}");
    assert!(leak_in(message.as_bytes()).is_none(), "{message}");
}

#[test]
fn a_key_pasted_as_a_variable_name_is_refused_and_never_echoed() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(keyed_world());
    w.write_people("vip", &World::people(0..3));
    w.write_export("vip", "");
    for line in [
        format!("api_key_env = \"{KEY}\""),
        format!("api_key_credential = \"{KEY}\""),
        format!("api_key_file = \"{KEY}\""),
    ] {
        write_settings_with(&w, &w.sim.base_url(), &line);
        let out = w.acsync(&["check"]);
        let text = all_text(&out);
        assert_eq!(out.status.code(), Some(1), "{line}: {text}");
        assert!(
            text.contains("acsync.toml:6:") && text.contains("looks like an API key itself"),
            "{text}"
        );
        assert!(leak_in(text.as_bytes()).is_none(), "{line}: {text}");
        // `sync` refuses to run the export on the invalid connection.
        let out = w.acsync(&["sync", "vip"]);
        let text = all_text(&out);
        assert_eq!(out.status.code(), Some(1), "{line}: {text}");
        assert!(text.contains("connection `sim` is invalid"), "{text}");
        assert!(leak_in(text.as_bytes()).is_none(), "{line}: {text}");
    }
}

#[test]
fn plain_http_is_refused_except_to_loopback() {
    use acsync::config::values::base_url;
    for url in [
        "http://acme.api-us1.com",
        "http://127.0.0.1.nip.io",
        "http://localhost.example.com",
        "http://10.0.0.1:8080",
    ] {
        let e = base_url(url).expect_err(url);
        assert!(e.contains("plain http://") && e.contains("refused"), "{e}");
    }
    for url in [
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:8080",
        "https://acme.api-us1.com",
        "acme.api-us1.com",
    ] {
        base_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    assert_eq!(
        base_url("acme.api-us1.com").expect("bare").scheme(),
        "https"
    );

    // In a real folder: `check` names the line, `sync` refuses to run.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(keyed_world());
    w.write_people("vip", &World::people(0..3));
    w.write_export("vip", "");
    write_settings_with(&w, "http://acme.api-us1.com", "api_key_file = \"sim.key\"");
    let out = w.acsync(&["check"]);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("acsync.toml:5:7: plain http://"), "{text}");
    let out = w.acsync(&["sync", "vip"]);
    assert_eq!(out.status.code(), Some(1), "{}", all_text(&out));
}

/// A loopback HTTPS server presenting the self-signed certificate of
/// `tests/fixtures/tls/`. Counts completed handshakes and requests read.
struct TlsServer {
    port: u16,
    handshakes_ok: Arc<Mutex<u32>>,
    handshakes_failed: Arc<Mutex<u32>>,
    requests: Arc<Mutex<u32>>,
}

async fn tls_server() -> TlsServer {
    use tokio::io::AsyncReadExt;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::{self, ServerConfig};

    let certs =
        vec![CertificateDer::from_pem_file(crate::util::fixture("tls/cert.pem")).expect("cert")];
    let key = PrivateKeyDer::from_pem_file(crate::util::fixture("tls/key.pem")).expect("key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = TlsServer {
        port,
        handshakes_ok: Arc::default(),
        handshakes_failed: Arc::default(),
        requests: Arc::default(),
    };
    let (ok, failed, requests) = (
        server.handshakes_ok.clone(),
        server.handshakes_failed.clone(),
        server.requests.clone(),
    );
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            match acceptor.accept(tcp).await {
                Ok(mut tls) => {
                    *ok.lock().expect("lock") += 1;
                    let mut buf = [0u8; 1024];
                    if tls.read(&mut buf).await.is_ok_and(|n| n > 0) {
                        *requests.lock().expect("lock") += 1;
                    }
                }
                Err(_) => *failed.lock().expect("lock") += 1,
            }
        }
    });
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_fails_the_run() {
    let server = tls_server().await;
    let w = keyed_world().await;
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("https://{host}:{}", server.port);
        write_settings_with(&w, &url, "api_key_file = \"sim.key\"");
        w.write_people("vip", &World::people(0..3));
        w.write_export("vip", "");
        let r = w.sync("vip").await;
        assert_eq!(r.outcome, Outcome::Failed, "{host}");
        let err = r.last_run.error.clone().unwrap_or_default();
        assert!(
            err.contains("TLS certificate was refused") && err.contains("UnknownIssuer"),
            "{host}: {err}"
        );
        assert!(leak_in(err.as_bytes()).is_none());
    }
    // Refused once per run: a certificate error is not retried.
    assert_eq!(*server.handshakes_failed.lock().expect("lock"), 2);
    assert_eq!(*server.handshakes_ok.lock().expect("lock"), 0);
    assert_eq!(
        *server.requests.lock().expect("lock"),
        0,
        "no request (and no Api-Token) ever crossed the untrusted connection"
    );
}

/// A plain HTTP server on loopback run by a thread: answers every request
/// with `answer` and keeps what it received.
struct RawServer {
    port: u16,
    received: Arc<Mutex<Vec<String>>>,
}

fn raw_server(answer: impl Fn() -> String + Send + 'static) -> RawServer {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { break };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            log.lock()
                .expect("lock")
                .push(String::from_utf8_lossy(&buf).into_owned());
            let _ = s.write_all(answer().as_bytes());
        }
    });
    RawServer { port, received }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_the_token_stays_home() {
    let elsewhere = raw_server(|| {
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".into()
    });
    let target = format!("http://127.0.0.1:{}/api/3/lists/1", elsewhere.port);
    let redirector = raw_server(move || {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    });
    let w = keyed_world().await;
    let url = format!("http://127.0.0.1:{}", redirector.port);
    write_settings_with(&w, &url, "api_key_file = \"sim.key\"");
    w.write_people("vip", &World::people(0..3));
    w.write_export("vip", "");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Failed);
    let err = r.last_run.error.clone().unwrap_or_default();
    assert!(err.contains("302"), "{err}");
    let asked = redirector.received.lock().expect("lock").clone();
    assert_eq!(
        asked.len(),
        1,
        "a redirect is an answer, not retried: {asked:?}"
    );
    assert!(
        asked[0].to_lowercase().contains("api-token:"),
        "the first server did get the token"
    );
    assert!(
        elsewhere.received.lock().expect("lock").is_empty(),
        "the redirect target never got a request, let alone the Api-Token"
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[test]
fn readable_key_file_and_settings_get_a_warning_not_an_error() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(keyed_world());
    w.write_people("vip", &World::people(0..3));
    w.write_export("vip", "");
    let key = w.root().join("sim.key");
    let settings = w.root().join("acsync.toml");
    let chmod = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod")
    };

    chmod(&key, 0o644);
    chmod(&settings, 0o644);
    let out = w.acsync(&["check"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning never fails the check: {err}"
    );
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning:")).collect();
    assert_eq!(warnings.len(), 2, "{err}");
    assert!(
        warnings[0].contains("acsync.toml is readable by every user (mode 0644)"),
        "{err}"
    );
    assert!(
        warnings[1].contains("sim.key is readable by other users (mode 0644)")
            && warnings[1].contains("chmod 600"),
        "{err}"
    );
    // The run reads the key all the same, and logs the warning.
    let out = w.acsync(&["sync", "vip"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("WARN") && err.contains("sim.key is readable"),
        "{err}"
    );

    // root:acsync 0640, as the package installs them: no warning for either.
    chmod(&key, 0o640);
    chmod(&settings, 0o640);
    let out = w.acsync(&["check"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!err.contains("warning"), "{err}");

    chmod(&key, 0o600);
    let out = w.acsync(&["check"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!err.contains("warning"), "{err}");
    let out = w.acsync(&["sync", "vip"]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("readable"),
        "{}",
        all_text(&out)
    );
}

/// Runs `acsync sync vip` under `umask`.
fn sync_with_umask(w: &World, umask: &str) -> Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$@\""))
        .arg("sh")
        .arg(bin())
        .args(["sync", "vip", "--config-dir"])
        .arg(w.root())
        .env_remove("RUST_LOG")
        .env_remove("ACSYNC_CONFIG_DIR")
        .output()
        .expect("sh")
}

#[test]
fn status_files_are_0644_and_the_state_folder_0700_whatever_the_umask() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for umask in ["000", "077", "022"] {
        let w = rt.block_on(keyed_world());
        w.write_people("vip", &World::people(0..3));
        w.write_export("vip", "");
        let out = sync_with_umask(&w, umask);
        assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
        let status = w.exports().join("vip.status.json");
        assert_eq!(mode(&status), 0o644, "status file, umask {umask}");
        assert_eq!(mode(&w.state_dir()), 0o700, "state folder, umask {umask}");
        assert_eq!(
            mode(&w.state_dir().join("locks")),
            0o700,
            "locks folder, umask {umask}"
        );
    }
}
