//! The client's error type and the decoding of ActiveCampaign's error bodies.
//!
//! ActiveCampaign answers errors in three shapes (api notes §6): a JSON:API-ish
//! `{"errors":[{"title","detail","code",...}]}`, a bare `{"message":"..."}`, and
//! the bulk importer's `{"success":0,"message":...,"failureReasons":[...]}` whose
//! reasons are objects (`{"contact":230,"failureReason":"..."}`) or plain
//! strings. [`ErrorBody::parse`] accepts all three (and anything else, as raw
//! text) so an error message always says what the server said.
//!
//! No variant ever carries the API key: the key lives only in the
//! `SecretString` of the config and in the sensitive request header.

use serde::Deserialize;
use serde_json::Value;
use std::fmt;

/// Everything a call to ActiveCampaign can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The client could not be built from its configuration.
    #[error("connection `{connection}`: invalid client configuration: {reason}")]
    Config { connection: String, reason: String },

    /// 401/403: the key is wrong or lacks permission. Never retried.
    #[error(
        "connection `{connection}`: ActiveCampaign refused the API key ({status}) on {endpoint}: {body}; check the key in {key_source} and that its user may manage contacts and lists"
    )]
    Auth {
        connection: String,
        endpoint: String,
        status: u16,
        body: Box<ErrorBody>,
        /// Where the key was read from (`key file PATH`, …), never the key.
        key_source: String,
    },

    /// `GET /lists/{id}` answered 404.
    #[error("connection `{connection}`: list {list_id} does not exist in ActiveCampaign ({body})")]
    ListNotFound {
        connection: String,
        list_id: u64,
        body: Box<ErrorBody>,
    },

    /// A 4xx other than 401/403/429 (and other than the bulk rate limit):
    /// the request itself was refused. Not retried.
    #[error("connection `{connection}`: {endpoint} refused the request ({status}): {body}")]
    Rejected {
        connection: String,
        endpoint: String,
        status: u16,
        body: Box<ErrorBody>,
    },

    /// A transient failure (429, 5xx, bulk rate limit, timeout, dropped
    /// connection) persisted through every allowed attempt.
    #[error(
        "connection `{connection}`: {endpoint} still failing after {attempts} attempts; last: {last}"
    )]
    RetriesExhausted {
        connection: String,
        endpoint: String,
        attempts: u32,
        last: String,
    },

    /// A shutdown ended the wait before a request (a back-off, a
    /// `Retry-After`, the request budget's turn): it was not sent.
    #[error("connection `{connection}`: {endpoint} not sent: stopped by shutdown")]
    Stopped {
        connection: String,
        endpoint: String,
    },

    /// The server's TLS certificate did not verify (unknown issuer, wrong
    /// name, expired...). Never retried: the next attempt meets the same
    /// certificate, and certificates are never left unverified.
    #[error(
        "connection `{connection}`: the server's TLS certificate was refused ({reason}); acsync always verifies certificates: check the connection's url"
    )]
    Tls { connection: String, reason: String },

    /// A 2xx answer whose body we could not understand.
    #[error("connection `{connection}`: unexpected answer from {endpoint}: {reason}")]
    Decode {
        connection: String,
        endpoint: String,
        reason: String,
    },

    /// A bulk import did not reach a terminal status within the allowed wait.
    #[error(
        "connection `{connection}`: bulk import {batch_id} not finished after {waited_secs} s (last status: {last_status})"
    )]
    BatchTimeout {
        connection: String,
        batch_id: String,
        waited_secs: u64,
        last_status: String,
    },
}

impl ApiError {
    /// The HTTP status of a refused request, if this error carries one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Auth { status, .. } | ApiError::Rejected { status, .. } => Some(*status),
            ApiError::ListNotFound { .. } => Some(404),
            _ => None,
        }
    }

    /// The reasons of a whole-batch bulk rejection about its contacts
    /// (§4.3: nothing was queued): each with the index ActiveCampaign gave,
    /// as it gave it (its base is undocumented, see docs/verification.md).
    /// `None` for any other error, or when a reason is general (rate limit,
    /// payload).
    pub fn rejected_contacts(&self) -> Option<Vec<(Option<u64>, String)>> {
        let ApiError::Rejected { body, .. } = self else {
            return None;
        };
        body.contact_reasons()
    }
}

/// One reason in a bulk import's `failureReasons`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    /// A contact-level validation failure: the index of the contact in the
    /// request (as the server reports it) and the reason.
    Contact { index: Option<u64>, reason: String },
    /// A general failure, e.g. the rate-limit text.
    General(String),
}

