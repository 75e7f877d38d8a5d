//! Fitting the operator's ecosystem: a real daemon's `/metrics`
//! holds every export's series before its first run, and after a run every
//! metric the Grafana dashboard, the alert rules and the README name; the
//! package, tmpfiles.d, SECURITY.md and the permission warning agree on
//! 0640; LICENSE, CHANGELOG and no placeholder hosts; the file-format man
//! pages are fresh; the Kubernetes example ([`kubernetes`]).

use std::collections::BTreeSet;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::World;
use crate::util::repo;

mod kubernetes;

/// The exports of the test folder: scheduled, disabled, invalid.
const EXPORTS: [&str; 3] = ["vip", "off", "broken"];

/// `GET path` on the loopback port: (status code, body).
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    let code = head.split(' ').nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The value of the sample `series` (name and labels exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Whether the scrape has a family or a sample named `metric`.
fn exposes(text: &str, metric: &str) -> bool {
    text.lines().any(|l| {
        l.strip_prefix(metric)
            .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
            || l.strip_prefix("# TYPE ")
                .and_then(|r| r.strip_prefix(metric))
                .is_some_and(|rest| rest.starts_with(' '))
    })
}

/// Metric names in a PromQL expression: identifiers of our two prefixes.
fn metric_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| w.starts_with("acsync_") || w.starts_with("process_"))
        .map(str::to_string)
        .collect()
}

/// Every `expr` and variable query of the dashboard, wherever it sits.
fn dashboard_queries(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "definition", Value::String(q)) => out.push(q.clone()),
                    _ => dashboard_queries(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| dashboard_queries(v, out)),
        _ => {}
    }
}

/// The rows of README "Metrics and health": (series, labels column).
fn readme_metrics() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(repo("README.md")).expect("README");
    let section = readme
        .split("\n## Metrics and health\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has a Metrics and health section");
    section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let labels = cells.get(3)?;
            let is_metric = name.starts_with("acsync_") || name.starts_with("process_");
            is_metric.then(|| (name.to_string(), labels.to_string()))
        })
        .collect()
}

/// The daemon over `w`, serving metrics on `port`.
fn start_daemon(w: &World, port: u16) -> Child {
    let settings = std::fs::read_to_string(w.root().join("acsync.toml")).expect("settings");
    let settings = settings.replace(
        "[daemon]\n",
        &format!("[daemon]\nmetrics_listen = \"127.0.0.1:{port}\"\n"),
    );
    std::fs::write(w.root().join("acsync.toml"), settings).expect("write");
    w.spawn_daemon()
}

