//! The one place a request leaves the process: URL, `Api-Token` header,
//! rate budget, counters, and the retry loop around [`retry`]'s policy.
//!
//! Every endpoint builds a [`Call`] and hands it to [`Client::execute`] (raw
//! bytes of a 2xx) or [`Client::fetch`] (decoded JSON). Log lines name the
//! connection and the endpoint *template* (`GET /lists/{id}`), never a full
//! URL nor a header.
//!
//! Retrying a POST whose answer was lost (timeout, dropped connection) may
//! send it twice. That is safe for every POST this client makes:
//! `contact/sync` and `import/bulk_import` are upserts keyed on the email,
//! and `contactLists` sets a status rather than adding anything.

use super::error::{ApiError, ErrorBody};
use super::limit::Kind;
use super::retry::{AnswerClass, Backoff, RETRY_AFTER_CAP, parse_retry_after};
use super::{Client, ClientConfig, Counters};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// One request, as the endpoints describe it.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub method: Method,
    /// The endpoint template for logs, errors and stats, e.g. `GET /lists/{id}`.
    pub endpoint: &'static str,
    /// Path segments after `/api/3`.
    pub path: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
    pub kind: Kind,
}

impl Call {
    pub fn get(endpoint: &'static str, path: &[&str]) -> Call {
        Call {
            method: Method::GET,
            endpoint,
            path: path.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: None,
            kind: Kind::Plain,
        }
    }

    pub fn post(endpoint: &'static str, path: &[&str], body: &impl Serialize) -> Call {
        // Our request bodies are plain structs of strings and numbers:
        // serialising them cannot fail.
        let bytes = serde_json::to_vec(body).expect("request bodies always serialise");
        Call::post_raw(endpoint, path, bytes)
    }

    pub fn post_raw(endpoint: &'static str, path: &[&str], body: Vec<u8>) -> Call {
        Call {
            method: Method::POST,
            body: Some(body),
            ..Call::get(endpoint, path)
        }
    }

