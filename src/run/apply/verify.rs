//! Verify before you write, purely: what a read taken right before an
//! unsubscribe, a resubscribe or a bulk add of contacts acsync has no
//! record of says (see docs/verification.md). Local
//! state is a record of the past; these rules only act on a read taken
//! now, and every doubt keeps the contact as it is. The reads themselves
//! are the executor's (`checks.rs`).

use std::collections::HashMap;

use super::answers::ContactOnList;
use super::decide::{Item, WriteCore, WriteTally, fatal};
use crate::activecampaign::{ApiError, CheckedContact};
use crate::model::{Evidence, ListStatus, LiveMember, Member, MembershipRow, PendingOp};
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
    /// The rows of the removals not made (no longer active, changed by
    /// someone else since acsync's last write, or wanted again), recorded
    /// as the read showed them and never as unsubscribed by us.
    pub not_made: Vec<Member>,
}

/// The contact `item` names and its own row on the list, when the read
/// returned both.
fn own_row<'r>(
    item: &Item,
    read: &'r HashMap<u64, CheckedContact>,
) -> Option<(&'r CheckedContact, &'r MembershipRow)> {
    let contact = read.get(&item.contact_id?)?;
    Some((contact, contact.row.as_ref()?))
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
    /// made: its change time lies inside the recorded window of our write,
    /// and it carries none of the marks of someone else's unsubscribe (a
    /// campaign, a message, an automation, a reason), which a change time
    /// alone cannot rule out. No window, no `udate`, a mark, or a status
    /// code we do not manage: keep.
    pub fn of(m: &Member, row: Option<MembershipRow>) -> Resubscribe {
        let Some(row) = row else {
            return Resubscribe::NotMember;
        };
        match row.status {
            ListStatus::Active => Resubscribe::AlreadyActive,
            ListStatus::Unsubscribed => {
                let ours = m.unsubscribed_by_us
                    && !row.marks.name_another_author()
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// What a read of the list right before a bulk add shows of the statuses
/// bulk import would write over: its members awaiting a double opt-in,
/// and whether members of a status acsync cannot ask for (91, or a code it
/// does not know) may exist: the count of every member exceeds the counts
/// of the four statuses, or a count was not answered.
#[derive(Debug, Default)]
pub struct ListCensus {
    pub unconfirmed: Vec<LiveMember>,
    pub others_possible: bool,
}

/// The planned adds sorted by a [`ListCensus`].
#[derive(Debug, Default)]
pub struct SortedAdds<'p> {
    /// Sent as planned.
    pub send: Vec<Item<'p>>,
    /// Looked up one by one before they are sent: members of another
    /// status may be among them.
    pub look_up: Vec<Item<'p>>,
    /// Not sent: their rows, as the read showed them.
    pub kept: Vec<Member>,
}

/// What a lookup made of an add ([`WriteCore::after_add_lookup`]).
#[derive(Debug)]
pub enum AddLookup {
    Send,
    /// Not sent: its row, as the lookup showed it.
    Keep(Member),
    /// Not sent this run: its status could not be read (counted failed).
    Skip,
}

impl WriteCore<'_> {
    /// Sorts the planned removals (`items`, with the contact ids that could
    /// be looked up) by `read`: contact id → what
    /// `GET /contacts?ids[]=…&listid=&status=1&include=contactLists`
    /// answered for it. The filter's claim alone is not trusted
    /// (ActiveCampaign does not document it together with `ids[]`, see
    /// docs/verification.md): a contact is active on the list only when its
    /// own side-loaded row says so. Not made: a removal without a contact
    /// id (it could not be read), without an active row of its own, or
    /// whose row changed after acsync's last write to it (someone else's
    /// doing since, which also ends acsync's ownership of it).
    pub fn confirm_removals<'p>(
        &self,
        t: &mut WriteTally,
        items: &[Item<'p>],
        read: &HashMap<u64, CheckedContact>,
        in_segment: &dyn Fn(&str) -> bool,
    ) -> Confirmed<'p> {
        let mut out = Confirmed::default();
        for item in items {
            let Some((contact, row)) = own_row(item, read) else {
                out.not_made.push(self.not_on_list(t, item));
                continue;
            };
            let member = self.member(item.email);
            if row.status != ListStatus::Active || member.changed_since_last_write(row) {
                out.not_made.push(self.not_ours(t, item, contact.id, row));
                continue;
            }
            match contact.email.as_str() {
                email if email == item.email => out.same_email.push(*item),
                email if !in_segment(email) => out.by_id.push(*item),
                _ => {
                    out.wanted_again.push(item.email);
                    out.not_made.push(self.not_active(t, item));
                }
            }
        }
        out
    }

    /// A planned removal of a contact that is active under another email
    /// in the segment: not made, counted, and recorded with an unknown
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

    /// A planned removal of a contact the read did not find on the list
    /// (deleted, or no row there): not made, counted, and recorded as not
    /// a member, which is nobody's membership.
    fn not_on_list(&self, t: &mut WriteTally, item: &Item) -> Member {
        t.not_active += 1;
        t.outcomes.set(item.slot, ChangeEnd::NotActive);
        let mut m = self.member(item.email);
        m.observe(Evidence::no_row());
        m
    }

    /// A planned removal whose row shows another status, or a change by
    /// someone else since acsync's last write: not made, counted with those
    /// not active, and recorded as the row shows it (a status acsync does
    /// not manage is then kept on re-entry), no longer acsync's.
    fn not_ours(
        &self,
        t: &mut WriteTally,
        item: &Item,
        contact_id: u64,
        row: &MembershipRow,
    ) -> Member {
        t.not_active += 1;
        t.outcomes.set(item.slot, ChangeEnd::NotActive);
        let mut m = self.member(item.email);
        m.observe(Evidence::of_row(Some(contact_id), row));
        m
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

impl WriteCore<'_> {
    /// An add of a contact this export has no record of on the list.
    fn unrecorded_add(&self, item: &Item) -> bool {
        item.op == PendingOp::Add
            && self
                .known
                .get(item.email)
                .is_none_or(|m| m.status.is_none())
    }

    /// Whether `items` need a [`ListCensus`] before they are sent: bulk
    /// import subscribes whom it is given, refusing only opted-out and
    /// bounced members, so adds of contacts acsync has no record of could
    /// write over a status set since the list was last read (awaiting a
    /// double opt-in, 91, an unknown code). Not when the run read the list
    /// in full before planning, nor on the single path, which reads each
    /// contact's status before setting it.
    pub fn checks_adds(&self, items: &[Item]) -> bool {
        !self.listed_now && self.by_bulk(items) && items.iter().any(|i| self.unrecorded_add(i))
    }

    /// Sorts the planned adds and updates by `census`: an unrecorded add
    /// of a member awaiting its double opt-in is kept; the other unrecorded
    /// adds are looked up first when members of a status acsync cannot ask
    /// for may exist.
    pub fn confirm_adds<'p>(
        &self,
        t: &mut WriteTally,
        items: Vec<Item<'p>>,
        census: &ListCensus,
    ) -> SortedAdds<'p> {
        let unconfirmed: HashMap<&str, u64> = census
            .unconfirmed
            .iter()
            .map(|m| (m.email.as_str(), m.contact_id))
            .collect();
        let mut sorted = SortedAdds::default();
        for item in items {
            if !self.unrecorded_add(&item) {
                sorted.send.push(item);
            } else if let Some(id) = unconfirmed.get(item.email) {
                let row = self.kept(t, &item, ListStatus::Unconfirmed, Some(*id));
                sorted.kept.push(row);
            } else if census.others_possible {
                sorted.look_up.push(item);
            } else {
                sorted.send.push(item);
            }
        }
        sorted
    }

    /// An unrecorded add after its lookup: kept when the contact is on the
    /// list with a status other than active, sent when it is not on the
    /// list (or already active), skipped when the lookup failed (a fatal
    /// error stops the run).
    pub fn after_add_lookup(
        &self,
        t: &mut WriteTally,
        item: &Item,
        lookup: Result<Option<ContactOnList>, ApiError>,
    ) -> Result<AddLookup, ApiError> {
        match lookup {
            Ok(Some(c)) => Ok(match c.kept_status() {
                Some(status) => AddLookup::Keep(self.kept(t, item, status, Some(c.contact_id))),
                None => AddLookup::Send,
            }),
            Ok(None) => Ok(AddLookup::Send),
            Err(e) if fatal(&e) => Err(e),
            Err(e) => {
                t.fail(
                    item,
                    format!("not added: its status on the list could not be read first ({e})"),
                );
                Ok(AddLookup::Skip)
            }
        }
    }
}
