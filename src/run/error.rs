//! Why a run failed: one error type for every step of a run.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::activecampaign::ApiError;
use crate::config::KeyError;
use crate::plan::PlanError;
use crate::source::SourceError;
use crate::state::{LockError, StateError};

/// Why a run failed. Every variant's message names the place (file,
/// connection, list, column) and never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Busy(#[from] LockError),
    #[error("{0}")]
    Source(SourceError),
    #[error("{0}")]
    Plan(PlanError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("custom field `{key}` (in [mapping.fields]) does not exist in ActiveCampaign: {hint}")]
    UnknownField { key: String, hint: String },
    #[error(
        "export `{export}`: list {list_id} (list_id in {}) does not exist in ActiveCampaign on connection `{connection}`; nothing was written. Was the list deleted? Set list_id to an existing list, or disable the export",
        file.display()
    )]
    ListMissing {
        export: String,
        file: PathBuf,
        connection: String,
        list_id: u64,
    },
    #[error(
        "the list read does not agree with the contact's own membership: contact {contact_id} shows status {row} on list {list_id} but was read as {read}; not writing anything (ActiveCampaign may filter `status` across all lists)"
    )]
    ReadMismatch {
        contact_id: u64,
        list_id: u64,
        read: &'static str,
        row: String,
    },
    #[error(
        "the state database {} has no record of export `{export}`, but its status file shows a run that wrote to ActiveCampaign at {at}: the state was lost or replaced. acsync will not start from nothing (it would forget which members it subscribed, and never unsubscribe them). Restore the state database, or run `acsync sync {export} --adopt` once to take ownership of the list's active members that are in the segment",
        path.display()
    )]
    StateLost {
        path: PathBuf,
        at: DateTime<Utc>,
        export: String,
    },
    #[error(
        "export `{export}` has prune = \"all\" but export(s) {others} target the same list: \"all\" would unsubscribe their members. Use prune = \"owned\" on a shared list"
    )]
    SharedPruneAll { export: String, others: String },
    #[error(
        "an import of unsubscribes created {} contact(s) on list {list_id} (ids {}): each was erased after acsync checked it was on the list and made again by the import, which acsync assumes never happens. This run sent no further unsubscribe. The contacts are unsubscribed from the list; delete them in ActiveCampaign if they were erased on purpose",
        ids.len(),
        crate::run::error::some_ids(ids)
    )]
    CreatedByUnsubscribe { list_id: u64, ids: Vec<u64> },
    #[error("stopped by shutdown; the next run finishes the work")]
    Cancelled,
    #[error("internal error: {0}")]
    Internal(String),
}

/// At most ten ids, comma-separated, then how many more.
fn some_ids(ids: &[u64]) -> String {
    const SHOWN: usize = 10;
    let mut text: Vec<String> = ids.iter().take(SHOWN).map(u64::to_string).collect();
    if ids.len() > SHOWN {
        text.push(format!("and {} more", ids.len() - SHOWN));
    }
    text.join(", ")
}
