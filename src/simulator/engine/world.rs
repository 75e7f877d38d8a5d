//! The account together with its batch queue: what the server's mutex
//! guards. Due batches are applied lazily: every access first applies the
//! batches whose time has come, so state changes only after submit +
//! `info_false_for` + `import_duration`, with no timer task to stop. The
//! per-contact rules of a batch (§4.2, §4.5) are here.

use std::ops::{Deref, DerefMut};

use tokio::time::Instant;

use super::super::model::account::Account;
use super::super::model::records::ChangedBy;
use super::super::model::values::email_deliverable;
use super::batches::{BatchEnd, Batches, BulkContact, Fate};
use super::churn::ChurnState;

/// The account and its bulk-import batches. Derefs to the account: most
/// callers read or write contacts and lists, and batches are a field away.
#[derive(Debug, Default)]
pub struct World {
    pub account: Account,
    pub batches: Batches,
    /// A list that changes while it is read (`churn.rs`), when set.
    pub churn: Option<ChurnState>,
}

impl Deref for World {
    type Target = Account;

    fn deref(&self) -> &Account {
        &self.account
    }
}

impl DerefMut for World {
    fn deref_mut(&mut self) -> &mut Account {
        &mut self.account
    }
}

impl World {
    /// A page of a paged read of `list_id` was answered (`full`: as many
    /// contacts as asked for): the list changes as the churn switch says.
    pub fn after_list_page(&mut self, list_id: u64, full: bool) {
        if let Some(churn) = self.churn.as_mut() {
            churn.after_page(&mut self.account, list_id, full);
        }
    }

    /// Apply every batch that is due (their fates were counted as faults
    /// at submit).
    pub fn run_due_batches(&mut self, now: Instant) {
        while let Some((id, contacts, fate)) = self.batches.next_due(now) {
            self.batches.count_completed(contacts.len());
            let take = match fate {
                Fate::Complete => contacts.len(),
                Fate::Failed => 0,
                Fate::Interrupted(n) => n,
            };
            let mut success = Vec::new();
            let mut failure = Vec::new();
            for c in contacts.into_iter().take(take) {
                match apply_bulk_contact(&mut self.account, c) {
                    Ok(Some(new_id)) => success.push(new_id),
                    Ok(None) => {}
                    Err(email) => failure.push(email),
                }
            }
            let status = match fate {
                Fate::Complete => "completed",
                Fate::Failed => "failed",
                Fate::Interrupted(_) => "interrupted",
            };
            let end = BatchEnd {
                status,
                created: success,
                failed: failure,
            };
            self.batches.finish(&id, end);
        }
    }
}

/// One contact of a batch (§4.2, §4.5). `Ok(Some(id))` when created,
/// `Ok(None)` when updated, `Err(email)` when it lands in `failure`.
fn apply_bulk_contact(a: &mut Account, c: BulkContact) -> Result<Option<u64>, String> {
    if a.is_excluded(&c.email) || !email_deliverable(&c.email) {
        return Err(c.email);
    }
    let lists_exist = c
        .subscribe
        .iter()
        .chain(&c.unsubscribe)
        .all(|l| a.lists.contains_key(l));
    // "Contacts may not be subscribed to lists which they have previously
    // unsubscribed from" (§4.2), nor bounced ones (§4.5): the whole
    // contact fails, nothing changes.
    let refused = a.contact_by_email(&c.email).is_some_and(|existing| {
        let id = existing.data.id;
        c.subscribe.iter().any(|l| {
            a.membership(id, *l)
                .is_some_and(|m| m.status == 2 || m.status == 3)
        })
    });
    // A field value ActiveCampaign would refuse (unknown id, a date
    // not `YYYY-MM-DD`, not an option): undocumented for bulk import;
    // the simulator reports the contact in `failure` and writes none
    // of it, never a silent drop (see `fields.rs`).
    let bad_field = a.check_fields(&c.patch.fields).is_err();
    if !lists_exist || refused || bad_field {
        return Err(c.email);
    }
    let (id, created) = a.upsert_contact(&c.email, c.patch);
    for list in c.subscribe {
        let _ = a.set_membership(id, list, 1, ChangedBy::Import);
    }
    for list in c.unsubscribe {
        let _ = a.set_membership(id, list, 2, ChangedBy::Import);
    }
    Ok(created.then_some(id))
}
