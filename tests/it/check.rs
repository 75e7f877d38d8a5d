//! `acsync check`: every validation error is reported as FILE:LINE:COL with
//! the right position; several errors come out of one run; exit codes.

use crate::util::{acsync, lines};

const DIR: &str = "tests/fixtures/check";

/// Checks one export fixture and returns its output lines and exit code.
fn check_export(name: &str) -> (Vec<String>, i32) {
    let file = format!("{DIR}/exports/{name}.toml");
    let out = acsync(&["check", "--config-dir", DIR, &file]);
    (lines(&out), out.status.code().unwrap_or(-1))
}

fn assert_one(name: &str, at: &str, needle: &str) {
    let (lines, code) = check_export(name);
    assert_eq!(code, 1, "{name}: {lines:?}");
    assert_eq!(lines.len(), 1, "{name}: {lines:?}");
    let prefix = format!("{DIR}/exports/{name}.toml:{at}: ");
    assert!(
        lines[0].starts_with(&prefix),
        "{name}: expected {prefix}…, got {}",
        lines[0]
    );
    assert!(
        lines[0].contains(needle),
        "{name}: expected `{needle}` in {}",
        lines[0]
    );
}

#[test]
fn valid_export_passes() {
    let (lines, code) = check_export("good");
    assert_eq!((lines.len(), code), (0, 0), "{lines:?}");
}

#[test]
fn toml_syntax_error_is_located() {
    assert_one("syntax", "3:20", "invalid basic string");
}

#[test]
fn unknown_key_is_located() {
    assert_one(
        "unknown_key",
        "2:1",
        "unknown key `lst_id` (did you mean `list_id`?); allowed here: connection, list_id,",
    );
    let (lines, _) = check_export("unknown_key");
    assert!(
        !lines[0].contains("`api_key`"),
        "never suggest an inline key: {}",
        lines[0]
    );
}

#[test]
fn wrong_type_is_located() {
    assert_one(
        "wrong_type",
        "2:11",
        "`list_id` must be a whole number without quotes, the ActiveCampaign list ID (e.g. list_id = 12), not text",
    );
    let (lines, _) = check_export("wrong_type");
    for internal in ["invalid type", "i64", "twelve"] {
        assert!(!lines[0].contains(internal), "{}", lines[0]);
    }
}

#[test]
fn bad_cron_is_located() {
    assert_one(
        "bad_cron",
        "3:12",
        "bad cron expression `61 * * * *`: the minute field is `61`, out of range: minutes go from 0 to 59",
    );
}

#[test]
fn bad_time_zone_is_located() {
    assert_one("bad_tz", "4:12", "unknown time zone `Europe/Atlantis`");
}

#[test]
fn unknown_connection_is_located() {
    assert_one("unknown_connection", "1:14", "unknown connection `staging`");
}

#[test]
fn connection_allowed_exports_is_enforced() {
    assert_one("not_allowed", "1:14", "does not allow export `not_allowed`");
    let (lines, code) = check_export("marketing/allowed");
    assert_eq!((lines.len(), code), (0, 0), "{lines:?}");
}

#[test]
fn missing_email_mapping_is_located() {
    assert_one("no_email", "9:1", "[mapping] needs `email");
}

#[test]
fn inline_api_key_in_export_is_refused_without_echoing_it() {
    assert_one("inline_key", "3:11", "inline `api_key` is not allowed");
    let (lines, _) = check_export("inline_key");
    assert!(!lines.concat().contains("SECRET123"));
}

#[test]
fn several_errors_in_one_file_come_out_together_in_order() {
    let (lines, code) = check_export("several");
    assert_eq!(code, 1);
    let at: Vec<&str> = lines
        .iter()
        .map(|l| l.trim_start_matches(&format!("{DIR}/exports/several.toml:")))
        .map(|l| l.split(": ").next().unwrap_or_default())
        .collect();
    assert_eq!(
        at,
        [
            "1:14", "2:11", "3:12", "4:12", "5:9", "6:16", "8:1", "10:9", "12:1"
        ],
        "{lines:#?}"
    );
    assert!(lines[2].contains("bad cron expression `* * *`"));
    assert!(lines[7].contains("`query` is not used by source kind csv"));
}

#[test]
fn connection_errors_in_settings_are_all_located() {
    let dir = "tests/fixtures/check-settings";
    let out = acsync(&["check", "--config-dir", dir, &format!("{dir}/acsync.toml")]);
    assert_eq!(out.status.code(), Some(1));
    let text = lines(&out).join("\n");
    let f = format!("{dir}/acsync.toml");
    for (at, needle) in [
        ("2:14", "log_format must be"),
        ("4:1", "connection `nokey` needs exactly one of api_key_env"),
        ("11:16", "`api_key_file` given too"),
        ("16:11", "inline `api_key` is not allowed"),
        ("22:24", "accept_data_transfer must be true"),
        (
            "24:1",
            "connection `missingconsent` needs `accept_data_transfer = true`",
        ),
        ("29:7", "plain http:// to `acme.api-us1.com` is refused"),
        ("34:7", "without a path"),
    ] {
        let line = format!("{f}:{at}: ");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&line) && l.contains(needle)),
            "missing {line}{needle} in\n{text}"
        );
    }
    assert!(
        !text.contains("SECRET123"),
        "the inline key must never be echoed"
    );
    assert!(!text.contains("loopback.toml") && !text.contains("connections.loopback"));
}

#[test]
fn whole_folder_reports_every_bad_file_and_exit_1() {
    let out = acsync(&["check", "--config-dir", DIR]);
    assert_eq!(out.status.code(), Some(1));
    let text = lines(&out).join("\n");
    for bad in [
        "syntax",
        "unknown_key",
        "wrong_type",
        "bad_cron",
        "bad_tz",
        "several",
    ] {
        assert!(
            text.contains(&format!("exports/{bad}.toml:")),
            "{bad} missing:\n{text}"
        );
    }
    assert!(!text.contains("good.toml"));
}

#[test]
fn sample_config_tree_passes() {
    let out = acsync(&["check", "--config-dir", "config"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn config_dir_comes_from_environment() {
    let out = std::process::Command::new(crate::util::bin())
        .args(["check"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ACSYNC_CONFIG_DIR", "config")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn missing_settings_file_is_an_error_and_usage_errors_exit_2() {
    let out = acsync(&["check", "--config-dir", "tests/fixtures/nonexistent"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(lines(&out)[0].ends_with("acsync.toml:1:1: file not found"));
    assert_eq!(acsync(&["check", "--bogus"]).status.code(), Some(2));
    assert_eq!(acsync(&["frobnicate"]).status.code(), Some(2));
}
