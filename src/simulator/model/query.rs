//! `GET /api/3/contacts` filtering and paging (§2.5, §3.3) over the
//! [`Account`](super::account::Account) indexes.
//!
//! Every page is a range walk on an index chosen by the filters (email
//! index, a list's per-status set, a list's members, or all contacts), so a
//! 100,000-member paged read costs O(page) per request with `id_greater`.
//! `offset` still walks the skipped rows: the docs warn it is slow (§2.5).
//! The date filters (`filters[updated_after]` and kin) have no index: a
//! read with one walks the whole candidate set of its other filters.

use std::collections::BTreeSet;
use std::ops::Bound;

use super::account::Account;
use super::records::Contact;

/// Documented default and cap of `limit` (§2.5 "Pagination").
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

/// The filters the simulator understands. Unknown parameters are ignored,
/// as AC ignores them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactQuery {
    pub listid: Option<u64>,
    /// `None` (or `-1` on the wire) means any status.
    pub status: Option<u8>,
    pub email: Option<String>,
    /// `ids[]=1&ids[]=2` (§2.5, §11): only these contacts.
    pub ids: Option<Vec<u64>>,
    pub id_greater: Option<u64>,
    pub id_less: Option<u64>,
    pub dates: DateFilters,
    pub descending: bool,
    pub limit: usize,
    pub offset: usize,
}

/// `filters[created_after]`, `[created_before]`, `[updated_after]`,
/// `[updated_before]` (activecampaign-api.md §12, "Reading only what
/// changed"), as Unix seconds: strict comparisons against the contact's
/// `cdate` and `udate`, to the second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DateFilters {
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    pub updated_after: Option<i64>,
    pub updated_before: Option<i64>,
}

impl DateFilters {
    fn is_empty(&self) -> bool {
        *self == DateFilters::default()
    }

    fn admits(&self, c: &Contact) -> bool {
        self.created_after.is_none_or(|t| c.cdate > t)
            && self.created_before.is_none_or(|t| c.cdate < t)
            && self.updated_after.is_none_or(|t| c.udate > t)
            && self.updated_before.is_none_or(|t| c.udate < t)
    }
}

/// One page plus the match count.
///
/// `total` counts the filters *without* the `id_greater`/`id_less` cursor and
/// without paging: AC does not document which it is (§10), and a stable total
/// across cursor pages is what clients use for progress. It keeps `total`
/// O(1) for list filters.
pub struct Page<'a> {
    pub contacts: Vec<&'a Contact>,
    pub total: u64,
}

impl Account {
    pub fn query_contacts(&self, q: &ContactQuery) -> Page<'_> {
        let lo = q.id_greater.map_or(Bound::Unbounded, Bound::Excluded);
        let hi = q.id_less.map_or(Bound::Unbounded, Bound::Excluded);
        let (ids, total) = if q.dates.is_empty() {
            self.candidates(q, (lo, hi))
        } else {
            self.dated_candidates(q, (lo, hi))
        };
        let ids: Box<dyn Iterator<Item = u64> + '_> = if q.descending {
            Box::new(ids.rev())
        } else {
            Box::new(ids)
        };
        let contacts = ids
            .skip(q.offset)
            .take(q.limit)
            .filter_map(|id| self.contact(id))
            .collect();
        Page { contacts, total }
    }

    /// Matching ids within the cursor bounds, ascending, and the total.
    fn candidates(
        &self,
        q: &ContactQuery,
        range: (Bound<u64>, Bound<u64>),
    ) -> (Box<dyn DoubleEndedIterator<Item = u64> + '_>, u64) {
        if let Some(email) = &q.email {
            let hit: Vec<u64> = self
                .contact_by_email(email)
                .map(|c| c.data.id)
                .filter(|id| self.on_list(*id, q.listid, q.status))
                .into_iter()
                .collect();
            let total = hit.len() as u64;
            let inside = hit.into_iter().filter(move |id| in_range(*id, range));
            return (Box::new(inside), total);
        }
        if let Some(ids) = &q.ids {
            let mut hit: Vec<u64> = ids
                .iter()
                .copied()
                .filter(|id| {
                    self.contact(*id).is_some()
                        && (self.ids_ignore_list_filter || self.on_list(*id, q.listid, q.status))
                })
                .collect();
            hit.sort_unstable();
            hit.dedup();
            let total = hit.len() as u64;
            let inside = hit.into_iter().filter(move |id| in_range(*id, range));
            return (Box::new(inside), total);
        }
        match (q.listid, q.status) {
            (Some(list), Some(s)) if self.global_status_filter => {
                self.global_candidates(list, s, range)
            }
            (Some(list), status) => self.list_candidates(list, status, range),
            (None, Some(status)) => self.status_candidates(status, range),
            (None, None) => {
                let total = self.max_contact_id();
                let ids = contact_id_range(total, range);
                (Box::new(ids), total)
            }
        }
    }

    /// [`Account::candidates`] narrowed by the date filters. The total walks
    /// every candidate without the cursor; the page walks from the cursor.
    fn dated_candidates(
        &self,
        q: &ContactQuery,
        range: (Bound<u64>, Bound<u64>),
    ) -> (Box<dyn DoubleEndedIterator<Item = u64> + '_>, u64) {
        let dates = q.dates;
        let admitted = move |id: &u64| self.contact(*id).is_some_and(|c| dates.admits(c));
        let (every, _) = self.candidates(q, (Bound::Unbounded, Bound::Unbounded));
        let total = every.filter(admitted).count() as u64;
        let (inside, _) = self.candidates(q, range);
        (Box::new(inside.filter(admitted)), total)
    }

    fn list_candidates(
        &self,
        list: u64,
        status: Option<u8>,
        range: (Bound<u64>, Bound<u64>),
    ) -> (Box<dyn DoubleEndedIterator<Item = u64> + '_>, u64) {
        let Some(l) = self.lists.get(&list) else {
            return (Box::new(std::iter::empty()), 0);
        };
        if !valid_range(range) {
            return (Box::new(std::iter::empty()), 0);
        }
        match status {
            // Per-list status when combined with listid: our documented
            // assumption (§3.3), to be verified against a live account.
            Some(s) => match l.by_status.get(&s) {
                Some(set) => (Box::new(set.range(range).copied()), set.len() as u64),
                None => (Box::new(std::iter::empty()), 0),
            },
            None => (
                Box::new(l.members.range(range).map(|(id, _)| *id)),
                l.members.len() as u64,
            ),
        }
    }

    /// The fault model of [`Account::global_status_filter`]: members of
    /// `list` whose status on any list is `status`.
    fn global_candidates(
        &self,
        list: u64,
        status: u8,
        range: (Bound<u64>, Bound<u64>),
    ) -> (Box<dyn DoubleEndedIterator<Item = u64> + '_>, u64) {
        let (members, _) = self.list_candidates(list, None, range);
        let hit: Vec<u64> = members
            .filter(|id| self.on_list(*id, None, Some(status)))
            .collect();
        let total = hit.len() as u64;
        (Box::new(hit.into_iter()), total)
    }

    /// `status` without `listid`: contacts with that status on any list.
    /// Rare in practice; merges the per-list sets (O(matches)).
    fn status_candidates(
        &self,
        status: u8,
        range: (Bound<u64>, Bound<u64>),
    ) -> (Box<dyn DoubleEndedIterator<Item = u64> + '_>, u64) {
        let union: BTreeSet<u64> = self
            .lists
            .values()
            .filter_map(|l| l.by_status.get(&status))
            .flat_map(|s| s.iter().copied())
            .collect();
        let total = union.len() as u64;
        let inside: Vec<u64> = if valid_range(range) {
            union.range(range).copied().collect()
        } else {
            Vec::new()
        };
        (Box::new(inside.into_iter()), total)
    }

    fn on_list(&self, contact: u64, list: Option<u64>, status: Option<u8>) -> bool {
        match (list, status) {
            (None, None) => true,
            (Some(l), Some(s)) if self.global_status_filter => {
                self.membership(contact, l).is_some() && self.on_list(contact, None, Some(s))
            }
            (Some(l), s) => self
                .membership(contact, l)
                .is_some_and(|m| s.is_none_or(|s| m.status == s)),
            (None, Some(s)) => self
                .contact_lists(contact)
                .iter()
                .any(|(_, m)| m.status == s),
        }
    }
}

