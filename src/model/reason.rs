//! Why a run leaves a contact as it is: one type ([`LeftAlone`]) that the
//! planner records for every member it does not write, the run history
//! stores (by its snake_case name, [`LeftAlone::as_str`]) and `explain`
//! puts into words. See docs/run-rules.md, kept statuses.

use serde::{Serialize, Serializer};

use super::status::ListStatus;

/// A list status acsync never overrides (docs/run-rules.md, kept statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kept {
    /// Status 2 that acsync did not cause (or cannot prove it caused).
    Unsubscribed,
    Bounced,
    Unconfirmed,
    /// A code acsync does not manage (91 "removed", or one ActiveCampaign
    /// adds later): someone else's, never written over.
    OtherStatus,
}

impl Kept {
    /// The kept reason of a status, if the status keeps a contact out.
    pub fn of(status: Option<ListStatus>) -> Option<Kept> {
        match status {
            Some(ListStatus::Unsubscribed) => Some(Kept::Unsubscribed),
            Some(ListStatus::Bounced) => Some(Kept::Bounced),
            Some(ListStatus::Unconfirmed) => Some(Kept::Unconfirmed),
            Some(ListStatus::Other(_)) => Some(Kept::OtherStatus),
            _ => None,
        }
    }
}

/// Why a member is not written this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeftAlone {
    /// In the segment, with a list status acsync never overrides.
    Status(Kept),
    /// An earlier change has no known outcome yet (a killed run, a pending
    /// intent, a batch ActiveCampaign has not finished).
    InDoubt,
    /// Left this segment, but another export of the list still wants it.
    WantedByOthers,
    /// Left this segment, but an export of the list whose file was deleted
    /// wanted it, and nobody released that export yet (docs/ownership.md,
    /// "Deleting an export"). Not [`LeftAlone::WantedByOthers`]: that one
    /// ends when the other export drops the contact, this one only with
    /// `acsync release`.
    WantedByDeleted,
    /// Another export of the list wants it with other values: written only
    /// by the export whose id sorts first.
    Conflict,
    /// A removal that ActiveCampaign showed no longer active when the run
    /// verified it (opted out, bounced, deleted since).
    NotActive,
    /// In the segment, subscribed, and its values are the ones last sent.
    Unchanged,
    /// Left the segment, but this export did not subscribe it (`prune = "owned"`).
    NotOwned,
    /// Left the segment; `prune = "none"` never unsubscribes.
    PruneNone,
    /// Left the segment and would be unsubscribed, but the run's removals
    /// are held back (`max_removals`, a sibling export, a partial segment).
    RemovalsBlocked,
    /// Left the segment, and its list status is not active.
    NotSubscribed,
    /// Neither in the segment nor a member of the list as far as acsync knows.
    NotMember,
}

impl LeftAlone {
    pub const ALL: [LeftAlone; 15] = [
        LeftAlone::Status(Kept::Unsubscribed),
        LeftAlone::Status(Kept::Bounced),
        LeftAlone::Status(Kept::Unconfirmed),
        LeftAlone::Status(Kept::OtherStatus),
        LeftAlone::InDoubt,
        LeftAlone::WantedByOthers,
        LeftAlone::WantedByDeleted,
        LeftAlone::Conflict,
        LeftAlone::NotActive,
        LeftAlone::Unchanged,
        LeftAlone::NotOwned,
        LeftAlone::PruneNone,
        LeftAlone::RemovalsBlocked,
        LeftAlone::NotSubscribed,
        LeftAlone::NotMember,
    ];

    /// The stable name: stored in the run history, printed by `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            LeftAlone::Status(Kept::Unsubscribed) => "kept_unsubscribed",
            LeftAlone::Status(Kept::Bounced) => "kept_bounced",
            LeftAlone::Status(Kept::Unconfirmed) => "kept_unconfirmed",
            LeftAlone::Status(Kept::OtherStatus) => "kept_other_status",
            LeftAlone::InDoubt => "in_doubt",
            LeftAlone::WantedByOthers => "kept_for_others",
            LeftAlone::WantedByDeleted => "kept_for_deleted",
            LeftAlone::Conflict => "conflict",
            LeftAlone::NotActive => "not_active",
            LeftAlone::Unchanged => "unchanged",
            LeftAlone::NotOwned => "not_owned",
            LeftAlone::PruneNone => "prune_none",
            LeftAlone::RemovalsBlocked => "removals_blocked",
            LeftAlone::NotSubscribed => "not_subscribed",
            LeftAlone::NotMember => "not_member",
        }
    }

    pub fn parse(s: &str) -> Option<LeftAlone> {
        LeftAlone::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the run history records a `kept` entry for it: the members
    /// a run looked at and kept, not the ones it had no reason to touch.
    pub fn recorded(self) -> bool {
        matches!(
            self,
            LeftAlone::Status(_)
                | LeftAlone::InDoubt
                | LeftAlone::WantedByOthers
                | LeftAlone::WantedByDeleted
                | LeftAlone::Conflict
                | LeftAlone::NotActive
        )
    }
}

impl From<Kept> for LeftAlone {
    fn from(k: Kept) -> LeftAlone {
        LeftAlone::Status(k)
    }
}

impl Serialize for LeftAlone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_read_back() {
        // The run history of earlier versions stored these strings.
        let stored = [
            "kept_unsubscribed",
            "kept_bounced",
            "kept_unconfirmed",
            "in_doubt",
            "kept_for_others",
            "conflict",
            "not_active",
        ];
        for s in stored {
            let r = LeftAlone::parse(s).expect(s);
            assert_eq!((r.as_str(), r.recorded()), (s, true));
        }
        for r in LeftAlone::ALL {
            assert_eq!(LeftAlone::parse(r.as_str()), Some(r));
        }
        assert!(!LeftAlone::Unchanged.recorded());
    }
}
