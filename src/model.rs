//! The shared vocabulary of a run: profiles, their mapped fields, and what we
//! know about each list member. Pure data; no IO.

use std::fmt;

pub use crate::known::Known;

/// A contact's membership status on one list, as ActiveCampaign numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListStatus {
    /// Status 1: subscribed.
    Active,
    /// Status 2: unsubscribed (by the contact, a form, an automation or us).
    Unsubscribed,
}

impl ListStatus {
    /// The numeric code ActiveCampaign uses on the wire.
    pub fn code(self) -> u8 {
        match self {
            ListStatus::Active => 1,
            ListStatus::Unsubscribed => 2,
        }
    }

    /// Maps a wire code; other codes (0 unconfirmed, 3 bounced) are not list states we manage.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(ListStatus::Active),
            2 => Some(ListStatus::Unsubscribed),
            _ => None,
        }
    }
}

/// The ActiveCampaign fields one profile maps to. `None` means "not sent":
/// ActiveCampaign keeps whatever value it has.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Fields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// Custom fields, sorted by key: the `[mapping.fields]` key (a personalization
    /// tag such as `COMPANY`, or a numeric field id) and the value to send.
    pub custom: Vec<(String, String)>,
}

impl Fields {
    /// A stable 64-bit fingerprint of the values we would send. Stored in the
    /// state database, so the encoding must never change between versions.
    pub fn hash64(&self) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for part in [&self.first_name, &self.last_name, &self.phone] {
            write_opt(&mut h, part.as_deref());
        }
        for (k, v) in &self.custom {
            write_opt(&mut h, Some(k));
            write_opt(&mut h, Some(v));
        }
        h.digest()
    }
}

fn write_opt(h: &mut xxhash_rust::xxh3::Xxh3, v: Option<&str>) {
    match v {
        // A length prefix keeps ("ab","c") and ("a","bc") apart.
        Some(s) => {
            h.update(&[1]);
            h.update(&(s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        None => h.update(&[0]),
    }
}

/// One profile of the segment: a valid, normalised email and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// 1-based data row number in the source (header excluded), for reports.
    pub row: u64,
    /// Trimmed and lowercased; valid per [`crate::segment::is_valid_email`].
    pub email: String,
    pub fields: Fields,
}

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
    /// An intent recorded before a request whose outcome is not yet known.
    pub pending: Option<PendingOp>,
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
            pending: None,
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
}

/// What an export does to members who left the segment (SPEC §4 rule 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Prune {
    /// Unsubscribe only members this export subscribed.
    #[default]
    Owned,
    /// Make the list exactly the segment.
    All,
    /// Never unsubscribe.
    None,
}

/// The `max_removals` guard: an absolute count or a share of current members.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RemovalLimit {
    Count(u64),
    /// Percent, 0..=100.
    Percent(f64),
}

impl RemovalLimit {
    /// The most unsubscribes allowed in one run for a list of `members` active members.
    pub fn allowed(self, members: u64) -> u64 {
        match self {
            RemovalLimit::Count(n) => n,
            RemovalLimit::Percent(p) => ((members as f64) * p / 100.0).floor() as u64,
        }
    }
}

impl fmt::Display for RemovalLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemovalLimit::Count(n) => write!(f, "{n}"),
            RemovalLimit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Masks an email for reports: `jane@example.com` → `j***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => {
            let first: String = email.chars().take(1).collect();
            format!("{first}***")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_separates_fields() {
        let a = Fields {
            first_name: Some("ab".into()),
            last_name: Some("c".into()),
            ..Fields::default()
        };
        let b = Fields {
            first_name: Some("a".into()),
            last_name: Some("bc".into()),
            ..Fields::default()
        };
        assert_ne!(a.hash64(), b.hash64());
        assert_ne!(Fields::default().hash64(), a.hash64());
        assert_eq!(a.hash64(), a.clone().hash64());
    }

    #[test]
    fn masks() {
        assert_eq!(mask_email("jane@example.com"), "j***@example.com");
        assert_eq!(mask_email("nope"), "n***");
        assert_eq!(mask_email(""), "***");
    }

    #[test]
    fn removal_limits() {
        assert_eq!(RemovalLimit::Percent(10.0).allowed(1000), 100);
        assert_eq!(RemovalLimit::Percent(10.0).allowed(9), 0);
        assert_eq!(RemovalLimit::Count(5).allowed(0), 5);
    }
}
