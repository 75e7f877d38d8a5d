//! Verify before you write: the pure decisions taken on what ActiveCampaign
//! shows right before an unsubscribe or a resubscribe (docs/verification.md).
//! Local state is a record of the past; these rules only act on a
//! read taken now, and every doubt keeps the contact as it is.

use std::collections::HashMap;

// `Kept` moved to `model::reason`; re-exported until `run/apply` imports it
// from there.
pub use crate::model::Kept;
use crate::model::MembershipRow;
use crate::model::{ListStatus, Member};
use crate::plan::Removal;

/// What a verification read says about the planned removals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemovalCheck {
    /// Still active on the list under the same email: unsubscribe them.
    pub confirmed: Vec<Removal>,
    /// Still active, but ActiveCampaign now knows the contact under another
    /// email (`Removal::email` is ours, the second the current one): the
    /// unsubscribe must go by contact id, never by the old email.
    pub renamed: Vec<(Removal, String)>,
    /// No longer active here (opted out, bounced, deleted, removed): not
    /// touched, and never recorded as unsubscribed by us.
    pub not_active: Vec<String>,
    /// Active under a new email that is in the segment: it stays.
    pub wanted_again: Vec<String>,
}

/// Sorts `removals` by what `active_now` (contact id → current email, the
/// answer of `GET /contacts?ids[]=…&listid=&status=1`) shows. A removal
/// without a contact id could not be read and counts as not active.
pub fn confirm_removals(
    removals: &[Removal],
    active_now: &HashMap<u64, String>,
    in_segment: &dyn Fn(&str) -> bool,
) -> RemovalCheck {
    let mut check = RemovalCheck::default();
    for r in removals {
        let current = r.contact_id.and_then(|id| active_now.get(&id));
        match current {
            None => check.not_active.push(r.email.clone()),
            Some(email) if *email == r.email => check.confirmed.push(r.clone()),
            Some(email) if in_segment(email) => check.wanted_again.push(r.email.clone()),
            Some(email) => check.renamed.push((r.clone(), email.clone())),
        }
    }
    check
}

/// What to do with a member this export unsubscribed who re-entered the
/// segment, judged from its membership row read now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resubscribe {
    /// The status 2 is still the one we wrote: set it back to 1.
    Yes,
    /// Someone resubscribed it already: no status write.
    AlreadyActive,
    /// No membership row (removed, or the contact deleted): a plain add.
    NotMember,
    /// Any other state: not ours to change; kept as it is.
    Keep(Kept),
}

/// See docs/run-rules.md, kept statuses: resubscribe only when the row still shows the
/// unsubscribe this export made, i.e. its change time lies inside the
/// recorded window of our write. No window, no `udate`, or a status code we
/// do not manage: keep.
pub fn judge_resubscribe(m: &Member, row: Option<MembershipRow>) -> Resubscribe {
    let Some(row) = row else {
        return Resubscribe::NotMember;
    };
    match row.status {
        Some(ListStatus::Active) => Resubscribe::AlreadyActive,
        Some(ListStatus::Unsubscribed) => {
            let ours = m.unsubscribed_by_us
                && m.unsubscribed_at
                    .zip(row.udate)
                    .is_some_and(|(w, udate)| w.covers(udate));
            if ours {
                Resubscribe::Yes
            } else {
                Resubscribe::Keep(Kept::Unsubscribed)
            }
        }
        Some(ListStatus::Bounced) => Resubscribe::Keep(Kept::Bounced),
        Some(ListStatus::Unconfirmed) => Resubscribe::Keep(Kept::Unconfirmed),
        None => Resubscribe::Keep(Kept::Unsubscribed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UnsubscribeWindow;

    fn removal(email: &str, id: Option<u64>) -> Removal {
        Removal {
            email: email.into(),
            contact_id: id,
        }
    }

    #[test]
    fn only_contacts_still_active_are_removed() {
        let removals = [
            removal("a@x.io", Some(1)),
            removal("optout@x.io", Some(2)),
            removal("renamed@x.io", Some(3)),
            removal("moved@x.io", Some(4)),
            removal("noid@x.io", None),
        ];
        let active: HashMap<u64, String> = [
            (1, "a@x.io".to_string()),
            (3, "new@x.io".to_string()),
            (4, "wanted@x.io".to_string()),
        ]
        .into();
        let check = confirm_removals(&removals, &active, &|e| e == "wanted@x.io");
        assert_eq!(check.confirmed, [removal("a@x.io", Some(1))]);
        assert_eq!(
            check.renamed,
            [(removal("renamed@x.io", Some(3)), "new@x.io".to_string())]
        );
        assert_eq!(check.not_active, ["optout@x.io", "noid@x.io"]);
        assert_eq!(check.wanted_again, ["moved@x.io"]);
    }

    fn ours(window: Option<(i64, i64)>) -> Member {
        Member {
            unsubscribed_by_us: true,
            status: Some(ListStatus::Unsubscribed),
            unsubscribed_at: window.map(|(from, to)| UnsubscribeWindow { from, to }),
            ..Member::unknown("a@x.io")
        }
    }

    fn row(code: i64, udate: Option<i64>) -> Option<MembershipRow> {
        Some(MembershipRow {
            code,
            status: ListStatus::from_code(code),
            udate,
        })
    }

    #[test]
    fn resubscribes_only_our_own_unchanged_unsubscribe() {
        let m = ours(Some((1_000, 1_010)));
        assert_eq!(judge_resubscribe(&m, row(2, Some(1_005))), Resubscribe::Yes);
        // Inside the clock-skew margin.
        assert_eq!(judge_resubscribe(&m, row(2, Some(1_100))), Resubscribe::Yes);
        // Changed after our write (2 -> 1 -> 2 by the contact): an opt-out.
        let later = 1_010 + UnsubscribeWindow::SKEW_SECS + 1;
        assert_eq!(
            judge_resubscribe(&m, row(2, Some(later))),
            Resubscribe::Keep(Kept::Unsubscribed)
        );
        // Nothing to compare with: keep.
        assert_eq!(
            judge_resubscribe(&m, row(2, None)),
            Resubscribe::Keep(Kept::Unsubscribed)
        );
        assert_eq!(
            judge_resubscribe(&ours(None), row(2, Some(1_005))),
            Resubscribe::Keep(Kept::Unsubscribed)
        );
        let not_ours = Member {
            unsubscribed_by_us: false,
            ..m.clone()
        };
        assert_eq!(
            judge_resubscribe(&not_ours, row(2, Some(1_005))),
            Resubscribe::Keep(Kept::Unsubscribed)
        );
    }

    #[test]
    fn other_statuses_are_never_overwritten() {
        let m = ours(Some((1_000, 1_010)));
        assert_eq!(
            judge_resubscribe(&m, row(1, Some(5))),
            Resubscribe::AlreadyActive
        );
        assert_eq!(
            judge_resubscribe(&m, row(3, Some(1_005))),
            Resubscribe::Keep(Kept::Bounced)
        );
        assert_eq!(
            judge_resubscribe(&m, row(0, Some(1_005))),
            Resubscribe::Keep(Kept::Unconfirmed)
        );
        assert_eq!(
            judge_resubscribe(&m, row(91, Some(1_005))),
            Resubscribe::Keep(Kept::Unsubscribed)
        );
        assert_eq!(judge_resubscribe(&m, None), Resubscribe::NotMember);
    }
}
