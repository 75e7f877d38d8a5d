//! The reads that verify before a write (docs/run-rules.md, kept statuses; prune): a
//! contact's membership row with its change time, and which of a set of
//! known contacts still have a given status on a list, with their current
//! email. Both answer from ActiveCampaign now, never from local state.

use super::times;
use super::transport::Call;
use super::wire::{ContactListsResponse, ContactsPage, WireContactList};
use super::{ApiError, Client, PAGE_SIZE};
use crate::model::{ListStatus, LiveMember, UnsubscribeMarks};

pub use crate::model::MembershipRow;

/// `GET /import/bulk_import` (§4.4): only the aggregate counts matter.
#[derive(Debug, serde::Deserialize)]
struct ImportCounts {
    #[serde(default)]
    outstanding: Vec<OutstandingDay>,
}

#[derive(Debug, serde::Deserialize)]
struct OutstandingDay {
    #[serde(default)]
    batches: Option<super::wire::Lenient>,
}

impl Client {
    /// How many bulk-import batches the account has accepted and not yet
    /// processed (`GET /import/bulk_import`, every day summed). Zero means
    /// no batch of ours can still land.
    pub async fn bulk_outstanding(&self) -> Result<u64, ApiError> {
        let call = Call::get("GET /import/bulk_import", &["import", "bulk_import"]);
        let counts: ImportCounts = self.fetch(&call).await?;
        Ok(counts
            .outstanding
            .iter()
            .map(|d| d.batches.as_ref().map_or(1, |b| b.0))
            .sum())
    }

    /// `GET /contacts/{id}/contactLists`: the contact's row for `list_id`;
    /// `None` when it has none (or the contact does not exist: 404). Read
    /// [`PAGE_SIZE`] rows at a time until a short page: without `limit` a
    /// collection answers only its first 20 rows, and a contact on more
    /// lists would look like a non-member of the rest (docs/verification.md).
    pub async fn membership(
        &self,
        contact_id: u64,
        list_id: u64,
    ) -> Result<Option<MembershipRow>, ApiError> {
        let id = contact_id.to_string();
        let mut offset = 0usize;
        loop {
            let call = Call::get(
                "GET /contacts/{id}/contactLists",
                &["contacts", &id, "contactLists"],
            )
            .query([
                ("limit", PAGE_SIZE.to_string()),
                ("offset", offset.to_string()),
            ]);
            let page: ContactListsResponse = match self.fetch(&call).await {
                Err(ApiError::Rejected { status: 404, .. }) => return Ok(None),
                other => other?,
            };
            if let Some(m) = page.contact_lists.iter().find(|m| m.list.0 == list_id) {
                return Ok(Some(membership_row(m)));
            }
            let n = page.contact_lists.len();
            if n < PAGE_SIZE {
                return Ok(None);
            }
            offset += n;
        }
    }

