//! The bulk importer: `POST /import/bulk_import` and `GET /import/info`.
//!
//! Limits (api notes §4.1): at most 250 contacts and 399,999 bytes a request
//! body, 100 multi-contact requests a minute, 20 single-contact ones (the
//! minute budgets live in [`super::limit`]). [`split_batches`] cuts a list of
//! contacts on both limits using the exact serialized size of the body that
//! [`Client::bulk_submit`] sends. An import is asynchronous: a 200 only means
//! "queued"; [`Client::bulk_info`] reads where it stands (`false` is "not
//! yet"), and `run::poll` says when to read it again. Contacts the importer refused (opted out, excluded,
//! bounced, malformed) come back as their emails only; [`BatchResult::failed_indexes`]
//! maps them back to the batch.
//!
//! `exclude_automations` is sent both inside each contact, where the
//! official example puts it, and at the top level of the body, where other
//! clients put it: which one ActiveCampaign honours is ambiguous, and an
//! automation that fires cannot be undone (docs/verification.md). Batches
//! are sized as if it were always present, so a batch is valid either way.

use super::Client;
use super::error::{ApiError, ErrorBody};
use super::limit::Kind;
use super::transport::Call;
use super::wire::{BulkAccepted, ImportInfo, parse_bulk_accepted};
use serde::Serialize;
use std::collections::HashSet;
use std::time::Duration;

/// Most contacts in one bulk request.
pub const MAX_CONTACTS: usize = 250;
/// Most bytes in one bulk request body.
pub const MAX_BODY_BYTES: usize = 399_999;
/// The longest pause between two `/import/info` polls.
const POLL_CAP: Duration = Duration::from_secs(30);

/// One contact of a bulk import. `None` fields and empty lists are omitted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BulkContact {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// Custom field id and value.
    pub fields: Vec<(u64, String)>,
    /// Tag names (created when missing; bulk import only adds tags).
    pub tags: Vec<String>,
    /// List ids to subscribe to (refused for contacts who unsubscribed).
    pub subscribe: Vec<u64>,
    /// List ids to unsubscribe from.
    pub unsubscribe: Vec<u64>,
}

/// How a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchStatus {
    Completed,
    /// Terminal; the importer will not retry it (resubmitting is safe).
    Failed,
    /// Terminal; interrupted by failures.
    Interrupted,
}

impl BatchStatus {
    fn terminal(status: &str) -> Option<BatchStatus> {
        match status {
            "completed" => Some(BatchStatus::Completed),
            "failed" => Some(BatchStatus::Failed),
            "interrupted" => Some(BatchStatus::Interrupted),
            _ => None,
        }
    }
}

/// The outcome of one batch, from `/import/info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResult {
    pub status: BatchStatus,
    /// Ids of contacts the import *created* (updated ones may be absent).
    pub created_ids: Vec<u64>,
    /// Emails (lowercased) of contacts the importer refused.
    pub failed_emails: Vec<String>,
}

impl BatchResult {
    /// Indexes into `batch` of the contacts whose email failed.
    pub fn failed_indexes(&self, batch: &[BulkContact]) -> Vec<usize> {
        let failed: HashSet<&str> = self.failed_emails.iter().map(String::as_str).collect();
        batch
            .iter()
            .enumerate()
            .filter(|(_, c)| failed.contains(c.email.trim().to_lowercase().as_str()))
            .map(|(i, _)| i)
            .collect()
    }
}

#[derive(Serialize)]
struct WireBody<'a> {
    contacts: Vec<WireContact<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    exclude_automations: bool,
}

#[derive(Serialize)]
struct WireContact<'a> {
    email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<WireField<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscribe: Vec<ListRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unsubscribe: Vec<ListRef>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    exclude_automations: bool,
}

#[derive(Serialize)]
struct WireField<'a> {
    id: u64,
    value: &'a str,
}

#[derive(Serialize)]
struct ListRef {
    listid: u64,
}

