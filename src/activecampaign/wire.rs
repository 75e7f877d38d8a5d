//! Lenient wire models: what ActiveCampaign sends and what we send it.
//!
//! The documented quirks (api notes §8.9) are absorbed here and nowhere else:
//! ids arrive as strings (`"id":"5"`) or numbers, `meta.total` as `"6"` or
//! `36`, `contactList.status` as `1` or `"3"`, the bulk importer's success key
//! as `Success` or `success`, and `/import/info`'s `status` may be the boolean
//! `false` ("not yet"). Unknown fields are ignored everywhere (serde's
//! default), so new server fields never break us.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// A non-negative integer that may be written as a JSON number or string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lenient(pub u64);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor).map(Lenient)
    }
}

struct LenientVisitor;

impl Visitor<'_> for LenientVisitor {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a non-negative integer as a number or a string")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("negative integer {v}")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        v.trim()
            .parse()
            .map_err(|_| E::custom(format!("not an integer: {v:?}")))
    }
}

/// A signed code (list status) that may be a number or a string.
fn de_code<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| de::Error::custom("status out of range")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| de::Error::custom(format!("not a status code: {s:?}"))),
        other => Err(de::Error::custom(format!("not a status code: {other}"))),
    }
}

/// An optional text: `null`, missing and `""` are `None`; numbers become text.
fn de_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// `meta` of a paged collection.
#[derive(Debug, Default, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub total: Option<Lenient>,
}

/// One contact of `GET /contacts`.
#[derive(Debug, Clone, Deserialize)]
pub struct WireContact {
    pub id: Lenient,
    #[serde(default, deserialize_with = "de_text")]
    pub email: Option<String>,
    #[serde(default, rename = "firstName", deserialize_with = "de_text")]
    pub first_name: Option<String>,
    #[serde(default, rename = "lastName", deserialize_with = "de_text")]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    pub phone: Option<String>,
    /// When the contact was created (`2021-05-12T11:10:06-05:00`).
    #[serde(default, deserialize_with = "de_text")]
    pub cdate: Option<String>,
}

/// `GET /contacts` (any filter).
#[derive(Debug, Deserialize)]
pub struct ContactsPage {
    #[serde(default)]
    pub contacts: Vec<WireContact>,
    /// The contacts' membership rows, with `include=contactLists`; `None`
    /// when the answer has no such key.
    #[serde(default, rename = "contactLists")]
    pub contact_lists: Option<Vec<WireContactList>>,
    #[serde(default)]
    pub meta: Meta,
}

/// `GET /lists/{id}`.
#[derive(Debug, Deserialize)]
pub struct ListEnvelope {
    pub list: WireList,
}

#[derive(Debug, Deserialize)]
pub struct WireList {
    pub id: Lenient,
    #[serde(default, deserialize_with = "de_text")]
    pub name: Option<String>,
}

/// `GET /fields` (§5.2): the fields, and the options of the choice fields
/// (dropdown, radio, listbox, checkbox) side-loaded as `fieldOptions`.
#[derive(Debug, Deserialize)]
pub struct FieldsPage {
    #[serde(default)]
    pub fields: Vec<WireField>,
    #[serde(default, rename = "fieldOptions")]
    pub field_options: Vec<WireFieldOption>,
    #[serde(default)]
    pub meta: Meta,
}

#[derive(Debug, Deserialize)]
pub struct WireField {
    pub id: Lenient,
    #[serde(default, deserialize_with = "de_text")]
    pub perstag: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    pub title: Option<String>,
    /// `text`, `textarea`, `date`, `datetime`, `dropdown`, `radio`,
    /// `listbox`, `checkbox`, `hidden`; `""` in one documented example.
    #[serde(default, rename = "type", deserialize_with = "de_text")]
    pub kind: Option<String>,
}

/// One option of a choice field: `{"field":"62","value":"X","label":"Option X",...}`
/// (the `fieldOptions` rows of `POST /fieldOption/bulk`).
#[derive(Debug, Deserialize)]
pub struct WireFieldOption {
    pub field: Lenient,
    #[serde(default, deserialize_with = "de_text")]
    pub value: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    pub label: Option<String>,
}

