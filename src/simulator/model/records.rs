//! The records the simulated account is made of: contacts, list
//! memberships, lists, and who changed a membership. Plain data (serde for
//! the `--state-file` snapshot); the rules that keep them consistent live in
//! the account (`account.rs`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Who last changed a list membership. AC shows this in its UI, not in the
/// API; what the API shows of it is the row's [`UnsubscribeMark`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChangedBy {
    /// The contact: a status 2 is an opt-out through a campaign's
    /// unsubscribe link (§3.4), a status 1 a form sign-up.
    Contact,
    /// An automation's "unsubscribe" action (§3.4).
    Automation,
    /// `POST /contactLists`, §3.1.
    Api,
    /// Someone in the AC UI.
    Admin,
    /// A bulk import, §4.
    Import,
}

/// A contact as the simulator holds it (inspection copy).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimContact {
    pub id: u64,
    /// Stored lowercased: AC treats emails case-insensitively (§8 item 4).
    pub email: String,
    /// "" when unset, as the API shows it (§2.5).
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    /// Custom field id -> value.
    pub fields: BTreeMap<u64, String>,
    /// Tag names, in the order first added.
    pub tags: Vec<String>,
}

/// One row of a list's membership (inspection copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimMembership {
    pub contact_id: u64,
    pub email: String,
    /// 0 unconfirmed, 1 active, 2 unsubscribed, 3 bounced (§2.5).
    pub status: u8,
    pub changed_by: ChangedBy,
    /// What the row's `sourceid` shows (see [`Membership::sourceid`]).
    pub sourceid: u64,
}

/// Internal contact record. Timestamps are unix seconds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Contact {
    pub data: SimContact,
    pub cdate: i64,
    pub udate: i64,
    /// Deleted (e.g. a GDPR erasure): invisible to every endpoint; its id is
    /// never reused and its email is free for a new contact.
    pub deleted: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Membership {
    /// Synthetic `contactList` id, stable for the row's life.
    pub id: u64,
    pub status: u8,
    pub changed_by: ChangedBy,
    pub sdate: i64,
    pub udate: i64,
    /// What the row shows of the last status change's author.
    #[serde(default)]
    pub mark: UnsubscribeMark,
    /// The `sourceid` the last `POST /contactLists` sent (§3.1: 4 for a
    /// re-subscription); 0 otherwise.
    #[serde(default)]
    pub sourceid: u64,
}

/// What a membership row records of an unsubscribe (activecampaign-api.md
/// §12, the v1 fields `unsubreason`, `campaign`, `message`,
/// `unsubscribeAutomation`): filled when a contact opts out through a
/// campaign's link or an automation unsubscribes them, empty after any
/// other change (an API or import write, an admin, a sign-up).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsubscribeMark {
    pub reason: String,
    pub campaign: Option<u64>,
    pub message: Option<u64>,
    pub automation: Option<u64>,
}

impl UnsubscribeMark {
    /// The synthetic campaign, message and automation an opt-out names.
    pub const CAMPAIGN: u64 = 7;
    pub const MESSAGE: u64 = 12;
    pub const AUTOMATION: u64 = 3;

    /// The mark a change to `status` by `by` leaves on the row.
    pub fn of(by: ChangedBy, status: u8) -> UnsubscribeMark {
        match (by, status) {
            (ChangedBy::Contact, 2) => UnsubscribeMark {
                reason: "I no longer want to receive these emails".into(),
                campaign: Some(Self::CAMPAIGN),
                message: Some(Self::MESSAGE),
                automation: None,
            },
            (ChangedBy::Automation, 2) => UnsubscribeMark {
                automation: Some(Self::AUTOMATION),
                ..UnsubscribeMark::default()
            },
            _ => UnsubscribeMark::default(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct List {
    pub id: u64,
    pub name: String,
    pub stringid: String,
    pub cdate: i64,
    pub members: BTreeMap<u64, Membership>,
    /// status -> contact ids; kept in step with `members` (rebuilt on load).
    #[serde(skip)]
    pub by_status: BTreeMap<u8, BTreeSet<u64>>,
}

impl List {
    /// Rebuilds `by_status` from `members` (after a snapshot is loaded).
    pub fn reindex(&mut self) {
        self.by_status.clear();
        for (id, m) in &self.members {
            self.by_status.entry(m.status).or_default().insert(*id);
        }
    }
}

/// What an upsert writes. `None` leaves the stored value untouched.
#[derive(Clone, Debug, Default)]
pub struct ContactPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub fields: Vec<(u64, String)>,
    pub tags: Vec<String>,
}

/// Why a membership write was refused (maps to the 404 shapes of §3.1/§5.1).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    #[error("No Result found for Subscriber with id {0}")]
    NoContact(u64),
    #[error("No Result found for _List with id {0}")]
    NoList(u64),
}

/// Unix seconds now: the model's only reading of the clock (record dates).
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}
