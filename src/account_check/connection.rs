//! The checks of one connection: the key may read lists, contacts and
//! fields (check 1), the URL is the REST API host (check 2), and the
//! rate-limit headers against the connection's pace (check 6); see
//! docs/verification.md. One GET probe each of lists, contacts and fields.

use std::sync::Arc;

use super::{Finding, passed};
use crate::activecampaign::{Client, Probe};
use crate::config::Connection;
use crate::run::Runner;

/// The reads that check the key and the host (one each: lists, contacts, fields).
const PROBES: [(&str, &str); 3] = [
    ("GET /lists", "lists"),
    ("GET /contacts", "contacts"),
    ("GET /fields", "fields"),
];

/// The fix of a failure below HTTP; the export checks use it too.
pub(super) const REACH_FIX: &str = "check the connection's `url` in acsync.toml and that this host can reach it (DNS, firewall, proxy)";

/// Checks 1, 2 and 6 of one connection. The client is returned only when
/// the key works on the API host: the export checks need both.
pub async fn connection(runner: &Runner, conn: &Arc<Connection>) -> (Vec<Finding>, Option<Client>) {
    let scope = format!("connection {}", conn.name);
    let source = conn.key_source().to_string();
    let client = match runner.client_for(conn) {
        Ok(c) => c,
        Err(e) => {
            let fix = format!("make {source} hold this account's API key ({KEY_HOME})");
            return (
                vec![Finding::fail(&scope, "key", e.to_string(), &fix)],
                None,
            );
        }
    };
    let url = conn.base_url.as_str().trim_end_matches('/').to_string();
    let mut probes = Vec::new();
    for (endpoint, path) in PROBES {
        match client.probe(endpoint, &[path]).await {
            Ok(p) => probes.push(p),
            Err(e) => {
                let found = format!("cannot read {url}/api/3/{path}: {e}");
                return (
                    vec![Finding::fail(&scope, "api host", found, REACH_FIX)],
                    None,
                );
            }
        }
    }
    let checks = vec![
        api_host(&scope, &url, &probes),
        access(&scope, &source, &probes),
        rate_limit(&scope, conn.requests_per_second, &probes),
        account_clock(&scope, &probes, chrono::Utc::now()),
    ];
    let usable = passed(&checks[..2]);
    (checks, usable.then_some(client))
}

/// Where to get the API key, said once for every fix that needs it.
const KEY_HOME: &str = "ActiveCampaign shows it under Settings > Developer";

/// The fix of every wrong-host finding.
const HOST_FIX: &str = "set `url` of this connection in acsync.toml to the API URL shown in ActiveCampaign under Settings > Developer (like https://ACCOUNT.api-us1.com), not the account's website or login address";

/// Check 1: the key may read lists, contacts and fields (one probe each).
pub fn access(scope: &str, source: &str, probes: &[Probe]) -> Finding {
    if let Some(p) = probes.iter().find(|p| matches!(p.status, 401 | 403)) {
        let why = p.message.as_deref().unwrap_or("no details");
        return Finding::fail(
            scope,
            "key",
            format!(
                "ActiveCampaign refused the key from {source} (HTTP {} on {}: {why})",
                p.status, p.endpoint
            ),
            &format!(
                "put this account's API key into {source} ({KEY_HOME}); its user must be allowed to view contacts, lists and fields"
            ),
        );
    }
    if let Some(p) = probes.iter().find(|p| !answered(p)) {
        return Finding::fail(
            scope,
            "key",
            format!(
                "not verified: {} did not answer as the API does",
                p.endpoint
            ),
            "fix the api host first (above)",
        );
    }
    let reads: Vec<&str> = probes.iter().map(|p| p.endpoint).collect();
    Finding::ok(
        scope,
        "key",
        format!(
            "the key from {source} may read lists, contacts and fields ({}: HTTP 200)",
            reads.join(", ")
        ),
    )
}

/// A 2xx JSON answer.
fn answered(p: &Probe) -> bool {
    (200..300).contains(&p.status) && p.json
}

