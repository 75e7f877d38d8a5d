//! Folding a full read of the list into what this export knows, and
//! resolving the intents a killed run left pending (docs/run-rules.md, crash safety: "killed
//! at any instant [...] the next run converges the list to the segment with
//! no duplicate contacts and no forgotten ownership").
//!
//! The live read is the truth for list status. Ownership is gained by an
//! add of ours that the read shows landed, and ends as soon as the read
//! shows a change acsync did not make (docs/ownership.md; the rule is
//! [`Member::observe`]'s).

use std::collections::{HashMap, HashSet};

use crate::model::{Evidence, Known, ListStatus, LiveMember, Member, PendingOp, WriteWindow};

/// How a full read settles the intents a killed run left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge<'a> {
    /// When the read was taken (Unix seconds): the end of the window of an
    /// unsubscribe of ours that the read shows landed.
    pub now: i64,
    /// A batch ActiveCampaign may still be processing: every pending intent
    /// stays pending (in doubt), never settled as "did not land" early.
    pub keep_pending: bool,
    /// The contacts acsync's imports created that no full read has seen
    /// yet: found under an address acsync does not know (renamed since),
    /// each is still acsync's, as acsync left it when it saw its import end
    /// (the time each maps to, Unix seconds).
    pub created: Option<&'a HashMap<u64, i64>>,
}

impl Merge<'_> {
    /// Whether one of acsync's imports created the contact `id`.
    fn created_by_us(&self, id: u64) -> bool {
        self.created.is_some_and(|c| c.contains_key(&id))
    }

    /// Settle every intent against a read taken at `now`.
    pub fn settle_all(now: i64) -> Merge<'static> {
        Merge {
            now,
            keep_pending: false,
            created: None,
        }
    }
}

/// Merges `live` (every member of the list with its status, emails
/// lowercased) into `known` (keyed by lowercased email) and settles the
/// pending intents as `how` says. Members we know that the read lacks get
/// `status = None` and keep their record. A contact renamed in
/// ActiveCampaign takes its record's provenance to its new address: a read
/// member under an address acsync does not know whose contact id is
/// recorded for an address where the read no longer shows that contact
/// (no one there, or another contact since) is that contact. (A
/// `HashMap<String, Member>` keyed by email converts into [`Known`].)
pub fn merge_live(known: impl Into<Known>, live: &[LiveMember], how: Merge<'_>) -> Known {
    let mut known = known.into();
    let by_email: HashMap<&str, &LiveMember> = live.iter().map(|l| (l.email.as_str(), l)).collect();
    // Records whose contact the read no longer shows at their address, by
    // contact id, as they were before the read (usually few).
    let mut departed: HashMap<u64, Member> = HashMap::new();
    for m in known.iter_mut() {
        let l = by_email.get(m.email.as_str()).copied();
        if let Some(id) = m
            .contact_id
            .filter(|id| l.is_none_or(|l| l.contact_id != *id))
        {
            departed.insert(id, m.clone());
        }
        if let Some(l) = l.filter(|l| how.created_by_us(l.contact_id)) {
            // Bulk import names contacts by email: the one it created
            // under this address is the one acsync wrote, whatever id an
            // earlier read recorded (a contact erased since, say).
            m.contact_id = Some(l.contact_id);
        }
        reconcile(m, l, how);
    }
    drop(by_email);
    for l in live {
        if !known.contains(&l.email) {
            known.insert(newcomer(l, departed.get(&l.contact_id), how));
        }
    }
    known
}

/// The record of a member read under an address acsync does not know:
/// the contact renamed (`before`, its record at its old address, gives its
/// provenance), one of acsync's imports created, or anyone else's.
fn newcomer(l: &LiveMember, before: Option<&Member>, how: Merge<'_>) -> Member {
    let mut m = Member::unknown(l.email.clone());
    if let Some(before) = before {
        m.take_provenance_of(before);
    } else if let Some(&seen) = how.created.and_then(|c| c.get(&l.contact_id)) {
        // An import of acsync's created it (and so subscribed it); the
        // address changed since. acsync's write ended when it saw the
        // import end: a change to the membership after that is another's.
        m.contact_id = Some(l.contact_id);
        m.status = Some(ListStatus::Active);
        m.owned = true;
        m.last_write = Some(WriteWindow { from: 0, to: seen });
    }
    // The read then judges it as any membership acsync made.
    reconcile(&mut m, Some(l), how);
    m
}

