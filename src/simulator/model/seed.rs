//! The `--seed-file` of `acsync simulator`: contacts, custom fields and
//! list memberships to start an account with, as JSON or CSV. Parsing and
//! applying are pure; reading the file is the caller's.
//!
//! JSON (every key optional):
//! ```json
//! {"lists": ["Newsletter"],
//!  "fields": [{"perstag": "COMPANY", "title": "Company", "type": "text"},
//!             {"perstag": "TIER", "type": "dropdown", "options": ["Gold", "Silver"]}],
//!  "contacts": [{"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
//!                "phone": "", "fields": {"COMPANY": "Acme"}, "tags": ["vip"],
//!                "lists": {"Newsletter": "active"}}]}
//! ```
//! A membership status is `active`, `unsubscribed`, `bounced` or
//! `unconfirmed` (or 1, 2, 3, 0).
//!
//! CSV: a header row naming `email` (required), `first_name`, `last_name`,
//! `phone`, `tags` and `lists` (both `;`-separated; a list as `Name` for
//! active or `Name:unsubscribed`); every other column is a custom field
//! named by its personalization tag, created as a text field.
//!
//! Lists and fields named but missing are created; a field value the field
//! refuses (a date not `YYYY-MM-DD`, not an option) is an error naming the
//! contact, never a silent drop.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::account::Account;
use super::records::{ChangedBy, ContactPatch};

/// A seed that could not be read or applied, with where (`FILE:LINE:COL`
/// for JSON, `FILE:LINE` for a CSV row, `FILE: contact N` otherwise).
#[derive(Debug, thiserror::Error)]
#[error("{place}: {message}")]
pub struct SeedError {
    pub place: String,
    pub message: String,
}

/// What to start an account with.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Seed {
    pub lists: Vec<String>,
    pub fields: Vec<SeedField>,
    pub contacts: Vec<SeedContact>,
    /// Where it came from, for errors (a path).
    #[serde(skip)]
    pub origin: String,
    /// The file line of each contact, when known (CSV).
    #[serde(skip)]
    lines: Vec<u64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeedField {
    pub perstag: String,
    pub title: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub options: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeedContact {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// Personalization tag -> value.
    pub fields: BTreeMap<String, String>,
    pub tags: Vec<String>,
    /// List name -> status.
    pub lists: BTreeMap<String, SeedStatus>,
}

/// A membership status as a word or a number.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum SeedStatus {
    Code(u8),
    Word(String),
}

impl SeedStatus {
    fn code(&self) -> Result<u8, String> {
        match self {
            SeedStatus::Code(n @ 0..=3) => Ok(*n),
            SeedStatus::Word(w) => match w.trim().to_ascii_lowercase().as_str() {
                "unconfirmed" | "0" => Ok(0),
                "active" | "subscribed" | "1" | "" => Ok(1),
                "unsubscribed" | "2" => Ok(2),
                "bounced" | "3" => Ok(3),
                other => Err(format!(
                    "unknown list status `{}` (active, unsubscribed, bounced or unconfirmed)",
                    cut(other)
                )),
            },
            SeedStatus::Code(n) => Err(format!("unknown list status {n} (0 to 3)")),
        }
    }
}

