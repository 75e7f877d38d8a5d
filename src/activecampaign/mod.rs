//! The ActiveCampaign API v3 client: the only module that speaks HTTP.
//!
//! One [`Client`] per connection (account). Clones are cheap and share the
//! account's rate budget and request counters; [`Client::scoped`] shares the
//! budget with fresh counters, so a run can report its own `api_requests`.
//!
//! Layout: this file holds the configuration and the single-contact and read
//! endpoints; [`bulk`] the bulk importer; `transport` the one place a request
//! is sent (auth header, rate budget, retries); [`limit`] and [`retry`] the
//! pure pacing and retry policies; [`wire`] the lenient JSON models; [`error`]
//! the error type and error-body decoding; [`probe`] the raw reads of
//! `acsync doctor` (and the one list-read request both share).
//!
//! The API key is a `SecretString` exposed only to build the (sensitive)
//! `Api-Token` header; no error, `Debug` output or log line contains it.

pub mod account_budget;
pub mod bulk;
pub mod changed;
pub mod error;
pub mod fields;
pub mod limit;
pub mod probe;
pub mod retry;
mod times;
mod transport;
mod verify;
pub mod wire;

pub use bulk::{BatchPoll, BatchResult, BatchStatus, Batcher, BulkContact};
pub use error::{ApiError, ErrorBody, FailureReason};
pub use fields::{FieldDef, FieldKind};
pub use probe::Probe;
pub use verify::{CheckedContact, MembershipRow};

use crate::model::{ListStatus, LiveMember};
use limit::RateBudget;
use secrecy::SecretString;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use transport::Call;
use wire::{ContactsPage, ListEnvelope, SyncResponse, WireContact};

/// The page size of every paged read (the API's maximum).
pub const PAGE_SIZE: usize = 100;

/// How a client talks to one account.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Connection name, used in error messages.
    pub connection: String,
    /// E.g. `https://acme.api-us1.com` (no `/api/3`).
    pub base_url: reqwest::Url,
    pub api_key: SecretString,
    /// Where the key is read from: read again after a refusal, and named
    /// in the error (`None`: a key given directly, never re-read).
    pub key_source: Option<crate::config::KeySource>,
    /// The account's budget, shared by every export on it.
    pub requests_per_second: u32,
    /// Bulk imports with several contacts per sliding minute.
    pub bulk_per_minute: u32,
    /// Bulk imports with one contact per sliding minute.
    pub bulk_single_per_minute: u32,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Delay before the first `/import/info` poll (≥ 1 s for the real API).
    pub poll_interval: Duration,
    /// The longest one batch is followed (see `run::poll`).
    pub bulk_wait_max: Duration,
    /// Where the account's request budget is shared with other processes
    /// (`STATE_DIR/budget`, see [`account_budget`]); `None`: paced alone.
    pub budget_dir: Option<std::path::PathBuf>,
}

impl ClientConfig {
    /// Defaults for a validated connection.
    pub fn new(connection: &crate::config::Connection, api_key: SecretString) -> Self {
        ClientConfig {
            connection: connection.name.clone(),
            base_url: connection.base_url.clone(),
            api_key,
            key_source: Some(connection.key_source()),
            requests_per_second: connection.requests_per_second,
            bulk_per_minute: 100,
            bulk_single_per_minute: 20,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_attempts: 8,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            bulk_wait_max: Duration::from_secs(30 * 60),
            budget_dir: None,
        }
    }
}

/// Request counters of one client handle (and its clones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Of which POST/PUT/DELETE.
    pub writes: u64,
    /// Of which GET.
    pub reads: u64,
    /// Attempts that were followed by another attempt.
    pub retries: u64,
    /// 429 answers and bulk "Rate limit exceeded" 400s.
    pub rate_limited: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    writes: AtomicU64,
    reads: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What every clone of a client shares.