/// Check 2: the configured URL is the REST API host (JSON under `/api/3`),
/// not a login page, a website or a redirect to one.
pub fn api_host(scope: &str, url: &str, probes: &[Probe]) -> Finding {
    let bad = probes
        .iter()
        .find(|p| !(answered(p) || (matches!(p.status, 401 | 403) && p.json)));
    let Some(p) = bad else {
        return Finding::ok(scope, "api host", format!("{url} answers /api/3 with JSON"));
    };
    let what = |s: String| format!("{url}: {} {s}", p.endpoint);
    let found = match p.status {
        300..=399 => what(format!(
            "redirects (HTTP {}) to {}: not the API host",
            p.status,
            p.location.as_deref().unwrap_or("another address")
        )),
        429 | 500..=599 => {
            return Finding::fail(
                scope,
                "api host",
                what(format!(
                    "answered HTTP {} three times ({})",
                    p.status,
                    p.message.as_deref().unwrap_or("no details")
                )),
                "the account is busy or down: try again in a few minutes; if it lasts, check ActiveCampaign's status page",
            );
        }
        s if !p.json => what(format!(
            "answered HTTP {s} with {}, not JSON: a web page, not the API",
            page(p)
        )),
        s => what(format!(
            "answered HTTP {s}: {}",
            p.message.as_deref().unwrap_or("no details")
        )),
    };
    Finding::fail(scope, "api host", found, HOST_FIX)
}

/// `an HTML page titled "Login"` and the like.
fn page(p: &Probe) -> String {
    let kind = p.content_type.as_deref().unwrap_or("no content type");
    match &p.title {
        Some(t) => format!("{kind} titled \"{t}\""),
        None => kind.to_string(),
    }
}

/// Check 6: the `RateLimit-*` headers seen, against the connection's pace.
pub fn rate_limit(scope: &str, rps: u32, probes: &[Probe]) -> Finding {
    let Some(p) = probes
        .iter()
        .find(|p| p.rate_limit.is_some() || p.rate_remaining.is_some())
    else {
        return Finding::warn(
            scope,
            "rate limit",
            format!(
                "no RateLimit-Limit or RateLimit-Remaining header in {} answers",
                probes.len()
            ),
            &format!(
                "nothing to do if runs succeed: acsync paces this connection at {rps} requests/s (requests_per_second) and honours Retry-After; lower it if runs see many 429s"
            ),
        );
    };
    let limit = p.rate_limit.as_deref().unwrap_or("absent");
    let found = format!(
        "RateLimit-Limit {limit}, RateLimit-Remaining {} (on {}); acsync paces at {rps} requests/s",
        p.rate_remaining.as_deref().unwrap_or("absent"),
        p.endpoint
    );
    match limit.parse::<u32>() {
        Ok(l) if l < rps => Finding::warn(
            scope,
            "rate limit",
            found,
            &format!(
                "set requests_per_second = {l} (or less: other integrations share the account's budget) for this connection in acsync.toml"
            ),
        ),
        _ => Finding::ok(scope, "rate limit", found),
    }
}

/// The most clock skew `doctor` passes: half of what acsync's own write
/// windows allow (see [`crate::model::WriteWindow`]), so that a host
/// drifting towards it is told in time.
const SKEW_WARN_SECS: i64 = crate::model::WriteWindow::SKEW_SECS / 2;

/// The account's time zone (the offset of a contact's zoned time) and this
/// host's clock against ActiveCampaign's `Date` header: acsync compares
/// ActiveCampaign's change times with its own write times
/// (docs/verification.md, times without a zone).
pub fn account_clock(scope: &str, probes: &[Probe], now: chrono::DateTime<chrono::Utc>) -> Finding {
    let contacts = probes.iter().find(|p| p.endpoint == "GET /contacts");
    let zone = contacts
        .and_then(|p| p.zoned_time.as_deref())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(
            || "time zone not known yet (no contact to read it from)".to_string(),
            |t| format!("account time zone UTC{}", t.offset()),
        );
    let server = probes
        .iter()
        .find_map(|p| chrono::DateTime::parse_from_rfc2822(p.date.as_deref()?).ok());
    let Some(server) = server else {
        return Finding::warn(
            scope,
            "clock",
            format!(
                "{zone}; ActiveCampaign sent no Date header: this host's clock was not compared"
            ),
            &clock_fix(),
        );
    };
    let skew = (now - server.with_timezone(&chrono::Utc)).num_seconds();
    let found = format!("{zone}; this host's clock is {skew:+} s from ActiveCampaign's");
    if skew.abs() > SKEW_WARN_SECS {
        return Finding::warn(scope, "clock", found, &clock_fix());
    }
    Finding::ok(scope, "clock", found)
}

/// The fix of a clock that drifts.
fn clock_fix() -> String {
    format!(
        "keep this host's clock in sync (NTP: `timedatectl set-ntp true`): acsync tells its own writes from others' by time, within {} s",
        crate::model::WriteWindow::SKEW_SECS
    )
}
