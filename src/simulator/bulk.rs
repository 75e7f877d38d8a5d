//! Bulk import (§4): request validation (whole-batch 400s), the batch
//! store, the `/import/info` state machine (`false` → `active` → terminal)
//! and the per-contact application rules of §4.2/§4.5.
//!
//! Batches are applied lazily: every access to the account first applies the
//! batches whose time has come ([`Batches::due`]), so state changes only after
//! submit + `info_false_for` + `import_duration`, with no timer task to stop.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::gate::later;
use super::state::{Account, ChangedBy, ContactPatch};
use super::wire::{ApiError, email_deliverable, email_well_formed, lenient_id, lenient_string};

/// §4.1: at most 250 contacts and 399,999 bytes per request.
pub(super) const MAX_CONTACTS: usize = 250;
pub(super) const MAX_BYTES: usize = 399_999;

/// One contact of a validated request (snake_case on the wire, §4.2).
#[derive(Clone, Debug, Default)]
pub(super) struct BulkContact {
    pub email: String,
    pub patch: ContactPatch,
    pub subscribe: Vec<u64>,
    pub unsubscribe: Vec<u64>,
    /// `exclude_automations: true` inside this contact's object, where the
    /// official example puts it (§4.2).
    pub exclude_automations: bool,
}

/// How a batch ends, decided by the fault dice at submit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Complete,
    /// Nothing applied.
    Failed,
    /// The first `n` contacts applied.
    Interrupted(usize),
}

#[derive(Debug)]
struct Batch {
    submitted: Instant,
    contacts: Vec<BulkContact>,
    fate: Fate,
    false_polls_left: u32,
    /// Set once applied: (status, new contact ids, failed emails).
    result: Option<(&'static str, Vec<u64>, Vec<String>)>,
}

/// All batches of the account, plus the queue of those not yet applied (in
/// submit order, which is due order since durations are fixed).
#[derive(Debug)]
pub(super) struct Batches {
    by_id: HashMap<String, Batch>,
    pending: VecDeque<String>,
    rng: SmallRng,
    pub info_false_for: Duration,
    pub import_duration: Duration,
    /// Emails whose presence rejects a whole request (see [`validate`]).
    pub refused_in_bulk: HashSet<String>,
    /// Every batch reads as unknown to `/import/info` (a fault).
    pub info_not_found: bool,
    /// Contacts queued with automations excluded, and without.
    pub automations_excluded: u64,
    pub automations_allowed: u64,
    /// Batches processed and their contacts, per UTC day (`recentlyCompleted`).
    completed: std::collections::BTreeMap<String, (u64, u64)>,
}

/// What `/import/info` reports.
#[derive(Debug, PartialEq)]
pub(super) enum Info {
    /// `{"status":false}`; `injected` when only the fault kept it false.
    NotYet {
        injected: bool,
    },
    Active,
    Done(Value),
}

/// First stage of validation: size and JSON (§4.1). Runs before the bulk
/// rate limit, which needs the contact count to pick its budget.
pub(super) fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.len() > MAX_BYTES {
        return Err(general(
            "Payload too large. The maximum payload size is 399,999 bytes.",
        ));
    }
    serde_json::from_slice(body).map_err(|e| general(&format!("Invalid JSON payload: {e}")))
}

