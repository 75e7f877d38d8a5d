//! Unit tests of the account checks' judgments (pure: no request).

use super::connection::{access, account_clock, api_host, rate_limit};
use super::export::{FIRST_VALUES, field_fit};
use super::*;
use crate::activecampaign::{FieldDef, Probe};
use crate::config::Source;
use crate::segment::Segment;

fn probe(endpoint: &'static str, status: u16, json: bool) -> Probe {
    Probe {
        endpoint,
        status,
        content_type: Some(
            if json {
                "application/json"
            } else {
                "text/html"
            }
            .into(),
        ),
        location: None,
        rate_limit: None,
        rate_remaining: None,
        json,
        title: None,
        message: (status >= 300).then(|| "Forbidden".to_string()),
        date: None,
        zoned_time: None,
    }
}

fn api() -> Vec<Probe> {
    vec![
        probe("GET /lists", 200, true),
        probe("GET /contacts", 200, true),
        probe("GET /fields", 200, true),
    ]
}

#[test]
fn key_ok_when_every_read_answers() {
    let c = access("connection prod", "environment variable `AC_KEY`", &api());
    assert_eq!(c.severity, Severity::Ok, "{c:?}");
    assert!(
        c.found.contains("lists, contacts and fields"),
        "{}",
        c.found
    );
}

#[test]
fn refused_key_names_its_source_and_endpoint() {
    let mut p = api();
    p[1] = probe("GET /contacts", 403, true);
    let c = access("connection prod", "key file /etc/acsync/prod.key", &p);
    assert_eq!(c.severity, Severity::Fail);
    assert!(
        c.found.contains("key file /etc/acsync/prod.key"),
        "{}",
        c.found
    );
    assert!(c.found.contains("403 on GET /contacts"), "{}", c.found);
    assert!(c.fix.as_deref().unwrap().contains("Settings > Developer"));
    // The host itself is the API: it answered the refusal in JSON.
    assert_eq!(
        api_host("c", "https://acme.api-us1.com", &p).severity,
        Severity::Ok
    );
}

#[test]
fn login_page_is_not_the_api_host() {
    let mut p = api();
    p[0] = Probe {
        title: Some("Login | ActiveCampaign".into()),
        ..probe("GET /lists", 200, false)
    };
    let c = api_host("connection prod", "https://acme.activehosted.com", &p);
    assert_eq!(c.severity, Severity::Fail);
    assert!(
        c.found
            .contains("text/html titled \"Login | ActiveCampaign\""),
        "{}",
        c.found
    );
    assert!(c.fix.as_deref().unwrap().contains("api-us1.com"));
    assert_eq!(access("c", "k", &p).severity, Severity::Fail);
}

#[test]
fn redirect_and_404_are_not_the_api_host() {
    let mut p = api();
    p[0] = Probe {
        location: Some("https://www.acme.com/".into()),
        ..probe("GET /lists", 301, false)
    };
    let c = api_host("c", "https://acme.com", &p);
    assert!(
        c.found
            .contains("redirects (HTTP 301) to https://www.acme.com/"),
        "{}",
        c.found
    );
    p[0] = probe("GET /lists", 404, false);
    assert_eq!(
        api_host("c", "https://acme.com", &p).severity,
        Severity::Fail
    );
}

#[test]
fn busy_server_says_try_again() {
    let mut p = api();
    p[2] = probe("GET /fields", 503, true);
    let c = api_host("c", "https://acme.api-us1.com", &p);
    assert_eq!(c.severity, Severity::Fail);
    assert!(c.fix.as_deref().unwrap().contains("try again"), "{c:?}");
}

#[test]
fn rate_limit_headers_reported_or_warned() {
    let mut p = api();
    let c = rate_limit("c", 5, &p);
    assert_eq!(c.severity, Severity::Warn);
    p[2].rate_limit = Some("5".into());
    p[2].rate_remaining = Some("4".into());
    let c = rate_limit("c", 5, &p);
    assert_eq!(c.severity, Severity::Ok, "{c:?}");
    assert!(
        c.found
            .contains("RateLimit-Limit 5, RateLimit-Remaining 4 (on GET /fields)")
    );
    let c = rate_limit("c", 10, &p);
    assert_eq!(c.severity, Severity::Warn);
    assert!(
        c.fix
            .as_deref()
            .unwrap()
            .contains("requests_per_second = 5")
    );
}

