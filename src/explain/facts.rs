//! The reads behind `acsync explain`, each read-only: the segment with the
//! address watched row by row, the state database (never created here),
//! and one read of ActiveCampaign (the contact by email, then its
//! membership of the export's list).

use std::path::{Path, PathBuf};

use crate::activecampaign::Client;
use crate::activecampaign::wire::WireContact;
use crate::config::Export;
use crate::model::{ListStatus, LiveMember, MembershipRow};
use crate::run::view::StateView;
use crate::run::{RunError, Snapshot};
use crate::state::{self, StateDb, Wanted};
use crate::status::time_text;

/// What the state database holds for the export (empty without a database).
pub struct StateRead {
    pub database: Option<PathBuf>,
    /// The run's own read model of the export.
    pub snapshot: Snapshot,
    /// Every other export's wanted row for the list (the snapshot keeps
    /// only the first one's wish per address).
    pub wanted_by_others: Vec<Wanted>,
    /// Sentences from the run history (see [`history_lines`]).
    pub history: Vec<String>,
}

/// Reads the export's record. A missing database is no record at all: it
/// is not created (explain writes nothing a run would not).
pub fn read_state(
    state_dir: &Path,
    config_root: &Path,
    export: &Export,
    email: &str,
) -> Result<StateRead, RunError> {
    let view = StateView::open(state_dir, config_root, export)?;
    let snapshot = view.snapshot(export, config_root)?;
    let Some(db) = view.db() else {
        return Ok(StateRead {
            database: None,
            snapshot,
            wanted_by_others: Vec::new(),
            history: Vec::new(),
        });
    };
    Ok(StateRead {
        database: Some(state_dir.join(state::DB_FILE)),
        wanted_by_others: db.wanted_by_others(&state::scope_of(export), &export.id)?,
        history: history_lines(db, &export.id, email)?,
        snapshot,
    })
}

/// How many of the address's latest history entries `explain` tells.
const HISTORY_SHOWN: usize = 5;

/// The address's run history, in sentences: the last fields sent and when,
/// then its latest entries (newest first), each with its run and reason.
fn history_lines(
    db: &StateDb,
    export: &str,
    email: &str,
) -> Result<Vec<String>, crate::state::StateError> {
    let entries = db.contact_history(export, email, HISTORY_SHOWN)?;
    if entries.is_empty() {
        return Ok(vec![
            "The run history has no entry for this address.".into(),
        ]);
    }
    let mut out = Vec::new();
    if let Some(last) = db.last_sent(export, email)? {
        let values: Vec<String> = last
            .fields
            .iter()
            .map(|(k, v)| format!("{k} {v:?}"))
            .collect();
        out.push(format!(
            "Last sent by run {} at {}: {}.",
            last.run_id,
            time_text(last.at, None),
            if values.is_empty() {
                "no field values".into()
            } else {
                values.join(", ")
            }
        ));
    }
    out.push("Run history (newest first; `acsync history NAME --email ADDRESS` for all):".into());
    for e in &entries {
        let mut what = match &e.reason {
            Some(why) => format!("{}: {why}", e.change.as_str()),
            None => e.change.as_str().to_string(),
        };
        if let Some(batch) = &e.batch {
            what.push_str(&format!(
                " (bulk import {})",
                crate::model::printable(batch)
            ));
        }
        out.push(format!(
            "  run {} at {}: {what}",
            e.run_id,
            time_text(e.at, None)
        ));
    }
    Ok(out)
}

/// The contact as ActiveCampaign holds it now.
pub struct LiveRead {
    pub contact: Option<WireContact>,
    pub membership: Option<MembershipRow>,
}

impl LiveRead {
    /// The address as a full read of the list would show it: `None` when
    /// it is not a member with a status acsync manages.
    pub fn member(&self, email: &str) -> Option<LiveMember> {
        let c = self.contact.as_ref()?;
        let status = self.membership.as_ref().map(|m| m.status)?;
        Some(LiveMember {
            contact_id: c.id.0,
            email: email.to_string(),
            status,
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            phone: c.phone.clone(),
            contact_created: None,
        })
    }

    pub fn status(&self) -> Option<ListStatus> {
        self.membership.as_ref().map(|m| m.status)
    }
}

/// One read: `GET /contacts?email=`, then (for a contact) its
/// `contactLists` row for the export's list.
pub async fn read_live(
    client: &Client,
    export: &Export,
    email: &str,
) -> Result<LiveRead, RunError> {
    let contact = client.contact_by_email(email).await?;
    let membership = match &contact {
        Some(c) => client.membership(c.id.0, export.list_id).await?,
        None => None,
    };
    Ok(LiveRead {
        contact,
        membership,
    })
}