/// At most 60 characters of a value, for messages.
fn cut(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

impl Seed {
    /// Reads the JSON form; errors carry `origin:line:col`.
    pub fn from_json(origin: &str, text: &str) -> Result<Seed, SeedError> {
        let mut seed: Seed = serde_json::from_str(text).map_err(|e| SeedError {
            place: format!("{origin}:{}:{}", e.line(), e.column()),
            message: json_message(&e),
        })?;
        seed.origin = origin.to_string();
        Ok(seed)
    }

    /// Reads the CSV form; errors carry `origin:line`.
    pub fn from_csv(origin: &str, text: &str) -> Result<Seed, SeedError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let at = |line: u64, message: String| SeedError {
            place: format!("{origin}:{line}"),
            message,
        };
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| at(1, e.to_string()))?
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        if !header.iter().any(|h| h == "email") {
            return Err(at(1, "the header row has no `email` column".into()));
        }
        let mut seed = Seed {
            origin: origin.to_string(),
            ..Seed::default()
        };
        for (i, record) in reader.records().enumerate() {
            let line = i as u64 + 2;
            let record = record.map_err(|e| at(line, e.to_string()))?;
            let line = record.position().map_or(line, |p| p.line());
            let contact = csv_contact(&header, &record).map_err(|m| at(line, m))?;
            seed.contacts.push(contact);
            seed.lines.push(line);
        }
        Ok(seed)
    }

    /// Where contact `i` came from, for errors.
    fn place(&self, i: usize) -> String {
        match self.lines.get(i) {
            Some(line) => format!("{}:{line}", self.origin),
            None => format!("{}: contact {}", self.origin, i + 1),
        }
    }
}

/// serde's message without its own " at line L column C" (the place says it).
fn json_message(e: &serde_json::Error) -> String {
    let m = e.to_string();
    match m.rfind(" at line ") {
        Some(i) => m[..i].to_string(),
        None => m,
    }
}

fn csv_contact(header: &[String], record: &csv::StringRecord) -> Result<SeedContact, String> {
    let mut c = SeedContact::default();
    for (name, value) in header.iter().zip(record.iter()) {
        let some = || (!value.is_empty()).then(|| value.to_string());
        match name.as_str() {
            "email" => c.email = value.to_string(),
            "first_name" => c.first_name = some(),
            "last_name" => c.last_name = some(),
            "phone" => c.phone = some(),
            "tags" => c.tags = split(value).map(str::to_string).collect(),
            "lists" => {
                for item in split(value) {
                    let (list, status) = item.rsplit_once(':').unwrap_or((item, "active"));
                    let status = SeedStatus::Word(status.to_string());
                    status.code()?;
                    c.lists.insert(list.trim().to_string(), status);
                }
            }
            field if !value.is_empty() => {
                c.fields
                    .insert(field.to_ascii_uppercase(), value.to_string());
            }
            _ => {}
        }
    }
    Ok(c)
}

fn split(v: &str) -> impl Iterator<Item = &str> {
    v.split(';').map(str::trim).filter(|s| !s.is_empty())
}

/// What a seed added, for the operator's console.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeedSummary {
    pub lists: usize,
    pub fields: usize,
    pub contacts: usize,
}

impl Seed {
    /// Adds the seed to `a`: lists and fields missing are created, contacts
    /// upserted by email, memberships set as by an admin. Stops at the
    /// first contact the account refuses.
    pub fn apply(&self, a: &mut Account) -> Result<SeedSummary, SeedError> {
        let (lists, fields) = (a.lists.len(), a.fields.len());
        for name in &self.lists {
            list_id(a, name);
        }
        for f in &self.fields {
            let options: Vec<&str> = f.options.iter().map(String::as_str).collect();
            if field_id(a, &f.perstag).is_none() {
                let title = f.title.as_deref().unwrap_or(&f.perstag);
                let kind = f.kind.as_deref().unwrap_or("text");
                a.add_field(&f.perstag, title, kind, &options);
            }
        }
        for (i, c) in self.contacts.iter().enumerate() {
            let error = |message: String| SeedError {
                place: self.place(i),
                message,
            };
            apply_contact(a, c).map_err(error)?;
        }
        Ok(SeedSummary {
            lists: a.lists.len() - lists,
            fields: a.fields.len() - fields,
            contacts: self.contacts.len(),
        })
    }
}

fn list_id(a: &mut Account, name: &str) -> u64 {
    match a.lists.values().find(|l| l.name == name) {
        Some(l) => l.id,
        None => a.add_list(name),
    }
}

fn field_id(a: &Account, perstag: &str) -> Option<u64> {
    let tag = perstag.trim().to_uppercase();
    a.fields.iter().find(|f| f.perstag == tag).map(|f| f.id)
}

