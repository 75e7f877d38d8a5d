//! What one export knows about a member of its list (the state database's
//! record, with any change announced and not yet confirmed), and a member as
//! a full read of ActiveCampaign shows it.

use super::status::{ListStatus, WriteWindow};

/// A change that a run has announced but not yet seen confirmed. Written to
/// the state database *before* a request is sent, so that a run killed at any
/// instant is resolved by the next one against a full read of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PendingOp {
    Add,
    Update,
    Remove,
    Resubscribe,
}

impl PendingOp {
    pub fn as_str(self) -> &'static str {
        match self {
            PendingOp::Add => "add",
            PendingOp::Update => "update",
            PendingOp::Remove => "remove",
            PendingOp::Resubscribe => "resubscribe",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "add" => PendingOp::Add,
            "update" => PendingOp::Update,
            "remove" => PendingOp::Remove,
            "resubscribe" => PendingOp::Resubscribe,
            _ => return None,
        })
    }
}

/// What one export knows about one contact of its list. Keyed by email in the
/// state database. Between full reads this is the record of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub email: String,
    pub contact_id: Option<u64>,
    /// The list status as last known; `None`: not a member as far as we know.
    pub status: Option<ListStatus>,
    /// This export subscribed the contact (only owned members are pruned
    /// under `prune = "owned"`). Never cleared by an unsubscribe of ours.
    pub owned: bool,
    /// The current status 2 was caused by this export: the contact may be
    /// resubscribed when it re-enters the segment. Any other status 2 is an
    /// opt-out and is never undone.
    pub unsubscribed_by_us: bool,
    /// [`Fields::hash64`] of what this export last sent for the contact.
    pub sent_hash: Option<u64>,
    /// What a full read showed of the standard fields right before this
    /// export last sent them ([`crate::plan::read_back_hash`]): a later read
    /// that shows the same again, after that write, shows the form in
    /// which ActiveCampaign stores the values sent (trimmed, cut, recased),
    /// not a drift (docs/run-rules.md, "Values ActiveCampaign changes").
    pub read_back_hash: Option<u64>,
    /// An intent recorded before a request whose outcome is not yet known.
    pub pending: Option<PendingOp>,
    /// When our unsubscribe happened; set with `unsubscribed_by_us`.
    pub last_write: Option<WriteWindow>,
}

impl Member {
    /// A contact we have never touched nor seen.
    pub fn unknown(email: impl Into<String>) -> Self {
        Member {
            email: email.into(),
            contact_id: None,
            status: None,
            owned: false,
            unsubscribed_by_us: false,
            sent_hash: None,
            read_back_hash: None,
            pending: None,
            last_write: None,
        }
    }
}

/// One list member as a full read of ActiveCampaign shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveMember {
    pub contact_id: u64,
    /// Lowercased.
    pub email: String,
    pub status: ListStatus,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// When the contact was created (Unix seconds), when the read shows it:
    /// a contact created after acsync's last write is not the one it wrote.
    pub contact_created: Option<i64>,
}
