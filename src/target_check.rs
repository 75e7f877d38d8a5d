//! The one check of an export's target on its ActiveCampaign account: its
//! list exists, and every `[mapping.fields]` key names a field the account
//! has (a numeric key is a field id, anything else a personalization tag,
//! case-insensitive). The run asks here before it writes (a key the account
//! lacks fails the run, `plan` as `sync`), `acsync doctor` and `acsync check
//! --online` ask here to report; see docs/verification.md. Read-only: GET
//! requests only.

use std::collections::{BTreeMap, HashMap};

use crate::activecampaign::{ApiError, Client, FieldDef, ListInfo};
use crate::config::Export;

/// `[mapping.fields]` key → the account's field.
pub type Resolved = BTreeMap<String, FieldDef>;

/// A key the account does not have, with a hint listing what it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    pub key: String,
    pub hint: String,
}

/// Why the mapped fields could not be resolved.
#[derive(Debug)]
pub enum FieldsError {
    /// `GET /fields` failed.
    Api(ApiError),
    Unknown(UnknownField),
}

/// The account field `key` names, or why none.
pub fn resolve_key<'d>(key: &str, defs: &'d [FieldDef]) -> Result<&'d FieldDef, UnknownField> {
    let found = match key.trim().parse::<u64>() {
        Ok(id) => defs.iter().find(|d| d.id == id),
        Err(_) => defs.iter().find(|d| {
            d.perstag
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(key.trim()))
        }),
    };
    found.ok_or_else(|| UnknownField {
        key: key.to_string(),
        hint: hint(key, defs),
    })
}

/// Resolves every key, or names the first one the account lacks.
pub fn resolve<'k>(
    keys: impl IntoIterator<Item = &'k String>,
    defs: &[FieldDef],
) -> Result<Resolved, UnknownField> {
    keys.into_iter()
        .map(|key| resolve_key(key, defs).map(|d| (key.clone(), d.clone())))
        .collect()
}

fn hint(key: &str, defs: &[FieldDef]) -> String {
    let what = if key.trim().parse::<u64>().is_ok() {
        "no field has this id"
    } else {
        "no field has this personalization tag"
    };
    if defs.is_empty() {
        return format!("{what}; the account has no custom field (create it first)");
    }
    let mut known: Vec<String> = defs.iter().take(20).map(FieldDef::describe).collect();
    if defs.len() > 20 {
        known.push(format!("… {} more", defs.len() - 20));
    }
    format!(
        "{what}; the account's fields: {} (use a tag or a numeric id)",
        known.join(", ")
    )
}

/// The run's field check: the export's keys resolved against `GET /fields`
/// (read only when there are keys).
pub async fn resolve_fields(client: &Client, export: &Export) -> Result<Resolved, FieldsError> {
    let keys = &export.mapping.fields;
    if keys.is_empty() {
        return Ok(Resolved::new());
    }
    let defs = client.fields().await.map_err(FieldsError::Api)?;
    resolve(keys.keys(), &defs).map_err(FieldsError::Unknown)
}

/// What the account says of an export's list.
#[derive(Debug)]
pub enum ListCheck {
    Exists(ListInfo),
    /// `GET /lists/{id}` answered 404 ([`ApiError::ListNotFound`]).
    Missing(ApiError),
}

/// Asks for the export's list; an error other than its absence means the
/// account could not be asked.
pub async fn list(client: &Client, list_id: u64) -> Result<ListCheck, ApiError> {
    match client.get_list(list_id).await {
        Ok(l) => Ok(ListCheck::Exists(l)),
        Err(e @ ApiError::ListNotFound { .. }) => Ok(ListCheck::Missing(e)),
        Err(e) => Err(e),
    }
}

/// The account's fields by connection name, read once per connection when
/// many exports of one account are checked.
#[derive(Debug, Default)]
pub struct AccountFields {
    by_connection: HashMap<String, Result<Vec<FieldDef>, String>>,
}

impl AccountFields {
    /// The fields of `connection` (read through `client` the first time),
    /// or why they could not be read.
    pub async fn of(&mut self, connection: &str, client: &Client) -> Result<&[FieldDef], &str> {
        if !self.by_connection.contains_key(connection) {
            let defs = client.fields().await.map_err(|e| e.to_string());
            self.by_connection.insert(connection.to_string(), defs);
        }
        match self.by_connection.get(connection) {
            Some(Ok(defs)) => Ok(defs),
            Some(Err(e)) => Err(e),
            None => Ok(&[]),
        }
    }
}

/// Each mapped key of `export` with the account field it names, or why none.
pub fn field_keys<'e>(
    export: &'e Export,
    defs: &[FieldDef],
) -> Vec<(&'e str, Result<FieldDef, UnknownField>)> {
    let keys = export.mapping.fields.keys();
    keys.map(|key| (key.as_str(), resolve_key(key, defs).cloned()))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::activecampaign::FieldKind;

    /// An account field with tag `tag` of ActiveCampaign type `t`.
    pub(crate) fn def(id: u64, tag: &str, t: &str, options: &[&str]) -> FieldDef {
        FieldDef {
            id,
            perstag: Some(tag.to_owned()),
            title: tag.to_owned(),
            type_name: t.to_owned(),
            kind: FieldKind::parse(t),
            options: options.iter().map(|o| (*o).to_owned()).collect(),
        }
    }

    #[test]
    fn keys_resolve_by_tag_or_id_and_unknown_ones_are_named() {
        let defs = [
            def(1, "COMPANY", "text", &[]),
            def(7, "TIER", "dropdown", &[]),
        ];
        let keys = ["company".to_owned(), "7".to_owned()];
        let r = resolve(&keys, &defs).expect("resolved");
        assert_eq!((r["company"].id, r["7"].id), (1, 7));
        let e = resolve(&["99".to_owned()], &defs).expect_err("unknown id");
        assert_eq!(e.key, "99");
        assert!(e.hint.contains("no field has this id"), "{}", e.hint);
        assert!(e.hint.contains("TIER (id 7, dropdown)"), "{}", e.hint);
        let e = resolve(&["NOSUCH".to_owned()], &defs).expect_err("unknown tag");
        assert!(e.hint.contains("personalization tag"), "{}", e.hint);
        let e = resolve(&["X".to_owned()], &[]).expect_err("no field at all");
        assert!(e.hint.contains("has no custom field"), "{}", e.hint);
    }

    #[test]
    fn a_resolve_names_the_first_unknown_key() {
        let defs = [def(1, "COMPANY", "text", &[])];
        let keys = ["A".to_owned(), "COMPANY".to_owned(), "B".to_owned()];
        assert_eq!(resolve(&keys, &defs).expect_err("unknown").key, "A");
    }
}
