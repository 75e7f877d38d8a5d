//! The full read proves itself (docs/ownership.md): `GET /contacts?listid=&status=`
//! is assumed to filter by each contact's status *on that list*, which
//! ActiveCampaign does not document. After each full read a random sample
//! of each status read is compared with the contact's own membership rows
//! (`/contacts/{id}/contactLists`); a disagreement fails the run before any
//! write, so an account that behaves otherwise stops acsync instead of
//! letting it prune or resubscribe on a misread. A row that changed after
//! the read began is a member who moved during the read (a busy list,
//! docs/run-rules.md, full reads), not evidence about the filter: skipped.

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;

use super::error::RunError;
use crate::activecampaign::Client;
use crate::config::Export;
use crate::model::{ListStatus, LiveMember};

/// Contacts checked per status read (all of them when fewer).
pub const SAMPLE_PER_STATUS: usize = 5;

/// Checks up to [`SAMPLE_PER_STATUS`] members of each status of a read
/// that began at `read_started` (Unix seconds).
pub async fn sample(
    export: &Export,
    client: &Client,
    live: &[LiveMember],
    read_started: i64,
) -> Result<(), RunError> {
    // Seeded from the thread's generator; `SmallRng` is `Send`, so the
    // run's future stays `Send` across the reads below.
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    for status in ListStatus::ALL {
        let of_status: Vec<&LiveMember> = live.iter().filter(|m| m.status == status).collect();
        for m in of_status.choose_multiple(&mut rng, SAMPLE_PER_STATUS) {
            let row = client.membership(m.contact_id, export.list_id).await?;
            let seen = row.as_ref().map(|r| r.status);
            // Strictly after, without skew: an excuse given wrongly would
            // weaken the check, one withheld only fails this run.
            let moved = row
                .as_ref()
                .and_then(|r| r.udate)
                .is_some_and(|at| at > read_started);
            if seen != Some(status) && moved {
                tracing::debug!(export = %export.id, contact_id = m.contact_id, "a sampled member changed status after the read began");
            } else if seen != Some(status) {
                return Err(RunError::ReadMismatch {
                    contact_id: m.contact_id,
                    list_id: export.list_id,
                    read: status.as_str(),
                    row: seen.map_or_else(|| "none (no membership)".to_string(), |s| s.to_string()),
                });
            }
        }
    }
    Ok(())
}
