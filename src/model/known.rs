//! [`Known`]: what an export knows about its list members, keyed by email,
//! in about half the memory of a `HashMap<String, Member>`.
//!
//! A map keyed by email stores every address twice (the key and
//! [`Member::email`]) and 88-byte buckets, of which a map sized for a
//! million entries holds two million: ~250 MB for a million members. Here the
//! members sit in one vector (64 bytes each, one address each) and the index
//! is a table of 4-byte positions keyed by the xxh3 hash of the email,
//! compared exactly on lookup: ~107 MB for a million. Positions are stable
//! (members are never removed), so the planner can mark members in a bitset
//! instead of a set of addresses.

use std::collections::HashMap;

use hashbrown::HashTable;

use super::member::Member;

/// This export's members keyed by (lowercased) email. Members are only
/// added or changed in place, never removed; an email is never changed once
/// inserted (the index is keyed on it).
#[derive(Debug, Clone, Default)]
pub struct Known {
    members: Vec<Member>,
    /// Positions in `members`, hashed by [`hash`] of the email.
    index: HashTable<u32>,
}

fn hash(email: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(email.as_bytes())
}

impl Known {
    pub fn new() -> Known {
        Known::default()
    }

    /// Room for `n` members without reallocating (the state load knows its count).
    pub fn with_capacity(n: usize) -> Known {
        Known {
            members: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The position of `email`'s member: stable for the life of this value.
    pub fn position(&self, email: &str) -> Option<usize> {
        let members = &self.members;
        self.index
            .find(hash(email), |&i| members[i as usize].email == email)
            .map(|&i| i as usize)
    }

    pub fn get(&self, email: &str) -> Option<&Member> {
        self.position(email).map(|i| &self.members[i])
    }

    /// Mutable access to every field but the email, which keys the index.
    pub fn get_mut(&mut self, email: &str) -> Option<&mut Member> {
        self.position(email).map(|i| &mut self.members[i])
    }

    pub fn contains(&self, email: &str) -> bool {
        self.position(email).is_some()
    }

    /// Inserts `member`, or replaces the one with the same email (returned).
    pub fn insert(&mut self, member: Member) -> Option<Member> {
        if let Some(i) = self.position(&member.email) {
            return Some(std::mem::replace(&mut self.members[i], member));
        }
        self.push_unique(member);
        None
    }

    /// Appends a member whose email is not known yet, without looking it up
    /// first: a state load reads emails unique by the table's primary key,
    /// and the lookup was a quarter of a million-member load's time.
    pub(crate) fn push_unique(&mut self, member: Member) {
        debug_assert!(!self.contains(&member.email), "{} twice", member.email);
        let Ok(pos) = u32::try_from(self.members.len()) else {
            // Four billion members of one list is beyond any ActiveCampaign
            // account; refusing loudly beats a silently wrong index.
            panic!("more than u32::MAX members in one export");
        };
        let members = &self.members;
        self.index.insert_unique(hash(&member.email), pos, |&i| {
            hash(&members[i as usize].email)
        });
        self.members.push(member);
    }

    /// Every member, in insertion order (the state's email order after a load).
    pub fn iter(&self) -> std::slice::Iter<'_, Member> {
        self.members.iter()
    }

    /// Every member by position, as [`Known::position`] numbers them.
    pub fn as_slice(&self) -> &[Member] {
        &self.members
    }

    /// Mutable members for merging a full read. Callers must not change an
    /// email: the index would no longer find it.
    pub(crate) fn iter_mut(&mut self) -> std::slice::IterMut<'_, Member> {
        self.members.iter_mut()
    }

    /// The same members as a map (for callers and tests that want one).
    pub fn to_map(&self) -> HashMap<String, Member> {
        self.members
            .iter()
            .map(|m| (m.email.clone(), m.clone()))
            .collect()
    }
}

impl std::ops::Index<&str> for Known {
    type Output = Member;

    /// Like `HashMap`'s: panics when `email` is not known.
    fn index(&self, email: &str) -> &Member {
        match self.get(email) {
            Some(m) => m,
            None => panic!("no known member {email:?}"),
        }
    }
}

impl FromIterator<Member> for Known {
    /// Later members replace earlier ones with the same email.
    fn from_iter<I: IntoIterator<Item = Member>>(iter: I) -> Known {
        let iter = iter.into_iter();
        let mut k = Known::with_capacity(iter.size_hint().0);
        for m in iter {
            k.insert(m);
        }
        k
    }
}

impl From<HashMap<String, Member>> for Known {
    /// Keys are taken from [`Member::email`]: the map must be keyed by it.
    fn from(map: HashMap<String, Member>) -> Known {
        map.into_values().collect()
    }
}

impl PartialEq for Known {
    /// The same members, whatever the order.
    fn eq(&self, other: &Known) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.get(&m.email) == Some(m))
    }
}

impl<'a> IntoIterator for &'a Known {
    type Item = &'a Member;
    type IntoIter = std::slice::Iter<'a, Member>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_replace() {
        let mut k = Known::new();
        assert!(k.insert(Member::unknown("a@x.io")).is_none());
        assert!(k.insert(Member::unknown("b@x.io")).is_none());
        let mut a = Member::unknown("a@x.io");
        a.owned = true;
        let old = k.insert(a.clone()).expect("replaced");
        assert!(!old.owned);
        assert_eq!(k.len(), 2);
        assert_eq!(k["a@x.io"], a);
        assert_eq!(k.position("b@x.io"), Some(1));
        assert!(k.get("c@x.io").is_none());
        k.get_mut("b@x.io").expect("b").contact_id = Some(3);
        assert_eq!(k["b@x.io"].contact_id, Some(3));
    }

    #[test]
    fn map_round_trip_and_equality() {
        let k: Known = (0..1000)
            .map(|i| Member::unknown(format!("u{i}@x.io")))
            .collect();
        let back = Known::from(k.to_map());
        assert_eq!(back, k);
        assert!((0..1000).all(|i| back.contains(&format!("u{i}@x.io"))));
    }
}
