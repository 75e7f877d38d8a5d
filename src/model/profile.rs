//! One profile of a segment: its email and the packed ActiveCampaign fields
//! it maps to (and their hash), and how an email is masked in reports.

use std::fmt;

/// The ActiveCampaign fields one profile maps to. `None` means "not sent":
/// ActiveCampaign keeps whatever value it has.
///
/// Packed into one allocation, 16 bytes inline: a segment holds one per
/// profile, and as three `Option<String>`s and a vector of key/value
/// `String`s it cost 96 bytes inline plus a (32-byte minimum) allocation
/// per value and per custom key, ~250 MB for a million profiles of four
/// columns. Build with [`Fields::new`] or [`Fields::with_custom`]; read with
/// the accessors. Cloning copies one small buffer.
#[derive(Clone, PartialEq, Eq, Default, Hash)]
pub struct Fields {
    /// The present values in slot order, each `[slot][length as LEB128][UTF-8
    /// bytes]`: first name, last name, phone, then each custom pair as a key
    /// slot and a value slot, in key order. `None` when nothing is sent. One
    /// encoding per set of values, so comparing bytes compares values.
    packed: Option<Box<[u8]>>,
}

const FIRST_NAME: u8 = 0;
const LAST_NAME: u8 = 1;
const PHONE: u8 = 2;
const CUSTOM_KEY: u8 = 3;
const CUSTOM_VALUE: u8 = 4;

impl Fields {
    /// Nothing sent: every field keeps its ActiveCampaign value.
    pub const EMPTY: Fields = Fields { packed: None };

    /// First name, last name and phone; no custom field.
    pub fn new(first_name: Option<&str>, last_name: Option<&str>, phone: Option<&str>) -> Fields {
        Fields::with_custom(
            first_name,
            last_name,
            phone,
            std::iter::empty::<(&str, &str)>(),
        )
    }

    /// With custom fields: the `[mapping.fields]` key (a personalization tag
    /// such as `COMPANY`, or a numeric field id) and the value to send.
    /// Pairs are kept sorted by key (stable for equal keys).
    pub fn with_custom<K: AsRef<str>, V: AsRef<str>>(
        first_name: Option<&str>,
        last_name: Option<&str>,
        phone: Option<&str>,
        custom: impl IntoIterator<Item = (K, V)>,
    ) -> Fields {
        let mut custom: Vec<(K, V)> = custom.into_iter().collect();
        custom.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        let standard = [
            (FIRST_NAME, first_name),
            (LAST_NAME, last_name),
            (PHONE, phone),
        ];
        let values = || {
            let standard = standard.iter().filter_map(|&(slot, v)| Some((slot, v?)));
            let custom = custom
                .iter()
                .flat_map(|(k, v)| [(CUSTOM_KEY, k.as_ref()), (CUSTOM_VALUE, v.as_ref())]);
            standard.chain(custom)
        };
        // Sized exactly: one allocation per profile, no growth nor shrink.
        let len = values().map(|(_, v)| packed_len(v)).sum();
        if len == 0 {
            return Fields::EMPTY;
        }
        let mut buf = Vec::with_capacity(len);
        for (slot, v) in values() {
            put(&mut buf, slot, v);
        }
        Fields {
            packed: Some(buf.into_boxed_slice()),
        }
    }

    pub fn first_name(&self) -> Option<&str> {
        self.slot(FIRST_NAME)
    }

    pub fn last_name(&self) -> Option<&str> {
        self.slot(LAST_NAME)
    }

    pub fn phone(&self) -> Option<&str> {
        self.slot(PHONE)
    }

    /// The custom fields, sorted by key.
    pub fn custom(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let mut slots = self.slots().skip_while(|(s, _)| *s < CUSTOM_KEY);
        std::iter::from_fn(move || {
            let (_, key) = slots.next()?;
            let (_, value) = slots.next()?;
            Some((key, value))
        })
    }

    /// First name, last name and phone (those set), by their names.
    pub fn standard(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        [
            ("first_name", self.first_name()),
            ("last_name", self.last_name()),
            ("phone", self.phone()),
        ]
        .into_iter()
        .filter_map(|(name, v)| Some((name, v?)))
    }

    /// Every field sent, by name: the standard ones, then the custom ones.
    pub fn sent(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let standard = self.standard().map(|(name, v)| (name as &str, v));
        standard.chain(self.custom())
    }

