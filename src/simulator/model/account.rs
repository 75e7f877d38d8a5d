//! The simulated account: contacts, lists with their memberships, custom
//! fields, tags and the exclusion list. Pure data plus invariants (unique
//! emails, per-status member indexes); no HTTP and no clock of its own.
//!
//! Sizes the simulator must carry (1,000,000 contacts, 100,000-member lists)
//! shape the layout: contacts live in a `Vec` indexed by id (ids are dense
//! and never reused, deletion is not modelled), every list keeps its members
//! in a `BTreeMap` by contact id plus one `BTreeSet` per status, so a page of
//! `GET /contacts?listid=&status=&id_greater=` is a range walk, never a scan.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::fields::{self, Field};
use super::records::{
    ChangedBy, Contact, ContactPatch, List, Membership, MembershipError, SimContact, SimMembership,
    UnsubscribeMark, now_unix,
};
use super::tags::Tags;
use super::zone::AccountTimes;

/// Serialised as is for `--state-file` (see `snapshot.rs`); the
/// skipped indexes are rebuilt by [`Account::reindex`].
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Account {
    contacts: Vec<Contact>,
    #[serde(skip)]
    by_email: HashMap<String, u64>,
    pub lists: BTreeMap<u64, List>,
    pub fields: Vec<Field>,
    excluded: HashSet<String>,
    next_membership: u64,
    /// Fault model for acsync's cross-check (docs/ownership.md): `status` combined
    /// with `listid` filters by the contact's status on ANY list instead of
    /// on that list. ActiveCampaign does not document which it does. A
    /// fault knob, not account data: not saved.
    #[serde(skip)]
    pub global_status_filter: bool,
    /// Fault model for the removal check (docs/verification.md): `listid`
    /// and `status` ignored when `ids[]` is present, so every asked
    /// contact comes back. Undocumented either way. Not saved.
    #[serde(skip)]
    pub ids_ignore_list_filter: bool,
    /// Fault model: `include=contactLists` not honoured on `GET /contacts`
    /// (a third-party observation, not documented). Not saved.
    #[serde(skip)]
    pub include_ignored: bool,
    /// Fault model: first name, last name and phone stored in another form
    /// than sent, trimmed and cut to this many characters (what
    /// ActiveCampaign does to values is undocumented: fact sheet §12,
    /// "Normalisation of stored values"). Not saved.
    #[serde(skip)]
    pub stored_form: Option<usize>,
    /// Fault model for the drift check (docs/run-rules.md, full reads): a
    /// list membership created or changing status leaves the contact's
    /// `udate` where it was, so `filters[updated_after]` misses it.
    /// Whether it moves is undocumented (activecampaign-api.md §12,
    /// "Reading only what changed"); by default it does. Not saved.
    #[serde(skip)]
    pub status_change_keeps_udate: bool,
    /// The account's zone and how times are written in it (see `zone.rs`):
    /// a setting of the simulator, not saved with the account.
    #[serde(skip)]
    pub times: AccountTimes,
    /// Tag registry and contact-tag rows (see `tags.rs`).
    pub tags: Tags,
}

impl Account {
    /// Rebuilds every index that is not saved: the email index, each
    /// list's per-status sets and the tag indexes. Fails when the contacts
    /// are not dense from 1 (ids are their positions).
    pub fn reindex(&mut self) -> Result<(), String> {
        self.by_email.clear();
        for (i, c) in self.contacts.iter().enumerate() {
            if c.data.id != i as u64 + 1 {
                return Err(format!("contact #{} has id {}", i + 1, c.data.id));
            }
            if !c.deleted {
                self.by_email.insert(c.data.email.to_lowercase(), c.data.id);
            }
        }
        self.lists.values_mut().for_each(List::reindex);
        self.tags.reindex();
        Ok(())
    }

    pub fn add_list(&mut self, name: &str) -> u64 {
        let id = self.lists.len() as u64 + 1;
        let stringid = name
            .to_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let list = List {
            id,
            name: name.to_string(),
            stringid,
            cdate: now_unix(),
            members: BTreeMap::new(),
            by_status: BTreeMap::new(),
        };
        self.lists.insert(id, list);
        id
    }

