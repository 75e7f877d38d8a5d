//! How the pure core reads each answer: what a change that landed, was
//! kept or was refused leaves in its member row and in the tally; what a
//! single request, a refused or timed-out batch, a completed batch, a
//! lookup of a refused contact and a read of the list mean. No IO: every
//! answer and the time come in as arguments.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::decide::{
    CLASSIFY_MAX, ChangeInDoubt, ErrorClass, Item, SeenInRead, SingleAnswer, SingleStep, WriteCore,
    WriteTally, class_of,
};
use crate::activecampaign::{ApiError, BatchResult, BatchStatus, CheckedContact};
use crate::model::Kept;
use crate::model::{Evidence, ListStatus, LiveMember, Member, PendingOp, WriteWindow};
use crate::run::history::ChangeEnd;

/// A completed batch, read: the rows of the contacts that landed, and the
/// positions (ascending) of those it refused.
#[derive(Debug, Default)]
pub struct CompletedBatch {
    pub members: Vec<Member>,
    pub refused: Vec<usize>,
}

/// A contact found on looking it up: its id and its status on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactOnList {
    pub contact_id: u64,
    pub status: Option<ListStatus>,
}

impl ContactOnList {
    /// Its status on the list when no add may write over it: any but
    /// active (docs/run-rules.md, kept statuses).
    pub fn kept_status(&self) -> Option<ListStatus> {
        self.status.filter(|s| s.keeps_adds_out())
    }
}

/// The reason of a contact bulk import refused without saying why.
pub const BULK_REFUSED: &str = "refused by ActiveCampaign's bulk import (excluded, bounced, invalid or over the account limit)";

