//! The read-only checks of a configuration against its ActiveCampaign
//! accounts, as findings a front end prints: `acsync doctor` prints every
//! finding with its fix, `acsync check --online` the problems located at
//! their key (see docs/commands.md, doctor and check). Per connection: the
//! key may read lists, contacts and fields; the URL is the API host; the
//! rate-limit headers. Per export: its list exists; the segment reads;
//! every mapped field exists and the segment's first values fit it; the
//! list read returns per-list statuses. Only GET requests are sent; nothing
//! is written. Whether a list or a field key exists is
//! [`crate::target_check`]'s rule, the run's own.
//!
//! Layout: this file holds the finding model; [`connection`] and [`export`]
//! make the reads and judge them; [`online`] turns the target check into
//! located errors.

pub mod connection;
pub mod export;
pub mod online;

use serde::Serialize;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warn,
    Fail,
}

impl Severity {
    /// As the text output spells it: a failure stands out.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warn => "warn",
            Severity::Fail => "FAIL",
        }
    }
}

/// One finding: what was checked where, what was found, and (when not ok)
/// what to do about it in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `connection sim` or `export emea/vip`.
    pub scope: String,
    /// `key`, `api host`, `list`, `field COMPANY`, ...
    pub check: String,
    /// Named `verdict` in `doctor --json` (see docs/commands.md, doctor).
    #[serde(rename = "verdict")]
    pub severity: Severity,
    pub found: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    pub fn ok(scope: &str, check: &str, found: impl Into<String>) -> Finding {
        Finding::new(scope, check, Severity::Ok, found, None)
    }

    pub fn warn(scope: &str, check: &str, found: impl Into<String>, fix: &str) -> Finding {
        Finding::new(scope, check, Severity::Warn, found, Some(fix.to_string()))
    }

    pub fn fail(scope: &str, check: &str, found: impl Into<String>, fix: &str) -> Finding {
        Finding::new(scope, check, Severity::Fail, found, Some(fix.to_string()))
    }

    fn new(
        scope: &str,
        check: &str,
        severity: Severity,
        found: impl Into<String>,
        fix: Option<String>,
    ) -> Finding {
        Finding {
            scope: scope.to_string(),
            check: check.to_string(),
            severity,
            found: found.into(),
            fix,
        }
    }
}

/// Whether nothing failed; warnings do not fail.
pub fn passed(findings: &[Finding]) -> bool {
    findings.iter().all(|f| f.severity != Severity::Fail)
}

/// `1 row`, `3 rows`.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The fix of every finding that the configuration itself is invalid.
const CONFIG_FIX: &str = "run `acsync check` and fix what it reports";

/// An export `check` refuses: its first error.
pub fn invalid_export(id: &str, errors: &[crate::config::Located]) -> Finding {
    let first = errors
        .first()
        .map_or_else(|| "invalid".to_string(), ToString::to_string);
    Finding::fail(&format!("export {id}"), "config", first, CONFIG_FIX)
}

/// A connection `acsync.toml` declares invalidly.
pub fn broken_connection(name: &str, file: &std::path::Path) -> Finding {
    Finding::fail(
        &format!("connection {name}"),
        "config",
        format!("invalid in {}", file.display()),
        CONFIG_FIX,
    )
}

#[cfg(test)]
mod tests;