    pub fn add_field(&mut self, perstag: &str, title: &str, kind: &str, options: &[&str]) -> u64 {
        let id = self.fields.len() as u64 + 1;
        self.fields.push(Field {
            id,
            perstag: perstag.to_uppercase(),
            title: title.to_string(),
            kind: kind.to_string(),
            options: options.iter().map(|o| (*o).to_string()).collect(),
        });
        id
    }

    /// Why ActiveCampaign would refuse these field values, if it would (see
    /// [`super::fields`]).
    pub fn check_fields(&self, values: &[(u64, String)]) -> Result<(), String> {
        for (id, value) in values {
            let field = self.fields.iter().find(|f| f.id == *id);
            fields::check(field, *id, value)?;
        }
        Ok(())
    }

    pub fn exclude(&mut self, email: &str) {
        self.excluded.insert(email.to_lowercase());
    }

    pub fn is_excluded(&self, email: &str) -> bool {
        self.excluded.contains(&email.to_lowercase())
    }

    pub fn contact(&self, id: u64) -> Option<&Contact> {
        let idx = usize::try_from(id.checked_sub(1)?).ok()?;
        self.contacts.get(idx).filter(|c| !c.deleted)
    }

    pub fn contact_mut(&mut self, id: u64) -> Option<&mut Contact> {
        let idx = usize::try_from(id.checked_sub(1)?).ok()?;
        self.contacts.get_mut(idx).filter(|c| !c.deleted)
    }

    /// `DELETE /contacts/{id}` (§2.7): the contact, its email and every list
    /// membership disappear. False when there is no such contact.
    pub fn delete_contact(&mut self, id: u64) -> bool {
        let Some(c) = self.contact_mut(id) else {
            return false;
        };
        c.deleted = true;
        let email = c.data.email.clone();
        self.by_email.remove(&email);
        for l in self.lists.values_mut() {
            if let Some(m) = l.members.remove(&id)
                && let Some(set) = l.by_status.get_mut(&m.status)
            {
                set.remove(&id);
            }
        }
        true
    }

    pub fn contact_by_email(&self, email: &str) -> Option<&Contact> {
        self.by_email
            .get(&email.to_lowercase())
            .and_then(|id| self.contact(*id))
    }

    /// Contacts that exist (deleted ones excluded).
    pub fn contact_count(&self) -> usize {
        self.contacts.iter().filter(|c| !c.deleted).count()
    }

    /// The highest contact id (contacts are dense from 1).
    pub fn max_contact_id(&self) -> u64 {
        self.contacts.len() as u64
    }

