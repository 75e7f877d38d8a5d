//! The reads that verify before a write (docs/run-rules.md, kept statuses; prune): a
//! contact's membership row with its change time, and which of a set of
//! known contacts still have a given status on a list, with their current
//! email. Both answer from ActiveCampaign now, never from local state.

use chrono::DateTime;

use super::transport::Call;
use super::wire::{ContactListsResponse, ContactsPage};
use super::{ApiError, Client, PAGE_SIZE};
use crate::model::ListStatus;

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
                return Ok(Some(MembershipRow {
                    status: ListStatus::from_code(m.status),
                    udate: m.udate.as_deref().and_then(parse_udate),
                }));
            }
            let n = page.contact_lists.len();
            if n < PAGE_SIZE {
                return Ok(None);
            }
            offset += n;
        }
    }

    /// Which of `ids` have `status` on `list_id` now, with their current
    /// (lowercased) email: `GET /contacts?ids[]=…&listid=&status=`, 100 ids
    /// a request (§11). A deleted contact is simply not returned.
    pub async fn members_among(
        &self,
        list_id: u64,
        status: ListStatus,
        ids: &[u64],
    ) -> Result<Vec<(u64, String)>, ApiError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(PAGE_SIZE) {
            let call = Call::get("GET /contacts", &["contacts"])
                .query([
                    ("listid", list_id.to_string()),
                    ("status", status.code().to_string()),
                    ("limit", PAGE_SIZE.to_string()),
                ])
                .query_all(chunk.iter().map(|id| ("ids[]", id.to_string())));
            let page: ContactsPage = self.fetch(&call).await?;
            out.extend(page.contacts.into_iter().filter_map(|c| {
                let email = c.email?.trim().to_lowercase();
                // Only the asked ids: an API that ignored the filter must not
                // widen what a removal touches.
                (chunk.contains(&c.id.0) && !email.is_empty()).then_some((c.id.0, email))
            }));
        }
        Ok(out)
    }
}

/// `2021-05-12T11:10:06-05:00` (RFC 3339 with the account's offset) or the
/// legacy `2021-05-12 11:10:06` (taken as UTC) to Unix seconds.
pub(super) fn parse_udate(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udate_formats_of_section_3_2() {
        assert_eq!(parse_udate("2021-05-12T11:10:06-05:00"), Some(1620835806));
        assert_eq!(parse_udate("2021-05-12 16:10:06"), Some(1620835806));
        assert_eq!(parse_udate("0000-00-00 00:00:00"), None);
        assert_eq!(parse_udate(""), None);
    }
}
