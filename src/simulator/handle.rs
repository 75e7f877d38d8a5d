//! The public handle: [`Simulator`] starts the server, seeds the account
//! as a test or the demo needs it, changes it as someone else would, and
//! inspects it. Saving and loading the account is in `persist.rs`.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::{Faults, SimConfig};
use super::engine::batches::{Batches, BulkContact, ExcludeAutomationsAt, FailureIndexBase};
use super::engine::churn::{ChurnState, ReadChurn};
use super::engine::gate::{Gate, Ledger};
use super::engine::shared::Shared;
use super::engine::world::World;
use super::model::records::{ChangedBy, ContactPatch, SimContact, SimMembership};
use super::{routes, server};

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
        let mut world = World {
            account: Default::default(),
            batches,
            churn: None,
        };
        world.account.times.zone = cfg.time_zone;
        let mut gate = Gate::new(
            cfg.requests_per_second,
            cfg.bulk_per_minute,
            cfg.bulk_single_per_minute,
            cfg.seed,
        );
        gate.set_faults(cfg.faults, Instant::now());
        let base = server::local_base(addr);
        let shared = Arc::new(Shared::new(cfg.api_key, base, world, gate));
        let router = routes::router(shared.clone());
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

    pub fn api_key(&self) -> String {
        self.inner.shared.api_key()
    }

    /// Accepts only `key` from now on (the account's key was rotated).
    pub fn rotate_api_key(&self, key: &str) {
        self.inner.shared.set_api_key(key.to_string());
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

    pub(super) fn shared(&self) -> &Shared {
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
        self.shared()
            .account()
            .add_field(perstag, title, kind, options)
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

    /// Where the account honours `exclude_automations` in a bulk import
    /// body (§12); the documented default is inside each contact.
    pub fn set_exclude_automations_at(&self, at: ExcludeAutomationsAt) {
        self.shared().account().batches.exclude_automations_at = at;
    }

    /// The base of the index `failureReasons` names a refused contact by
    /// (§12: undocumented; 0 unless set).
    pub fn set_failure_index_base(&self, base: FailureIndexBase) {
        self.shared().account().batches.failure_index_base = base;
    }

    /// The next `n` bulk imports are answered with the documented
    /// whole-batch rejection naming contact 230 (§4.3), nothing queued.
    pub fn answer_documented_rejection(&self, n: u32) {
        self.shared().account().batches.documented_rejections = n;
    }

    /// The next `n` bulk batches end `failed` (nothing applied).
    pub fn fail_next_batches(&self, n: u32) {
        self.shared().account().batches.fail_next = n;
    }

    /// Holds back the answer to the `nth` bulk import accepted (1-based,
    /// counted by the ledger) for `hold` after its batch is queued.
    pub fn hold_bulk_answer(&self, nth: u64, hold: Duration) {
        self.shared().account().batches.hold_answer = Some((nth, hold));
    }

    /// A process killed mid-run, as ActiveCampaign sees it: the next
    /// `pass` requests are answered, then none is, ever (the one right
    /// after them is applied first when `apply_held`). A test drops the
    /// run once [`Simulator::frozen`] says the freeze was reached.
    pub fn freeze_after(&self, pass: u64, apply_held: bool) {
        self.shared().gate().freeze_after(pass, apply_held);
    }

    /// Whether a request has reached the freeze of [`Simulator::freeze_after`].
    pub fn frozen(&self) -> bool {
        self.shared().gate().frozen()
    }

    /// Answers new requests again; those held by the freeze stay unanswered
    /// and unapplied.
    pub fn thaw(&self) {
        self.shared().gate().thaw();
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
    /// Another tool's bulk import of `n` new contacts to no list: it waits
    /// in the account's import queue like acsync's own batches, so the
    /// account-wide `outstanding` count of `GET /import/bulk_import` is
    /// not 0 until it lands (§12: other tools import all day).
    pub fn import_by_others(&self, n: usize) {
        use std::sync::atomic::{AtomicU64, Ordering};
        static IMPORT: AtomicU64 = AtomicU64::new(0);
        let import = IMPORT.fetch_add(1, Ordering::Relaxed);
        let contacts = (0..n)
            .map(|i| BulkContact {
                email: format!("other-tool-{import}-{i}@example.net"),
                patch: ContactPatch::default(),
                subscribe: Vec::new(),
                unsubscribe: Vec::new(),
                exclude_automations: true,
            })
            .collect();
        let mut a = self.shared().account();
        a.batches.submit(contacts, Instant::now(), 0.0, 0);
    }

    /// Deletes the contact with this email (§2.7); false when none.
    pub fn delete_contact(&self, email: &str) -> bool {
        let mut a = self.shared().account();
        let id = a.contact_by_email(email).map(|c| c.data.id);
        id.is_some_and(|id| a.delete_contact(id))
    }

    /// Deletes a list and its memberships, as an admin in the web UI: from
    /// then on `GET /lists/{id}` and `POST /contactLists` answer 404 "No
    /// Result found for _List with id …" (§3.1, §5.1); false when none.
    pub fn delete_list(&self, list_id: u64) -> bool {
        self.shared().account().lists.remove(&list_id).is_some()
    }

    /// From now on the list `churn.list_id` changes while it is read: after
    /// each page of a paged read, contacts sign up and opt out (see
    /// [`ReadChurn`]).
    pub fn churn_list_reads(&self, churn: ReadChurn) {
        self.shared().account().churn = Some(ChurnState::new(churn));
    }

    /// Full pages of the churned list answered since
    /// [`Simulator::churn_list_reads`].
    pub fn churned_pages(&self) -> u64 {
        let a = self.shared().account();
        a.churn.as_ref().map_or(0, ChurnState::pages)
    }

    /// Sets `email`'s first name, as an admin editing the contact in the
    /// web UI (its `udate` moves); false when there is no such contact.
    pub fn edit_contact_by_others(&self, email: &str, first_name: &str) -> bool {
        let mut a = self.shared().account();
        if a.contact_by_email(email).is_none() {
            return false;
        }
        let patch = ContactPatch {
            first_name: Some(first_name.to_string()),
            ..ContactPatch::default()
        };
        a.upsert_contact(email, patch);
        true
    }

    /// Whether a list membership created or changing status moves the
    /// contact's `udate` (on unless switched off): undocumented, so the
    /// drift check's fallback is tested with it off (activecampaign-api.md
    /// §12, "Reading only what changed").
    pub fn set_status_change_moves_udate(&self, on: bool) {
        self.shared().account().status_change_keeps_udate = !on;
    }

    /// Everything in the account happened `secs` earlier: every contact's
    /// `cdate`/`udate` and membership's `sdate`/`udate` moves that far into
    /// the past, so "the last check was 3 days ago" needs no waiting.
    pub fn age(&self, secs: i64) {
        self.shared().account().age(secs);
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

    /// Makes `GET /contacts?ids[]=…` ignore `listid` and `status`: every
    /// asked contact comes back, whatever its status on the list (an
    /// undocumented alternative, docs/verification.md).
    pub fn set_ids_ignore_list_filter(&self, on: bool) {
        self.shared().account().ids_ignore_list_filter = on;
    }

    /// From now on, first name, last name and phone are stored trimmed and
    /// cut to `max_chars` characters (`None`: as sent). Undocumented either
    /// way (docs/activecampaign-api.md §12, "Normalisation of stored values").
    pub fn set_stored_form(&self, max_chars: Option<usize>) {
        self.shared().account().stored_form = max_chars;
    }

    /// While `on`, `GET /contacts` ignores `include=contactLists`: no
    /// membership rows come with the contacts (undocumented either way).
    pub fn set_include_ignored(&self, on: bool) {
        self.shared().account().include_ignored = on;
    }

    /// Sets the account's time zone (§12): every time answered from now on
    /// is in it.
    pub fn set_time_zone(&self, zone: chrono_tz::Tz) {
        self.shared().account().times.zone = zone;
    }

    /// While `on`, a membership row's `udate` comes without its zone, as
    /// local wall-clock time (the legacy form), next to a zoned `sdate`.
    pub fn set_zoneless_row_udate(&self, on: bool) {
        self.shared().account().times.zoneless_row_udate = on;
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

    /// Every list's id and name, in id order.
    pub fn lists(&self) -> Vec<(u64, String)> {
        let a = self.shared().account();
        a.lists.values().map(|l| (l.id, l.name.clone())).collect()
    }

    /// Every custom field's id, personalisation tag and type, in id order.
    pub fn fields(&self) -> Vec<(u64, String, String)> {
        let a = self.shared().account();
        a.fields
            .iter()
            .map(|f| (f.id, f.perstag.clone(), f.kind.clone()))
            .collect()
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

    /// Contacts bulk import queued with `exclude_automations` honoured, and
    /// those queued without it: their automations fire.
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
