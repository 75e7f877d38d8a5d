//! How `acsync doctor` prints its findings: a heading per scope, one line
//! per finding with its fix below, a closing count, or JSON (see
//! docs/commands.md, doctor).

use crate::account_check::{Finding, Severity, passed};

/// The text lines of `findings`: a heading per scope, one line per check,
/// its fix indented below.
pub fn render_lines(findings: &[Finding]) -> String {
    let mut out = String::new();
    let mut scope = None;
    for c in findings {
        if scope != Some(&c.scope) {
            out.push_str(&format!("{}\n", c.scope));
            scope = Some(&c.scope);
        }
        out.push_str(&format!(
            "  {:<5} {}: {}\n",
            c.severity.label(),
            c.check,
            c.found
        ));
        if let (Some(fix), false) = (&c.fix, c.severity == Severity::Ok) {
            out.push_str(&format!("        fix: {fix}\n"));
        }
    }
    out
}

/// The closing count of the text output.
pub fn summary(findings: &[Finding]) -> String {
    let n = |v: Severity| findings.iter().filter(|c| c.severity == v).count();
    format!(
        "{} checks: {} ok, {} warn, {} FAIL (read-only: nothing was written)\n",
        findings.len(),
        n(Severity::Ok),
        n(Severity::Warn),
        n(Severity::Fail)
    )
}

/// The `--json` output.
pub fn render_json(findings: &[Finding]) -> serde_json::Value {
    serde_json::json!({ "ok": passed(findings), "checks": findings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_groups_by_scope_and_json_says_ok() {
        let findings = vec![
            Finding::ok("connection prod", "key", "fine"),
            Finding::warn("connection prod", "rate limit", "none", "nothing"),
            Finding::fail("export vip", "list", "list 7 does not exist", "set list_id"),
        ];
        let text = render_lines(&findings) + &summary(&findings);
        assert_eq!(text.matches("connection prod\n").count(), 1, "{text}");
        assert!(
            text.contains("  FAIL  list: list 7 does not exist\n        fix: set list_id\n"),
            "{text}"
        );
        assert!(
            text.ends_with("3 checks: 1 ok, 1 warn, 1 FAIL (read-only: nothing was written)\n"),
            "{text}"
        );
        assert!(!passed(&findings));
        assert!(passed(&findings[..2]));
        let j = render_json(&findings);
        assert_eq!(j["ok"], false);
        assert_eq!(j["checks"][2]["verdict"], "fail");
        assert!(j["checks"][0].get("fix").is_none());
    }
}