/// `POST /contact/sync`: only the id matters.
#[derive(Debug, Deserialize)]
pub struct SyncResponse {
    pub contact: IdOnly,
}

#[derive(Debug, Deserialize)]
pub struct IdOnly {
    pub id: Lenient,
}

/// `GET /contacts/{id}/contactLists`.
#[derive(Debug, Deserialize)]
pub struct ContactListsResponse {
    #[serde(default, rename = "contactLists")]
    pub contact_lists: Vec<WireContactList>,
}

#[derive(Debug, Deserialize)]
pub struct WireContactList {
    pub list: Lenient,
    #[serde(deserialize_with = "de_code")]
    pub status: i64,
    /// When the row last changed, `2021-05-12T11:10:06-05:00` (§3.2), in
    /// the account's zone; the legacy form has no zone.
    #[serde(default, deserialize_with = "de_text")]
    pub udate: Option<String>,
    /// When the row was created, zoned: lends its offset to a zoneless
    /// `udate` (see `times.rs`).
    #[serde(default, deserialize_with = "de_text")]
    pub sdate: Option<String>,
    /// The contact the row belongs to (side-loaded rows name it).
    #[serde(default)]
    pub contact: Option<Lenient>,
    /// Filled by an opt-out through a campaign or an automation (§12).
    #[serde(default, deserialize_with = "de_text")]
    pub unsubreason: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    pub campaign: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    pub message: Option<String>,
    #[serde(
        default,
        rename = "unsubscribeAutomation",
        deserialize_with = "de_text"
    )]
    pub unsubscribe_automation: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    pub sourceid: Option<String>,
}

/// `GET /import/info`: `status` is a string, or `false` right after submit.
#[derive(Debug, Deserialize)]
pub struct ImportInfo {
    #[serde(default)]
    pub status: Value,
    #[serde(default)]
    pub success: Vec<Lenient>,
    #[serde(default)]
    pub failure: Vec<String>,
}

impl ImportInfo {
    /// The status lowercased, or `None` for "not yet" (`false`, missing, null).
    pub fn status_text(&self) -> Option<String> {
        match &self.status {
            Value::String(s) => Some(s.trim().to_ascii_lowercase()),
            _ => None,
        }
    }
}

/// What `POST /import/bulk_import` answered with a 2xx.
#[derive(Debug, PartialEq, Eq)]
pub enum BulkAccepted {
    Queued {
        batch_id: String,
    },
    /// `success` was 0 or absent, or no batch id came back.
    Refused,
}

/// Reads the queued answer; the `Success`/`success` (and `batchId`) key
/// case is not reliable, so keys are matched case-insensitively.
pub fn parse_bulk_accepted(bytes: &[u8]) -> Option<BulkAccepted> {
    let map: Map<String, Value> = serde_json::from_slice(bytes).ok()?;
    let get = |name: &str| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let success = match get("success") {
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n > 0.0),
        Some(Value::String(s)) => s.trim().parse::<f64>().is_ok_and(|n| n > 0.0),
        Some(Value::Bool(b)) => *b,
        _ => false,
    };
    let batch_id = match get("batchId") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    Some(match (success, batch_id) {
        (true, Some(batch_id)) => BulkAccepted::Queued { batch_id },
        _ => BulkAccepted::Refused,
    })
}

/// `POST /contact/sync` body (camelCase, field ids as strings).
#[derive(Debug, Serialize)]
pub struct SyncBody<'a> {
    pub contact: SyncContact<'a>,
}

#[derive(Debug, Serialize)]
pub struct SyncContact<'a> {
    pub email: &'a str,
    #[serde(rename = "firstName", skip_serializing_if = "Option::is_none")]
    pub first_name: Option<&'a str>,
    #[serde(rename = "lastName", skip_serializing_if = "Option::is_none")]
    pub last_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a str>,
    #[serde(rename = "fieldValues", skip_serializing_if = "Vec::is_empty")]
    pub field_values: Vec<SyncFieldValue<'a>>,
}

#[derive(Debug, Serialize)]
pub struct SyncFieldValue<'a> {
    pub field: String,
    pub value: &'a str,
}

/// `POST /contactLists` body.
#[derive(Debug, Serialize)]
pub struct ContactListBody {
    #[serde(rename = "contactList")]
    pub contact_list: ContactListWrite,
}