/// Scrapes until `done` holds (or 30 s pass); the last body.
fn scrape_until(port: u16, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut text = String::new();
    while Instant::now() < deadline {
        if let Some((200, body)) = http_get(port, "/metrics") {
            text = body;
            if done(&text) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    text
}

/// The sample that proves `metric` exists for `export` (a histogram by its count).
fn export_series(metric: &str, export: &str) -> String {
    let name = if metric == "acsync_run_duration_seconds" {
        "acsync_run_duration_seconds_count".to_string()
    } else {
        metric.to_string()
    };
    format!("{name}{{export=\"{export}\"")
}

fn assert_every_export_has_its_series(text: &str) {
    let per_export: Vec<(String, String)> = readme_metrics()
        .into_iter()
        .filter(|(_, labels)| labels.contains("`export`"))
        .collect();
    assert!(per_export.len() >= 15, "{per_export:?}");
    for export in EXPORTS {
        for (metric, _) in &per_export {
            let prefix = export_series(metric, export);
            assert!(
                text.lines().any(|l| l.starts_with(&prefix)),
                "no `{prefix}…` before the first run in\n{text}"
            );
        }
    }
}

#[test]
fn a_real_scrape_has_every_series_before_the_first_run_and_every_named_metric_after() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(World::new());
    w.write_people("vip", &World::people(0..12));
    w.write_export("vip", "");
    let path = w.exports().join("vip.toml");
    let text = std::fs::read_to_string(&path).expect("export");
    std::fs::write(&path, text.replace("\"@hourly\"", "\"@yearly\"")).expect("write");
    w.write_people("off", &World::people(0..3));
    w.write_export("off", "enabled = false");
    std::fs::write(w.exports().join("broken.toml"), "lst_id = 3\n").expect("write");
    let port = free_port();
    let mut child = start_daemon(&w, port);

    // @yearly and never run: the daemon waits; the series are there already.
    let before = scrape_until(port, |t| {
        EXPORTS
            .iter()
            .all(|e| t.contains(&format!("export=\"{e}\"")))
    });
    assert_every_export_has_its_series(&before);
    for (series, want) in [
        ("acsync_runs_total{export=\"vip\",outcome=\"failed\"}", 0.0),
        ("acsync_runs_total{export=\"vip\",outcome=\"success\"}", 0.0),
        ("acsync_api_requests_total{connection=\"sim\"}", 0.0),
        ("acsync_api_limit_answers_total{connection=\"sim\"}", 0.0),
        ("acsync_export_state{export=\"vip\",state=\"idle\"}", 1.0),
        (
            "acsync_export_state{export=\"off\",state=\"disabled\"}",
            1.0,
        ),
        (
            "acsync_export_state{export=\"broken\",state=\"invalid\"}",
            1.0,
        ),
        ("acsync_export_config_error{export=\"broken\"}", 1.0),
        ("acsync_next_run_timestamp_seconds{export=\"off\"}", 0.0),
        ("acsync_last_run_timestamp_seconds{export=\"vip\"}", 0.0),
    ] {
        assert_eq!(sample(&before, series), Some(want), "{series} in\n{before}");
    }
    let next = sample(&before, "acsync_next_run_timestamp_seconds{export=\"vip\"}");
    assert!(next.is_some_and(|t| t > 1.7e9), "{next:?}");

    // Every two seconds from now on: the daemon follows the edit and runs it.
    std::fs::write(&path, text.replace("\"@hourly\"", "\"*/2 * * * * *\"")).expect("write");
    let success = "acsync_runs_total{export=\"vip\",outcome=\"success\"}";
    let after = scrape_until(port, |t| sample(t, success).is_some_and(|n| n >= 1.0));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let stopped = child.wait().expect("wait");

    assert!(sample(&after, success).is_some_and(|n| n >= 1.0), "{after}");
    for (series, at_least) in [
        ("acsync_segment_profiles{export=\"vip\"}", 12.0),
        (
            "acsync_last_run_outcome{export=\"vip\",outcome=\"success\"}",
            1.0,
        ),
        ("acsync_last_run_timestamp_seconds{export=\"vip\"}", 1.7e9),
        (
            "acsync_last_success_timestamp_seconds{export=\"vip\"}",
            1.7e9,
        ),
        ("acsync_api_requests_total{connection=\"sim\"}", 1.0),
        ("process_start_time_seconds", 1.7e9),
        ("process_resident_memory_bytes", 1.0),
    ] {
        let v = sample(&after, series);
        assert!(
            v.is_some_and(|v| v >= at_least),
            "{series} = {v:?} in\n{after}"
        );
    }
    assert_eq!(
        sample(&after, "acsync_consecutive_failures{export=\"vip\"}"),
        Some(0.0)
    );

    let mut named = BTreeSet::new();
    let dashboard: Value = serde_json::from_slice(
        &std::fs::read(repo("contrib/grafana/acsync.json")).expect("dashboard"),
    )
    .expect("dashboard is JSON");
    let mut queries = Vec::new();
    dashboard_queries(&dashboard, &mut queries);
    assert!(queries.len() >= 15, "{queries:?}");
    for q in &queries {
        let names = metric_names(q);
        assert!(
            !names.is_empty(),
            "dashboard query names no acsync metric: {q}"
        );
        named.extend(names);
    }
    let rules =
        std::fs::read_to_string(repo("contrib/prometheus/acsync-rules.yml")).expect("rules");
    let rule_metrics: Vec<String> = rules
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(metric_names)
        .collect();
    assert!(rule_metrics.len() >= 10, "{rule_metrics:?}");
    named.extend(rule_metrics);
    named.extend(readme_metrics().into_iter().map(|(m, _)| m));
    let missing: Vec<&String> = named.iter().filter(|m| !exposes(&after, m)).collect();
    assert!(
        missing.is_empty(),
        "named but not exposed: {missing:?} in\n{after}"
    );
    assert_eq!(stopped.code(), Some(0));
}

/// The mode `systemd/acsync.tmpfiles` gives `path`.
fn tmpfiles_mode(path: &str) -> u32 {
    let text = std::fs::read_to_string(repo("systemd/acsync.tmpfiles")).expect("tmpfiles");
    let mode = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.get(1) == Some(&path))
        .and_then(|f| f.get(2).map(|m| m.to_string()))
        .unwrap_or_else(|| panic!("{path} in tmpfiles"));
    u32::from_str_radix(&mode, 8).expect("octal mode")
}

