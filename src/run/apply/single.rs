//! The executor of one change through `contact/sync` and `contactLists`:
//! journal the intent, send the requests, hand the answer to the core
//! ([`WriteCore::after_single`](super::decide::WriteCore)) and journal
//! what it decides.

use super::decide::{Item, SingleAnswer, SingleStep};
use super::{Applier, unix_now};
use crate::activecampaign::ApiError;
use crate::model::{ListStatus, PendingOp};
use crate::plan::verify::Kept;
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
        let answer = self.single_request(&mut item).await;
        let step = self
            .core
            .after_single(&mut self.tally(), &item, answer, sent_at, unix_now());
        match step {
            SingleStep::Save(member) => self.save(vec![member]).await,
            SingleStep::KeepIntent => Ok(()),
            SingleStep::Stop(e) => Err(e.into()),
        }
    }

    /// Sends one change; the contact id learned on the way goes into `item`.
    async fn single_request(&self, item: &mut Item<'_>) -> Result<SingleAnswer, ApiError> {
        let list = self.export.list_id;
        let input = self.core.contact_input(item);
        match item.op {
            PendingOp::Add => {
                let id = self.client.contact_sync(&input).await?;
                item.contact_id = Some(id);
                // contactLists status 1 would override an opt-out, a bounce
                // or a pending double opt-in: look first.
                if let Some(why) = Kept::of(self.client.list_status_of(id, list).await?) {
                    return Ok(SingleAnswer::Kept(why, id));
                }
                self.client
                    .set_list_status(id, list, ListStatus::Active)
                    .await?;
            }
            PendingOp::Update => {
                item.contact_id = Some(self.client.contact_sync(&input).await?);
            }
            PendingOp::Resubscribe => {
                let id = self.client.contact_sync(&input).await?;
                item.contact_id = Some(id);
                self.client
                    .set_list_status(id, list, ListStatus::Active)
                    .await?;
            }
            PendingOp::Remove => {
                let id = match item.contact_id {
                    Some(id) => Some(id),
                    None => self.client.find_contact(item.email).await?,
                };
                let Some(id) = id else {
                    return Ok(SingleAnswer::NoSuchContact);
                };
                item.contact_id = Some(id);
                self.client
                    .set_list_status(id, list, ListStatus::Unsubscribed)
                    .await?;
            }
        }
        Ok(SingleAnswer::Applied)
    }
}