fn wire_contact(c: &BulkContact, exclude_automations: bool) -> WireContact<'_> {
    let lists = |ids: &[u64]| ids.iter().map(|&listid| ListRef { listid }).collect();
    WireContact {
        email: &c.email,
        first_name: c.first_name.as_deref(),
        last_name: c.last_name.as_deref(),
        phone: c.phone.as_deref(),
        tags: &c.tags,
        fields: c
            .fields
            .iter()
            .map(|(id, value)| WireField { id: *id, value })
            .collect(),
        subscribe: lists(&c.subscribe),
        unsubscribe: lists(&c.unsubscribe),
        exclude_automations,
    }
}

/// The exact request body [`Client::bulk_submit`] sends.
pub fn bulk_body(batch: &[BulkContact], exclude_automations: bool) -> Vec<u8> {
    let body = WireBody {
        contacts: batch
            .iter()
            .map(|c| wire_contact(c, exclude_automations))
            .collect(),
        exclude_automations,
    };
    serde_json::to_vec(&body).expect("bulk bodies are strings and numbers")
}

/// `{"contacts":[` + `],"exclude_automations":true}`.
const WRAPPER_BYTES: usize = r#"{"contacts":[],"exclude_automations":true}"#.len();

/// One contact's serialized size, as the largest body would carry it.
fn contact_bytes(c: &BulkContact) -> usize {
    serde_json::to_vec(&wire_contact(c, true)).map_or(usize::MAX / 2, |v| v.len())
}

/// Cuts `contacts` into batches of at most `max_contacts` and `max_bytes`,
/// order kept. A contact too large alone gets a batch of its own (the
/// server will refuse it, and only it).
pub fn split(
    contacts: Vec<BulkContact>,
    max_contacts: usize,
    max_bytes: usize,
) -> Vec<Vec<BulkContact>> {
    let mut batches = Vec::new();
    let mut b = Batcher::with_limits(max_contacts, max_bytes);
    for c in contacts {
        batches.extend(b.push(c));
    }
    batches.extend(b.finish());
    batches
}

/// Cuts a stream of contacts into valid batches one contact at a time, so
/// a caller can build each batch's contacts only when it is about to send
/// it, instead of holding every contact of a run at once (what [`split`]
/// does with a whole vector).
#[derive(Debug)]
pub struct Batcher {
    current: Vec<BulkContact>,
    size: usize,
    max_contacts: usize,
    max_bytes: usize,
}

impl Default for Batcher {
    fn default() -> Self {
        Batcher::with_limits(MAX_CONTACTS, MAX_BODY_BYTES)
    }
}

impl Batcher {
    /// Batches of at most [`MAX_CONTACTS`] and [`MAX_BODY_BYTES`].
    pub fn new() -> Batcher {
        Batcher::default()
    }

    fn with_limits(max_contacts: usize, max_bytes: usize) -> Batcher {
        Batcher {
            current: Vec::new(),
            size: WRAPPER_BYTES,
            max_contacts,
            max_bytes,
        }
    }

    /// Adds `c`; returns the batch it closed when it does not fit in the
    /// current one (`c` then starts the next).
    pub fn push(&mut self, c: BulkContact) -> Option<Vec<BulkContact>> {
        let bytes = contact_bytes(&c);
        let comma = usize::from(!self.current.is_empty());
        let full = !self.current.is_empty()
            && (self.current.len() >= self.max_contacts
                || self.size + comma + bytes > self.max_bytes);
        let closed = full.then(|| {
            self.size = WRAPPER_BYTES;
            std::mem::take(&mut self.current)
        });
        self.size += usize::from(!self.current.is_empty()) + bytes;
        self.current.push(c);
        closed
    }

    /// Contacts in the batch being filled.
    pub fn pending(&self) -> usize {
        self.current.len()
    }

    /// The last, partly filled batch, if any.
    pub fn finish(self) -> Option<Vec<BulkContact>> {
        (!self.current.is_empty()).then_some(self.current)
    }
}

impl Client {
    /// Splits contacts into valid bulk requests (≤ 250 contacts, ≤ 399,999
    /// bytes each, exact serialized size), order kept.
    pub fn split_batches(&self, contacts: Vec<BulkContact>) -> Vec<Vec<BulkContact>> {
        split(contacts, MAX_CONTACTS, MAX_BODY_BYTES)
    }

