//! Folding a full read of the list into what this export knows, and
//! resolving the intents a killed run left pending (docs/run-rules.md, crash safety: "killed
//! at any instant [...] the next run converges the list to the segment with
//! no duplicate contacts and no forgotten ownership").
//!
//! The live read is the truth for list status. Ownership is only ever gained
//! (an add we see confirmed), never lost: a member someone else removed who
//! re-enters the segment is added, and owned, again.

use std::collections::HashMap;

use crate::model::{Known, ListStatus, LiveMember, Member, PendingOp, UnsubscribeWindow};

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
    use ListStatus::{Active, Unsubscribed};
    let status = live.map(|l| l.status);
    if let Some(l) = live {
        m.contact_id = Some(l.contact_id);
    }
    if how.keep_pending && m.pending.is_some() {
        // In doubt: what the read shows may not include the change yet.
        m.status = status;
        return;
    }
    let landed_remove = m.pending == Some(PendingOp::Remove) && status == Some(Unsubscribed);
    let by_us = match (m.pending.take(), status) {
        // Our add landed: the membership is ours.
        (Some(PendingOp::Add), Some(Active)) => {
            m.owned = true;
            false
        }
        // Bulk import refuses to resubscribe: this status 2 is an opt-out, not ours.
        (Some(PendingOp::Add), Some(Unsubscribed)) => false,
        // Our unsubscribe landed: we may undo it if the contact re-enters.
        (Some(PendingOp::Remove), Some(Unsubscribed)) => true,
        // Unknown whether the fields were written: forget the hash, re-send.
        (Some(PendingOp::Update), _) => {
            m.sent_hash = None;
            m.unsubscribed_by_us
        }
        // Resubscribe landed (cleared below) or did not (still ours to undo);
        // any op that did not land changes nothing.
        _ => m.unsubscribed_by_us,
    };
    m.status = status;
    // Only a status 2 can be ours to undo. Clearing the mark on any other
    // status keeps a later opt-out from ever being taken for our unsubscribe.
    m.unsubscribed_by_us = status == Some(Unsubscribed) && by_us;
    if landed_remove {
        // The killed run verified the member active right before sending,
        // so the status 2 the read shows is ours unless it changed after
        // this read: the window ends now.
        m.unsubscribed_at = Some(UnsubscribeWindow {
            from: 0,
            to: how.now,
        });
    }
    if !m.unsubscribed_by_us {
        m.unsubscribed_at = None;
    }
}