/// Merges a drift check's rows (`changed`: the members ActiveCampaign
/// shows as updated since the last check, and the sample read in their own
/// rows) into `known`, as [`merge_live`] does for a full read, but only for
/// those members: every other record stands as it was (docs/run-rules.md,
/// drift checks). A row under an address acsync does not know whose contact
/// id is recorded elsewhere is that contact, renamed: its old address
/// holds it no more, and its record's provenance moves with it. Returns
/// the addresses whose records it changed, for the state to record.
pub fn merge_changed(known: Known, changed: &[LiveMember], how: Merge<'_>) -> (Known, Vec<String>) {
    let mut known = known;
    let ids: HashSet<u64> = changed.iter().map(|l| l.contact_id).collect();
    // The changed contacts' records as they were before this merge, by
    // contact id (usually few).
    let before: HashMap<u64, Member> = known
        .iter()
        .filter_map(|m| Some((m.contact_id.filter(|id| ids.contains(id))?, m.clone())))
        .collect();
    let mut touched = Vec::new();
    for l in changed {
        touched.push(l.email.clone());
        // Already recorded where it is shown: another record that still
        // names the contact (an address it left earlier) is not where it
        // was renamed from now.
        let followed = known
            .get(&l.email)
            .is_some_and(|m| m.contact_id == Some(l.contact_id));
        let renamed = before
            .get(&l.contact_id)
            .filter(|old| old.email != l.email && !followed);
        if let Some(old) = renamed.and_then(|old| known.get_mut(&old.email)) {
            // Still the renamed contact's record: its address holds it no more.
            if old.contact_id == Some(l.contact_id) {
                reconcile(old, None, how);
                touched.push(old.email.clone());
            }
        }
        match known.get_mut(&l.email) {
            Some(m) => {
                if how.created_by_us(l.contact_id) {
                    m.contact_id = Some(l.contact_id);
                }
                reconcile(m, Some(l), how);
            }
            None => {
                known.insert(newcomer(l, renamed, how));
            }
        }
    }
    (known, touched)
}

/// One member against its live row (`None`: not a member of the list).
fn reconcile(m: &mut Member, live: Option<&LiveMember>, how: Merge<'_>) {
    let seen = Evidence {
        contact_id: live.map(|l| l.contact_id),
        status: live.map(|l| l.status),
        contact_created: live.and_then(|l| l.contact_created),
        row_changed: None,
    };
    if how.keep_pending && m.pending.is_some() && !unsubscribe_shown(m, seen.status) {
        // In doubt: what the read shows may not include the change yet.
        m.status = seen.status;
        m.contact_id = seen.contact_id.or(m.contact_id);
        return;
    }
    if let Some(op) = m.pending.take() {
        settle_intent(m, op, seen.status, how.now);
    }
    m.observe(seen);
}

/// Whether the read shows the unsubscribe `m`'s intent asked for: then it
/// is settled as acsync's even while its batch cannot be followed to its
/// end (still running, or its summary no longer kept by ActiveCampaign), so
/// that a member who re-enters the segment is subscribed again at once.
/// Other intents wait for their batch: an add shown active may be someone
/// else's, and waiting costs nothing but time.
fn unsubscribe_shown(m: &Member, status: Option<ListStatus>) -> bool {
    m.pending == Some(PendingOp::Remove) && status == Some(ListStatus::Unsubscribed)
}

/// What an intent a killed run left means, given the status a read shows
/// now: a write of ours that landed becomes the membership's provenance
/// (with a window that ends now: the killed run verified the member right
/// before sending, so anything the read shows is either its write or
/// later); one that did not land changes nothing, and [`Member::observe`]
/// then judges the status as anyone else's.
fn settle_intent(m: &mut Member, op: PendingOp, status: Option<ListStatus>, now: i64) {
    use ListStatus::{Active, Unsubscribed};
    let landed = WriteWindow { from: 0, to: now };
    match (op, status) {
        (PendingOp::Add, Some(Active)) => {
            m.owned = true;
            m.unsubscribed_by_us = false;
            m.last_write = Some(landed);
        }
        (PendingOp::Resubscribe, Some(Active)) => {
            m.unsubscribed_by_us = false;
            m.last_write = m.owned.then_some(landed);
        }
        (PendingOp::Remove, Some(Unsubscribed)) => {
            m.unsubscribed_by_us = true;
            m.last_write = Some(landed);
        }
        // Unknown whether the fields were written: forget the hash, re-send.
        (PendingOp::Update, _) => m.sent_hash = None,
        // Bulk import refuses to resubscribe: a status 2 after an add is an
        // opt-out, not ours; any other intent that did not land changes
        // nothing.
        _ => {}
    }
}
