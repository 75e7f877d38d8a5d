//! The account's custom fields as `GET /fields` describes them (§5.2): id,
//! personalization tag, type and, for choice fields, the options. A run
//! resolves its `[mapping.fields]` keys against this list before any write,
//! and converts each value per type (see [`crate::run::fields`]).

use std::collections::BTreeMap;

use super::wire::FieldsPage;
use super::{ApiError, Call, Client, PAGE_SIZE};

/// A custom field's type. ActiveCampaign's contact fields are `text`,
/// `textarea`, `date`, `datetime`, `dropdown`, `radio`, `listbox`,
/// `checkbox` and `hidden`; the account-field API adds `multiselect`,
/// `number` and `currency` (OpenAPI `accountCustomFieldMeta.fieldType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// Free text: text, textarea, hidden, and any type we do not know
    /// (sent as it is, as acsync did before it knew types).
    Text,
    Date,
    Datetime,
    Number,
    /// One option: dropdown, radio.
    Choice,
    /// Several options, sent as `||a||b||` (§2.4): checkbox, listbox, multiselect.
    Multi,
}

impl FieldKind {
    /// The kind of a `type` string (case-insensitive); unknown types are text.
    pub fn parse(s: &str) -> FieldKind {
        match s.trim().to_ascii_lowercase().as_str() {
            "date" => FieldKind::Date,
            "datetime" => FieldKind::Datetime,
            "number" | "currency" => FieldKind::Number,
            "dropdown" | "radio" => FieldKind::Choice,
            "checkbox" | "listbox" | "multiselect" => FieldKind::Multi,
            _ => FieldKind::Text,
        }
    }
}

/// One custom field of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub id: u64,
    /// Uppercase, as `%TAG%` in a message; `None` when the field has none.
    pub perstag: Option<String>,
    pub title: String,
    /// The `type` as ActiveCampaign spells it (`""` when absent).
    pub type_name: String,
    pub kind: FieldKind,
    /// The options' values as ActiveCampaign spells them (choice fields).
    pub options: Vec<String>,
}

impl FieldDef {
    /// `COMPANY (id 3, dropdown)`: how errors name a field.
    pub fn describe(&self) -> String {
        let tag = self.perstag.as_deref().unwrap_or(&self.title);
        let t = if self.type_name.is_empty() {
            "text"
        } else {
            &self.type_name
        };
        format!("{tag} (id {}, {t})", self.id)
    }
}

impl Client {
    /// Every custom field of the account, paged with `limit`/`offset`: the
    /// read ends on an empty page, or once `meta.total` fields were seen
    /// (or, without a total, on a short page).
    pub async fn fields(&self) -> Result<Vec<FieldDef>, ApiError> {
        let mut fields = Vec::new();
        let mut options: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        let mut offset = 0usize;
        loop {
            let call = Call::get("GET /fields", &["fields"]).query([
                ("limit", PAGE_SIZE.to_string()),
                ("offset", offset.to_string()),
            ]);
            let page: FieldsPage = self.fetch(&call).await?;
            let n = page.fields.len();
            for o in page.field_options {
                if let Some(v) = o.value.or(o.label) {
                    options.entry(o.field.0).or_default().push(v);
                }
            }
            fields.extend(page.fields.into_iter().map(|f| {
                let type_name = f.kind.unwrap_or_default();
                FieldDef {
                    id: f.id.0,
                    perstag: f.perstag.map(|t| t.to_uppercase()),
                    title: f.title.unwrap_or_default(),
                    kind: FieldKind::parse(&type_name),
                    type_name,
                    options: Vec::new(),
                }
            }));
            offset += n;
            let total = page.meta.total.map(|t| t.0 as usize);
            let done = match total {
                Some(t) => offset >= t,
                None => n < PAGE_SIZE,
            };
            if n == 0 || done {
                break;
            }
        }
        for f in &mut fields {
            f.options = options.remove(&f.id).unwrap_or_default();
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_the_documented_types() {
        for (t, k) in [
            ("text", FieldKind::Text),
            ("textarea", FieldKind::Text),
            ("hidden", FieldKind::Text),
            ("", FieldKind::Text),
            ("date", FieldKind::Date),
            ("datetime", FieldKind::Datetime),
            ("dropdown", FieldKind::Choice),
            ("radio", FieldKind::Choice),
            ("listbox", FieldKind::Multi),
            ("checkbox", FieldKind::Multi),
            ("multiselect", FieldKind::Multi),
            ("Currency", FieldKind::Number),
        ] {
            assert_eq!(FieldKind::parse(t), k, "{t}");
        }
    }
}