    /// Queues one batch; returns its `batchId`. Retrying is safe: the
    /// import upserts by email.
    pub async fn bulk_submit(
        &self,
        batch: &[BulkContact],
        exclude_automations: bool,
    ) -> Result<String, ApiError> {
        if batch.is_empty() {
            return Err(ApiError::Config {
                connection: self.connection().to_string(),
                reason: "an empty bulk batch cannot be submitted".into(),
            });
        }
        let kind = if batch.len() == 1 {
            Kind::BulkSingle
        } else {
            Kind::BulkMulti
        };
        let body = bulk_body(batch, exclude_automations);
        let call =
            Call::post_raw("POST /import/bulk_import", &["import", "bulk_import"], body).kind(kind);
        let answer = self.execute(&call).await?;
        match parse_bulk_accepted(&answer) {
            Some(BulkAccepted::Queued { batch_id }) => Ok(batch_id),
            Some(BulkAccepted::Refused) => Err(ApiError::Rejected {
                connection: self.connection().to_string(),
                endpoint: call.endpoint.to_string(),
                status: 200,
                body: Box::new(ErrorBody::parse(&answer)),
            }),
            None => Err(ApiError::Decode {
                connection: self.connection().to_string(),
                endpoint: call.endpoint.to_string(),
                reason: "the answer is not a JSON object".into(),
            }),
        }
    }

    /// One `GET /import/info`: the batch's result once it is completed,
    /// failed or interrupted, else its status so far (`None`: `false`).
    pub async fn bulk_info(&self, batch_id: &str) -> Result<BatchPoll, ApiError> {
        let call = Call::get("GET /import/info", &["import", "info"])
            .query([("batchId", batch_id.to_string())]);
        let info: ImportInfo = self.fetch(&call).await?;
        let status = info.status_text();
        Ok(match status.as_deref().and_then(BatchStatus::terminal) {
            Some(terminal) => BatchPoll::Done(batch_result(terminal, info)),
            None => BatchPoll::Pending(status),
        })
    }

    /// The configured wait before a batch's first poll (≥ 1 s for the real API).
    pub fn poll_interval(&self) -> Duration {
        self.shared.cfg.poll_interval
    }

    /// The wait after a poll that found the batch unfinished, `last` having
    /// been the previous wait: ×1.5, capped at 16 × `poll_interval` or 30 s.
    pub fn next_poll_delay(&self, last: Duration) -> Duration {
        let p = self.shared.cfg.poll_interval;
        let cap = (p * 16).min(POLL_CAP).max(p);
        last.mul_f64(1.5).min(cap)
    }

    /// The longest a batch is followed before [`ApiError::BatchTimeout`].
    pub fn bulk_wait_max(&self) -> Duration {
        self.shared.cfg.bulk_wait_max
    }

    /// The error for a batch followed longer than `bulk_wait_max`.
    pub fn batch_timeout(
        &self,
        batch_id: &str,
        waited: Duration,
        last_status: Option<String>,
    ) -> ApiError {
        ApiError::BatchTimeout {
            connection: self.shared.cfg.connection.clone(),
            batch_id: batch_id.to_string(),
            waited_secs: waited.as_secs(),
            last_status: last_status.unwrap_or_else(|| "false".into()),
        }
    }
}

/// What one `/import/info` poll saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchPoll {
    /// Terminal: completed, failed or interrupted.
    Done(BatchResult),
    /// Not yet; the status text if any (`None` while `false`).
    Pending(Option<String>),
}

