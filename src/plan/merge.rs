//! Folding a full read of the list into what this export knows, and
//! resolving the intents a killed run left pending (docs/run-rules.md, crash safety: "killed
//! at any instant [...] the next run converges the list to the segment with
//! no duplicate contacts and no forgotten ownership").
//!
//! The live read is the truth for list status. Ownership is gained by an
//! add of ours that the read shows landed, and ends as soon as the read
//! shows a change acsync did not make (docs/ownership.md; the rule is
//! [`Member::observe`]'s).

use std::collections::HashMap;

use crate::model::{Known, ListStatus, LiveMember, Member, PendingOp, Sighting, WriteWindow};

/// How a full read settles the intents a killed run left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    /// When the read was taken (Unix seconds): the end of the window of an
    /// unsubscribe of ours that the read shows landed.
    pub now: i64,
    /// A batch ActiveCampaign may still be processing: every pending intent
    /// stays pending (in doubt), never settled as "did not land" early.
    pub keep_pending: bool,
}

impl Merge {
    /// Settle every intent against a read taken at `now`.
    pub fn settle_all(now: i64) -> Merge {
        Merge {
            now,
            keep_pending: false,
        }
    }
}

/// Merges `live` (every member of the list with its status, emails
/// lowercased) into `known` (keyed by lowercased email) and settles the
/// pending intents as `how` says. Members we know that the read lacks get
/// `status = None`; they stay in the map so that their ownership is
/// remembered. (A `HashMap<String, Member>` keyed by email converts into
/// [`Known`].)
pub fn merge_live(known: impl Into<Known>, live: &[LiveMember], how: Merge) -> Known {
    let mut known = known.into();
    let by_email: HashMap<&str, &LiveMember> = live.iter().map(|l| (l.email.as_str(), l)).collect();
    for m in known.iter_mut() {
        reconcile(m, by_email.get(m.email.as_str()).copied(), how);
    }
    drop(by_email);
    for l in live {
        if !known.contains(&l.email) {
            let mut m = Member::unknown(l.email.clone());
            reconcile(&mut m, Some(l), how);
            known.insert(m);
        }
    }
    known
}

/// One member against its live row (`None`: not a member of the list).
fn reconcile(m: &mut Member, live: Option<&LiveMember>, how: Merge) {
    let seen = Sighting {
        contact_id: live.map(|l| l.contact_id),
        status: live.map(|l| l.status),
        contact_created: live.and_then(|l| l.contact_created),
    };
    if how.keep_pending && m.pending.is_some() {
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
