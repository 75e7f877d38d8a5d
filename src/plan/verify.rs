//! Why a segment member is kept out of the list: the statuses a run never
//! overrides (see docs/run-rules.md, kept statuses). The reads taken right
//! before a write are judged in `run::apply::verify`.

use crate::model::ListStatus;

/// Why a segment member is kept out of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Status 2 that acsync did not cause (or cannot prove it caused).
    Unsubscribed,
    Bounced,
    Unconfirmed,
}

impl Kept {
    /// The kept reason of a status, if the status keeps a contact out.
    pub fn of(status: Option<ListStatus>) -> Option<Kept> {
        match status {
            Some(ListStatus::Unsubscribed) => Some(Kept::Unsubscribed),
            Some(ListStatus::Bounced) => Some(Kept::Bounced),
            Some(ListStatus::Unconfirmed) => Some(Kept::Unconfirmed),
            _ => None,
        }
    }
}
