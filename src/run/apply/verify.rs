//! Verify before you write, purely: what a read taken right before an
//! unsubscribe or a resubscribe says (see docs/verification.md). Local
//! state is a record of the past; these rules only act on a read taken
//! now, and every doubt keeps the contact as it is. The reads themselves
//! are the executor's (`checks.rs`).

use std::collections::HashMap;

use super::decide::{Item, WriteCore, WriteTally, fatal};
use crate::activecampaign::ApiError;
use crate::model::{ListStatus, Member, MembershipRow, PendingOp};
use crate::run::history::ChangeEnd;

/// The planned removals sorted by a read of the list's active members.
#[derive(Debug, Default)]
pub struct Confirmed<'p> {
    /// Active under the email we know: bulk or single, as many as there are.
    pub same_email: Vec<Item<'p>>,
    /// Active, but ActiveCampaign now knows the contact under another email
    /// that is not in the segment: unsubscribed by contact id only, never by
    /// the old email (bulk import knows contacts only by email).
    pub by_id: Vec<Item<'p>>,
    /// Active under a new email that is in the segment: it stays.
    pub wanted_again: Vec<&'p str>,
    /// The rows of the removals not made (no longer active under their
    /// email, or wanted again): their status is unknown until the next full
    /// read, and never recorded as unsubscribed by us.
    pub not_made: Vec<Member>,
}

/// What to do with a member this export unsubscribed who re-entered the
/// segment, given its membership row read now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resubscribe {
    /// The status 2 is still the one we wrote: set it back to 1.
    Yes,
    /// Someone resubscribed it already: no status write.
    AlreadyActive,
    /// No membership row (removed, or the contact deleted): a plain add.
    NotMember,
    /// Any other state: not ours to change; kept as it is.
    Keep(ListStatus),
}

impl Resubscribe {
    /// Resubscribe only when the row still shows the unsubscribe this export
    /// made, i.e. its change time lies inside the recorded window of our
    /// write. No window, no `udate`, or a status code we do not manage: keep.
    pub fn of(m: &Member, row: Option<MembershipRow>) -> Resubscribe {
        let Some(row) = row else {
            return Resubscribe::NotMember;
        };
        match row.status {
            ListStatus::Active => Resubscribe::AlreadyActive,
            ListStatus::Unsubscribed => {
                let ours = m.unsubscribed_by_us
                    && m.last_write
                        .zip(row.udate)
                        .is_some_and(|(w, udate)| w.covers(udate));
                if ours {
                    Resubscribe::Yes
                } else {
                    Resubscribe::Keep(ListStatus::Unsubscribed)
                }
            }
            kept => Resubscribe::Keep(kept),
        }
    }
}

/// A contact's id and its membership row on the list, read right before a
/// resubscribe (`None`: no such contact, or no row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipRead {
    pub contact_id: Option<u64>,
    pub row: Option<MembershipRow>,
}

/// What to do with a planned resubscribe after its membership read.
#[derive(Debug)]
pub enum ResubscribeStep {
    /// Send the change as this operation.
    Send(PendingOp),
    /// Journal this row; then, when set, send the change as that operation.
    Record(Member, Option<PendingOp>),
    /// The read failed: counted failed, nothing journaled.
    Failed,
    /// Stop the run.
    Stop(ApiError),
}

impl WriteCore<'_> {
    /// Sorts the planned removals (`items`, with the contact ids that could
    /// be looked up) by what `active_now` shows (contact id → current email,
    /// the answer of `GET /contacts?ids[]=…&listid=&status=1`). A removal
    /// without a contact id could not be read and counts as not active.
    pub fn confirm_removals<'p>(
        &self,
        t: &mut WriteTally,
        items: &[Item<'p>],
        active_now: &HashMap<u64, String>,
        in_segment: &dyn Fn(&str) -> bool,
    ) -> Confirmed<'p> {
        let mut out = Confirmed::default();
        for item in items {
            let current = item.contact_id.and_then(|id| active_now.get(&id));
            match current {
                Some(email) if email == item.email => out.same_email.push(*item),
                Some(email) if !in_segment(email) => out.by_id.push(*item),
                Some(_) => {
                    out.wanted_again.push(item.email);
                    out.not_made.push(self.not_active(t, item));
                }
                None => out.not_made.push(self.not_active(t, item)),
            }
        }
        out
    }

    /// A planned removal not made: counted, and recorded with an unknown
    /// status so the next full read learns what became of it.
    fn not_active(&self, t: &mut WriteTally, item: &Item) -> Member {
        t.not_active += 1;
        t.outcomes.set(item.slot, ChangeEnd::NotActive);
        Member {
            status: None,
            unsubscribed_by_us: false,
            last_write: None,
            ..self.member(item.email)
        }
    }

    /// The contact id a resubscribe's membership read starts from; without
    /// one, the contact is looked up by email first.
    pub fn known_contact_id(&self, item: &Item) -> Option<u64> {
        let recorded = self.known.get(item.email).and_then(|m| m.contact_id);
        recorded.or(item.contact_id)
    }

    /// Reads the membership read before a resubscribe (`item`): a read that
    /// failed fails the change (unless the error stops the run); otherwise
    /// [`Resubscribe::of`] decides. A contact someone else resubscribed is
    /// recorded active (no longer ours to undo) and its fields are written
    /// only if they changed.
    pub fn after_membership_read(
        &self,
        t: &mut WriteTally,
        item: &Item,
        read: Result<MembershipRead, ApiError>,
    ) -> ResubscribeStep {
        let read = match read {
            Ok(read) => read,
            Err(e) if fatal(&e) => return ResubscribeStep::Stop(e),
            Err(e) => {
                let reason = format!("not resubscribed: could not read its membership first ({e})");
                t.fail(item, reason);
                return ResubscribeStep::Failed;
            }
        };
        let m = self.member(item.email);
        match Resubscribe::of(&m, read.row) {
            Resubscribe::Yes => ResubscribeStep::Send(PendingOp::Resubscribe),
            Resubscribe::NotMember => ResubscribeStep::Send(PendingOp::Add),
            Resubscribe::AlreadyActive => {
                let unchanged = m.sent_hash == Some(item.hash);
                if unchanged {
                    t.outcomes.set(item.slot, ChangeEnd::Landed);
                }
                let active = Member {
                    status: Some(ListStatus::Active),
                    unsubscribed_by_us: false,
                    last_write: None,
                    ..m
                };
                ResubscribeStep::Record(active, (!unchanged).then_some(PendingOp::Update))
            }
            Resubscribe::Keep(why) => {
                let id = read.contact_id.or(item.contact_id);
                ResubscribeStep::Record(self.kept(t, item, why, id), None)
            }
        }
    }
}