/// Number of contacts in a parsed body (0 when there is no array).
pub(super) fn count(v: &Value) -> usize {
    v.get("contacts")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// Second stage: the contacts themselves. Every failure rejects the whole
/// request (§4.3 "The import was not queued"). `refuse` holds emails
/// (lowercase) refused at this stage whatever their form: AC's full rule
/// list is not documented, so a test names the address it refuses.
pub(super) fn validate(v: &Value, refuse: &HashSet<String>) -> Result<Vec<BulkContact>, ApiError> {
    let Some(items) = v.get("contacts").and_then(Value::as_array) else {
        return Err(general("'contacts' is a required field."));
    };
    if items.is_empty() {
        return Err(general("'contacts' must contain at least one contact."));
    }
    if items.len() > MAX_CONTACTS {
        return Err(general("Up to 250 contacts may be imported per request."));
    }
    let mut reasons = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match parse_contact(item, refuse) {
            Ok(c) => out.push(c),
            Err(reason) => reasons.push(json!({"contact": i, "failureReason": reason})),
        }
    }
    if reasons.is_empty() {
        return Ok(out);
    }
    Err(ApiError::Bulk {
        message: "JSON payload did not pass validation. Please fix failure Reasons and retry. \
                  The import was not queued for processing."
            .into(),
        reasons: Value::Array(reasons),
    })
}

/// A failure "more general" than one contact: string reasons (§4.3).
fn general(reason: &str) -> ApiError {
    ApiError::Bulk {
        message: "JSON payload did not pass validation. The import was not queued for processing."
            .into(),
        reasons: json!([reason]),
    }
}

/// The rate-limit 400 of §4.3 (a 400, not a 429).
pub(super) fn rate_limited(limit: u32) -> ApiError {
    ApiError::Bulk {
        message: "Rate limit exceeded.".into(),
        reasons: json!([format!(
            "Up to {limit} imports may be requested per minute.Please batch contacts into \
             larger requests, or retry this request in a minute."
        )]),
    }
}

fn parse_contact(item: &Value, refuse: &HashSet<String>) -> Result<BulkContact, String> {
    let email = match item.get("email").and_then(Value::as_str) {
        Some(e) if refuse.contains(&e.trim().to_lowercase()) => {
            return Err("Field' email' incorrect format".into());
        }
        Some(e) if email_well_formed(e.trim()) => e.trim().to_lowercase(),
        Some(_) => return Err("Field' email' incorrect format".into()),
        None => return Err("Field' email' is required".into()),
    };
    let text = |k: &str| item.get(k).and_then(lenient_string);
    let mut patch = ContactPatch {
        first_name: text("first_name"),
        last_name: text("last_name"),
        phone: text("phone"),
        ..ContactPatch::default()
    };
    if let Some(tags) = item.get("tags") {
        let tags = tags.as_array().ok_or("Field' tags' incorrect format")?;
        patch.tags = tags.iter().filter_map(lenient_string).collect();
    }
    for f in array(item, "fields")? {
        let id = f
            .get("id")
            .and_then(lenient_id)
            .ok_or("Field' fields' incorrect format")?;
        let value = f.get("value").and_then(lenient_string).unwrap_or_default();
        patch.fields.push((id, value));
    }
    let lists = |key: &str| -> Result<Vec<u64>, String> {
        array(item, key)?
            .iter()
            .map(|s| s.get("listid").and_then(lenient_id))
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| format!("Field' {key}' incorrect format"))
    };
    // `callback` is accepted and ignored. `exclude_automations` is read
    // where the official example puts it, inside the contact (§4.2; a
    // top-level one is accepted and ignored): the simulator runs no
    // automations but counts the contacts that would run them.
    let exclude_automations = match item.get("exclude_automations") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true") || s == "1",
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    };
    Ok(BulkContact {
        email,
        patch,
        subscribe: lists("subscribe")?,
        unsubscribe: lists("unsubscribe")?,
        exclude_automations,
    })
}

/// An optional array member; absent or null reads as empty.
fn array<'a>(item: &'a Value, key: &str) -> Result<&'a [Value], String> {
    match item.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("Field' {key}' incorrect format")),
    }
}

impl Default for Batches {
    fn default() -> Self {
        Batches::new(0, Duration::ZERO, Duration::ZERO)
    }
}