fn in_range(id: u64, (lo, hi): (Bound<u64>, Bound<u64>)) -> bool {
    let above = match lo {
        Bound::Excluded(l) => id > l,
        Bound::Included(l) => id >= l,
        Bound::Unbounded => true,
    };
    let below = match hi {
        Bound::Excluded(h) => id < h,
        Bound::Included(h) => id <= h,
        Bound::Unbounded => true,
    };
    above && below
}

/// `BTreeMap::range` panics on an empty or inverted excluded range
/// (`id_greater=5&id_less=5`); a request must never panic, so check first.
fn valid_range((lo, hi): (Bound<u64>, Bound<u64>)) -> bool {
    match (lo, hi) {
        (Bound::Excluded(l), Bound::Excluded(h)) => l < h,
        _ => true,
    }
}

/// Ids 1..=max within the bounds (contacts are dense from 1).
fn contact_id_range(
    max: u64,
    (lo, hi): (Bound<u64>, Bound<u64>),
) -> impl DoubleEndedIterator<Item = u64> {
    let start = match lo {
        Bound::Excluded(l) => l.saturating_add(1),
        Bound::Included(l) => l,
        Bound::Unbounded => 1,
    }
    .max(1);
    let end = match hi {
        Bound::Excluded(h) => h.saturating_sub(1),
        Bound::Included(h) => h,
        Bound::Unbounded => max,
    }
    .min(max);
    start..=end
}

#[cfg(test)]
mod tests {
    use super::super::records::{ChangedBy, ContactPatch};
    use super::*;

    fn account(n: u64) -> (Account, u64) {
        let mut a = Account::default();
        let l = a.add_list("L");
        for i in 1..=n {
            let (id, _) = a.upsert_contact(&format!("u{i}@x.io"), ContactPatch::default());
            let status = if i % 3 == 0 { 2 } else { 1 };
            let _ = a.set_membership(id, l, status, ChangedBy::Api);
        }
        (a, l)
    }

    fn ids(p: &Page<'_>) -> Vec<u64> {
        p.contacts.iter().map(|c| c.data.id).collect()
    }

    #[test]
    fn per_list_status_with_cursor_section_3_3() {
        let (a, l) = account(10);
        let q = ContactQuery {
            listid: Some(l),
            status: Some(2),
            id_greater: Some(3),
            limit: 100,
            ..Default::default()
        };
        let p = a.query_contacts(&q);
        assert_eq!(ids(&p), vec![6, 9]);
        assert_eq!(p.total, 3);
    }

    #[test]
    fn inverted_cursor_is_empty_not_a_panic() {
        let (a, l) = account(3);
        for listid in [None, Some(l)] {
            let q = ContactQuery {
                listid,
                id_greater: Some(5),
                id_less: Some(5),
                limit: 20,
                ..Default::default()
            };
            assert!(a.query_contacts(&q).contacts.is_empty());
        }
    }
}