fn apply_contact(a: &mut Account, c: &SeedContact) -> Result<(), String> {
    let email = c.email.trim();
    if !super::values::email_deliverable(email) {
        return Err(format!("`{}` is not an email address", cut(email)));
    }
    let mut values = Vec::new();
    for (tag, value) in &c.fields {
        let id = match field_id(a, tag) {
            Some(id) => id,
            None => a.add_field(tag, tag, "text", &[]),
        };
        values.push((id, value.clone()));
    }
    a.check_fields(&values)?;
    let mut memberships = Vec::new();
    for (list, status) in &c.lists {
        memberships.push((list_id(a, list), status.code()?));
    }
    let patch = ContactPatch {
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        phone: c.phone.clone(),
        fields: values,
        tags: c.tags.clone(),
    };
    let (id, _) = a.upsert_contact(email, patch);
    for (list, status) in memberships {
        a.set_membership(id, list, status, ChangedBy::Admin)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_seed_creates_lists_fields_contacts_and_memberships() {
        let text = r#"{"lists": ["Newsletter"],
            "fields": [{"perstag": "tier", "type": "dropdown", "options": ["Gold"]}],
            "contacts": [{"email": "Ann@Example.com", "first_name": "Ann",
                "fields": {"TIER": "Gold", "COMPANY": "Acme"},
                "lists": {"Newsletter": "active", "VIP": "unsubscribed"}}]}"#;
        let seed = Seed::from_json("seed.json", text).expect("parse");
        let mut a = Account::default();
        let sum = seed.apply(&mut a).expect("apply");
        assert_eq!(
            sum,
            SeedSummary {
                lists: 2,
                fields: 2,
                contacts: 1
            }
        );
        let ann = a
            .contact_by_email("ann@example.com")
            .expect("ann")
            .data
            .clone();
        assert_eq!(ann.first_name, "Ann");
        assert_eq!(
            ann.fields.values().cloned().collect::<Vec<_>>(),
            ["Gold", "Acme"]
        );
        assert_eq!(a.membership(ann.id, 1).map(|m| m.status), Some(1));
        assert_eq!(a.membership(ann.id, 2).map(|m| m.status), Some(2));
    }

    #[test]
    fn csv_seed_reads_lists_tags_and_field_columns() {
        let text = "email,first_name,lists,tags,COMPANY\n\
                    a@example.com,Ann,Newsletter;VIP:unsubscribed,x;y,Acme\n\
                    b@example.com,,Newsletter,,\n";
        let seed = Seed::from_csv("s.csv", text).expect("parse");
        let mut a = Account::default();
        seed.apply(&mut a).expect("apply");
        assert_eq!(a.active_emails(1).len(), 2);
        let ann = a.contact_by_email("a@example.com").expect("a").data.clone();
        assert_eq!(ann.tags, ["x", "y"]);
        assert_eq!(a.membership(ann.id, 2).map(|m| m.status), Some(2));
        assert_eq!(a.fields[0].perstag, "COMPANY");
    }

    #[test]
    fn seed_errors_name_the_place() {
        let err = Seed::from_json("s.json", "{\n \"contacts\": 3}").err();
        assert_eq!(err.map(|e| e.place), Some("s.json:2:14".to_string()));
        let bad = "email,lists\na@example.com,L\nb@example.com,L:gone\n";
        let err = Seed::from_csv("s.csv", bad).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.starts_with("s.csv:3: unknown list status `gone`")),
            "{err:?}"
        );
        let refused = "email,BIRTHDAY\na@example.com,2020-01-01\nb@example.com,01/02/2020\n";
        let seed = Seed::from_csv("s.csv", refused).expect("parse");
        let mut a = Account::default();
        a.add_field("BIRTHDAY", "Birthday", "date", &[]);
        let err = seed.apply(&mut a).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.starts_with("s.csv:3: Invalid value")),
            "{err:?}"
        );
    }
}
