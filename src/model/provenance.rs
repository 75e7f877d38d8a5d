//! A membership's provenance (docs/ownership.md): what acsync last wrote to
//! it, kept in the [`Member`] record (`owned`, `unsubscribed_by_us`,
//! `last_write`, `contact_id`), and the one rule that ends it. Every path
//! that learns what ActiveCampaign shows of a membership (a full read, a
//! lookup after a refusal, the read before a resubscribe or a removal)
//! folds it in through [`Member::observe`], so ownership ends the same way
//! everywhere.

use super::member::Member;
use super::status::{ListStatus, MembershipRow};

/// What ActiveCampaign shows of one membership at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    /// The contact that holds the address now; `None` when the read did
    /// not say (the recorded id is then kept).
    pub contact_id: Option<u64>,
    /// Its status on the list; `None`: no membership row.
    pub status: Option<ListStatus>,
    /// When that contact was created (Unix seconds), when the read shows it.
    pub contact_created: Option<i64>,
    /// When the membership row last changed (its `udate`, Unix seconds),
    /// when the read shows it.
    pub row_changed: Option<i64>,
}

impl Evidence {
    /// A membership with `status`, of the contact `contact_id` if known.
    pub fn of_status(contact_id: Option<u64>, status: ListStatus) -> Evidence {
        Evidence {
            contact_id,
            status: Some(status),
            contact_created: None,
            row_changed: None,
        }
    }

    /// A membership row read now, of the contact `contact_id` if known.
    pub fn of_row(contact_id: Option<u64>, row: &MembershipRow) -> Evidence {
        Evidence {
            row_changed: row.udate,
            ..Evidence::of_status(contact_id, row.status)
        }
    }

    /// No membership row (no such contact, or none on the list).
    pub fn no_row() -> Evidence {
        Evidence {
            contact_id: None,
            status: None,
            contact_created: None,
            row_changed: None,
        }
    }
}

impl Member {
    /// The list status acsync's last write left, while it is still in
    /// force: active for a contact it subscribed, unsubscribed for one it
    /// unsubscribed; `None` when the membership is not acsync's doing.
    pub fn status_we_left(&self) -> Option<ListStatus> {
        if self.unsubscribed_by_us {
            Some(ListStatus::Unsubscribed)
        } else if self.owned {
            Some(ListStatus::Active)
        } else {
            None
        }
    }

    /// Folds evidence into the record. The membership stops being
    /// acsync's doing, for good, when the evidence shows a change acsync did
    /// not make: another status than the one its last write left (an
    /// opt-out, a bounce, a form re-subscribing an address acsync had
    /// unsubscribed, a code acsync never writes, a removed row), a row
    /// changed after acsync's last write (even back to the status acsync
    /// left: an opt-out and a sign-up in between, say), or another contact
    /// under the address (a different id, or one created after acsync's
    /// last write). Only a new write of acsync's makes it its own again.
    pub fn observe(&mut self, seen: Evidence) {
        let other_contact = matches!(
            (self.contact_id, seen.contact_id),
            (Some(ours), Some(now)) if ours != now
        ) || self.happened_since_last_write(seen.contact_created);
        let changed = self
            .status_we_left()
            .is_some_and(|s| seen.status != Some(s))
            || self.happened_since_last_write(seen.row_changed);
        if other_contact || changed {
            self.release();
        }
        if other_contact {
            // What acsync sent went to another contact.
            self.sent_hash = None;
            self.read_back_hash = None;
        }
        self.status = seen.status;
        self.contact_id = seen.contact_id.or(self.contact_id);
    }

    /// Takes over `before`'s provenance: the same contact, found under this
    /// member's address (renamed in ActiveCampaign). What acsync sent went
    /// to the old address's profile, so no hash is carried.
    pub fn take_provenance_of(&mut self, before: &Member) {
        self.contact_id = before.contact_id;
        self.status = before.status;
        self.owned = before.owned;
        self.unsubscribed_by_us = before.unsubscribed_by_us;
        self.last_write = before.last_write;
    }

    /// Whether `row` changed after acsync's last write to it. Without a
    /// recorded write or a readable `udate` there is nothing to compare.
    pub fn changed_since_last_write(&self, row: &MembershipRow) -> bool {
        self.happened_since_last_write(row.udate)
    }

