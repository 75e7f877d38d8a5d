//! The executor of one change through `contact/sync` and `contactLists`:
//! journal the intent, send each request the core's [`SingleExchange`]
//! names, hand the end to the core
//! ([`WriteCore::after_single`](super::decide::WriteCore)) and journal what
//! it decides.

use super::decide::{Item, SingleAnswer, SingleStep};
use super::exchange::{SingleExchange, SingleNext, SingleReply, SingleRequest};
use super::{Applier, unix_now};
use crate::activecampaign::ApiError;
use crate::model::Member;
use crate::run::error::RunError;

impl Applier<'_> {
    /// One change: intent, requests, outcome.
    pub(super) async fn single(&self, mut item: Item<'_>) -> Result<(), RunError> {
        if self.cancel.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        self.save(self.core.intents(std::slice::from_ref(&item)))
            .await?;
        let sent_at = unix_now();
        let answer = self.exchange(&mut item).await;
        let step = self
            .core
            .after_single(&mut self.tally(), &item, answer, sent_at, unix_now());
        match step {
            SingleStep::Save(member) => self.save(vec![member]).await,
            SingleStep::KeepIntent => Ok(()),
            SingleStep::Moved { row, was } => self.follow_moved(&item, row, was).await,
            SingleStep::Stop(e) => Err(e.into()),
        }
    }

    /// An update reached another contact than the one recorded under its
    /// address (`was`): the one acsync knew is looked for by its id, so
    /// that its record follows it to its new address (docs/ownership.md,
    /// where ownership is kept). When that read fails, nothing is
    /// journaled: the intent stays, and the next run reads the list in full.
    async fn follow_moved(&self, item: &Item<'_>, row: Member, was: u64) -> Result<(), RunError> {
        let moved = match self.client.members_among(self.export.list_id, &[was]).await {
            Ok(found) => found.into_iter().find(|c| c.id == was),
            Err(e) => {
                tracing::warn!(export = %self.export.id, error = %e, "an update reached another contact than the one recorded; the next run reads the list to follow the one recorded");
                return Ok(());
            }
        };
        let before = self.core.member(item.email);
        let mut rows = vec![row];
        rows.extend(self.core.moved_contact(&before, moved));
        self.save(rows).await
    }

    /// Sends the change's requests; the contact id learned on the way goes
    /// into `item`, also when a request fails.
    async fn exchange(&self, item: &mut Item<'_>) -> Result<SingleAnswer, ApiError> {
        let mut exchange = SingleExchange::new(item.op, item.contact_id);
        let answer = loop {
            let request = match exchange.next() {
                SingleNext::Done(answer) => break Ok(answer),
                SingleNext::Send(request) => request,
            };
            match self.send(item, request).await {
                Ok(reply) => exchange.answered(reply),
                Err(e) => break Err(e),
            }
        };
        item.contact_id = exchange.contact_id().or(item.contact_id);
        answer
    }

    async fn send(&self, item: &Item<'_>, request: SingleRequest) -> Result<SingleReply, ApiError> {
        let list = self.export.list_id;
        Ok(match request {
            SingleRequest::SyncContact => {
                let input = self.core.contact_input(item);
                SingleReply::Synced(self.client.contact_sync(&input).await?)
            }
            SingleRequest::FindContact => {
                SingleReply::Found(self.client.find_contact(item.email).await?)
            }
            SingleRequest::ReadListStatus(id) => {
                SingleReply::ListStatus(self.client.list_status_of(id, list).await?)
            }
            SingleRequest::SetListStatus(id, status) => {
                self.client.set_list_status(id, list, status).await?;
                SingleReply::StatusSet
            }
            SingleRequest::Resubscribe(id) => {
                self.client.resubscribe(id, list).await?;
                SingleReply::StatusSet
            }
        })
    }
}
