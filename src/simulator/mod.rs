//! A faithful ActiveCampaign API v3 simulator: the other side of the wire,
//! used by tests, benchmarks and `acsync demo`.
//!
//! It serves the subset of `/api/3` acsync uses over real HTTP on loopback,
//! with the quirks documented in `activecampaign-api.md` (section numbers in
//! comments refer to it): string ids, `meta.total` as string or number,
//! the 5 rps sliding limit with 429 + `Retry-After`, bulk-import limits that
//! answer 400, asynchronous batches, `contactLists` resubscription, and
//! seeded, repeatable faults. It depends on nothing else in acsync.
//!
//! Served under `/api/3`: `GET /lists`, `GET /lists/{id}`, `GET /fields`,
//! `GET /contacts`, `GET|PUT /contacts/{id}`, `POST /contacts`,
//! `GET /contacts/{id}/contactLists`, `POST /contact/sync`,
//! `POST /contactLists`, `POST /import/bulk_import`, `GET /import/info`,
//! `GET|POST /tags`, `POST /contactTags`, `DELETE /contactTags/{id}`.
//!
//! Choices where the doc is silent (each marked INFERRED or a gap there):
//! `status` with `listid` filters the per-list status (§3.3); `meta.total`
//! ignores the `id_greater`/`id_less` cursor; `/contact/sync` answers 201 on
//! create and 200 on update (§10 item 9); bulk calls also use the general
//! rps budget (§4.1); a bulk contact whose subscribe list has it at status
//! 2 or 3 fails whole (nothing written), as do excluded emails and those
//! failing the per-contact email check; `failure` lists emails in request
//! order; an injected 5xx consumed a rate-limit slot, a dropped connection
//! did not.
//!
//! Layout: this file is the public handle (config, seeding, inspection);
//! `server` serves and gates requests, `gate` holds limits/faults/ledger,
//! `handlers` the endpoints, `wire` the JSON shapes, `state` the account
//! model, `query` contact paging, `bulk` the bulk importer, `tags` tags,
//! `writes` contact writes.

mod bulk;
mod fields;
mod gate;
mod handlers;
mod query;
mod server;
mod state;
mod tags;
mod wire;
mod writes;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use gate::Ledger;
pub use state::{ChangedBy, SimContact, SimMembership};

use bulk::Batches;
use gate::Gate;
use server::Shared;
use state::{Account, ContactPatch};

/// How the simulated account behaves. `Default` gives AC's documented limits.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The `Api-Token` every request must carry (§1.2). Default `"sim-key"`.
    pub api_key: String,
    /// General limit per account, sliding 1 s window (§1.3). 0 = unlimited.
    pub requests_per_second: u32,
    /// Multi-contact `bulk_import` requests per sliding minute (§4.1).
    pub bulk_per_minute: u32,
    /// Single-contact `bulk_import` requests per sliding minute (§4.1).
    pub bulk_single_per_minute: u32,
    /// `/import/info` answers `status:false` this long after submit (§4.4).
    pub info_false_for: Duration,
    /// How long a batch stays `active` before it completes.
    pub import_duration: Duration,
    /// Faults active from the start (also settable with `set_faults`).
    pub faults: Faults,
    /// Seed of every random choice (faults, batch ids): runs are repeatable.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            api_key: "sim-key".into(),
            requests_per_second: 5,
            bulk_per_minute: 100,
            bulk_single_per_minute: 20,
            info_false_for: Duration::from_secs(1),
            import_duration: Duration::from_millis(200),
            faults: Faults::default(),
            seed: 0,
        }
    }
}

/// Injected misbehaviour. Rates are shares in `0.0..=1.0`.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Requests answered 500 or 503 (half each).
    pub error_rate: f64,
    /// Requests whose connection is closed with no answer.
    pub drop_rate: f64,
    /// Requests delayed by `latency`.
    pub latency_rate: f64,
    pub latency: Duration,
    /// Bulk batches ending `failed` (nothing applied) or `interrupted` (a
    /// prefix applied), half each (§4.4).
    pub fail_batch_rate: f64,
    /// Extra `/import/info` polls answering `status:false` per batch, beyond
    /// `info_false_for`.
    pub info_false_polls: u32,
    /// Every request 429 for this long, with this `Retry-After` (seconds),
    /// starting when the faults are set.
    pub storm_429: Option<(Duration, u32)>,
}