    /// Whether something at `at` (Unix seconds) happened after acsync's
    /// last write, beyond the tolerated skew.
    fn happened_since_last_write(&self, at: Option<i64>) -> bool {
        self.last_write
            .zip(at)
            .is_some_and(|(w, at)| w.precedes(at))
    }

    /// The membership stops being acsync's doing, for good.
    fn release(&mut self) {
        self.owned = false;
        self.unsubscribed_by_us = false;
        self.last_write = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::WriteWindow;

    fn owned(id: u64) -> Member {
        Member {
            contact_id: Some(id),
            status: Some(ListStatus::Active),
            owned: true,
            sent_hash: Some(7),
            last_write: Some(WriteWindow { from: 100, to: 200 }),
            ..Member::unknown("a@x.io")
        }
    }

    fn row(id: u64, status: ListStatus) -> Evidence {
        Evidence::of_status(Some(id), status)
    }

    #[test]
    fn an_opt_out_ends_ownership_and_a_later_form_subscription_does_not_restore_it() {
        let mut m = owned(5);
        m.observe(row(5, ListStatus::Unsubscribed));
        assert!(!m.owned && !m.unsubscribed_by_us && m.last_write.is_none());
        m.observe(row(5, ListStatus::Active));
        assert!(!m.owned, "the form's subscription is not acsync's doing");
        assert_eq!(m.status, Some(ListStatus::Active));
    }

    #[test]
    fn an_unknown_code_or_a_removed_row_ends_ownership() {
        for seen in [Some(ListStatus::Other(91)), None] {
            let mut m = owned(5);
            m.observe(Evidence {
                contact_id: Some(5),
                status: seen,
                contact_created: None,
                row_changed: None,
            });
            assert!(!m.owned, "{seen:?}");
            assert_eq!(m.status, seen);
        }
    }

    #[test]
    fn a_re_subscription_of_an_address_acsync_unsubscribed_is_not_acsync_s() {
        let mut m = owned(5);
        m.status = Some(ListStatus::Unsubscribed);
        m.unsubscribed_by_us = true;
        m.observe(row(5, ListStatus::Unsubscribed));
        assert!(m.unsubscribed_by_us, "still the status acsync left");
        m.observe(row(5, ListStatus::Active));
        assert!(!m.owned && !m.unsubscribed_by_us);
    }

    #[test]
    fn another_contact_under_the_address_is_nobody_s() {
        let mut m = owned(5);
        m.observe(row(6, ListStatus::Active));
        assert!(!m.owned);
        assert_eq!((m.contact_id, m.sent_hash), (Some(6), None));

        // Id never learned, but the contact was created after acsync's write.
        let mut m = Member {
            contact_id: None,
            ..owned(5)
        };
        m.observe(Evidence {
            contact_id: Some(9),
            status: Some(ListStatus::Active),
            contact_created: Some(200 + WriteWindow::SKEW_SECS + 1),
            row_changed: None,
        });
        assert!(!m.owned);
    }

    #[test]
    fn a_row_changed_after_acsync_s_last_write_is_not_acsync_s() {
        let row = |udate: i64| MembershipRow {
            status: ListStatus::Active,
            udate: Some(udate),
            marks: Default::default(),
            sourceid: None,
        };
        let mut m = owned(5);
        m.observe(Evidence::of_row(
            Some(5),
            &row(200 + WriteWindow::SKEW_SECS),
        ));
        assert!(m.owned, "inside the skew: acsync's own write");
        m.observe(Evidence::of_row(
            Some(5),
            &row(200 + WriteWindow::SKEW_SECS + 1),
        ));
        assert!(!m.owned && m.last_write.is_none());
        assert_eq!(m.status, Some(ListStatus::Active));
    }

    #[test]
    fn what_acsync_left_seen_again_keeps_everything() {
        let mut m = Member {
            contact_id: None,
            ..owned(5)
        };
        let before = Member {
            contact_id: Some(5),
            ..m.clone()
        };
        m.observe(Evidence {
            contact_id: Some(5),
            status: Some(ListStatus::Active),
            contact_created: Some(150),
            row_changed: None,
        });
        assert_eq!(m, before);
        let mut other = Member::unknown("b@x.io");
        other.observe(row(3, ListStatus::Bounced));
        assert_eq!(other.status, Some(ListStatus::Bounced));
        assert!(!other.owned);
    }
}
