//! The pure half of `acsync doctor`: the verdict model, the judgments made
//! from what the account answered (key, API host, rate-limit headers), and
//! the rendering as text lines or JSON. No IO here.

use serde::Serialize;

use crate::activecampaign::{FieldDef, Probe};
use crate::config::{ApiKeySource, key::looks_like_key};
use crate::run::fields::convert;
use crate::segment::Segment;

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

impl Verdict {
    /// As the text output spells it: a failure stands out.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One verdict line: what was checked where, what was found, and (when
/// not ok) what to do about it in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `connection sim` or `export emea/vip`.
    pub scope: String,
    /// `key`, `api host`, `list`, `field COMPANY`, ...
    pub check: String,
    pub verdict: Verdict,
    pub found: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(scope: &str, check: &str, found: impl Into<String>) -> Check {
        Check::new(scope, check, Verdict::Ok, found, None)
    }

    pub fn warn(scope: &str, check: &str, found: impl Into<String>, fix: &str) -> Check {
        Check::new(scope, check, Verdict::Warn, found, Some(fix.to_string()))
    }

    pub fn fail(scope: &str, check: &str, found: impl Into<String>, fix: &str) -> Check {
        Check::new(scope, check, Verdict::Fail, found, Some(fix.to_string()))
    }

    fn new(
        scope: &str,
        check: &str,
        v: Verdict,
        found: impl Into<String>,
        fix: Option<String>,
    ) -> Check {
        Check {
            scope: scope.to_string(),
            check: check.to_string(),
            verdict: v,
            found: found.into(),
            fix,
        }
    }
}

/// Where to get the API key, said once for every fix that needs it.
const KEY_HOME: &str = "ActiveCampaign shows it under Settings > Developer";

/// The fix of every wrong-host finding.
const HOST_FIX: &str = "set `url` of this connection in acsync.toml to the API URL shown in ActiveCampaign under Settings > Developer (like https://ACCOUNT.api-us1.com), not the account's website or login address";

/// How the fixes name a key's source; never the key (a name that looks
/// like a key is not shown either).
pub fn key_source(source: &ApiKeySource) -> String {
    let shown = |name: &str| {
        if looks_like_key(name) {
            "<redacted: looks like a key>".to_string()
        } else {
            name.to_string()
        }
    };
    match source {
        ApiKeySource::Env(v) => format!("environment variable `{}`", shown(v)),
        ApiKeySource::File(p) => format!("key file {}", p.display()),
        ApiKeySource::Credential(c) => format!("systemd credential `{}`", shown(c)),
    }
}

/// Check 1: the key may read lists, contacts and fields (one probe each).
pub fn access(scope: &str, source: &str, probes: &[Probe]) -> Check {
    if let Some(p) = probes.iter().find(|p| matches!(p.status, 401 | 403)) {
        let why = p.message.as_deref().unwrap_or("no details");
        return Check::fail(
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
        return Check::fail(
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
    Check::ok(
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
pub fn api_host(scope: &str, url: &str, probes: &[Probe]) -> Check {
    let bad = probes
        .iter()
        .find(|p| !(answered(p) || (matches!(p.status, 401 | 403) && p.json)));
    let Some(p) = bad else {
        return Check::ok(scope, "api host", format!("{url} answers /api/3 with JSON"));
    };
    let what = |s: String| format!("{url}: {} {s}", p.endpoint);
    let found = match p.status {
        300..=399 => what(format!(
            "redirects (HTTP {}) to {}: not the API host",
            p.status,
            p.location.as_deref().unwrap_or("another address")
        )),
        429 | 500..=599 => {
            return Check::fail(
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
    Check::fail(scope, "api host", found, HOST_FIX)
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
pub fn rate_limit(scope: &str, rps: u32, probes: &[Probe]) -> Check {
    let Some(p) = probes
        .iter()
        .find(|p| p.rate_limit.is_some() || p.rate_remaining.is_some())
    else {
        return Check::warn(
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
        Ok(l) if l < rps => Check::warn(
            scope,
            "rate limit",
            found,
            &format!(
                "set requests_per_second = {l} (or less: other integrations share the account's budget) for this connection in acsync.toml"
            ),
        ),
        _ => Check::ok(scope, "rate limit", found),
    }
}

/// How many of the segment's first values each mapped field is tried with.
pub const FIRST_VALUES: usize = 20;

/// Check 4 for one field the account has: its type, and whether the
/// segment's first values for it fit (the conversion a run makes).
pub fn field_fit(scope: &str, key: &str, def: &FieldDef, segment: Option<&Segment>) -> Check {
    let check = format!("field {key}");
    let Some(segment) = segment else {
        return Check::warn(
            scope,
            &check,
            format!(
                "{} exists; its values were not tried (the segment could not be read)",
                def.describe()
            ),
            "fix the segment check first",
        );
    };
    let values: Vec<(u64, &str)> = segment
        .profiles
        .iter()
        .filter_map(|p| {
            p.fields
                .custom()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (p.row, v))
        })
        .take(FIRST_VALUES)
        .collect();
    let refused: Vec<String> = values
        .iter()
        .filter_map(|(row, v)| {
            convert(def, v)
                .err()
                .map(|why| format!("data row {row}: {why}"))
        })
        .collect();
    let n = values.len();
    match refused.first() {
        None if n == 0 => Check::ok(
            scope,
            &check,
            format!("{}; no value in the segment to try", def.describe()),
        ),
        None => Check::ok(
            scope,
            &check,
            format!(
                "{}; the first {} fit",
                def.describe(),
                plural(n as u64, "value")
            ),
        ),
        Some(first) => Check::fail(
            scope,
            &check,
            format!(
                "{}; {} of the first {} do not fit, e.g. {first}",
                def.describe(),
                refused.len(),
                plural(n as u64, "value")
            ),
            "correct these values in the source (or the field's type or options in ActiveCampaign); a run sends such a contact without the value and reports its row",
        ),
    }
}

/// `1 row`, `3 rows`.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Exit 1 when any check failed; warnings do not fail.
pub fn passed(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.verdict != Verdict::Fail)
}

/// The text lines of `checks`: a heading per scope, one line per check,
/// its fix indented below.
pub fn render_lines(checks: &[Check]) -> String {
    let mut out = String::new();
    let mut scope = None;
    for c in checks {
        if scope != Some(&c.scope) {
            out.push_str(&format!("{}\n", c.scope));
            scope = Some(&c.scope);
        }
        out.push_str(&format!(
            "  {:<5} {}: {}\n",
            c.verdict.label(),
            c.check,
            c.found
        ));
        if let (Some(fix), false) = (&c.fix, c.verdict == Verdict::Ok) {
            out.push_str(&format!("        fix: {fix}\n"));
        }
    }
    out
}

/// The closing count of the text output.
pub fn summary(checks: &[Check]) -> String {
    let n = |v: Verdict| checks.iter().filter(|c| c.verdict == v).count();
    format!(
        "{} checks: {} ok, {} warn, {} FAIL (read-only: nothing was written)\n",
        checks.len(),
        n(Verdict::Ok),
        n(Verdict::Warn),
        n(Verdict::Fail)
    )
}

/// The `--json` output.
pub fn render_json(checks: &[Check]) -> serde_json::Value {
    serde_json::json!({ "ok": passed(checks), "checks": checks })
}

#[cfg(test)]
#[path = "verdicts_tests.rs"]
mod tests;