/// A running simulator. Cloning shares it; it stops when `shutdown` is
/// called or the last clone is dropped.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let task = self.task.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = task.take() {
            t.abort();
        }
    }
}

impl Simulator {
    /// Serve on an ephemeral loopback port.
    pub async fn start(cfg: SimConfig) -> std::io::Result<Simulator> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), cfg).await
    }

    /// Serve on `addr` (e.g. a fixed port for `acsync demo`).
    pub async fn start_on(addr: SocketAddr, cfg: SimConfig) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let batches = Batches::new(cfg.seed, cfg.info_false_for, cfg.import_duration);
        let account = Account::new(batches);
        let mut gate = Gate::new(
            cfg.requests_per_second,
            cfg.bulk_per_minute,
            cfg.bulk_single_per_minute,
            cfg.seed,
        );
        gate.set_faults(cfg.faults, Instant::now());
        let base = server::local_base(addr);
        let shared = Arc::new(Shared::new(cfg.api_key, base, account, gate));
        let router = handlers::router(shared.clone());
        let task = tokio::spawn(server::serve(listener, shared.clone(), router));
        let inner = Inner {
            shared,
            addr,
            task: Mutex::new(Some(task)),
        };
        Ok(Simulator {
            inner: Arc::new(inner),
        })
    }

    /// `http://127.0.0.1:PORT`; the API lives under `/api/3`.
    pub fn base_url(&self) -> String {
        server::local_base(self.inner.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    pub fn api_key(&self) -> &str {
        &self.inner.shared.api_key
    }

    /// Replace the faults; a `storm_429` starts now.
    pub fn set_faults(&self, f: Faults) {
        self.inner.shared.gate().set_faults(f, Instant::now());
    }

    /// Stop serving: the listener and every connection task are gone when
    /// this returns. Seeding and inspection keep working.
    pub async fn shutdown(&self) {
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }
}

/// Seeding: set the account up as a test or the demo needs it.
impl Simulator {
    pub fn add_list(&self, name: &str) -> u64 {
        self.shared().account().add_list(name)
    }

    /// A custom field; its id is what payloads use (§2.4).
    pub fn add_field(&self, perstag: &str, title: &str) -> u64 {
        self.add_typed_field(perstag, title, "text", &[])
    }

    /// A custom field of a type (`date`, `dropdown`, `checkbox`...) with
    /// its options; writes are checked against both (see `fields.rs`).
    pub fn add_typed_field(&self, perstag: &str, title: &str, kind: &str, options: &[&str]) -> u64 {
        (self.shared().account()).add_field(perstag, title, kind, options)
    }

    /// Upsert by email (case-insensitive); `None` leaves a value unchanged.
    pub fn add_contact(
        &self,
        email: &str,
        first: Option<&str>,
        last: Option<&str>,
        phone: Option<&str>,
    ) -> u64 {
        let patch = ContactPatch {
            first_name: first.map(str::to_string),
            last_name: last.map(str::to_string),
            phone: phone.map(str::to_string),
            ..ContactPatch::default()
        };
        self.shared().account().upsert_contact(email, patch).0
    }

    /// Set a membership directly. Unknown contact or list ids are a seeding
    /// bug: logged and ignored rather than panicking inside a demo.
    pub fn set_membership(&self, contact_id: u64, list_id: u64, status: u8, by: ChangedBy) {
        if let Err(e) = self
            .shared()
            .account()
            .set_membership(contact_id, list_id, status, by)
        {
            tracing::warn!(error = %e, "simulator: set_membership ignored");
        }
    }

    /// Make bulk import reject any request holding `email` as a whole, as
    /// "Field' email' incorrect format" naming its index (§4.3), whatever
    /// the address looks like.
    pub fn reject_in_bulk(&self, email: &str) {
        let mut a = self.shared().account();
        a.batches
            .refused_in_bulk
            .insert(email.trim().to_lowercase());
    }

    /// While `on`, `/import/info` answers 404 for every batch, even one that
    /// landed, as for an unknown batch id (batches still run).
    pub fn set_info_not_found(&self, on: bool) {
        self.shared().account().batches.info_not_found = on;
    }

    /// Put an email on the exclusion list: bulk import reports it in
    /// `failure` (§4.5).
    pub fn exclude_email(&self, email: &str) {
        self.shared().account().exclude(email);
    }
}

/// What happens in the account between runs, done by someone else: the
/// contact, an admin, a GDPR erasure.
impl Simulator {
    /// Deletes the contact with this email (§2.7); false when none.
    pub fn delete_contact(&self, email: &str) -> bool {
        let mut a = self.shared().account();
        let id = a.contact_by_email(email).map(|c| c.data.id);
        id.is_some_and(|id| a.delete_contact(id))
    }

    /// Changes a contact's email (`PUT /contacts/{id}`, §2.3); false when
    /// there is no such contact or the new email is taken.
    pub fn change_email(&self, old: &str, new: &str) -> bool {
        let mut a = self.shared().account();
        let id = a.contact_by_email(old).map(|c| c.data.id);
        id.is_some_and(|id| a.change_email(id, new))
    }

    /// Makes `GET /contacts?listid=&status=` filter by the status on any
    /// list (the undocumented alternative of §10 item 3).
    pub fn set_global_status_filter(&self, on: bool) {
        self.shared().account().global_status_filter = on;
    }

    /// Sets when `email`'s membership of `list_id` last changed (Unix
    /// seconds): a change made at another time, as the contact's own
    /// resubscribe-then-unsubscribe an hour after acsync's write.
    pub fn set_membership_udate(&self, email: &str, list_id: u64, udate: i64) -> bool {
        let mut a = self.shared().account();
        let Some(id) = a.contact_by_email(email).map(|c| c.data.id) else {
            return false;
        };
        a.set_membership_udate(id, list_id, udate)
    }

    /// The status of `email`'s membership of `list_id`, if any.
    pub fn list_status(&self, email: &str, list_id: u64) -> Option<u8> {
        let a = self.shared().account();
        let id = a.contact_by_email(email)?.data.id;
        a.membership(id, list_id).map(|m| m.status)
    }
}

/// Inspection: what the account holds now (due batches applied first).
impl Simulator {
    pub fn contact(&self, email: &str) -> Option<SimContact> {
        let a = self.shared().account();
        a.contact_by_email(email).map(|c| c.data.clone())
    }

    pub fn members(&self, list_id: u64) -> Vec<SimMembership> {
        self.shared().account().members(list_id)
    }

    pub fn active_emails(&self, list_id: u64) -> BTreeSet<String> {
        self.shared().account().active_emails(list_id)
    }

    pub fn contact_count(&self) -> usize {
        self.shared().account().contact_count()
    }

    /// Emails held by more than one contact, case-insensitively. Must stay
    /// empty: AC keys contacts by email (§2.2).
    pub fn duplicate_emails(&self) -> Vec<String> {
        self.shared().account().duplicate_emails()
    }

    pub fn ledger(&self) -> Ledger {
        self.shared().gate().ledger.clone()
    }

    /// Contacts bulk import queued with `exclude_automations` inside their
    /// object (the official example's placement, §4.2), and those queued
    /// without it (automations would run).
    pub fn bulk_automations(&self) -> (u64, u64) {
        let a = self.shared().account();
        (
            a.batches.automations_excluded,
            a.batches.automations_allowed,
        )
    }

    pub fn reset_ledger(&self) {
        self.shared().gate().ledger = Ledger::default();
    }
}