struct Shared {
    cfg: ClientConfig,
    http: reqwest::Client,
    /// `base_url` + `/api/3`.
    api_root: reqwest::Url,
    /// The `Api-Token` header: replaced when the key is rotated
    /// ([`Client::rekey`]), so the budget survives a new key.
    token: std::sync::RwLock<reqwest::header::HeaderValue>,
    budget: RateBudget,
}

/// An ActiveCampaign API v3 client for one connection.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    /// A shutdown that ends this handle's waits (a retry's back-off, a
    /// turn of the request budget): see [`Client::stopped_by`].
    stop: Option<tokio_util::sync::CancellationToken>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("connection", &self.shared.cfg.connection)
            .field("base_url", &self.shared.cfg.base_url.as_str())
            .finish_non_exhaustive()
    }
}

/// The id and name of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListInfo {
    pub id: u64,
    pub name: String,
}

/// A contact for `POST /contact/sync`. `None` fields are not sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactInput {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// Custom field id and value.
    pub fields: Vec<(u64, String)>,
}

impl Client {
    /// Builds the client: rustls, explicit timeouts, redirects disabled (so
    /// the `Api-Token` header can never be replayed to another host).
    pub fn new(cfg: ClientConfig) -> Result<Client, ApiError> {
        let token = std::sync::RwLock::new(transport::validate(&cfg)?);
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // What the pacer's model of the pool assumes (`limit::PoolModel`).
            .pool_idle_timeout(limit::POOL_IDLE)
            .user_agent(concat!("acsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Config {
                connection: cfg.connection.clone(),
                reason: format!("cannot build the HTTP client: {}", e.without_url()),
            })?;
        let api_root = transport::api_root(&cfg.base_url);
        let mut budget = RateBudget::new(
            cfg.requests_per_second,
            cfg.bulk_per_minute,
            cfg.bulk_single_per_minute,
        );
        if let Some(dir) = &cfg.budget_dir {
            budget = budget.shared_in(dir, cfg.base_url.as_str());
        }
        let shared = Shared {
            cfg,
            http,
            api_root,
            token,
            budget,
        };
        Ok(Client {
            shared: Arc::new(shared),
            counters: Arc::default(),
            stop: None,
        })
    }

    /// A handle sharing this connection's rate budget, with fresh counters.
    pub fn scoped(&self) -> Client {
        Client {
            shared: self.shared.clone(),
            counters: Arc::default(),
            stop: None,
        }
    }

    /// This handle (its counters included) whose waits end when `stop` is
    /// cancelled: a request waiting out a back-off or a `Retry-After` then
    /// fails at once with [`ApiError::Stopped`], which stops the run, so a
    /// shutdown reaches every wait of a write (docs/run-rules.md, shutdown).
    pub fn stopped_by(&self, stop: tokio_util::sync::CancellationToken) -> Client {
        Client {
            shared: self.shared.clone(),
            counters: self.counters.clone(),
            stop: Some(stop),
        }
    }