#[derive(Debug, Serialize)]
pub struct ContactListWrite {
    pub list: u64,
    pub contact: u64,
    pub status: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sourceid: Option<u8>,
}

/// The `sourceid` of a re-subscription (§3.1 schema).
pub const SOURCE_RESUBSCRIBE: u8 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_as_strings_or_numbers() {
        let p: ContactsPage = serde_json::from_str(
            r#"{"contacts":[{"id":"5","email":"A@x.io"},{"id":6,"email":"b@x.io","extra":{"x":1}}],"meta":{"total":"6"}}"#,
        )
        .unwrap();
        assert_eq!(p.contacts[0].id, Lenient(5));
        assert_eq!(p.contacts[1].id, Lenient(6));
        assert_eq!(p.meta.total, Some(Lenient(6)));
        assert!(serde_json::from_str::<IdOnly>(r#"{"id":"x"}"#).is_err());
        assert!(serde_json::from_str::<IdOnly>(r#"{"id":-1}"#).is_err());
    }

    #[test]
    fn meta_total_as_number_or_missing() {
        let p: FieldsPage = serde_json::from_str(r#"{"fields":[],"meta":{"total":36}}"#).unwrap();
        assert_eq!(p.meta.total, Some(Lenient(36)));
        let p: FieldsPage = serde_json::from_str(r#"{"fields":[]}"#).unwrap();
        assert_eq!(p.meta.total, None);
    }

    #[test]
    fn empty_and_null_texts_are_none() {
        let c: WireContact = serde_json::from_str(
            r#"{"id":"1","email":"a@b.co","firstName":"","lastName":null,"phone":"0612"}"#,
        )
        .unwrap();
        assert_eq!(c.first_name, None);
        assert_eq!(c.last_name, None);
        assert_eq!(c.phone.as_deref(), Some("0612"));
    }

    #[test]
    fn contact_list_status_int_or_string() {
        let r: ContactListsResponse = serde_json::from_str(
            r#"{"contactLists":[{"contact":"19","list":"1","status":"3"},{"list":2,"status":1,"links":{}}]}"#,
        )
        .unwrap();
        assert_eq!(r.contact_lists[0].status, 3);
        assert_eq!(r.contact_lists[0].list, Lenient(1));
        assert_eq!(r.contact_lists[1].status, 1);
    }

    #[test]
    fn bulk_success_key_case() {
        let q = |s: &str| parse_bulk_accepted(s.as_bytes());
        let id = || BulkAccepted::Queued {
            batch_id: "0641fbdd".into(),
        };
        assert_eq!(
            q(r#"{"Success":1,"queued_contacts":1,"batchId":"0641fbdd"}"#),
            Some(id())
        );
        assert_eq!(q(r#"{"success":5,"batchId":"0641fbdd"}"#), Some(id()));
        assert_eq!(q(r#"{"SUCCESS":"1","batchid":"0641fbdd"}"#), Some(id()));
        assert_eq!(
            q(r#"{"success":0,"message":"no"}"#),
            Some(BulkAccepted::Refused)
        );
        assert_eq!(q(r#"{"success":1}"#), Some(BulkAccepted::Refused));
        assert_eq!(q("[]"), None);
    }

    #[test]
    fn import_info_false_means_not_yet() {
        let i: ImportInfo = serde_json::from_str(r#"{"status":false}"#).unwrap();
        assert_eq!(i.status_text(), None);
        let i: ImportInfo = serde_json::from_str(
            r#"{"status":"Completed","success":["123",124],"failure":["X@Y.io"]}"#,
        )
        .unwrap();
        assert_eq!(i.status_text().as_deref(), Some("completed"));
        assert_eq!(i.success, vec![Lenient(123), Lenient(124)]);
    }

    #[test]
    fn sync_body_omits_none() {
        let b = SyncBody {
            contact: SyncContact {
                email: "a@b.co",
                first_name: Some("A"),
                last_name: None,
                phone: None,
                field_values: vec![SyncFieldValue {
                    field: 7.to_string(),
                    value: "v",
                }],
            },
        };
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"contact":{"email":"a@b.co","firstName":"A","fieldValues":[{"field":"7","value":"v"}]}}"#
        );
    }
}