    /// Which of `ids` are on `list_id` now, whatever their status, with
    /// their current (lowercased) email and their own row on the list:
    /// `GET /contacts?ids[]=…&listid=&include=contactLists`, 100 ids a
    /// request (§11). A deleted contact is simply not returned. The caller
    /// trusts only the side-loaded row (docs/verification.md):
    /// ActiveCampaign does not document how `listid` combines with `ids[]`,
    /// and the row says the status, so no status filter is asked for.
    pub async fn members_among(
        &self,
        list_id: u64,
        ids: &[u64],
    ) -> Result<Vec<CheckedContact>, ApiError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(PAGE_SIZE) {
            let call = Call::get("GET /contacts", &["contacts"])
                .query([
                    ("listid", list_id.to_string()),
                    ("limit", PAGE_SIZE.to_string()),
                    ("include", "contactLists".to_string()),
                ])
                .query_all(chunk.iter().map(|id| ("ids[]", id.to_string())));
            let page: ContactsPage = self.fetch(&call).await?;
            out.extend(self.with_rows(&call, page, list_id, Some(chunk))?);
        }
        Ok(out)
    }

    /// The contacts of a page read with `include=contactLists`, each with
    /// its own row on `list_id` (`only`: keep just these ids, so that an
    /// API that ignored a filter never widens what a caller touches). A page
    /// of contacts that came without rows is an error: the account does not
    /// honour the side-load, and no caller may read its absence as "no row".
    pub(super) fn with_rows(
        &self,
        call: &Call,
        page: ContactsPage,
        list_id: u64,
        only: Option<&[u64]>,
    ) -> Result<Vec<CheckedContact>, ApiError> {
        let rows = match &page.contact_lists {
            Some(rows) => rows.as_slice(),
            None if page.contacts.is_empty() => &[],
            None => return Err(self.decode_error(call, NOT_SIDE_LOADED)),
        };
        let row_of = |id: u64| {
            rows.iter()
                .find(|r| r.list.0 == list_id && r.contact.is_some_and(|c| c.0 == id))
                .map(membership_row)
        };
        Ok(page
            .contacts
            .iter()
            .filter_map(|c| {
                let email = c.email.as_deref()?.trim().to_lowercase();
                if only.is_some_and(|ids| !ids.contains(&c.id.0)) || email.is_empty() {
                    return None;
                }
                let row = row_of(c.id.0);
                let as_read = row
                    .as_ref()
                    .and_then(|r| super::live_member(c.clone(), r.status));
                Some(CheckedContact {
                    id: c.id.0,
                    email,
                    row,
                    as_read,
                })
            })
            .collect())
    }
}

/// Why a read before an unsubscribe that came without rows stops the run:
/// every removal would otherwise be counted "not active", run after run.
const NOT_SIDE_LOADED: &str = "no membership rows came with the contacts: the account does not \
honour include=contactLists, and acsync unsubscribes only a contact whose own row it has read \
(see docs/verification.md)";

/// A contact the read before an unsubscribe returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedContact {
    pub id: u64,
    /// Its current email, lowercased.
    pub email: String,
    /// Its own row on the list, side-loaded with the read; `None` when the
    /// answer carried none.
    pub row: Option<MembershipRow>,
    /// The contact as a full read shows a member (names, phone, the row's
    /// status); `None` without a row.
    pub as_read: Option<LiveMember>,
}

/// What acsync reads of a membership row: its status, when it last changed
/// (in the account's zone, see `times.rs`) and the marks of an unsubscribe
/// by someone else. An id of `0` names nothing.
fn membership_row(m: &WireContactList) -> MembershipRow {
    let named = |id: &Option<String>| {
        id.as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty() && *id != "0")
            .map(str::to_string)
    };
    MembershipRow {
        status: ListStatus::from_code(m.status),
        udate: m
            .udate
            .as_deref()
            .and_then(|u| times::instant(u, &[m.sdate.as_deref()])),
        marks: UnsubscribeMarks {
            reason: m
                .unsubreason
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string),
            campaign: named(&m.campaign),
            message: named(&m.message),
            automation: named(&m.unsubscribe_automation),
        },
        sourceid: m.sourceid.as_deref().and_then(|s| s.trim().parse().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// api notes §12, "`udate` of a membership row": a row unsubscribed
    /// through a campaign names it; a row of acsync's own write (`null`,
    /// `""`, `"0"`) names nobody.
    #[test]
    fn a_rows_marks_name_someone_elses_unsubscribe_section_12() {
        let row = |json: &str| membership_row(&serde_json::from_str(json).unwrap());
        let theirs = row(
            r#"{"list":"1","status":"2","udate":"2021-05-12T11:10:06-05:00","unsubreason":"Too many emails","campaign":"7","message":"12","unsubscribeAutomation":null,"sourceid":"4"}"#,
        );
        assert!(theirs.marks.name_another_author());
        assert_eq!(theirs.marks.campaign.as_deref(), Some("7"));
        assert_eq!((theirs.udate, theirs.sourceid), (Some(1620835806), Some(4)));
        let automated = row(r#"{"list":1,"status":2,"unsubscribeAutomation":"3"}"#);
        assert!(automated.marks.name_another_author());
        let ours = row(
            r#"{"list":"1","status":"2","unsubreason":"","campaign":null,"message":"0","unsubscribeAutomation":null,"sourceid":"0"}"#,
        );
        assert!(!ours.marks.name_another_author());
    }
}