    /// Upsert by email, case-insensitively (§2.2): the one way contacts are
    /// created, so emails stay unique. Returns (id, created).
    pub fn upsert_contact(&mut self, email: &str, mut patch: ContactPatch) -> (u64, bool) {
        let key = email.to_lowercase();
        let now = now_unix();
        let (id, created) = match self.by_email.get(&key) {
            Some(id) => (*id, false),
            None => {
                let id = self.contacts.len() as u64 + 1;
                let data = SimContact {
                    id,
                    email: key.clone(),
                    first_name: String::new(),
                    last_name: String::new(),
                    phone: String::new(),
                    fields: BTreeMap::new(),
                    tags: Vec::new(),
                };
                self.contacts.push(Contact {
                    data,
                    cdate: now,
                    udate: now,
                    deleted: false,
                });
                self.by_email.insert(key, id);
                (id, true)
            }
        };
        let tags = std::mem::take(&mut patch.tags);
        if let Some(max) = self.stored_form {
            for v in [
                &mut patch.first_name,
                &mut patch.last_name,
                &mut patch.phone,
            ] {
                *v = v.take().map(|s| s.trim().chars().take(max).collect());
            }
        }
        let known_fields = self.fields.len() as u64;
        if let Some(c) = self.contact_mut(id) {
            apply_patch(&mut c.data, patch, known_fields);
            c.udate = now;
        }
        // Bulk import only adds tags, creating unknown ones (§4.2).
        for name in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            let tag = self.ensure_tag(name);
            let _ = self.tag_contact(id, tag);
        }
        (id, created)
    }

    /// Re-key a contact under a new email (`PUT /contacts/{id}`, §2.3).
    /// False when another contact holds that email (any case).
    pub fn change_email(&mut self, id: u64, email: &str) -> bool {
        let key = email.to_lowercase();
        match self.by_email.get(&key) {
            Some(owner) => return *owner == id,
            None if self.contact(id).is_none() => return false,
            None => {}
        }
        if let Some(c) = self.contact_mut(id) {
            let old = std::mem::replace(&mut c.data.email, key.clone());
            if old != key {
                c.udate = now_unix();
            }
            self.by_email.remove(&old);
            self.by_email.insert(key, id);
        }
        true
    }

    pub fn membership(&self, contact: u64, list: u64) -> Option<&Membership> {
        self.lists.get(&list)?.members.get(&contact)
    }

    /// Set a membership's status, creating the row if needed. A new row or
    /// a new status moves the contact's `udate` too, unless
    /// [`Account::status_change_keeps_udate`].
    pub fn set_membership(
        &mut self,
        contact: u64,
        list: u64,
        status: u8,
        by: ChangedBy,
    ) -> Result<&Membership, MembershipError> {
        if self.contact(contact).is_none() {
            return Err(MembershipError::NoContact(contact));
        }
        if !self.lists.contains_key(&list) {
            return Err(MembershipError::NoList(list));
        }
        let now = now_unix();
        let changes = self
            .membership(contact, list)
            .is_none_or(|m| m.status != status);
        if changes
            && !self.status_change_keeps_udate
            && let Some(c) = self.contact_mut(contact)
        {
            c.udate = now;
        }
        let next_id = self.next_membership + 1;
        let l = self
            .lists
            .get_mut(&list)
            .ok_or(MembershipError::NoList(list))?;
        let row = l.members.entry(contact).or_insert_with(|| Membership {
            id: next_id,
            status: u8::MAX, // replaced below; forces the index update
            changed_by: by,
            sdate: now,
            udate: now,
            mark: UnsubscribeMark::default(),
            sourceid: 0,
        });
        if row.id == next_id {
            self.next_membership = next_id;
        }
        if row.status != status {
            if let Some(set) = l.by_status.get_mut(&row.status) {
                set.remove(&contact);
            }
            l.by_status.entry(status).or_default().insert(contact);
            row.status = status;
            row.changed_by = by;
            row.udate = now;
            row.mark = UnsubscribeMark::of(by, status);
        }
        Ok(row)
    }

    /// Records the `sourceid` a `POST /contactLists` sent on its row.
    pub fn set_membership_source(&mut self, contact: u64, list: u64, sourceid: u64) {
        let row = self
            .lists
            .get_mut(&list)
            .and_then(|l| l.members.get_mut(&contact));
        if let Some(m) = row {
            m.sourceid = sourceid;
        }
    }

    /// Overrides a membership row's change time (test seeding).
    pub fn set_membership_udate(&mut self, contact: u64, list: u64, udate: i64) -> bool {
        let row = self
            .lists
            .get_mut(&list)
            .and_then(|l| l.members.get_mut(&contact));
        row.map(|m| m.udate = udate).is_some()
    }

    /// Moves every record date `secs` into the past: contacts' `cdate` and
    /// `udate`, memberships' `sdate` and `udate`, lists' `cdate`. The
    /// account is as if all of it had happened that much earlier.
    pub fn age(&mut self, secs: i64) {
        for c in &mut self.contacts {
            c.cdate -= secs;
            c.udate -= secs;
        }
        for l in self.lists.values_mut() {
            l.cdate -= secs;
            for m in l.members.values_mut() {
                m.sdate -= secs;
                m.udate -= secs;
            }
        }
    }

    /// Every list membership of one contact, in list id order.
    pub fn contact_lists(&self, contact: u64) -> Vec<(u64, &Membership)> {
        self.lists
            .values()
            .filter_map(|l| l.members.get(&contact).map(|m| (l.id, m)))
            .collect()
    }

    pub fn members(&self, list: u64) -> Vec<SimMembership> {
        let Some(l) = self.lists.get(&list) else {
            return Vec::new();
        };
        l.members
            .iter()
            .filter_map(|(cid, m)| {
                let c = self.contact(*cid)?;
                Some(SimMembership {
                    contact_id: *cid,
                    email: c.data.email.clone(),
                    status: m.status,
                    changed_by: m.changed_by,
                    sourceid: m.sourceid,
                })
            })
            .collect()
    }

    pub fn active_emails(&self, list: u64) -> BTreeSet<String> {
        let Some(ids) = self.lists.get(&list).and_then(|l| l.by_status.get(&1)) else {
            return BTreeSet::new();
        };
        ids.iter()
            .filter_map(|id| self.contact(*id).map(|c| c.data.email.clone()))
            .collect()
    }

    /// Emails present more than once, compared case-insensitively. An
    /// invariant check for tests: must always be empty.
    pub fn duplicate_emails(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut dups = BTreeSet::new();
        for c in self.contacts.iter().filter(|c| !c.deleted) {
            let key = c.data.email.to_lowercase();
            if !seen.insert(key.clone()) {
                dups.insert(key);
            }
        }
        dups.into_iter().collect()
    }
}

