//! A list that changes while it is read: "a list that gains or loses
//! members while it is read (sign-ups, other tools) makes the count differ
//! from the first page's `meta.total`" (docs/activecampaign-api.md, §12
//! "Reading a list by id order"). After each page of a paged read of the
//! list (`GET /contacts?listid=` with a page size above 1, no `ids[]`, no
//! `email`) that came back full, so the read goes on, contacts sign up and
//! opt out as the switch says (after a short page the read is at its end:
//! a sign-up there would make every read endless).

use super::super::model::account::Account;
use super::super::model::records::{ChangedBy, ContactPatch};

/// What happens to a list while it is read, page by page.
#[derive(Clone, Debug, Default)]
pub struct ReadChurn {
    pub list_id: u64,
    /// New contacts (`churn{n}@example.com`) subscribed after each page.
    pub sign_ups: u32,
    /// Active members with the highest ids (not read yet by an id-ordered
    /// read) opted out by the contact after each page.
    pub opt_outs: u32,
    /// One-off changes: after the `n`th page (1-based, counted over every
    /// paged read of the list), `email` gets list status `status` (by the
    /// contact).
    pub moves: Vec<(u64, String, u8)>,
}

/// A [`ReadChurn`] and how far it got.
#[derive(Debug, Default)]
pub struct ChurnState {
    churn: ReadChurn,
    pages: u64,
    signed_up: u64,
}

impl ChurnState {
    pub fn new(churn: ReadChurn) -> Self {
        ChurnState {
            churn,
            ..ChurnState::default()
        }
    }

    /// Full pages of the list answered so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Called after a page of `list_id` was answered; `full`: it held as
    /// many contacts as asked for.
    pub fn after_page(&mut self, account: &mut Account, list_id: u64, full: bool) {
        if list_id != self.churn.list_id || !full {
            return;
        }
        self.pages += 1;
        for _ in 0..self.churn.sign_ups {
            self.signed_up += 1;
            let email = format!("churn{}@example.com", self.signed_up);
            let (id, _) = account.upsert_contact(&email, ContactPatch::default());
            let _ = account.set_membership(id, list_id, 1, ChangedBy::Contact);
        }
        for _ in 0..self.churn.opt_outs {
            let last = account
                .lists
                .get(&list_id)
                .and_then(|l| l.by_status.get(&1))
                .and_then(|ids| ids.iter().next_back().copied());
            if let Some(id) = last {
                let _ = account.set_membership(id, list_id, 2, ChangedBy::Contact);
            }
        }
        let due: Vec<(String, u8)> = self
            .churn
            .moves
            .iter()
            .filter(|(page, _, _)| *page == self.pages)
            .map(|(_, email, status)| (email.clone(), *status))
            .collect();
        for (email, status) in due {
            if let Some(id) = account.contact_by_email(&email).map(|c| c.data.id) {
                let _ = account.set_membership(id, list_id, status, ChangedBy::Contact);
            }
        }
    }
}