fn batch_result(status: BatchStatus, info: ImportInfo) -> BatchResult {
    BatchResult {
        status,
        created_ids: info.success.into_iter().map(|id| id.0).collect(),
        failed_emails: info
            .failure
            .iter()
            .map(|e| e.trim().to_lowercase())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(i: usize, value_len: usize) -> BulkContact {
        BulkContact {
            email: format!("user{i}@example.com"),
            first_name: Some("Jane".into()),
            last_name: None,
            phone: Some("+31 6 1234".into()),
            fields: vec![(3, "x".repeat(value_len))],
            tags: vec!["vip".into()],
            subscribe: vec![7],
            unsubscribe: vec![],
        }
    }

    fn check(batches: &[Vec<BulkContact>], total: usize) {
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), total);
        let mut next = 0;
        for b in batches {
            assert!(b.len() <= MAX_CONTACTS);
            for exclude in [false, true] {
                assert!(bulk_body(b, exclude).len() <= MAX_BODY_BYTES);
            }
            for c in b {
                assert_eq!(c.email, format!("user{next}@example.com"), "order kept");
                next += 1;
            }
        }
    }

    #[test]
    fn splits_by_count() {
        let batches = split(
            (0..600).map(|i| contact(i, 5)).collect(),
            MAX_CONTACTS,
            MAX_BODY_BYTES,
        );
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![250, 250, 100]
        );
        check(&batches, 600);
    }

    #[test]
    fn splits_by_bytes_first() {
        // ~5 kB per contact: 250 would be ~1.25 MB, so bytes cut first.
        let contacts: Vec<_> = (0..300).map(|i| contact(i, 5_000)).collect();
        let batches = split(contacts, MAX_CONTACTS, MAX_BODY_BYTES);
        assert!(batches.len() >= 4, "{}", batches.len());
        assert!(batches.iter().all(|b| b.len() < MAX_CONTACTS));
        check(&batches, 300);
        // Greedy: each batch but the last is full (one more would not fit).
        for w in batches.windows(2) {
            let mut more = w[0].clone();
            more.push(w[1][0].clone());
            assert!(bulk_body(&more, true).len() > MAX_BODY_BYTES);
        }
    }

    #[test]
    fn size_accounting_is_exact() {
        for n in [1, 2, 17] {
            let batch: Vec<_> = (0..n).map(|i| contact(i, i * 13)).collect();
            let predicted =
                WRAPPER_BYTES + batch.iter().map(contact_bytes).sum::<usize>() + (n - 1);
            assert_eq!(predicted, bulk_body(&batch, true).len());
        }
        // A body exactly at the limit fits; one byte more splits.
        let two: Vec<_> = (0..2).map(|i| contact(i, 10)).collect();
        let exact = bulk_body(&two, true).len();
        assert_eq!(split(two.clone(), 250, exact).len(), 1);
        assert_eq!(split(two, 250, exact - 1).len(), 2);
    }

    #[test]
    fn oversized_contact_goes_alone() {
        let contacts = vec![contact(0, 10), contact(1, 500_000), contact(2, 10)];
        let batches = split(contacts, MAX_CONTACTS, MAX_BODY_BYTES);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
    }

    #[test]
    fn body_shape() {
        let c = BulkContact {
            email: "a@b.co".into(),
            fields: vec![(1, "foo".into())],
            subscribe: vec![1, 2],
            unsubscribe: vec![3],
            ..BulkContact::default()
        };
        let body = String::from_utf8(bulk_body(&[c], true)).unwrap();
        assert_eq!(
            body,
            r#"{"contacts":[{"email":"a@b.co","fields":[{"id":1,"value":"foo"}],"subscribe":[{"listid":1},{"listid":2}],"unsubscribe":[{"listid":3}],"exclude_automations":true}],"exclude_automations":true}"#
        );
        let c = BulkContact {
            email: "a@b.co".into(),
            ..BulkContact::default()
        };
        let body = String::from_utf8(bulk_body(&[c], false)).unwrap();
        assert_eq!(body, r#"{"contacts":[{"email":"a@b.co"}]}"#);
    }

    #[test]
    fn failed_emails_map_to_indexes() {
        let batch = vec![
            contact(0, 1),
            contact(1, 1),
            BulkContact {
                email: "Mixed@Case.io".into(),
                ..BulkContact::default()
            },
        ];
        let info: ImportInfo = serde_json::from_str(
            r#"{"status":"completed","success":["12"],"failure":["USER1@example.com","mixed@case.io","other@x.io"]}"#,
        )
        .unwrap();
        let r = batch_result(BatchStatus::Completed, info);
        assert_eq!(r.created_ids, vec![12]);
        assert_eq!(r.failed_emails[0], "user1@example.com");
        assert_eq!(r.failed_indexes(&batch), vec![1, 2]);
    }
}