    /// This handle's counters (shared with its clones, not with `scoped` ones).
    pub fn stats(&self) -> RequestStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RequestStats {
            requests: get(&c.requests),
            writes: get(&c.writes),
            reads: get(&c.reads),
            retries: get(&c.retries),
            rate_limited: get(&c.rate_limited),
        }
    }

    /// Uses `key` from now on, for every clone of this client (the rate
    /// budget is kept). Whether it differs from the key in use.
    pub fn rekey(&self, key: &SecretString) -> Result<bool, ApiError> {
        let new = transport::token_of(&self.shared.cfg.connection, key)?;
        let mut token = self
            .shared
            .token
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *token == new {
            return Ok(false);
        }
        *token = new;
        Ok(true)
    }

    /// The connection name.
    pub fn connection(&self) -> &str {
        &self.shared.cfg.connection
    }

    /// `GET /lists/{id}`; a 404 becomes [`ApiError::ListNotFound`].
    pub async fn get_list(&self, list_id: u64) -> Result<ListInfo, ApiError> {
        let call = Call::get("GET /lists/{id}", &["lists", &list_id.to_string()]);
        let env: ListEnvelope = match self.fetch(&call).await {
            Err(ApiError::Rejected {
                status: 404, body, ..
            }) => {
                return Err(ApiError::ListNotFound {
                    connection: self.connection().to_string(),
                    list_id,
                    body,
                });
            }
            other => other?,
        };
        Ok(ListInfo {
            id: env.list.id.0,
            name: env.list.name.unwrap_or_default(),
        })
    }

    /// Every member of a list with the given status, by id order, paging
    /// with `id_greater` (the fast keyset paging of api notes §2.5). The
    /// read ends only on an empty page (a short page mid-list must not
    /// truncate it). A list that changed while it was read is no error: the
    /// read says how many rows it saw against the first page's `meta.total`
    /// ([`StatusRead::moved`]) and the caller re-checks what moved
    /// (docs/run-rules.md, full reads). Emails are lowercased; empty names
    /// and phones are `None`. Contacts without an email (phone-only) cannot
    /// be matched to a segment and are skipped. `progress` receives the
    /// running count after each page.
    pub async fn list_members(
        &self,
        list_id: u64,
        status: ListStatus,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<StatusRead, ApiError> {
        let mut members = Vec::new();
        let read = self
            .read_pages(list_id, Some(status), &mut |contacts| {
                members.extend(contacts.into_iter().filter_map(|c| live_member(c, status)));
                progress(members.len() as u64);
            })
            .await?;
        Ok(StatusRead {
            status,
            members,
            read: read.seen,
            total_at_start: read.total,
        })
    }

    /// `GET /contacts?listid=&status=&limit=1`: how many members with
    /// `status` (`None`: any, ActiveCampaign's default `-1`) the list has,
    /// from `meta.total`; `None` when the answer gives no total.
    pub async fn count_members(
        &self,
        list_id: u64,
        status: Option<ListStatus>,
    ) -> Result<Option<u64>, ApiError> {
        let call = Call::get("GET /contacts", &["contacts"])
            .query([("listid", list_id.to_string()), ("limit", "1".to_string())]);
        let call = match status {
            Some(s) => call.query([("status", s.code().to_string())]),
            None => call,
        };
        let page: ContactsPage = self.fetch(&call).await?;
        Ok(page.meta.total.map(|t| t.0))
    }

    /// Every member of a list whatever its status, by id order: contact
    /// id and lowercased email (contacts without one are skipped). No
    /// total is checked: this read only looks for members the per-status
    /// reads cannot see.
    pub async fn members_any_status(&self, list_id: u64) -> Result<Vec<(u64, String)>, ApiError> {
        let mut members = Vec::new();
        self.read_pages(list_id, None, &mut |contacts| {
            members.extend(contacts.into_iter().filter_map(|c| {
                let email = c.email?.trim().to_lowercase();
                (!email.is_empty()).then_some((c.id.0, email))
            }));
        })
        .await?;
        Ok(members)
    }

    /// Reads a list page by page by id order (`id_greater`, the fast
    /// keyset paging of api notes §2.5), handing each page's contacts to
    /// `page_read`. The read ends only on an empty page (a short page
    /// mid-list must not truncate it).
    async fn read_pages(
        &self,
        list_id: u64,
        status: Option<ListStatus>,
        page_read: &mut (dyn FnMut(Vec<wire::WireContact>) + Send),
    ) -> Result<PagedRead, ApiError> {
        let (mut cursor, mut seen, mut total) = (0u64, 0u64, None);
        loop {
            let call = probe::members_call(list_id, status, cursor);
            let page: ContactsPage = self.fetch(&call).await?;
            if cursor == 0 {
                total = page.meta.total.map(|t| t.0);
            }
            let Some(last) = page.contacts.iter().map(|c| c.id.0).max() else {
                return Ok(PagedRead { seen, total });
            };
            if last <= cursor {
                return Err(self.decode_error(&call, "id_greater paging did not advance"));
            }
            (cursor, seen) = (last, seen + page.contacts.len() as u64);
            page_read(page.contacts);
        }
    }

    /// Custom fields: personalization tag (uppercase) → field id (see
    /// [`Client::fields`] for the types and options).
    pub async fn field_ids(&self) -> Result<HashMap<String, u64>, ApiError> {
        let fields = self.fields().await?;
        Ok(fields
            .into_iter()
            .filter_map(|f| Some((f.perstag?, f.id)))
            .collect())
    }

    /// `POST /contact/sync`: creates or updates the contact by email and
    /// returns its id. Retrying it is safe: an upsert keyed on the email.
    pub async fn contact_sync(&self, c: &ContactInput) -> Result<u64, ApiError> {
        let body = wire::SyncBody {
            contact: wire::SyncContact {
                email: &c.email,
                first_name: c.first_name.as_deref(),
                last_name: c.last_name.as_deref(),
                phone: c.phone.as_deref(),
                field_values: c
                    .fields
                    .iter()
                    .map(|(id, value)| wire::SyncFieldValue {
                        field: id.to_string(),
                        value,
                    })
                    .collect(),
            },
        };
        let call = Call::post("POST /contact/sync", &["contact", "sync"], &body);
        let r: SyncResponse = self.fetch(&call).await?;
        Ok(r.contact.id.0)
    }

    /// `POST /contactLists`: sets one membership's status. Retrying it is
    /// safe: it sets a state rather than adding something.
    pub async fn set_list_status(
        &self,
        contact_id: u64,
        list_id: u64,
        status: ListStatus,
    ) -> Result<(), ApiError> {
        self.write_list_status(contact_id, list_id, status, None)
            .await
    }

    /// `POST /contactLists` status 1 over acsync's own unsubscribe, marked
    /// as a re-subscription: `sourceid` 4, as the schema asks ("set to 4
    /// when re-subscribing a contact to a list", api notes §3.1).
    pub async fn resubscribe(&self, contact_id: u64, list_id: u64) -> Result<(), ApiError> {
        let resubscription = Some(wire::SOURCE_RESUBSCRIBE);
        self.write_list_status(contact_id, list_id, ListStatus::Active, resubscription)
            .await
    }

    async fn write_list_status(
        &self,
        contact_id: u64,
        list_id: u64,
        status: ListStatus,
        sourceid: Option<u8>,
    ) -> Result<(), ApiError> {
        let body = wire::ContactListBody {
            contact_list: wire::ContactListWrite {
                list: list_id,
                contact: contact_id,
                status: status.code(),
                sourceid,
            },
        };
        let call = Call::post("POST /contactLists", &["contactLists"], &body);
        self.execute(&call).await.map(drop)
    }

    /// `GET /contacts?email=`: the id of the contact with this email.
    pub async fn find_contact(&self, email: &str) -> Result<Option<u64>, ApiError> {
        Ok(self.contact_by_email(email).await?.map(|c| c.id.0))
    }

    /// `GET /contacts?email=`: the contact with this email (compared
    /// case-insensitively), with the names and phone ActiveCampaign holds.
    pub async fn contact_by_email(&self, email: &str) -> Result<Option<WireContact>, ApiError> {
        let call = Call::get("GET /contacts", &["contacts"]).query([("email", email.to_string())]);
        let page: ContactsPage = self.fetch(&call).await?;
        let wanted = email.trim().to_lowercase();
        Ok(page
            .contacts
            .into_iter()
            .find(|c| c.email.as_deref().map(str::to_lowercase).as_deref() == Some(&wanted)))
    }

    /// The contact's status on one list; `None` when it has no membership
    /// there (or no such contact).
    pub async fn list_status_of(
        &self,
        contact_id: u64,
        list_id: u64,
    ) -> Result<Option<ListStatus>, ApiError> {
        Ok(self
            .membership(contact_id, list_id)
            .await?
            .map(|m| m.status))
    }

    fn decode_error(&self, call: &Call, reason: &str) -> ApiError {
        ApiError::Decode {
            connection: self.connection().to_string(),
            endpoint: call.endpoint.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// The end of a paged read: the contacts it read and the first page's
/// `meta.total`.
struct PagedRead {
    seen: u64,
    total: Option<u64>,
}

/// The members of one status as a paged read found them.
#[derive(Debug, Clone)]
pub struct StatusRead {
    pub status: ListStatus,
    pub members: Vec<LiveMember>,
    /// Contacts the pages held (phone-only ones included).
    pub read: u64,
    /// How many members of this status the list had when the read began
    /// (the first page's `meta.total`), when ActiveCampaign said.
    pub total_at_start: Option<u64>,
}

impl StatusRead {
    /// The list changed while this status was read (a sign-up, an opt-out,
    /// another tool's import): the rows read differ from the count at the
    /// start, and a member may have moved past the read.
    pub fn moved(&self) -> bool {
        self.total_at_start.is_some_and(|t| t != self.read)
    }
}

fn live_member(c: wire::WireContact, status: ListStatus) -> Option<LiveMember> {
    let email = c.email?.trim().to_lowercase();
    (!email.is_empty()).then_some(LiveMember {
        contact_id: c.id.0,
        email,
        status,
        first_name: c.first_name,
        last_name: c.last_name,
        phone: c.phone,
        contact_created: c.cdate.as_deref().and_then(|t| times::instant(t, &[])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn cfg(key: &str) -> ClientConfig {
        let conn = crate::config::Connection {
            name: "prod".into(),
            base_url: "https://acme.api-us1.com".parse().unwrap(),
            api_key: crate::config::ApiKeySource::Env("AC_KEY".into()),
            requests_per_second: 5,
            allowed_exports: vec![],
        };
        ClientConfig::new(&conn, SecretString::from(key))
    }

    #[test]
    fn key_never_in_debug() {
        let c = cfg("sekrit-123abc");
        assert!(!format!("{c:?}").contains("sekrit"));
        assert_eq!(c.api_key.expose_secret(), "sekrit-123abc");
        let client = Client::new(c).unwrap();
        assert!(!format!("{client:?}").contains("sekrit"));
    }

    #[test]
    fn bad_config_is_refused_without_the_key() {
        let mut c = cfg("bad\nkey-sekrit");
        let e = Client::new(c.clone()).unwrap_err().to_string();
        assert!(
            e.contains("connection `prod`") && !e.contains("sekrit"),
            "{e}"
        );
        c.api_key = SecretString::from("ok");
        c.requests_per_second = 0;
        assert!(Client::new(c).is_err());
    }

    #[test]
    fn scoped_shares_budget_not_counters() {
        let a = Client::new(cfg("k")).unwrap();
        let b = a.clone();
        let s = a.scoped();
        Counters::bump(&a.counters.requests);
        assert_eq!(b.stats().requests, 1);
        assert_eq!(s.stats().requests, 0);
        assert!(Arc::ptr_eq(&a.shared, &s.shared));
    }

    #[test]
    fn a_status_read_moved_when_its_rows_differ_from_the_first_total() {
        let read = |read, total_at_start| StatusRead {
            status: ListStatus::Active,
            members: Vec::new(),
            read,
            total_at_start,
        };
        assert!(read(1301, Some(1300)).moved(), "a sign-up during the read");
        assert!(
            read(1299, Some(1300)).moved(),
            "an opt-out ahead of the cursor"
        );
        assert!(!read(1300, Some(1300)).moved());
        assert!(!read(1300, None).moved(), "no total: nothing to compare");
    }

    #[test]
    fn live_member_normalises() {
        let c: wire::WireContact = serde_json::from_str(
            r#"{"id":"9","email":" Jane@Example.COM","firstName":"","lastName":"Doe","phone":null}"#,
        )
        .unwrap();
        let m = live_member(c, ListStatus::Active).unwrap();
        assert_eq!(m.email, "jane@example.com");
        assert_eq!(
            (m.first_name, m.last_name.as_deref(), m.phone),
            (None, Some("Doe"), None)
        );
        let c: wire::WireContact = serde_json::from_str(r#"{"id":"9","email":""}"#).unwrap();
        assert!(live_member(c, ListStatus::Active).is_none());
    }
}