impl Batches {
    pub fn new(seed: u64, info_false_for: Duration, import_duration: Duration) -> Self {
        Batches {
            by_id: HashMap::new(),
            pending: VecDeque::new(),
            // A stream apart from the request dice, so batch fates do not
            // depend on how many requests came before.
            rng: SmallRng::seed_from_u64(seed ^ 0xB47C_4B47_C4B4_7C4B),
            info_false_for,
            import_duration,
            refused_in_bulk: HashSet::new(),
            info_not_found: false,
            automations_excluded: 0,
            automations_allowed: 0,
            completed: std::collections::BTreeMap::new(),
        }
    }

    /// Queue a validated batch; returns its uuid-like id and whether a
    /// fault decided its fate.
    pub fn submit(
        &mut self,
        contacts: Vec<BulkContact>,
        now: Instant,
        fail_rate: f64,
        false_polls: u32,
    ) -> (String, bool) {
        let (roll, coin, cut) = (
            self.rng.random::<f64>(),
            self.rng.random::<f64>(),
            self.rng.random::<f64>(),
        );
        let fate = match (roll < fail_rate, coin < 0.5) {
            (false, _) => Fate::Complete,
            (true, true) => Fate::Failed,
            (true, false) => Fate::Interrupted((cut * contacts.len() as f64) as usize),
        };
        let excluded = contacts.iter().filter(|c| c.exclude_automations).count() as u64;
        self.automations_excluded += excluded;
        self.automations_allowed += contacts.len() as u64 - excluded;
        let id = self.uuid();
        let batch = Batch {
            submitted: now,
            contacts,
            fate,
            false_polls_left: false_polls,
            result: None,
        };
        self.by_id.insert(id.clone(), batch);
        self.pending.push_back(id.clone());
        (id, fate != Fate::Complete)
    }

    fn uuid(&mut self) -> String {
        let (a, b): (u64, u64) = (self.rng.random(), self.rng.random());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    fn due_at(&self, b: &Batch) -> Instant {
        later(
            b.submitted,
            self.info_false_for.saturating_add(self.import_duration),
        )
    }

    /// Take the next batch whose processing time has passed, if any.
    fn next_due(&mut self, now: Instant) -> Option<(String, Vec<BulkContact>, Fate)> {
        let id = self.pending.front()?;
        let b = self.by_id.get(id)?;
        if self.due_at(b) > now {
            return None;
        }
        let id = self.pending.pop_front()?;
        let b = self.by_id.get_mut(&id)?;
        Some((id, std::mem::take(&mut b.contacts), b.fate))
    }

    /// Batches accepted and not yet processed, and their contacts.
    pub fn outstanding(&self) -> (usize, usize) {
        let contacts = (self.pending.iter())
            .filter_map(|id| self.by_id.get(id))
            .map(|b| b.contacts.len())
            .sum();
        (self.pending.len(), contacts)
    }

    /// Batches processed (whatever their end) per day, oldest first: the
    /// `recentlyCompleted` of `GET /import/bulk_import` (§4.4).
    pub fn recently_completed(&self) -> Vec<(String, u64, u64)> {
        (self.completed.iter())
            .map(|(day, (batches, contacts))| (day.clone(), *batches, *contacts))
            .collect()
    }

    /// `/import/info` for one batch (§4.4); `None` when unknown.
    pub fn info(&mut self, id: &str, now: Instant) -> Option<Info> {
        let info_false_for = self.info_false_for;
        if self.info_not_found {
            return None;
        }
        let b = self.by_id.get_mut(id)?;
        if now.saturating_duration_since(b.submitted) < info_false_for {
            return Some(Info::NotYet { injected: false });
        }
        if b.false_polls_left > 0 {
            b.false_polls_left -= 1;
            return Some(Info::NotYet { injected: true });
        }
        Some(match &b.result {
            None => Info::Active,
            Some((status, success, failure)) => Info::Done(json!({
                "status": status,
                "success": success.iter().map(u64::to_string).collect::<Vec<_>>(),
                "failure": failure,
            })),
        })
    }
}

impl Account {
    /// Apply every batch that is due (their fates were counted as faults
    /// at submit).
    pub fn run_due_batches(&mut self, now: Instant) {
        while let Some((id, contacts, fate)) = self.batches.next_due(now) {
            let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
            let done = self.batches.completed.entry(day).or_default();
            done.0 += 1;
            done.1 += contacts.len() as u64;
            let take = match fate {
                Fate::Complete => contacts.len(),
                Fate::Failed => 0,
                Fate::Interrupted(n) => n,
            };
            let mut success = Vec::new();
            let mut failure = Vec::new();
            for c in contacts.into_iter().take(take) {
                match self.apply_bulk_contact(c) {
                    Ok(Some(new_id)) => success.push(new_id),
                    Ok(None) => {}
                    Err(email) => failure.push(email),
                }
            }
            let status = match fate {
                Fate::Complete => "completed",
                Fate::Failed => "failed",
                Fate::Interrupted(_) => "interrupted",
            };
            if let Some(b) = self.batches.by_id.get_mut(&id) {
                b.result = Some((status, success, failure));
            }
        }
    }

