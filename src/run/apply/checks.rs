//! The applier's reads before a destructive write (SPEC §4 rules 3 and 4):
//! removals are confirmed against the list's active members read now, by
//! contact id; a resubscribe is sent only when the membership row still
//! shows our own unsubscribe. The decisions are the pure ones of
//! [`crate::plan::verify`]; this file only does their IO and records.

use std::collections::{HashMap, HashSet};

use super::Applier;
use super::decide::{Item, fatal};
use crate::model::{ListStatus, Member, PendingOp};
use crate::plan::verify::{self, Resubscribe};
use crate::plan::{Change, Removal};
use crate::run::error::RunError;

/// The removals a verification read confirmed.
pub(super) struct Confirmed {
    /// Active under the email we know: bulk or single, as many as there are.
    pub same_email: Vec<Removal>,
    /// Active under another email now: only ever by contact id.
    pub by_id: Vec<Removal>,
}

impl Applier<'_> {
    /// Reads which planned removals are still active members right now
    /// (`ids[]`, 100 a request) and keeps only those. The others are left
    /// as they are and recorded with an unknown status, so the next full
    /// read learns what became of them.
    pub(super) async fn confirm_removals(
        &self,
        removals: &[Removal],
    ) -> Result<Confirmed, RunError> {
        if removals.is_empty() {
            return Ok(Confirmed {
                same_email: Vec::new(),
                by_id: Vec::new(),
            });
        }
        let mut with_ids = Vec::with_capacity(removals.len());
        for r in removals {
            let mut r = r.clone();
            if r.contact_id.is_none() {
                r.contact_id = self.client.find_contact(&r.email).await?;
            }
            with_ids.push(r);
        }
        let ids: Vec<u64> = with_ids.iter().filter_map(|r| r.contact_id).collect();
        let active: HashMap<u64, String> = self
            .client
            .members_among(self.export.list_id, ListStatus::Active, &ids)
            .await?
            .into_iter()
            .collect();
        let wanted: HashSet<&str> = self.segment_emails();
        let check = verify::confirm_removals(&with_ids, &active, &|e| wanted.contains(e));
        self.record_not_active(&check.not_active).await?;
        for email in &check.wanted_again {
            tracing::info!(export = %self.export.id, email = %crate::model::mask_email(email), "not unsubscribed: the contact is active under a new email that is in the segment");
        }
        Ok(Confirmed {
            same_email: check.confirmed,
            by_id: check.renamed.into_iter().map(|(r, _)| r).collect(),
        })
    }

    fn segment_emails(&self) -> HashSet<&str> {
        self.segment
            .profiles
            .iter()
            .map(|p| p.email.as_str())
            .collect()
    }

    async fn record_not_active(&self, emails: &[String]) -> Result<(), RunError> {
        if emails.is_empty() {
            return Ok(());
        }
        self.tally().not_active += emails.len() as u64;
        tracing::info!(export = %self.export.id, members = emails.len(), "planned removals no longer active on the list: left untouched");
        let members: Vec<Member> = emails
            .iter()
            .map(|e| Member {
                status: None,
                unsubscribed_by_us: false,
                unsubscribed_at: None,
                ..self.core.member(e)
            })
            .collect();
        self.save(members).await
    }

    /// A member this export unsubscribed re-entered the segment: read its
    /// membership row, and resubscribe only when the status 2 is still ours.
    pub(super) async fn resubscribe(&self, c: &Change) -> Result<(), RunError> {
        if self.cancel.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        let m = self.core.member(&c.email);
        let row = match self.read_membership(&m, c).await {
            Ok(row) => row,
            Err(e) if fatal(&e) => return Err(e.into()),
            Err(e) => {
                let reason = format!("not resubscribed: could not read its membership first ({e})");
                self.tally().fail(Some(c.row), &c.email, reason);
                return Ok(());
            }
        };
        let contact_id = m.contact_id.or(c.contact_id);
        match verify::judge_resubscribe(&m, row.1) {
            Resubscribe::Yes => self.single(Item::change(PendingOp::Resubscribe, c)).await,
            Resubscribe::NotMember => self.single(Item::change(PendingOp::Add, c)).await,
            Resubscribe::AlreadyActive => self.already_active(m, c).await,
            Resubscribe::Keep(why) => {
                let id = row.0.or(contact_id);
                let kept = self
                    .core
                    .kept(&mut self.tally(), &c.email, Some(c.row), why, id);
                self.save(vec![kept]).await
            }
        }
    }

    /// The contact id (looked up by email when unknown) and its row.
    async fn read_membership(
        &self,
        m: &Member,
        c: &Change,
    ) -> Result<(Option<u64>, Option<crate::model::MembershipRow>), crate::activecampaign::ApiError>
    {
        let id = match m.contact_id.or(c.contact_id) {
            Some(id) => Some(id),
            None => self.client.find_contact(&c.email).await?,
        };
        let row = match id {
            Some(id) => self.client.membership(id, self.export.list_id).await?,
            None => None,
        };
        Ok((id, row))
    }

    /// Someone else resubscribed it: record it active (no longer ours to
    /// undo) and write its fields only if they changed.
    async fn already_active(&self, m: Member, c: &Change) -> Result<(), RunError> {
        let unchanged = m.sent_hash == Some(c.hash);
        let active = Member {
            status: Some(ListStatus::Active),
            unsubscribed_by_us: false,
            unsubscribed_at: None,
            ..m
        };
        self.save(vec![active]).await?;
        if unchanged {
            return Ok(());
        }
        self.single(Item::change(PendingOp::Update, c)).await
    }
}
