//! A contact's status on a list as ActiveCampaign numbers it, one membership
//! row as read before a resubscribe, and the window of acsync's own unsubscribe.

/// A contact's membership status on one list, as ActiveCampaign numbers it
/// (activecampaign-api.md §11 "Four list statuses"). acsync only ever
/// writes 1 and 2; it never writes 1 over a status it did not cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListStatus {
    /// Status 0: double opt-in pending. Adding such a contact by hand
    /// violates ActiveCampaign's terms, so it is kept as it is.
    Unconfirmed,
    /// Status 1: subscribed.
    Active,
    /// Status 2: unsubscribed (by the contact, a form, an automation or us).
    Unsubscribed,
    /// Status 3: bounced. Never forced back to active.
    Bounced,
    /// Any other code (91 "removed" by the legacy API, or a status
    /// ActiveCampaign adds later): never written over, never ours. Two
    /// bytes keep a member record as small as with four statuses (a
    /// million of them are in memory at once); a code beyond them is kept
    /// as `u16::MAX`, still not acsync's.
    Other(u16),
}

impl std::fmt::Display for ListStatus {
    /// Its name, or its code for one acsync does not manage ("status 91").
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListStatus::Other(code) => write!(f, "status {code}"),
            managed => f.write_str(managed.as_str()),
        }
    }
}

/// Whether a list may hold members of a status acsync cannot ask for (91
/// "removed", or a code it does not know), from its count of every member
/// and the counts of the four statuses it reads (docs/run-rules.md, kept
/// statuses): when the first exceeds their sum, or when a count was not
/// answered, since an unknown is never taken for "none".
pub fn other_statuses_possible(every: Option<u64>, four: [Option<u64>; 4]) -> bool {
    let counted = four.into_iter().try_fold(0u64, |sum, n| Some(sum + n?));
    every
        .zip(counted)
        .is_none_or(|(all, counted)| all > counted)
}

impl ListStatus {
    /// Whether an add leaves a member of this status as it is: any status
    /// but active, which only its author may change (docs/run-rules.md,
    /// kept statuses). A resubscribe of acsync's own unsubscribe is not an
    /// add: it checks its own evidence first (docs/verification.md).
    pub fn keeps_adds_out(self) -> bool {
        self != ListStatus::Active
    }

    /// Every status a full read asks for, in the order it reads them.
    pub const ALL: [ListStatus; 4] = [
        ListStatus::Active,
        ListStatus::Unsubscribed,
        ListStatus::Bounced,
        ListStatus::Unconfirmed,
    ];

    /// The numeric code ActiveCampaign uses on the wire.
    pub fn code(self) -> i64 {
        match self {
            ListStatus::Unconfirmed => 0,
            ListStatus::Active => 1,
            ListStatus::Unsubscribed => 2,
            ListStatus::Bounced => 3,
            ListStatus::Other(code) => i64::from(code),
        }
    }

    /// Maps a wire code; every code maps (an unknown one to `Other`).
    pub fn from_code(code: i64) -> Self {
        match code {
            0 => ListStatus::Unconfirmed,
            1 => ListStatus::Active,
            2 => ListStatus::Unsubscribed,
            3 => ListStatus::Bounced,
            other => ListStatus::Other(u16::try_from(other).unwrap_or(u16::MAX)),
        }
    }

    /// How reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            ListStatus::Unconfirmed => "unconfirmed",
            ListStatus::Active => "active",
            ListStatus::Unsubscribed => "unsubscribed",
            ListStatus::Bounced => "bounced",
            ListStatus::Other(_) => "other status",
        }
    }
}

/// One membership row of `GET /contacts/{id}/contactLists` (api notes
/// §3.2), as the verification before a resubscribe reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRow {
    /// As read (0-3, 91, or anything ActiveCampaign adds: `Other`).
    pub status: ListStatus,
    /// When the row last changed (Unix seconds); `None` when absent or
    /// unreadable, which no check may take for "unchanged".
    pub udate: Option<i64>,
    /// What the row records of an unsubscribe by someone else.
    pub marks: UnsubscribeMarks,
    /// `sourceid`: how the row was last subscribed (4: a re-subscription,
    /// as acsync sends it). It says nothing about who unsubscribed it, so
    /// no check reads it as evidence; it is provenance.
    pub sourceid: Option<u64>,
}

/// The fields a membership row fills when a contact unsubscribes through
/// a campaign or an automation unsubscribes them (api notes §12, "`udate`
/// of a membership row"). acsync's own writes leave them empty, so any of
/// them set means the status is not acsync's (docs/verification.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnsubscribeMarks {
    /// `unsubreason`: the reason the contact gave.
    pub reason: Option<String>,
    /// `campaign` and `message`: the ids of the mailing whose link was
    /// used, as ActiveCampaign wrote them.
    pub campaign: Option<String>,
    pub message: Option<String>,
    /// `unsubscribeAutomation`: the id of the automation that unsubscribed it.
    pub automation: Option<String>,
}

impl UnsubscribeMarks {
    /// Whether the row names someone else's unsubscribe.
    pub fn name_another_author(&self) -> bool {
        self.reason.is_some()
            || self.campaign.is_some()
            || self.message.is_some()
            || self.automation.is_some()
    }
}

/// When acsync's last write to a membership happened (an add, an update, a
/// resubscribe or an unsubscribe), as a window of Unix seconds: from just
/// before the request (or batch) was sent to when its outcome was
/// confirmed. It is the time half of a membership's provenance
/// (docs/ownership.md): a later run resubscribes a contact it unsubscribed
/// only if the membership row's `udate` still lies in this window, and a
/// contact created or a row changed after it is someone else's doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WriteWindow {
    pub from: i64,
    pub to: i64,
}

impl WriteWindow {
    /// Clock difference tolerated between this host and ActiveCampaign.
    /// Larger skews make acsync keep contacts unsubscribed (the safe side).
    pub const SKEW_SECS: i64 = 120;

    /// Whether a membership change at `udate` (Unix seconds) can be ours.
    pub fn covers(self, udate: i64) -> bool {
        udate >= self.from - Self::SKEW_SECS && !self.precedes(udate)
    }

    /// Whether something that happened at `at` (Unix seconds) happened
    /// after this write, beyond the tolerated skew: then it cannot be part
    /// of it (a contact created, or a row changed, since).
    pub fn precedes(self, at: i64) -> bool {
        at > self.to + Self::SKEW_SECS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_and_an_unmanaged_one_is_never_a_managed_status() {
        for code in 0..=3 {
            assert_eq!(ListStatus::from_code(code).code(), code);
        }
        assert_eq!(ListStatus::from_code(91), ListStatus::Other(91));
        assert_eq!(ListStatus::from_code(91).to_string(), "status 91");
        for odd in [-1, 1 << 20, i64::MAX] {
            assert!(matches!(ListStatus::from_code(odd), ListStatus::Other(_)));
        }
        // A member record stays as small as it was with four statuses.
        assert_eq!(std::mem::size_of::<Option<ListStatus>>(), 4);
    }

    #[test]
    fn other_statuses_are_possible_beyond_the_four_counts_or_without_an_answer() {
        let four = [Some(5), Some(2), Some(1), Some(0)];
        assert!(!other_statuses_possible(Some(8), four));
        assert!(other_statuses_possible(Some(9), four), "one 91 or unknown");
        assert!(other_statuses_possible(None, four));
        assert!(other_statuses_possible(
            Some(8),
            [Some(5), None, Some(1), Some(0)]
        ));
    }
}