    /// One contact of a batch (§4.2, §4.5). `Ok(Some(id))` when created,
    /// `Ok(None)` when updated, `Err(email)` when it lands in `failure`.
    fn apply_bulk_contact(&mut self, c: BulkContact) -> Result<Option<u64>, String> {
        if self.is_excluded(&c.email) || !email_deliverable(&c.email) {
            return Err(c.email);
        }
        let lists_exist = c
            .subscribe
            .iter()
            .chain(&c.unsubscribe)
            .all(|l| self.lists.contains_key(l));
        // "Contacts may not be subscribed to lists which they have previously
        // unsubscribed from" (§4.2), nor bounced ones (§4.5): the whole
        // contact fails, nothing changes.
        let refused = self.contact_by_email(&c.email).is_some_and(|existing| {
            let id = existing.data.id;
            c.subscribe.iter().any(|l| {
                self.membership(id, *l)
                    .is_some_and(|m| m.status == 2 || m.status == 3)
            })
        });
        // A field value ActiveCampaign would refuse (unknown id, a date
        // not `YYYY-MM-DD`, not an option): undocumented for bulk import;
        // the simulator reports the contact in `failure` and writes none
        // of it, never a silent drop (see `fields.rs`).
        let bad_field = self.check_fields(&c.patch.fields).is_err();
        if !lists_exist || refused || bad_field {
            return Err(c.email);
        }
        let (id, created) = self.upsert_contact(&c.email, c.patch);
        for list in c.subscribe {
            let _ = self.set_membership(id, list, 1, ChangedBy::Import);
        }
        for list in c.unsubscribe {
            let _ = self.set_membership(id, list, 2, ChangedBy::Import);
        }
        Ok(created.then_some(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_batch_rejected_on_one_bad_email_section_4_3() {
        let body = json!({"contacts": [{"email": "ok@x.io"}, {"email": "nope"}, {}]});
        let Err(ApiError::Bulk { reasons, .. }) = validate(&body, &HashSet::new()) else {
            panic!("accepted a batch with a malformed email");
        };
        assert_eq!(reasons[0]["contact"], 1);
        assert_eq!(
            reasons[0]["failureReason"],
            "Field' email' incorrect format"
        );
        assert_eq!(reasons[1]["contact"], 2);
        let refuse: HashSet<String> = ["ok@x.io".to_string()].into();
        let one = json!({"contacts": [{"email": "a@x.io"}, {"email": "OK@x.io"}]});
        let Err(ApiError::Bulk { reasons, .. }) = validate(&one, &refuse) else {
            panic!("accepted a batch holding a refused email");
        };
        assert_eq!(
            reasons,
            json!([{"contact": 1, "failureReason": "Field' email' incorrect format"}])
        );
    }

    #[test]
    fn uuids_look_like_uuids() {
        let mut b = Batches::new(7, Duration::ZERO, Duration::ZERO);
        let id = b.uuid();
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, vec![8, 4, 4, 4, 12]);
    }
}