/// A decoded error body, whatever its shape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorBody {
    /// `message` of the `{"message"}` and bulk shapes.
    pub message: Option<String>,
    /// `errors[]`: one line per entry (`title: detail [code] at pointer`).
    pub errors: Vec<String>,
    /// The bulk shape's `failureReasons`.
    pub failure_reasons: Vec<FailureReason>,
    /// The body as text (truncated) when it was not JSON we recognise.
    pub raw: Option<String>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    source: Option<ErrorSource>,
}

#[derive(Deserialize)]
struct ErrorSource {
    #[serde(default)]
    pointer: Option<String>,
}

/// How much of an unrecognised body an error message keeps.
const RAW_KEEP: usize = 300;

impl ErrorBody {
    /// Decodes any of the three shapes; falls back to the raw text.
    pub fn parse(bytes: &[u8]) -> ErrorBody {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(bytes) else {
            return ErrorBody::raw(bytes);
        };
        let message = map.get("message").and_then(text_of);
        let errors = map
            .get("errors")
            .and_then(|v| v.as_array())
            .map(|items| items.iter().filter_map(error_line).collect())
            .unwrap_or_default();
        let failure_reasons = map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("failureReasons"))
            .and_then(|(_, v)| v.as_array())
            .map(|items| items.iter().filter_map(failure_reason).collect())
            .unwrap_or_default();
        let body = ErrorBody {
            message,
            errors,
            failure_reasons,
            raw: None,
        };
        if body == ErrorBody::default() && map.is_empty() {
            return body; // `{}`: the documented 400 body of contact/sync and contactLists.
        }
        if body == ErrorBody::default() {
            return ErrorBody::raw(bytes);
        }
        body
    }

    fn raw(bytes: &[u8]) -> ErrorBody {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim();
        let raw = (!text.is_empty()).then(|| text.chars().take(RAW_KEEP).collect());
        ErrorBody {
            raw,
            ..ErrorBody::default()
        }
    }

    /// See [`ApiError::rejected_contacts`]; in the body's order.
    pub fn contact_reasons(&self) -> Option<Vec<(Option<u64>, String)>> {
        let reasons = self.failure_reasons.iter().map(|r| match r {
            FailureReason::Contact { index, reason } => Some((*index, reason.clone())),
            FailureReason::General(_) => None,
        });
        let out: Vec<_> = reasons.collect::<Option<_>>()?;
        (!out.is_empty()).then_some(out)
    }

    /// True when this is the bulk importer's "Rate limit exceeded" 400.
    pub fn is_bulk_rate_limit(&self) -> bool {
        let rate = |s: &str| {
            let s = s.to_ascii_lowercase();
            s.contains("rate limit") || s.contains("per minute")
        };
        self.message.as_deref().is_some_and(rate)
            || self.failure_reasons.iter().any(|r| match r {
                FailureReason::General(s) => rate(s),
                FailureReason::Contact { .. } => false,
            })
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.message.clone());
        parts.extend(self.errors.iter().cloned());
        parts.extend(self.failure_reasons.iter().map(|r| match r {
            FailureReason::Contact {
                index: Some(i),
                reason,
            } => format!("contact #{i}: {reason}"),
            FailureReason::Contact {
                index: None,
                reason,
            } => reason.clone(),
            FailureReason::General(s) => s.clone(),
        }));
        parts.extend(self.raw.clone());
        if parts.is_empty() {
            f.write_str("no details")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn error_line(v: &Value) -> Option<String> {
    let item = ErrorItem::deserialize(v).ok()?;
    let mut line = [item.title, item.detail]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    if let Some(code) = item.code.filter(|c| !c.is_empty()) {
        line.push_str(&format!(" [{code}]"));
    }
    if let Some(p) = item.source.and_then(|s| s.pointer) {
        line.push_str(&format!(" at {p}"));
    }
    (!line.is_empty()).then_some(line)
}

fn failure_reason(v: &Value) -> Option<FailureReason> {
    match v {
        Value::String(s) => Some(FailureReason::General(s.clone())),
        Value::Object(o) => {
            let index = o.get("contact").and_then(|c| match c {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            });
            let reason = o
                .get("failureReason")
                .or_else(|| o.get("reason"))
                .and_then(text_of)
                .unwrap_or_else(|| Value::Object(o.clone()).to_string());
            Some(FailureReason::Contact { index, reason })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_array_shape() {
        let b = ErrorBody::parse(
            br#"{"errors":[{"title":"Email address already exists in the system","detail":"","code":"duplicate","source":{"pointer":"/data/attributes/email"}}]}"#,
        );
        assert_eq!(
            b.errors,
            vec![
                "Email address already exists in the system [duplicate] at /data/attributes/email"
            ]
        );
        assert!(b.message.is_none() && b.raw.is_none());
        let b = ErrorBody::parse(
            br#"{"errors":[{"status":403,"title":"Forbidden","detail":"You do not have permission to view lists."}]}"#,
        );
        assert_eq!(
            b.to_string(),
            "Forbidden: You do not have permission to view lists."
        );
    }

    #[test]
    fn message_shape() {
        let b = ErrorBody::parse(br#"{"message":"No Result found for _List with id 7"}"#);
        assert_eq!(
            b.message.as_deref(),
            Some("No Result found for _List with id 7")
        );
        assert_eq!(b.to_string(), "No Result found for _List with id 7");
        assert!(!b.is_bulk_rate_limit());
    }

    #[test]
    fn bulk_shape_with_objects() {
        let b = ErrorBody::parse(
            br#"{"success":0,"message":"JSON payload did not pass validation.","failureReasons":[{"contact":230,"failureReason":"Field' email' incorrect format"}]}"#,
        );
        assert_eq!(
            b.failure_reasons,
            vec![FailureReason::Contact {
                index: Some(230),
                reason: "Field' email' incorrect format".into()
            }]
        );
        assert!(!b.is_bulk_rate_limit());
        assert!(b.to_string().contains("contact #230"));
    }

    #[test]
    fn rejection_names_its_contacts_section_4_3() {
        let b = ErrorBody::parse(
            br#"{"success":0,"message":"JSON payload did not pass validation.","failureReasons":[{"contact":"7","failureReason":"Field' email' incorrect format"},{"contact":2,"failureReason":"b"},{"contact":7,"failureReason":"c"}]}"#,
        );
        assert_eq!(
            b.contact_reasons(),
            Some(vec![
                (Some(7), "Field' email' incorrect format".to_string()),
                (Some(2), "b".to_string()),
                (Some(7), "c".to_string())
            ])
        );
        // A general reason: not a rejection about contacts.
        let general = ErrorBody::parse(
            br#"{"success":0,"message":"Rate limit exceeded.","failureReasons":["Up to 100 imports"]}"#,
        );
        assert_eq!(general.contact_reasons(), None);
        assert_eq!(ErrorBody::parse(b"{}").contact_reasons(), None);
    }

    #[test]
    fn bulk_shape_with_strings_is_rate_limit() {
        let b = ErrorBody::parse(
            br#"{"success":0,"message":"Rate limit exceeded.","failureReasons":["Up to 100 imports may be requested per minute.Please batch contacts into larger requests, or retry this request in a minute."]}"#,
        );
        assert!(
            matches!(&b.failure_reasons[0], FailureReason::General(s) if s.starts_with("Up to 100"))
        );
        assert!(b.is_bulk_rate_limit());
    }

    #[test]
    fn empty_and_unknown_bodies() {
        assert_eq!(ErrorBody::parse(b"{}").to_string(), "no details");
        assert_eq!(ErrorBody::parse(b"").to_string(), "no details");
        let b = ErrorBody::parse(b"<html>Bad Gateway</html>");
        assert_eq!(b.raw.as_deref(), Some("<html>Bad Gateway</html>"));
        let b = ErrorBody::parse(br#"{"weird":true}"#);
        assert_eq!(b.raw.as_deref(), Some(r#"{"weird":true}"#));
        let long = vec![b'x'; 5000];
        assert_eq!(ErrorBody::parse(&long).raw.map(|r| r.len()), Some(RAW_KEEP));
    }

    #[test]
    fn auth_error_names_connection() {
        let e = ApiError::Auth {
            connection: "prod".into(),
            endpoint: "GET /lists/{id}".into(),
            status: 403,
            body: Box::new(ErrorBody::parse(br#"{"message":"Forbidden"}"#)),
            key_source: "key file /etc/acsync/prod.key".into(),
        };
        let s = e.to_string();
        assert!(s.starts_with("connection `prod`: ActiveCampaign refused the API key (403)"));
        assert!(
            s.contains("check the key in key file /etc/acsync/prod.key"),
            "{s}"
        );
        assert_eq!(e.status(), Some(403));
    }
}