impl WriteCore<'_> {
    /// The member after `item` landed, counted as applied; `sent_at` is
    /// when its request or batch was sent and `now` when its end was seen
    /// (Unix seconds): the window of this write, the time half of the
    /// membership's provenance (docs/ownership.md).
    pub fn landed(&self, t: &mut WriteTally, item: &Item, sent_at: i64, now: i64) -> Member {
        match item.op {
            PendingOp::Add | PendingOp::Resubscribe => t.added += 1,
            PendingOp::Update => t.updated += 1,
            PendingOp::Remove => t.removed += 1,
        }
        t.outcomes.set(item.slot, ChangeEnd::Landed);
        let mut m = self.member(item.email);
        m.pending = None;
        m.contact_id = item.contact_id.or(m.contact_id);
        match item.op {
            PendingOp::Add | PendingOp::Resubscribe => {
                m.status = Some(ListStatus::Active);
                m.owned |= item.op == PendingOp::Add;
                m.unsubscribed_by_us = false;
                m.sent_hash = Some(item.hash);
                m.read_back_hash = item.read_back;
            }
            PendingOp::Update => {
                m.sent_hash = Some(item.hash);
                m.read_back_hash = item.read_back;
            }
            PendingOp::Remove => {
                m.status = Some(ListStatus::Unsubscribed);
                m.unsubscribed_by_us = true;
            }
        }
        // An update of a membership that is not acsync's doing leaves it so.
        if m.status_we_left().is_some() {
            m.last_write = Some(WriteWindow {
                from: sent_at,
                to: now,
            });
        }
        m
    }

    /// A member whose status (`seen`, not active) is not ours to change:
    /// counted, and recorded with that status and whatever the evidence
    /// ends of its provenance (docs/ownership.md).
    pub fn kept(
        &self,
        t: &mut WriteTally,
        item: &Item,
        seen: ListStatus,
        contact_id: Option<u64>,
    ) -> Member {
        let why = Kept::of(Some(seen)).unwrap_or(Kept::OtherStatus);
        *match why {
            Kept::Unsubscribed => &mut t.kept_unsubscribed,
            Kept::Bounced => &mut t.kept_bounced,
            Kept::Unconfirmed => &mut t.kept_unconfirmed,
            Kept::OtherStatus => &mut t.kept_other_status,
        } += 1;
        t.outcomes.set(item.slot, ChangeEnd::Kept(why));
        let mut m = self.member(item.email);
        m.pending = None;
        m.observe(Evidence::of_status(contact_id, seen));
        m
    }

    /// A refused change: recorded as failed, its intent cleared; retried
    /// next run.
    pub fn refused(&self, t: &mut WriteTally, item: &Item, reason: impl Into<Arc<str>>) -> Member {
        t.fail(item, reason);
        let mut m = self.member(item.email);
        m.pending = None;
        m
    }

    /// Reads the end of one change sent through `contact/sync` and
    /// `contactLists`, sent at `sent_at` and answered at `now`.
    pub fn after_single(
        &self,
        t: &mut WriteTally,
        item: &Item,
        answer: Result<SingleAnswer, ApiError>,
        sent_at: i64,
        now: i64,
    ) -> SingleStep {
        let e = match answer {
            Ok(SingleAnswer::Applied) => {
                return SingleStep::Save(self.landed(t, item, sent_at, now));
            }
            Ok(SingleAnswer::Kept(why, id)) => {
                return SingleStep::Save(self.kept(t, item, why, Some(id)));
            }
            Ok(SingleAnswer::AnotherContact { was }) => {
                return SingleStep::Moved {
                    row: self.reached_another_contact(t, item, sent_at, now),
                    was,
                };
            }
            Ok(SingleAnswer::NoSuchContact) => {
                // No such contact: it is no member of anything.
                t.outcomes.set(item.slot, ChangeEnd::NotActive);
                let mut m = self.member(item.email);
                m.pending = None;
                m.observe(Evidence::no_row());
                m.contact_id = None;
                return SingleStep::Save(m);
            }
            Err(e) => e,
        };
        match class_of(&e) {
            ErrorClass::Fatal => SingleStep::Stop(e),
            ErrorClass::InDoubt => {
                t.doubt(item, e.to_string());
                SingleStep::KeepIntent
            }
            ErrorClass::Refused => SingleStep::Save(self.refused(t, item, e.to_string())),
        }
    }

    /// An update whose `contact/sync` reached another contact than the one
    /// recorded under the address (the item carries the new id): the
    /// values landed there, but that contact is another one (docs/ownership.md):
    /// not acsync's, with no known row on the list, so the next run adds
    /// it when the segment still wants the address.
    fn reached_another_contact(
        &self,
        t: &mut WriteTally,
        item: &Item,
        sent_at: i64,
        now: i64,
    ) -> Member {
        let mut m = self.landed(t, item, sent_at, now);
        m.observe(Evidence::no_row());
        m.last_write = None;
        m
    }

    /// The record of the contact an update no longer reached, found by
    /// its id under its new address (`moved`, read now): it takes over the
    /// provenance `before` recorded under the old address, then folds in
    /// what the read shows. `None` when the contact is gone or kept its
    /// address.
    pub fn moved_contact(&self, before: &Member, moved: Option<CheckedContact>) -> Option<Member> {
        let moved = moved.filter(|c| c.email != before.email)?;
        let mut m = Member::unknown(moved.email);
        m.take_provenance_of(before);
        m.contact_id = Some(moved.id);
        match &moved.row {
            Some(row) => m.observe(Evidence::of_row(Some(moved.id), row)),
            None => m.observe(Evidence::no_row()),
        }
        Some(m)
    }

    /// A batch (or a rest of one) not accepted: the run stops on a fatal
    /// error; a batch that may have been queued leaves its changes in
    /// doubt (nothing to journal); a refused one fails its contacts
    /// (the rows returned clear their intents).
    pub fn submit_failed(
        &self,
        t: &mut WriteTally,
        items: &[Item],
        e: ApiError,
    ) -> Result<Vec<Member>, ApiError> {
        let reason: Arc<str> = format!("bulk import not accepted: {e}").into();
        match class_of(&e) {
            ErrorClass::Fatal => Err(e),
            ErrorClass::InDoubt => {
                // It may have been queued: settled by a read, or by the next run.
                t.doubt_queued(items, &reason);
                Ok(Vec::new())
            }
            ErrorClass::Refused => {
                let rows = items.iter().map(|i| self.refused(t, i, reason.clone()));
                Ok(rows.collect())
            }
        }
    }

    /// The contacts a whole-batch rejection named (index in `items`,
    /// reason): failed with ActiveCampaign's own words, retried next run.
    pub fn reject_named(
        &self,
        t: &mut WriteTally,
        items: &[Item],
        named: &[(usize, String)],
    ) -> Vec<Member> {
        named
            .iter()
            .filter_map(|(i, why)| items.get(*i).map(|item| (item, why)))
            .map(|(item, why)| {
                let reason = format!("rejected by ActiveCampaign's bulk import: {why}");
                self.refused(t, item, reason)
            })
            .collect()
    }

    /// `/import/info` failed for a queued batch (a 4xx, an unknown batch
    /// id, retries exhausted): the batch may have landed, so it is no
    /// verdict. The batch stays journaled and its changes in doubt, settled
    /// by the read before the run ends or by the next run's journal follow.
    pub fn info_failed(
        &self,
        t: &mut WriteTally,
        items: &[Item],
        batch_id: &str,
        e: ApiError,
    ) -> Result<(), ApiError> {
        if class_of(&e) == ErrorClass::Fatal {
            return Err(e);
        }
        t.doubt_queued(
            items,
            &format!("outcome of bulk batch {batch_id} unknown ({e})"),
        );
        Ok(())
    }

    /// A batch that ended `failed` or `interrupted` for the last time: its
    /// changes are in doubt (some may have landed before it stopped).
    pub fn batch_given_up(
        &self,
        t: &mut WriteTally,
        items: &[Item],
        batch_id: &str,
        status: BatchStatus,
    ) {
        let reason =
            format!("bulk batch {batch_id} ended {status:?}; will be checked on the next run");
        t.doubt_all(items, &reason);
    }

    /// A completed batch: every contact it did not report failed landed;
    /// the positions of the failed ones are returned to be told apart
    /// ([`WriteCore::wants_lookup`]).
    pub fn batch_completed(
        &self,
        t: &mut WriteTally,
        items: &[Item],
        result: &BatchResult,
        sent_at: i64,
        now: i64,
    ) -> CompletedBatch {
        let failed: HashSet<&str> = result.failed_emails.iter().map(String::as_str).collect();
        let mut done = CompletedBatch {
            members: Vec::with_capacity(items.len()),
            refused: Vec::new(),
        };
        for (i, item) in items.iter().enumerate() {
            if failed.contains(item.email) {
                done.refused.push(i);
            } else {
                done.members.push(self.landed(t, item, sent_at, now));
            }
        }
        done
    }

    /// The contacts a batch of unsubscribes created (`/import/info`
    /// `success`). acsync unsubscribes only contacts its check found on the
    /// list, so each is a contact erased meanwhile and made again by the
    /// import (docs/verification.md, "An unsubscribe creates nobody"); they
    /// are counted so that the run stops unsubscribing and says so.
    pub fn created_by_unsubscribes(
        &self,
        t: &mut WriteTally,
        items: &[Item],
        result: &BatchResult,
    ) {
        if items.iter().all(|i| i.op == PendingOp::Remove) {
            t.created_by_unsubscribes
                .extend_from_slice(&result.created_ids);
        }
    }

    /// Whether a contact bulk import refused is looked up (its status on
    /// the list tells an opt-out from a refusal): only adds, and at most
    /// [`CLASSIFY_MAX`] a run. Counts every refused contact against the budget.
    pub fn wants_lookup(&self, t: &mut WriteTally, item: &Item) -> bool {
        t.classified += 1;
        item.op == PendingOp::Add && t.classified <= CLASSIFY_MAX
    }

    /// A refused contact after its lookup (`None` when it was not looked
    /// up or does not exist): kept when its status keeps it out, else
    /// failed. A fatal error stops.
    pub fn refused_in_batch(
        &self,
        t: &mut WriteTally,
        item: &Item,
        lookup: Result<Option<ContactOnList>, ApiError>,
    ) -> Result<Member, ApiError> {
        match lookup {
            Ok(Some(c)) => Ok(match c.kept_status() {
                Some(status) => self.kept(t, item, status, Some(c.contact_id)),
                None => self.refused(t, item, BULK_REFUSED),
            }),
            Err(e) if class_of(&e) == ErrorClass::Fatal => Err(e),
            Ok(None) | Err(_) => Ok(self.refused(t, item, BULK_REFUSED)),
        }
    }

    /// Settles the changes left in doubt against a read of the list
    /// (`None`: no read could be made): those that landed count as applied
    /// and their rows are returned; those kept by their status likewise.
    /// The others keep their pending intent: failed when the read shows
    /// their request ended without them, in doubt (not failed) when their
    /// batch may land still or no read was made.
    pub fn settle(&self, t: &mut WriteTally, live: Option<&[LiveMember]>, now: i64) -> Vec<Member> {
        let doubts: Vec<ChangeInDoubt> = std::mem::take(&mut t.doubts);
        let read = live.is_some();
        let live: HashMap<&str, &LiveMember> = live
            .iter()
            .copied()
            .flatten()
            .map(|l| (l.email.as_str(), l))
            .collect();
        let mut settled = Vec::new();
        for doubt in &doubts {
            let item = &doubt.item();
            let l = live.get(item.email).copied();
            match self.seen_in_read(item, l) {
                SeenInRead::Landed => {
                    let mut m = self.landed(t, item, self.started_at, now);
                    m.contact_id = l.map(|l| l.contact_id).or(m.contact_id);
                    settled.push(m);
                }
                SeenInRead::Kept(status) => {
                    let id = l.map(|l| l.contact_id);
                    settled.push(self.kept(t, item, status, id));
                }
                SeenInRead::NotLanded if read && !doubt.may_land_later => {
                    t.fail(item, doubt.reason.as_str());
                }
                SeenInRead::NotLanded => t.unsettled(item),
            }
        }
        settled
    }

    /// Whether `item` landed, judged from the member's row in a full read
    /// (`None`: not a member). Only what the read shows counts: a change of
    /// custom fields alone cannot be seen, so such an update stays in doubt.
    pub fn seen_in_read(&self, item: &Item, live: Option<&LiveMember>) -> SeenInRead {
        let Some(l) = live else {
            return SeenInRead::NotLanded;
        };
        let f = &item.fields;
        let sent_match =
            |sent: Option<&str>, now: &Option<String>| sent.is_none() || sent == now.as_deref();
        let fields_match = sent_match(f.first_name(), &l.first_name)
            && sent_match(f.last_name(), &l.last_name)
            && sent_match(f.phone(), &l.phone);
        let yes = match (item.op, l.status) {
            (PendingOp::Remove, status) => status == ListStatus::Unsubscribed,
            // Planned only for contacts not active here: any other status
            // now is one that bulk import refused to override.
            (PendingOp::Add, status) if status.keeps_adds_out() => {
                return SeenInRead::Kept(status);
            }
            (PendingOp::Add | PendingOp::Resubscribe, status) => {
                status == ListStatus::Active && fields_match
            }
            (PendingOp::Update, status) => {
                status == ListStatus::Active && fields_match && !self.maps_custom_fields
            }
        };
        if yes {
            SeenInRead::Landed
        } else {
            SeenInRead::NotLanded
        }
    }
}