    pub fn has_custom(&self) -> bool {
        self.slots().any(|(s, _)| s == CUSTOM_KEY)
    }

    /// Nothing would be sent.
    pub fn is_empty(&self) -> bool {
        self.packed.is_none()
    }

    fn slot(&self, wanted: u8) -> Option<&str> {
        self.slots()
            .take_while(|(s, _)| *s <= wanted)
            .find_map(|(s, v)| (s == wanted).then_some(v))
    }

    /// Decodes the buffer. It is only ever written by [`put`], so it is
    /// well formed; a malformed tail would merely end the iteration.
    fn slots(&self) -> impl Iterator<Item = (u8, &str)> + '_ {
        let mut raw = self.raw_slots();
        std::iter::from_fn(move || {
            let (slot, bytes) = raw.next()?;
            Some((slot, std::str::from_utf8(bytes).ok()?))
        })
    }

    /// [`Fields::slots`] as bytes, for hashing: what [`put`] wrote.
    fn raw_slots(&self) -> impl Iterator<Item = (u8, &[u8])> + '_ {
        let mut rest: &[u8] = self.packed.as_deref().unwrap_or_default();
        std::iter::from_fn(move || {
            let (&slot, tail) = rest.split_first()?;
            let (len, tail) = get_len(tail)?;
            let bytes = tail.get(..len)?;
            rest = &tail[len..];
            Some((slot, bytes))
        })
    }

    /// A stable 64-bit fingerprint of the values we would send. Stored in the
    /// state database, so the encoding must never change between versions:
    /// it hashes the values as the unpacked representation of acsync 0.1
    /// did (first, last, phone as options, then each custom key and value).
    ///
    /// That byte stream is laid out in one buffer and hashed in one call
    /// (xxh3 gives the same digest as feeding it piece by piece), in one
    /// pass over the packed values.
    pub fn hash64(&self) -> u64 {
        let mut stream = LegacyStream::default();
        let mut next_standard = FIRST_NAME;
        for (slot, v) in self.raw_slots() {
            // The standard fields before this one that are not sent.
            while next_standard < slot.min(CUSTOM_KEY) {
                stream.none();
                next_standard += 1;
            }
            next_standard = next_standard.max(slot + 1);
            stream.some(v);
        }
        while next_standard < CUSTOM_KEY {
            stream.none();
            next_standard += 1;
        }
        stream.digest()
    }
}

/// The byte stream [`Fields::hash64`] hashes: each value as `[1][length as
/// u64 LE][bytes]`, each standard field not sent as `[0]`. Kept on the
/// stack for the usual few short values.
#[derive(Default)]
struct LegacyStream {
    inline: InlineBuf,
    spilled: Vec<u8>,
}

/// The stack part of a [`LegacyStream`].
struct InlineBuf {
    bytes: [u8; 256],
    len: usize,
}

impl Default for InlineBuf {
    fn default() -> InlineBuf {
        InlineBuf {
            bytes: [0; 256],
            len: 0,
        }
    }
}

impl LegacyStream {
    fn none(&mut self) {
        self.write(&[0]);
    }

    fn some(&mut self, v: &[u8]) {
        self.write(&[1]);
        self.write(&(v.len() as u64).to_le_bytes());
        self.write(v);
    }

    fn write(&mut self, part: &[u8]) {
        let InlineBuf { bytes, len } = &mut self.inline;
        match bytes.get_mut(*len..*len + part.len()) {
            Some(room) if self.spilled.is_empty() => {
                room.copy_from_slice(part);
                *len += part.len();
            }
            _ => {
                if self.spilled.is_empty() {
                    self.spilled.extend_from_slice(&bytes[..*len]);
                }
                self.spilled.extend_from_slice(part);
            }
        }
    }

    fn digest(&self) -> u64 {
        if self.spilled.is_empty() {
            xxhash_rust::xxh3::xxh3_64(&self.inline.bytes[..self.inline.len])
        } else {
            xxhash_rust::xxh3::xxh3_64(&self.spilled)
        }
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fields")
            .field("first_name", &self.first_name())
            .field("last_name", &self.last_name())
            .field("phone", &self.phone())
            .field("custom", &self.custom().collect::<Vec<_>>())
            .finish()
    }
}

