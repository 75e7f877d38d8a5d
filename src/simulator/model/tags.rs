//! The account's tag registry (§5.3): tag names unique case-insensitively
//! and contact-tag rows. Bulk import adds tags through it ("New tags will be
//! created if they do not already exist", §4.2). The contact side (a
//! contact's tag names) is kept in step by the account (`account.rs`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct TagDef {
    pub name: String,
    pub description: String,
    pub cdate: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Tags {
    /// Tag id = index + 1.
    defs: Vec<TagDef>,
    /// Lowercased name -> id (rebuilt on load).
    #[serde(skip)]
    by_name: HashMap<String, u64>,
    /// contactTag id -> (contact, tag).
    rows: BTreeMap<u64, (u64, u64)>,
    /// (contact, tag) -> contactTag id (rebuilt on load).
    #[serde(skip)]
    by_pair: HashMap<(u64, u64), u64>,
    next_row: u64,
}

impl Tags {
    pub fn def(&self, id: u64) -> Option<&TagDef> {
        self.defs.get(usize::try_from(id.checked_sub(1)?).ok()?)
    }

    /// Tag ids, 1 to the number of tags.
    pub fn ids(&self) -> std::ops::RangeInclusive<u64> {
        1..=self.defs.len() as u64
    }

    pub fn id_of(&self, name: &str) -> Option<u64> {
        self.by_name.get(&name.to_lowercase()).copied()
    }

    /// `None` when a tag of that name (any case) exists: AC refuses
    /// duplicates and matches names case-insensitively (§5.3).
    pub fn create(&mut self, name: &str, description: &str, now: i64) -> Option<u64> {
        let key = name.to_lowercase();
        if self.by_name.contains_key(&key) {
            return None;
        }
        let id = self.defs.len() as u64 + 1;
        self.defs.push(TagDef {
            name: name.to_string(),
            description: description.to_string(),
            cdate: now,
        });
        self.by_name.insert(key, id);
        Some(id)
    }

    /// The contactTag row of (contact, tag), if any.
    pub fn row(&self, contact: u64, tag: u64) -> Option<u64> {
        self.by_pair.get(&(contact, tag)).copied()
    }

    /// Adds a row for (contact, tag); the caller checked both exist.
    pub fn add_row(&mut self, contact: u64, tag: u64) -> u64 {
        self.next_row += 1;
        let row = self.next_row;
        self.rows.insert(row, (contact, tag));
        self.by_pair.insert((contact, tag), row);
        row
    }

    /// Removes a row; returns its (contact, tag) when it existed.
    pub fn remove_row(&mut self, row: u64) -> Option<(u64, u64)> {
        let pair = self.rows.remove(&row)?;
        self.by_pair.remove(&pair);
        Some(pair)
    }

    /// Rebuilds the name and pair indexes (after a snapshot is loaded).
    pub fn reindex(&mut self) {
        self.by_name = self
            .defs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.to_lowercase(), i as u64 + 1))
            .collect();
        self.by_pair = self.rows.iter().map(|(row, pair)| (*pair, *row)).collect();
    }
}
