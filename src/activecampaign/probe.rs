//! The reads of `acsync doctor`: an endpoint as it is answered (status,
//! content type, redirect target, `RateLimit-*` headers, whether the body is
//! JSON), which the other reads hide behind decoded types and errors; and
//! the first page of a list read, built by the very call a full read pages
//! with ([`Client::list_members`]). Both are GETs only.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, DATE, HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use std::time::SystemTime;

use super::error::ErrorBody;
use super::retry::{AnswerClass, parse_retry_after};
use super::transport::{Attempt, Call};
use super::wire::ContactsPage;
use super::{ApiError, Client, PAGE_SIZE};
use crate::model::{ListStatus, LiveMember};

/// Attempts per probe: a throttled or failing server gets two more tries.
const PROBE_ATTEMPTS: u32 = 3;

/// The longest wait between probe attempts, whatever `Retry-After` says: a
/// doctor answers in seconds.
const PROBE_WAIT_MAX: Duration = Duration::from_secs(5);

/// The most characters of a server-provided text kept in a [`Probe`].
const TEXT_MAX: usize = 80;

/// One GET as the server answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The endpoint template, e.g. `GET /lists`.
    pub endpoint: &'static str,
    pub status: u16,
    /// The `Content-Type` header, cut.
    pub content_type: Option<String>,
    /// Where a 3xx points (scheme, host and path only: a query may hold a token).
    pub location: Option<String>,
    /// `RateLimit-Limit` and `RateLimit-Remaining`, as sent (cut).
    pub rate_limit: Option<String>,
    pub rate_remaining: Option<String>,
    /// The body is a JSON object, as every `/api/3` answer is.
    pub json: bool,
    /// The `<title>` of an HTML body (a login page, a website), cut.
    pub title: Option<String>,
    /// For a non-2xx answer: the error body as text, cut.
    pub message: Option<String>,
    /// The answer's `Date` header, as sent (cut).
    pub date: Option<String>,
    /// The first zoned time of the answer's first contact (`cdate`,
    /// `udate`), which carries the account's offset (docs/verification.md).
    pub zoned_time: Option<String>,
}

impl Client {
    /// `GET /api/3/{path}?limit=1`, answered as it is: only a failure below
    /// HTTP (after [`PROBE_ATTEMPTS`] tries, as are 429 and 5xx answers)
    /// or a bad configuration is an error.
    pub async fn probe(&self, endpoint: &'static str, path: &[&str]) -> Result<Probe, ApiError> {
        let call = Call::get(endpoint, path).query([("limit", "1".to_string())]);
        let mut last = String::new();
        for attempt in 1..=PROBE_ATTEMPTS {
            let grant = self.shared.budget.acquire(call.kind).await;
            let once = self.probe_once(&call).await;
            grant.answered(once.is_ok());
            let wait = match once {
                // A probe is a plain GET: no bulk rate-limit answer.
                Ok((probe, _)) if !AnswerClass::of(probe.status, false).is_transient() => {
                    return Ok(probe);
                }
                Ok((probe, retry_after)) => {
                    last = format!("HTTP {}", probe.status);
                    if attempt == PROBE_ATTEMPTS {
                        return Ok(probe);
                    }
                    retry_after.unwrap_or(Duration::from_secs(1))
                }
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Transient { what, .. }) => {
                    last = what;
                    Duration::from_secs(1)
                }
                // `probe_once` answers with a `Probe`, never `Done`.
                Err(Attempt::Done(_)) => Duration::from_secs(1),
            };
            if attempt < PROBE_ATTEMPTS {
                tokio::time::sleep(wait.min(PROBE_WAIT_MAX)).await;
            }
        }
        Err(ApiError::RetriesExhausted {
            connection: self.connection().to_string(),
            endpoint: endpoint.to_string(),
            attempts: PROBE_ATTEMPTS,
            last,
        })
    }

    /// One attempt; the answer with its `Retry-After`.
    async fn probe_once(&self, call: &Call) -> Result<(Probe, Option<Duration>), Attempt> {
        let token = self.token();
        let req = self
            .shared
            .http
            .request(Method::GET, self.url(call))
            .header("Api-Token", token)
            .header(ACCEPT, "application/json")
            .query(&call.query);
        self.count_request(&Method::GET);
        let resp = req.send().await.map_err(|e| self.io_failure(e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| self.io_failure(e))?;
        let retry_after = header(&headers, RETRY_AFTER.as_str())
            .and_then(|v| parse_retry_after(&v, SystemTime::now()));
        Ok((
            read_probe(call.endpoint, status, &headers, &body),
            retry_after,
        ))
    }

    /// The first page (up to [`PAGE_SIZE`]) of the members with `status`,
    /// by the same request a full read starts with.
    pub async fn first_members(
        &self,
        list_id: u64,
        status: ListStatus,
    ) -> Result<Vec<LiveMember>, ApiError> {
        let call = members_call(list_id, Some(status), 0);
        let page: ContactsPage = self.fetch(&call).await?;
        Ok(page
            .contacts
            .into_iter()
            .filter_map(|c| super::live_member(c, status))
            .collect())
    }
}

