//! Folding a full read of the list into what this export knows, and
//! resolving the intents a killed run left pending (SPEC §4 rule 7: "killed
//! at any instant [...] the next run converges the list to the segment with
//! no duplicate contacts and no forgotten ownership").
//!
//! The live read is the truth for list status. Ownership is only ever gained
//! (an add we see confirmed), never lost: a member someone else removed who
//! re-enters the segment is added, and owned, again.

use std::collections::HashMap;

use crate::model::{Known, ListStatus, LiveMember, Member, PendingOp};

/// Merges `live` (every member with list status 1 or 2, emails lowercased)
/// into `known` (keyed by lowercased email) and clears every pending intent.
/// Members we know that the read lacks get `status = None`; they stay in the
/// map so that their ownership is remembered.
/// (A `HashMap<String, Member>` keyed by email converts into [`Known`].)
pub fn merge_live(known: impl Into<Known>, live: &[LiveMember]) -> Known {
    let mut known = known.into();
    let by_email: HashMap<&str, &LiveMember> = live.iter().map(|l| (l.email.as_str(), l)).collect();
    for m in known.iter_mut() {
        reconcile(m, by_email.get(m.email.as_str()).copied());
    }
    drop(by_email);
    for l in live {
        if !known.contains(&l.email) {
            let mut m = Member::unknown(l.email.clone());
            reconcile(&mut m, Some(l));
            known.insert(m);
        }
    }
    known
}

/// One member against its live row (`None`: not a member of the list).
fn reconcile(m: &mut Member, live: Option<&LiveMember>) {
    use ListStatus::{Active, Unsubscribed};
    let status = live.map(|l| l.status);
    if let Some(l) = live {
        m.contact_id = Some(l.contact_id);
    }
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
}
