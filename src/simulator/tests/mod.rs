//! Behaviour tests over real HTTP (reqwest against a live simulator), one
//! per documented quirk; test names carry the `activecampaign-api.md`
//! section they pin. Timings are shrunk so each test stays fast.

mod api;
mod bulk;
mod changed;
mod faults;
mod rows;
mod scale;
mod shapes;

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{SimConfig, Simulator};

/// Unlimited general rate and short batch timings: tests that pin a limit
/// or a timing set it explicitly.
pub(super) fn fast() -> SimConfig {
    SimConfig {
        requests_per_second: 0,
        info_false_for: Duration::from_millis(40),
        import_duration: Duration::from_millis(40),
        ..SimConfig::default()
    }
}

pub(super) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A tiny client: base URL + key, JSON in, `Answer` out.
pub(super) struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    pub fn new(sim: &Simulator) -> Api {
        Api::with_key(sim, &sim.api_key())
    }

    pub fn with_key(sim: &Simulator, key: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: format!("{}/api/3", sim.base_url()),
            key: key.to_string(),
        }
    }

    pub async fn try_get(&self, path: &str) -> reqwest::Result<Answer> {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.try_get(path).await.expect("GET failed")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.post_raw(path, body.to_string()).await
    }

    pub async fn post_raw(&self, path: &str, body: String) -> Answer {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        self.send(req).await.expect("POST failed")
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> reqwest::Result<Answer> {
        let req = if self.key.is_empty() {
            req
        } else {
            req.header("Api-Token", &self.key)
        };
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// Ids of a `GET /contacts` answer, as numbers.
pub(super) fn ids(a: &Answer) -> Vec<u64> {
    a.body["contacts"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["id"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}
