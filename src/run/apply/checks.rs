//! The applier's reads before a destructive write (see
//! docs/verification.md): removals are confirmed against the list's active
//! members read now, by contact id; a resubscribe reads the membership row
//! first. What each read means is decided by the core ([`super::verify`]);
//! this file only reads and journals.

use std::collections::{HashMap, HashSet};

use super::Applier;
use super::decide::Item;
use super::verify::{AddLookup, Confirmed, ListCensus, MembershipRead, ResubscribeStep};
use crate::activecampaign::{ApiError, CheckedContact};
use crate::model::ListStatus;
use crate::run::error::RunError;

impl Applier<'_> {
    /// Reads which planned removals are still active members right now
    /// (`ids[]`, 100 a request), looking up the contact ids not known yet,
    /// and journals the rows of those not made.
    pub(super) async fn confirm_removals<'p>(
        &self,
        mut items: Vec<Item<'p>>,
    ) -> Result<Confirmed<'p>, RunError> {
        if items.is_empty() {
            return Ok(Confirmed::default());
        }
        for item in items.iter_mut().filter(|i| i.contact_id.is_none()) {
            item.contact_id = self.client.find_contact(item.email).await?;
        }
        let ids: Vec<u64> = items.iter().filter_map(|i| i.contact_id).collect();
        let read: HashMap<u64, CheckedContact> = self
            .client
            .members_among(self.export.list_id, &ids)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let wanted: HashSet<&str> = self.segment_emails();
        let in_segment = |e: &str| wanted.contains(e);
        let mut confirmed =
            self.core
                .confirm_removals(&mut self.tally(), &items, &read, &in_segment);
        for email in &confirmed.wanted_again {
            tracing::info!(export = %self.export.id, email = %crate::model::mask_email(email), "not unsubscribed: the contact is active under a new email that is in the segment");
        }
        let not_made = std::mem::take(&mut confirmed.not_made);
        if !not_made.is_empty() {
            tracing::info!(export = %self.export.id, members = not_made.len(), "planned removals no longer active on the list: left untouched");
        }
        self.save(not_made).await?;
        Ok(confirmed)
    }

    /// Before a bulk add of contacts acsync has no record of (see
    /// [`super::decide::WriteCore::checks_adds`]): reads the list's members
    /// awaiting a double opt-in and counts the rest; keeps what the core
    /// keeps, looks up what it asks for; the adds to send.
    pub(super) async fn confirm_adds<'p>(
        &self,
        items: Vec<Item<'p>>,
    ) -> Result<Vec<Item<'p>>, RunError> {
        if !self.core.checks_adds(&items) {
            return Ok(items);
        }
        let census = self.census().await?;
        let sorted = self.core.confirm_adds(&mut self.tally(), items, &census);
        let (mut send, mut kept) = (sorted.send, sorted.kept);
        for item in sorted.look_up {
            let lookup = self.lookup(item.email).await;
            match self
                .core
                .after_add_lookup(&mut self.tally(), &item, lookup)?
            {
                AddLookup::Send => send.push(item),
                AddLookup::Keep(row) => kept.push(row),
                AddLookup::Skip => {}
            }
        }
        if !kept.is_empty() {
            tracing::info!(export = %self.export.id, members = kept.len(), "planned adds of members of another status on the list: left as they are");
        }
        self.save(kept).await?;
        Ok(send)
    }

    /// The list's members awaiting a double opt-in, and whether members of
    /// a status acsync cannot ask for may exist (see [`ListCensus`]): one
    /// page of status 0 or more, and four counts.
    async fn census(&self) -> Result<ListCensus, ApiError> {
        let list = self.export.list_id;
        let unconfirmed = self
            .client
            .list_members(list, ListStatus::Unconfirmed, &|_| {})
            .await?;
        let mut four = [None; 4];
        for (n, status) in four.iter_mut().zip(ListStatus::ALL) {
            *n = match status {
                ListStatus::Unconfirmed => Some(unconfirmed.read),
                _ => self.client.count_members(list, Some(status)).await?,
            };
        }
        let every = self.client.count_members(list, None).await?;
        let others_possible = crate::model::other_statuses_possible(every, four);
        Ok(ListCensus {
            unconfirmed: unconfirmed.members,
            others_possible,
        })
    }

    fn segment_emails(&self) -> HashSet<&str> {
        self.segment
            .profiles
            .iter()
            .map(|p| p.email.as_str())
            .collect()
    }

    /// A member this export unsubscribed re-entered the segment: read its
    /// membership row, then do what the core makes of it.
    pub(super) async fn resubscribe(&self, item: Item<'_>) -> Result<(), RunError> {
        if self.cancel.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        let read = self.read_membership(&item).await;
        let step = self
            .core
            .after_membership_read(&mut self.tally(), &item, read);
        match step {
            ResubscribeStep::Send(op) => self.single(Item { op, ..item }).await,
            ResubscribeStep::Record(member, then) => {
                self.save(vec![member]).await?;
                match then {
                    Some(op) => self.single(Item { op, ..item }).await,
                    None => Ok(()),
                }
            }
            ResubscribeStep::Failed => Ok(()),
            ResubscribeStep::Stop(e) => Err(e.into()),
        }
    }

    /// The contact id (looked up by email when unknown) and its row.
    async fn read_membership(&self, item: &Item<'_>) -> Result<MembershipRead, ApiError> {
        let contact_id = match self.core.known_contact_id(item) {
            Some(id) => Some(id),
            None => self.client.find_contact(item.email).await?,
        };
        let row = match contact_id {
            Some(id) => self.client.membership(id, self.export.list_id).await?,
            None => None,
        };
        Ok(MembershipRead { contact_id, row })
    }
}