/// Tags on contacts: the registry plus each contact's tag names, in step.
impl Account {
    /// The id of the tag named `name` (any case), created if missing.
    pub fn ensure_tag(&mut self, name: &str) -> u64 {
        if let Some(id) = self.tags.id_of(name) {
            return id;
        }
        self.tags.create(name, "", now_unix()).unwrap_or_default()
    }

    /// Tag a contact; returns the contactTag row id (existing or new).
    /// `None` when the contact or tag does not exist.
    pub fn tag_contact(&mut self, contact: u64, tag: u64) -> Option<u64> {
        let name = self.tags.def(tag)?.name.clone();
        if let Some(row) = self.tags.row(contact, tag) {
            return Some(row);
        }
        let c = self.contact_mut(contact)?;
        if !c.data.tags.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
            c.data.tags.push(name);
        }
        Some(self.tags.add_row(contact, tag))
    }

    /// Removes a contactTag row; false when there is none.
    pub fn untag(&mut self, row: u64) -> bool {
        let Some((contact, tag)) = self.tags.remove_row(row) else {
            return false;
        };
        let name = self.tags.def(tag).map(|d| d.name.clone());
        if let (Some(c), Some(name)) = (self.contact_mut(contact), name) {
            c.data.tags.retain(|t| !t.eq_ignore_ascii_case(&name));
        }
        true
    }
}

fn apply_patch(c: &mut SimContact, patch: ContactPatch, known_fields: u64) {
    if let Some(v) = patch.first_name {
        c.first_name = v;
    }
    if let Some(v) = patch.last_name {
        c.last_name = v;
    }
    if let Some(v) = patch.phone {
        c.phone = v;
    }
    // Writes refuse unknown ids before they get here (`check_fields`); a
    // value for a field that does not exist is never stored (§2.4).
    for (id, value) in patch.fields {
        if id >= 1 && id <= known_fields {
            c.fields.insert(id, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_index_follows_status_changes() {
        let mut a = Account::default();
        let l = a.add_list("Newsletter");
        let (c, _) = a.upsert_contact("A@x.io", ContactPatch::default());
        assert!(a.set_membership(c, l, 1, ChangedBy::Api).is_ok());
        assert!(a.set_membership(c, l, 2, ChangedBy::Contact).is_ok());
        let list = &a.lists[&l];
        assert!(list.by_status[&1].is_empty());
        assert!(list.by_status[&2].contains(&c));
        assert_eq!(list.stringid, "newsletter");
        assert_eq!(
            a.set_membership(99, l, 1, ChangedBy::Api).err(),
            Some(MembershipError::NoContact(99))
        );
    }
}