/// How many bytes [`put`] appends for `value`.
fn packed_len(value: &str) -> usize {
    let mut n = value.len();
    let mut len = 2 + n;
    while n >= 0x80 {
        len += 1;
        n >>= 7;
    }
    len
}

/// Appends one value: slot, LEB128 length, bytes.
fn put(buf: &mut Vec<u8>, slot: u8, value: &str) {
    buf.push(slot);
    let mut n = value.len();
    while n >= 0x80 {
        buf.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
    buf.extend_from_slice(value.as_bytes());
}

/// Reads a LEB128 length; the rest after it.
fn get_len(mut bytes: &[u8]) -> Option<(usize, &[u8])> {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let (&b, tail) = bytes.split_first()?;
        bytes = tail;
        n |= usize::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some((n, bytes));
        }
        shift += 7;
    }
}

/// One profile of the segment: a valid, normalised email and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The row as its reader numbers it (the file line for CSV and JSONL,
    /// the data row for SQL), for reports; see `Source::row_place`.
    pub row: u64,
    /// Trimmed and lowercased; valid per `segment::is_valid_email`.
    pub email: String,
    pub fields: Fields,
}

/// Masks an email for reports: `jane@example.com` → `j***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => {
            let first: String = email.chars().take(1).collect();
            format!("{first}***")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_separates_fields() {
        let a = Fields::new(Some("ab"), Some("c"), None);
        let b = Fields::new(Some("a"), Some("bc"), None);
        assert_ne!(a.hash64(), b.hash64());
        assert_ne!(Fields::default().hash64(), a.hash64());
        assert_eq!(a.hash64(), a.clone().hash64());
    }

    /// The hash of acsync 0.1's unpacked fields, as it was computed: the
    /// packed representation must hash to exactly the same values, or
    /// every stored `sent_hash` would look changed after an upgrade.
    fn legacy_hash(
        first: Option<&str>,
        last: Option<&str>,
        phone: Option<&str>,
        custom: &[(&str, &str)],
    ) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for part in [first, last, phone] {
            write_opt(&mut h, part);
        }
        for (k, v) in custom {
            write_opt(&mut h, Some(k));
            write_opt(&mut h, Some(v));
        }
        h.digest()
    }

    fn write_opt(h: &mut xxhash_rust::xxh3::Xxh3, v: Option<&str>) {
        match v {
            // A length prefix keeps ("ab","c") and ("a","bc") apart.
            Some(s) => {
                h.update(&[1]);
                h.update(&(s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
            None => h.update(&[0]),
        }
    }

    #[test]
    fn packed_fields_read_back_and_hash_as_before() {
        let long = "x".repeat(300);
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            Vec<(&'a str, &'a str)>,
        );
        let cases: [Case<'_>; 5] = [
            (None, None, None, vec![]),
            (Some("Jane"), Some("Doe"), Some("+31 6 1234"), vec![]),
            (None, Some(""), None, vec![("COMPANY", "Acme"), ("12", "")]),
            (Some("Élodie"), None, Some(&long), vec![("A", &long)]),
            (Some(""), Some(""), Some(""), vec![("B", "2"), ("A", "1")]),
        ];
        for (first, last, phone, custom) in cases {
            let f = Fields::with_custom(first, last, phone, custom.iter().copied());
            let mut sorted = custom.clone();
            sorted.sort();
            assert_eq!(
                (f.first_name(), f.last_name(), f.phone()),
                (first, last, phone)
            );
            assert_eq!(f.custom().collect::<Vec<_>>(), sorted);
            assert_eq!(f.has_custom(), !sorted.is_empty());
            assert_eq!(f.hash64(), legacy_hash(first, last, phone, &sorted));
        }
        assert_eq!(Fields::new(None, None, None), Fields::EMPTY);
        assert_eq!(Fields::default(), Fields::EMPTY);
        assert!(Fields::EMPTY.is_empty());
        assert_ne!(Fields::new(Some(""), None, None), Fields::EMPTY);
        // The common case, spelled out.
        assert_eq!(
            Fields::new(Some("Jane"), None, None).hash64(),
            legacy_hash(Some("Jane"), None, None, &[])
        );
    }

    #[test]
    fn masks() {
        assert_eq!(mask_email("jane@example.com"), "j***@example.com");
        assert_eq!(mask_email("nope"), "n***");
        assert_eq!(mask_email(""), "***");
    }
}