/// The mode the Debian package installs `dest` with.
fn package_mode(dest: &str) -> u32 {
    let cargo: toml::Value =
        toml::from_str(&std::fs::read_to_string(repo("Cargo.toml")).expect("Cargo.toml"))
            .expect("toml");
    let assets = cargo["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .expect("assets");
    let mode = assets
        .iter()
        .filter_map(|a| a.as_array())
        .find(|a| a.get(1).and_then(|d| d.as_str()) == Some(dest))
        .and_then(|a| a.get(2)?.as_str())
        .unwrap_or_else(|| panic!("{dest} in the package"));
    u32::from_str_radix(mode, 8).expect("octal mode")
}

#[test]
fn package_tmpfiles_security_and_the_warning_agree_on_0640() {
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(tmpfiles_mode("/etc/acsync/acsync.toml"), 0o640);
    assert_eq!(package_mode("etc/acsync/acsync.toml"), 0o640);
    let security = std::fs::read_to_string(repo("SECURITY.md")).expect("SECURITY.md");
    assert!(security.contains("`root:acsync 0640`"), "SECURITY.md");
    assert!(!security.contains("0644` or tighter"), "SECURITY.md");
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("f");
    std::fs::write(&f, "x").expect("write");
    let chmod = |m: u32| std::fs::set_permissions(&f, PermissionsExt::from_mode(m)).expect("chmod");
    for ok in [0o640, 0o600, 0o400] {
        chmod(ok);
        assert_eq!(acsync::config::perms::settings_warning(&f), None, "{ok:o}");
        assert_eq!(acsync::config::perms::key_file_warning(&f), None, "{ok:o}");
    }
    for loose in [0o644, 0o660, 0o602] {
        chmod(loose);
        assert!(
            acsync::config::perms::settings_warning(&f).is_some(),
            "{loose:o}"
        );
        assert!(
            acsync::config::perms::key_file_warning(&f).is_some(),
            "{loose:o}"
        );
    }
}

#[test]
fn licence_changelog_and_no_placeholder_hosts() {
    let read =
        |rel: &str| std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let cargo: toml::Value = toml::from_str(&read("Cargo.toml")).expect("Cargo.toml");
    assert_eq!(cargo["package"]["license"].as_str(), Some("Apache-2.0"));
    let licence = read("LICENSE");
    assert!(licence.contains("Apache License") && licence.contains("Version 2.0, January 2004"));
    assert!(
        licence.contains("END OF TERMS AND CONDITIONS"),
        "the full text"
    );
    let changelog = read("CHANGELOG.md");
    assert!(changelog.contains("keepachangelog.com"), "Keep a Changelog");
    let version = cargo["package"]["version"].as_str().expect("version");
    for heading in ["## [Unreleased]".to_string(), format!("## [{version}]")] {
        assert!(changelog.contains(&heading), "CHANGELOG.md lacks {heading}");
    }
    let deb = &cargo["package"]["metadata"]["deb"];
    let placeholder = |v: &str| {
        ["localhost", "example.com", "example.org"]
            .iter()
            .any(|p| v.contains(p))
    };
    for key in ["maintainer", "homepage", "repository"] {
        for v in [deb.get(key), cargo["package"].get(key)]
            .into_iter()
            .flatten()
        {
            let v = v.as_str().expect("string");
            assert!(!placeholder(v), "Cargo.toml {key} = {v}");
        }
    }
    // Installing acsync in CI downloads from nowhere made up.
    for rel in ["README.md", "contrib/github/acsync-check.yml"] {
        let text = read(rel);
        let installs: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("cargo install"))
            .collect();
        assert!(!installs.is_empty(), "{rel}");
        for l in installs {
            assert!(!placeholder(l), "{rel}: {l}");
        }
    }
}

#[test]
fn file_format_man_pages_are_generated_from_the_schemas_and_fresh() {
    use acsync::cli::docs;
    use acsync::cli::schema::SchemaFile;
    let bless = std::env::var_os("ACSYNC_BLESS").is_some();
    for file in SchemaFile::ALL {
        let page = docs::config_man_page(file);
        let text = String::from_utf8(page.clone()).expect("utf-8");
        // Every key of the schema, nested tables included, is on the page.
        let schema: Value = serde_json::from_str(&file.render()).expect("schema");
        let mut keys: Vec<String> = Vec::new();
        collect_keys(&schema, &mut keys);
        assert!(keys.len() >= 10, "{keys:?}");
        for key in keys {
            let as_key = format!("\\fB{key}\\fR");
            let as_table = format!(".SH [{key}");
            assert!(
                text.contains(&as_key) || text.contains(&as_table),
                "{key} missing from\n{text}"
            );
        }
        let path = repo("packaging").join(docs::config_man_file_name(file));
        if bless {
            std::fs::write(&path, &page).expect("write");
        }
        assert!(
            std::fs::read(&path).ok() == Some(page),
            "{} is stale: ACSYNC_BLESS=1 cargo test --test it ecosystem::",
            path.display()
        );
        let dest = format!("usr/share/man/man5/{}", docs::config_man_file_name(file));
        assert_eq!(package_mode(&dest), 0o644, "{dest} in the package");
    }
}

/// Every property name of a schema, in every definition too.
fn collect_keys(v: &Value, out: &mut Vec<String>) {
    if let Some(Value::Object(props)) = v.get("properties") {
        out.extend(props.keys().cloned());
    }
    if let Some(Value::Object(defs)) = v.get("definitions") {
        defs.values().for_each(|d| collect_keys(d, out));
    }
}