/// One page of a list read: members with `status` (`None`: any, which is
/// ActiveCampaign's default `-1`) after id `cursor`.
pub(super) fn members_call(list_id: u64, status: Option<ListStatus>, cursor: u64) -> Call {
    let call = Call::get("GET /contacts", &["contacts"]).query([
        ("listid", list_id.to_string()),
        ("orders[id]", "ASC".to_string()),
        ("id_greater", cursor.to_string()),
        ("limit", PAGE_SIZE.to_string()),
    ]);
    match status {
        Some(s) => call.query([("status", s.code().to_string())]),
        None => call,
    }
}

/// What an answer shows (pure).
fn read_probe(endpoint: &'static str, status: StatusCode, h: &HeaderMap, body: &[u8]) -> Probe {
    let value = serde_json::from_slice::<serde_json::Value>(body).ok();
    let json = matches!(value, Some(serde_json::Value::Object(_)));
    let message = (!status.is_success()).then(|| cut(&ErrorBody::parse(body).to_string()));
    Probe {
        endpoint,
        status: status.as_u16(),
        content_type: header(h, CONTENT_TYPE.as_str()),
        location: header(h, LOCATION.as_str()).map(|l| without_query(&l)),
        rate_limit: header(h, "ratelimit-limit"),
        rate_remaining: header(h, "ratelimit-remaining"),
        json,
        title: if json { None } else { html_title(body) },
        message,
        date: header(h, DATE.as_str()),
        zoned_time: value.as_ref().and_then(first_contact_time),
    }
}

/// The first of `cdate`, `udate` of the first contact that carries an
/// offset (a zoned time).
fn first_contact_time(v: &serde_json::Value) -> Option<String> {
    let contact = v.get("contacts")?.get(0)?;
    ["cdate", "udate"]
        .iter()
        .filter_map(|k| contact.get(*k)?.as_str())
        .find(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).is_ok())
        .map(cut)
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    let v = h.get(name)?.to_str().ok()?.trim();
    (!v.is_empty()).then(|| cut(v))
}

fn without_query(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    cut(&url[..end])
}

/// The text of the first `<title>` of an HTML body.
fn html_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    let lower = text.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title = text[start..end].split_whitespace().collect::<Vec<_>>();
    (!title.is_empty()).then(|| cut(&title.join(" ")))
}

fn cut(s: &str) -> String {
    let c: String = s.chars().take(TEXT_MAX).collect();
    if c.len() < s.len() {
        format!("{c}…")
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn api_answer_with_limit_headers() {
        let h = headers(&[
            ("content-type", "application/json"),
            ("ratelimit-limit", "5"),
            ("ratelimit-remaining", "3"),
        ]);
        let p = read_probe("GET /lists", StatusCode::OK, &h, br#"{"lists":[]}"#);
        assert!(p.json && p.title.is_none() && p.message.is_none());
        assert_eq!(
            (p.rate_limit.as_deref(), p.rate_remaining.as_deref()),
            (Some("5"), Some("3"))
        );
    }

    #[test]
    fn login_page_is_not_json_and_shows_its_title() {
        let body = b"<!doctype html><html><head>\n<TITLE>\n  Login |  ActiveCampaign </TITLE></head></html>";
        let h = headers(&[("content-type", "text/html; charset=utf-8")]);
        let p = read_probe("GET /lists", StatusCode::OK, &h, body);
        assert!(!p.json);
        assert_eq!(p.title.as_deref(), Some("Login | ActiveCampaign"));
        assert_eq!(p.rate_limit, None);
    }

    #[test]
    fn redirect_target_loses_its_query() {
        let h = headers(&[(
            "location",
            "https://acme.activehosted.com/login?token=abc#x",
        )]);
        let p = read_probe("GET /lists", StatusCode::FOUND, &h, b"");
        assert_eq!(
            p.location.as_deref(),
            Some("https://acme.activehosted.com/login")
        );
        assert!(p.message.is_some());
    }

    #[test]
    fn long_texts_are_cut() {
        let long = "x".repeat(500);
        assert_eq!(cut(&long).chars().count(), TEXT_MAX + 1);
        assert_eq!(html_title(b"<p>no title</p>"), None);
    }
}