fn number_field() -> FieldDef {
    FieldDef {
        id: 4,
        perstag: Some("SCORE".into()),
        title: "Score".into(),
        type_name: "number".into(),
        kind: crate::activecampaign::FieldKind::Number,
        options: vec![],
    }
}

fn segment(values: &[&str]) -> Segment {
    use crate::model::{Fields, Profile};
    let profiles = values
        .iter()
        .enumerate()
        .map(|(i, v)| Profile {
            row: i as u64 + 1,
            email: format!("u{i}@example.com"),
            fields: if v.is_empty() {
                Fields::new(None, None, None)
            } else {
                Fields::with_custom(None, None, None, [("SCORE", *v)])
            },
        })
        .collect();
    Segment {
        profiles,
        ..Segment::default()
    }
}

#[test]
fn field_values_that_fit_pass() {
    let c = field_fit(
        "e",
        "SCORE",
        &number_field(),
        Some(&segment(&["1", "", "2.5"])),
        &sql(),
    );
    assert_eq!(c.severity, Severity::Ok, "{c:?}");
    assert!(
        c.found
            .contains("SCORE (id 4, number); the first 2 values fit"),
        "{}",
        c.found
    );
}

#[test]
fn a_value_that_does_not_fit_fails_with_its_row() {
    let c = field_fit(
        "e",
        "SCORE",
        &number_field(),
        Some(&segment(&["1", "", "high"])),
        &sql(),
    );
    assert_eq!(c.severity, Severity::Fail, "{c:?}");
    assert!(
        c.found.contains(
            "1 of the first 2 values do not fit, e.g. data row 3: `high` is not a number"
        ),
        "{}",
        c.found
    );
    // A file's rows are its lines, as the editor shows them.
    let csv = Source::Csv {
        path: "segments/e.csv".into(),
        timeout: std::time::Duration::from_secs(1),
    };
    let c = field_fit(
        "e",
        "SCORE",
        &number_field(),
        Some(&segment(&["1", "", "high"])),
        &csv,
    );
    assert!(c.found.contains("e.g. line 3: `high`"), "{}", c.found);
}

fn sql() -> Source {
    Source::Sqlite {
        path: "segments.db".into(),
        query: "SELECT email FROM t".into(),
        timeout: std::time::Duration::from_secs(1),
    }
}

#[test]
fn only_the_first_values_are_tried() {
    let mut values = vec!["7"; FIRST_VALUES];
    values.push("late-and-wrong");
    let c = field_fit(
        "e",
        "SCORE",
        &number_field(),
        Some(&segment(&values)),
        &sql(),
    );
    assert_eq!(c.severity, Severity::Ok, "{c:?}");
    let c = field_fit("e", "SCORE", &number_field(), None, &sql());
    assert_eq!(c.severity, Severity::Warn);
}

fn contacts_answered(date: Option<&str>, zoned: Option<&str>) -> Vec<Probe> {
    let mut probes = api();
    probes[1].date = date.map(Into::into);
    probes[1].zoned_time = zoned.map(Into::into);
    probes
}

/// docs/verification.md: times are in the account's zone; doctor names the
/// zone (from a contact's zoned time) and the clock skew, read-only.
#[test]
fn the_clock_finding_names_the_zone_and_the_skew() {
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T18:00:00Z")
        .expect("time")
        .to_utc();
    let probes = contacts_answered(
        Some("Sun, 06 Dec 2026 17:59:58 GMT"),
        Some("2026-12-06T11:59:00-06:00"),
    );
    let c = account_clock("connection prod", &probes, now);
    assert_eq!(c.severity, Severity::Ok, "{c:?}");
    assert!(c.found.contains("UTC-06:00"), "{c:?}");
    assert!(c.found.contains("+2 s"), "{c:?}");

    let late = contacts_answered(Some("Sun, 06 Dec 2026 17:55:00 GMT"), None);
    let c = account_clock("connection prod", &late, now);
    assert_eq!(c.severity, Severity::Warn, "{c:?}");
    assert!(
        c.found.contains("+300 s") && c.found.contains("not known yet"),
        "{c:?}"
    );

    let c = account_clock("connection prod", &api(), now);
    assert_eq!(c.severity, Severity::Warn, "{c:?}");
    assert!(c.found.contains("no Date header"), "{c:?}");
}