    pub fn query<const N: usize>(mut self, pairs: [(&'static str, String); N]) -> Call {
        self.query.extend(pairs);
        self
    }

    /// Query pairs of any number, e.g. a repeated `ids[]`.
    pub fn query_all(mut self, pairs: impl IntoIterator<Item = (&'static str, String)>) -> Call {
        self.query.extend(pairs);
        self
    }

    pub fn kind(mut self, kind: Kind) -> Call {
        self.kind = kind;
        self
    }
}

/// The result of one attempt.
pub(super) enum Attempt {
    Done(Vec<u8>),
    Fatal(ApiError),
    Transient {
        what: String,
        retry_after: Option<Duration>,
        /// A 429: refused by the per-second limiter before anything counted it.
        refused_uncounted: bool,
    },
}

/// Refuses configurations the client cannot work with; the `Api-Token`
/// header of a good one.
pub(super) fn validate(cfg: &ClientConfig) -> Result<HeaderValue, ApiError> {
    let refuse = |reason: &str| {
        Err(ApiError::Config {
            connection: cfg.connection.clone(),
            reason: reason.to_string(),
        })
    };
    if !matches!(cfg.base_url.scheme(), "https" | "http") || cfg.base_url.host().is_none() {
        return refuse("the base URL must be an http(s) URL with a host");
    }
    let rates = [
        cfg.requests_per_second,
        cfg.bulk_per_minute,
        cfg.bulk_single_per_minute,
    ];
    if rates.contains(&0) || cfg.max_attempts == 0 {
        return refuse("rates and max_attempts must be at least 1");
    }
    token_of(&cfg.connection, &cfg.api_key)
}

/// The `Api-Token` header of `key`, marked sensitive so it is never printed.
pub(super) fn token_of(connection: &str, key: &SecretString) -> Result<HeaderValue, ApiError> {
    let refuse = |reason: &str| ApiError::Config {
        connection: connection.to_string(),
        reason: reason.to_string(),
    };
    if key.expose_secret().trim().is_empty() {
        return Err(refuse("the API key is empty"));
    }
    let mut value = HeaderValue::from_str(key.expose_secret().trim())
        .map_err(|_| refuse("the API key contains characters not allowed in an HTTP header"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// `base_url` + `/api/3` (tolerating a base URL that already ends so).
pub(super) fn api_root(base: &Url) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().trim_end_matches('/').ends_with("/api/3")
        && let Ok(mut segments) = url.path_segments_mut()
    {
        segments.pop_if_empty().extend(["api", "3"]);
    }
    url
}

impl Client {
    /// Sends a call (with retries); the body of its 2xx answer.
    pub(super) async fn execute(&self, call: &Call) -> Result<Vec<u8>, ApiError> {
        let url = self.url(call);
        let mut attempt = 0;
        let mut reread = false;
        loop {
            attempt += 1;
            let asked = Instant::now();
            let grant = self
                .until_stopped(call, self.shared.budget.acquire(call.kind))
                .await?;
            // Each send, for timing studies (`RUST_LOG=acsync::pace=trace`);
            // the fields are computed only when that level is on.
            tracing::trace!(target: "acsync::pace", connection = self.connection(), endpoint = call.endpoint, waited_ms = asked.elapsed().as_millis() as u64, "sent");
            let slots = grant.slots();
            let outcome = self.attempt(&url, call).await;
            // Only a success surely leaves its connection open (an error may
            // be a transport one): counting the next request as opening a
            // connection errs slow.
            grant.answered(matches!(outcome, Attempt::Done(_)));
            let (what, retry_after) = match outcome {
                Attempt::Done(body) => return Ok(body),
                Attempt::Fatal(ApiError::Auth { .. }) if !reread && self.reread_key(call) => {
                    reread = true;
                    continue;
                }
                Attempt::Fatal(e) => return Err(e),
                Attempt::Transient {
                    what,
                    retry_after,
                    refused_uncounted,
                } => {
                    if refused_uncounted {
                        self.shared.budget.give_back(slots);
                    }
                    (what, retry_after)
                }
            };
            if attempt >= self.shared.cfg.max_attempts {
                return Err(ApiError::RetriesExhausted {
                    connection: self.connection().to_string(),
                    endpoint: call.endpoint.to_string(),
                    attempts: attempt,
                    last: what,
                });
            }
            let wait = self.wait_before_retry(call, attempt, &what, retry_after);
            self.until_stopped(call, wait).await?;
        }
    }

    /// Awaits `wait`, unless this handle's shutdown comes first: then
    /// [`ApiError::Stopped`] (see [`Client::stopped_by`]).
    async fn until_stopped<T>(
        &self,
        call: &Call,
        wait: impl std::future::Future<Output = T>,
    ) -> Result<T, ApiError> {
        let Some(stop) = &self.stop else {
            return Ok(wait.await);
        };
        tokio::select! {
            done = wait => Ok(done),
            () = stop.cancelled() => Err(ApiError::Stopped {
                connection: self.connection().to_string(),
                endpoint: call.endpoint.to_string(),
            }),
        }
    }

    /// After the key was refused: reads it again from its source, once per
    /// request, and whether it changed (the request is then sent again with
    /// it, see docs/configuration.md, secrets). A key that cannot be read
    /// leaves the refusal as it is.
    fn reread_key(&self, call: &Call) -> bool {
        let Some(source) = &self.shared.cfg.key_source else {
            return false;
        };
        let changed = source.read().ok().and_then(|key| self.rekey(&key).ok());
        if changed == Some(true) {
            tracing::info!(connection = self.connection(), endpoint = call.endpoint, source = %source, "API key refused; its source holds a new key, retrying once with it");
        }
        changed == Some(true)
    }

    /// The `Api-Token` header of the key in use.
    pub(super) fn token(&self) -> HeaderValue {
        self.shared
            .token
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Where the key comes from, for errors.
    fn key_source_shown(&self) -> String {
        self.shared
            .cfg
            .key_source
            .as_ref()
            .map_or_else(|| "the key given".to_string(), ToString::to_string)
    }

    /// [`Client::execute`], then decodes the JSON answer.
    pub(super) async fn fetch<T: DeserializeOwned>(&self, call: &Call) -> Result<T, ApiError> {
        let body = self.execute(call).await?;
        serde_json::from_slice(&body).map_err(|e| ApiError::Decode {
            connection: self.connection().to_string(),
            endpoint: call.endpoint.to_string(),
            reason: e.to_string(),
        })
    }

    pub(super) fn url(&self, call: &Call) -> Url {
        let mut url = self.shared.api_root.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(&call.path);
        }
        url
    }

    async fn attempt(&self, url: &Url, call: &Call) -> Attempt {
        let token = self.token();
        let mut req = self
            .shared
            .http
            .request(call.method.clone(), url.clone())
            .header("Api-Token", token)
            .header(ACCEPT, "application/json");
        if !call.query.is_empty() {
            req = req.query(&call.query);
        }
        if let Some(body) = &call.body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        self.count_request(&call.method);
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => return self.io_failure(e),
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        match resp.bytes().await {
            Ok(body) => self.attempt_of_answer(call, status, retry_after, body.to_vec()),
            Err(e) => self.io_failure(e),
        }
    }

    /// What the answer `raw` with `status` makes of this attempt (see
    /// [`AnswerClass`]).
    fn attempt_of_answer(
        &self,
        call: &Call,
        status: u16,
        retry_after: Option<Duration>,
        raw: Vec<u8>,
    ) -> Attempt {
        // Only a 400 of the bulk importer needs its body read to be classed.
        let bulk_rate_limit = status == 400
            && call.kind != Kind::Plain
            && ErrorBody::parse(&raw).is_bulk_rate_limit();
        let body = || Box::new(ErrorBody::parse(&raw));
        match AnswerClass::of(status, bulk_rate_limit) {
            AnswerClass::Success => Attempt::Done(raw),
            AnswerClass::Transient { rate_limited } => {
                if rate_limited {
                    Counters::bump(&self.counters.rate_limited);
                }
                Attempt::Transient {
                    what: format!("HTTP {status}: {}", body()),
                    retry_after,
                    refused_uncounted: status == 429,
                }
            }
            AnswerClass::KeyRefused => Attempt::Fatal(ApiError::Auth {
                connection: self.connection().to_string(),
                endpoint: call.endpoint.to_string(),
                status,
                body: body(),
                key_source: self.key_source_shown(),
            }),
            AnswerClass::RequestRefused => Attempt::Fatal(ApiError::Rejected {
                connection: self.connection().to_string(),
                endpoint: call.endpoint.to_string(),
                status,
                body: body(),
            }),
        }
    }

    async fn wait_before_retry(
        &self,
        call: &Call,
        attempt: u32,
        what: &str,
        retry_after: Option<Duration>,
    ) {
        let cfg = &self.shared.cfg;
        let backoff = Backoff {
            base: cfg.backoff_base,
            max: cfg.backoff_max,
        };
        let delay = backoff.delay(attempt, retry_after, &mut rand::rng());
        if let Some(ra) = retry_after {
            // The limit is the account's: hold every caller, not only this one.
            self.shared
                .budget
                .pause_until(Instant::now() + ra.min(RETRY_AFTER_CAP));
        }
        Counters::bump(&self.counters.retries);
        tracing::warn!(
            connection = %cfg.connection,
            endpoint = call.endpoint,
            attempt,
            cause = what,
            delay_ms = delay.as_millis() as u64,
            "ActiveCampaign request failed; retrying"
        );
        tokio::time::sleep(delay).await;
    }

    pub(super) fn count_request(&self, method: &Method) {
        let c = &self.counters;
        Counters::bump(&c.requests);
        Counters::bump(if method == Method::GET {
            &c.reads
        } else {
            &c.writes
        });
    }

    /// A failure below HTTP: timeouts, refused or dropped connections. All are
    /// transient except a request we could not even build.
    pub(super) fn io_failure(&self, e: reqwest::Error) -> Attempt {
        let e = e.without_url();
        if let Some(reason) = refused_certificate(&e) {
            return Attempt::Fatal(ApiError::Tls {
                connection: self.connection().to_string(),
                reason,
            });
        }
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else if e.is_body() || e.is_decode() {
            "connection dropped while reading the answer"
        } else {
            "connection dropped"
        };
        let mut what = kind.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            what.push_str(": ");
            what.push_str(&cause.to_string());
            source = cause.source();
        }
        if e.is_builder() {
            return Attempt::Fatal(ApiError::Config {
                connection: self.connection().to_string(),
                reason: what,
            });
        }
        Attempt::Transient {
            what,
            retry_after: None,
            refused_uncounted: false,
        }
    }
}

/// The certificate error somewhere in `e`'s causes, if the failure was a
/// refused server certificate. rustls' error sits inside (possibly nested)
/// `io::Error`s, whose own `source()` skips the wrapped error, so the walk
/// steps into each `io::Error` with `get_ref`.
fn refused_certificate(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(t) = c.downcast_ref::<rustls::Error>() {
            let cert = matches!(
                t,
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::NoCertificatesPresented
                    | rustls::Error::InvalidCertRevocationList(_)
            );
            return cert.then(|| t.to_string());
        }
        cause = match c.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => c.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_are_found_inside_io_errors() {
        let cert = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, cert);
        // As hyper-rustls reports it: wrapped twice.
        let io = std::io::Error::other(io);
        let reason = refused_certificate(&io).expect("found");
        assert!(reason.contains("UnknownIssuer"), "{reason}");
        let other = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::HandshakeNotComplete,
        );
        assert!(refused_certificate(&other).is_none());
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(refused_certificate(&reset).is_none());
    }

    #[test]
    fn api_root_appends_once() {
        let root = |s: &str| api_root(&s.parse().unwrap()).to_string();
        assert_eq!(
            root("https://acme.api-us1.com"),
            "https://acme.api-us1.com/api/3"
        );
        assert_eq!(
            root("https://acme.api-us1.com/"),
            "https://acme.api-us1.com/api/3"
        );
        assert_eq!(
            root("https://acme.api-us1.com/api/3/"),
            "https://acme.api-us1.com/api/3/"
        );
        assert_eq!(
            root("http://127.0.0.1:8080/x?y=1"),
            "http://127.0.0.1:8080/x/api/3"
        );
    }
}
