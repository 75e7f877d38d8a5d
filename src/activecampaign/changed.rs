//! Reading only what changed on a list (docs/run-rules.md, drift checks):
//! the list's members ActiveCampaign shows as updated since a day, each
//! with its own membership row, by id order. `filters[updated_after]` is
//! documented on `GET /contacts`; its precision and whether a list-status
//! change moves a contact's `udate` are not (api notes §12), so the caller
//! proves what this read finds with counts and a sample.

use chrono::NaiveDate;

use super::transport::Call;
use super::verify::CheckedContact;
use super::wire::ContactsPage;
use super::{ApiError, Client, PAGE_SIZE};

/// What a read of the changed members found.
#[derive(Debug)]
pub enum ChangedRead {
    /// Every member updated since the day, with its row on the list.
    Read(Vec<CheckedContact>),
    /// More than `cap` members match (the first page's `meta.total`): not
    /// read further.
    TooMany(u64),
}

impl Client {
    /// `GET /contacts?listid=&filters[updated_after]=DAY&orders[id]=ASC&
    /// id_greater=&limit=100&include=contactLists`, page by page until an
    /// empty one. The day is the coarsest form the filter takes: a day (in
    /// the account's zone, which the caller does not need to know when it
    /// asks from a day early enough) compares the same whatever the
    /// filter's precision. A contact the side-load shows no row on the list
    /// for is skipped: it is not a member.
    pub async fn changed_members(
        &self,
        list_id: u64,
        since: NaiveDate,
        cap: u64,
    ) -> Result<ChangedRead, ApiError> {
        let mut cursor = 0u64;
        let mut out = Vec::new();
        loop {
            let call = Call::get("GET /contacts", &["contacts"]).query([
                ("listid", list_id.to_string()),
                (
                    "filters[updated_after]",
                    since.format("%Y-%m-%d").to_string(),
                ),
                ("orders[id]", "ASC".to_string()),
                ("id_greater", cursor.to_string()),
                ("limit", PAGE_SIZE.to_string()),
                ("include", "contactLists".to_string()),
            ]);
            let page: ContactsPage = self.fetch(&call).await?;
            if cursor == 0
                && let Some(total) = page.meta.total.as_ref().map(|t| t.0).filter(|t| *t > cap)
            {
                return Ok(ChangedRead::TooMany(total));
            }
            let Some(last) = page.contacts.iter().map(|c| c.id.0).max() else {
                return Ok(ChangedRead::Read(out));
            };
            if last <= cursor {
                return Err(self.decode_error(&call, "id_greater paging did not advance"));
            }
            cursor = last;
            out.extend(
                self.with_rows(&call, page, list_id, None)?
                    .into_iter()
                    .filter(|c| c.row.is_some()),
            );
        }
    }
}
