//! Masking on the way out: no status file holds a plain email address,
//! whatever the caller passed in (an ActiveCampaign error message may quote
//! the address it refused), and failures are capped at [`MAX_FAILURES`].

use super::model::{MAX_FAILURES, StatusFile};
use crate::model::mask_email;

/// The copy of `status` that may be written: failure emails masked, emails
/// inside messages (errors, reasons, `config_error`) masked, failures capped
/// at [`MAX_FAILURES`].
pub(super) fn sanitized(status: &StatusFile) -> StatusFile {
    let mut out = status.clone();
    out.config_error = out.config_error.as_deref().map(mask_emails_in);
    if let Some(run) = out.last_run.as_mut() {
        run.failures.truncate(MAX_FAILURES);
        for f in &mut run.failures {
            if !is_masked(&f.email) {
                f.email = mask_email(&f.email);
            }
            f.reason = mask_emails_in(&f.reason);
        }
        run.error = run.error.as_deref().map(mask_emails_in);
        debug_assert!(run.failures.iter().all(|f| is_masked(&f.email)));
    }
    out
}

/// Whether `email` already has the shape [`mask_email`] gives.
pub(super) fn is_masked(email: &str) -> bool {
    let local = email.rsplit_once('@').map_or(email, |(l, _)| l);
    local.ends_with("***") && local.chars().count() <= 4
}

/// Masks every email-looking token in free text (an ActiveCampaign error
/// message may quote the address it refused).
pub(super) fn mask_emails_in(text: &str) -> String {
    let local_ok = |b: u8| b.is_ascii_alphanumeric() || b"._%+-'".contains(&b);
    let domain_ok = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    let bytes = text.as_bytes();
    let (mut out, mut copied) = (String::with_capacity(text.len()), 0);
    for (at, _) in text.match_indices('@') {
        let start = (0..at).rev().take_while(|&i| local_ok(bytes[i])).last();
        let end = (at + 1..bytes.len())
            .take_while(|&i| domain_ok(bytes[i]))
            .last();
        let (Some(start), Some(end)) = (start, end) else {
            continue;
        };
        let domain = text[at + 1..=end].trim_end_matches('.');
        if start < copied || !domain.contains('.') {
            continue;
        }
        // Every byte scanned is ASCII, so these are char boundaries.
        out.push_str(&text[copied..start]);
        out.push(char::from(bytes[start]));
        out.push_str("***");
        copied = at;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::status::file::{read, write_atomic};
    use crate::status::model::Failure;
    use crate::status::test_support::sample;

    #[test]
    fn emails_are_masked_on_the_way_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vip.status.json");
        let mut s = sample();
        s.config_error = Some("vip.toml:9:1: owner = \"boss@corp.example\"".into());
        let run = s.last_run.as_mut().expect("run");
        run.error = Some("contact john.smith+x@corp.example.org was refused".into());
        for i in 0..30 {
            // Unmasked, as a careless caller might pass them.
            run.failures.push(Failure {
                row: Some(i),
                email: format!("secret{i}@example.com"),
                reason: format!("AC says: secret{i}@example.com is invalid."),
            });
        }
        write_atomic(&path, &s).expect("write");
        let text = fs::read_to_string(&path).expect("read");
        assert!(!text.contains("secret"), "unmasked email in {text}");
        assert!(!text.contains("jane@"));
        assert!(!text.contains("john.smith") && !text.contains("boss@"));
        assert!(text.contains("j***@example.com"));
        assert!(text.contains("j***@corp.example.org was refused"));
        assert!(text.contains("AC says: s***@example.com is invalid."));
        let back = read(&path).expect("read").expect("some");
        assert_eq!(back.last_run.expect("run").failures.len(), MAX_FAILURES);
    }

    #[test]
    fn masks_emails_in_text_only() {
        assert_eq!(mask_emails_in("no email here @ all"), "no email here @ all");
        assert_eq!(mask_emails_in("a@b.co, c.d@e.io"), "a***@b.co, c***@e.io");
        assert_eq!(mask_emails_in("j***@example.com"), "j***@example.com");
        assert_eq!(mask_emails_in("user@localhost"), "user@localhost");
        assert_eq!(mask_emails_in("é x@y.z é"), "é x***@y.z é");
        assert!(is_masked("j***@example.com") && is_masked("***"));
        assert!(!is_masked("jane@example.com"));
    }
}
