//! The segment: email normalisation and validity, deduplication and row
//! counts. Sources feed rows into a [`SegmentBuilder`]; what comes out is the
//! [`Segment`] the planner works on. Pure; no IO.
//!
//! docs/run-rules.md, the segment: "The segment is the source's rows with a valid email,
//! trimmed and lowercased (ActiveCampaign treats emails case-insensitively),
//! duplicates removed (first row wins, the rest counted). Rows with an invalid
//! email are counted and reported, not sent."

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

use crate::model::profile::{Fields, Profile, mask_email};

/// At most this many [`RowIssue`] samples are kept (the status file shows 20).
pub const MAX_SAMPLES: usize = 20;

/// RFC 5321 caps a forward path at 254 characters; ActiveCampaign refuses longer.
const MAX_EMAIL_LEN: usize = 254;

/// Characters ActiveCampaign's bulk import refuses in a local part
/// (`activecampaign-api.md` §4.5: none of `" ( ) , : ; < > @ [ \ ]`), plus
/// the apostrophe its `/import/info` example lists as a refused address
/// (`invalid'character@example.com`, §11). One such row would make a whole
/// batch of 250 be rejected, so it is an invalid row here instead.
const FORBIDDEN_LOCAL: &[char] = &[
    '"', '(', ')', ',', ':', ';', '<', '>', '@', '[', '\\', ']', '\'',
];

/// Trims surrounding whitespace and lowercases (docs/run-rules.md, the segment). Unicode
/// lowercase, so internationalised addresses compare like ActiveCampaign's.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Whether ActiveCampaign's bulk import accepts `e` as an address
/// (`activecampaign-api.md` §4.5 and §11), so that no row acsync sends can
/// make a batch be rejected:
///
/// - exactly one `@`, at most 254 bytes, no whitespace or control character;
/// - local part: not empty, none of [`FORBIDDEN_LOCAL`], no `..`, neither
///   starting nor ending with a dot;
/// - domain: at least two labels; each label non-empty, made of letters,
///   digits and `-`, neither starting nor ending with `-`; the last label
///   (the TLD) at least two letters and letters only.
///
/// Internationalised (UTF-8) local parts and domains are accepted.
pub fn is_valid_email(e: &str) -> bool {
    email_problem(e).is_none()
}

/// Why [`is_valid_email`] refuses `e` (the first rule it breaks), in words
/// an operator can act on; `None` when it is valid. `acsync explain` shows it.
pub fn email_problem(e: &str) -> Option<&'static str> {
    if e.is_empty() {
        return Some("the email is empty");
    }
    if e.len() > MAX_EMAIL_LEN {
        return Some("longer than 254 bytes");
    }
    let Some((local, domain)) = e.split_once('@') else {
        return Some("it has no `@`");
    };
    if domain.contains('@') {
        return Some("it has more than one `@`");
    }
    if !valid_local(local) {
        return Some(
            "the part before `@` is empty, starts or ends with a dot, has `..`, whitespace or one of \" ( ) , : ; < > @ [ \\ ] '",
        );
    }
    if !valid_domain(domain) {
        return Some(
            "the domain is not a host name (labels of letters, digits and `-`, a top-level domain of two letters or more)",
        );
    }
    None
}

fn valid_local(local: &str) -> bool {
    // Letters and digits first: they are most of every address.
    let bad = |c: char| {
        !c.is_ascii_alphanumeric()
            && (c.is_whitespace() || c.is_control() || FORBIDDEN_LOCAL.contains(&c))
    };
    !local.is_empty()
        && !local.chars().any(bad)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

fn valid_domain(domain: &str) -> bool {
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let tld_ok = |t: &str| t.chars().count() >= 2 && t.chars().all(char::is_alphabetic);
    // Walked without collecting the labels: this runs for every row.
    let tld = domain.rsplit('.').next().unwrap_or_default();
    domain.contains('.') && domain.split('.').all(label_ok) && tld_ok(tld)
}

/// A trimmed field value; empty means "not sent" (ActiveCampaign keeps what it has).
/// Borrowed: a reader copies it once, into the profile's packed fields.
pub fn clean_value(raw: &str) -> Option<&str> {
    let v = raw.trim();
    (!v.is_empty()).then_some(v)
}

/// What a source's row numbers count, so that every command names a row
/// the same way (see docs/run-rules.md, the segment): file lines for CSV
/// and JSONL (what an editor and `grep -n` count), data rows for SQL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RowNumbering {
    #[default]
    Line,
    DataRow,
}

impl RowNumbering {
    /// Row `n` as shown: `line 13`, `data row 12`.
    pub fn place(self, n: u64) -> String {
        match self {
            RowNumbering::Line => format!("line {n}"),
            RowNumbering::DataRow => format!("data row {n}"),
        }
    }
}

/// One reported row: invalid, duplicate, or kept with a field not sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowIssue {
    /// The row as its reader numbers it: the file line for CSV and JSONL,
    /// the data row for SQL; shown through `Source::row_place`.
    pub row: u64,
    /// Masked with [`mask_email`]: status files never show a full address.
    pub email: String,
    pub reason: String,
}

/// One row of the source holding a watched email (see
/// [`SegmentBuilder::watching`]): what the reader made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// The data row, as [`Profile::row`] numbers it.
    pub row: u64,
    /// The file line the row starts on, when the reader knows it (CSV).
    pub line: Option<u64>,
    pub fate: RowFate,
}

/// What became of a watched row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowFate {
    /// The profile of the segment; `issue`: a field left out and why.
    Profile { issue: Option<String> },
    /// A later row with the same email: not sent.
    Duplicate { first_row: u64 },
    /// The email is invalid: the row is counted and not sent.
    Invalid { reason: String },
}

/// A read segment: its unique valid profiles in source order, and the counts
/// the status file reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segment {
    pub profiles: Vec<Profile>,
    /// Every data row read: profiles + invalid + duplicates.
    pub source_rows: u64,
    pub invalid_rows: u64,
    pub duplicate_rows: u64,
    /// Rows kept as profiles although one of their fields could not be used
    /// (bad UTF-8, a JSON array...): that field is not sent, the row is
    /// reported in [`Segment::samples`] and is not counted invalid (docs/run-rules.md
    /// rule 1: a row with a valid email is in the segment whatever else is
    /// wrong with it).
    pub row_issues: u64,
    /// Rows whose email could not be read at all (not UTF-8, a line that is
    /// not JSON, a BLOB...), also counted in `invalid_rows`. Such a row may
    /// be a member whose address we cannot see: when this is not zero the
    /// segment is a partial read and the run must hold back removals (never
    /// derive them from a partial read).
    pub unreadable_emails: u64,
    /// The first [`MAX_SAMPLES`] reported rows (invalid, duplicate, or kept
    /// with a field not sent), with the reason.
    pub samples: Vec<RowIssue>,
    /// Every row holding the watched email, in source order (empty unless
    /// built with [`SegmentBuilder::watching`]).
    pub watched: Vec<Sighting>,
}

/// Builds a [`Segment`] row by row, so a source never holds its raw rows.
///
/// Deduplication keys a map on a 64-bit hash of the email pointing at the
/// first profile holding it, instead of a set of email copies: for a million
/// rows that is ~18 MB instead of ~60 MB. Hash collisions between different
/// emails are resolved exactly by comparing with the stored profile.
#[derive(Debug, Default)]
pub struct SegmentBuilder {
    profiles: Vec<Profile>,
    /// xxh3 of the email → index in `profiles` of the first email with that hash.
    index: HashMap<u64, usize, BuildHasherDefault<PassThrough>>,
    /// Emails whose hash collided with a different earlier email → their first row.
    collided: HashMap<String, u64>,
    source_rows: u64,
    invalid_rows: u64,
    duplicate_rows: u64,
    row_issues: u64,
    unreadable_emails: u64,
    samples: Vec<RowIssue>,
    watch: Option<Box<Watch>>,
    /// How the rows pushed are numbered, for the reasons that name another row.
    numbering: RowNumbering,
}

/// The email a builder follows row by row, and where it was seen.
#[derive(Debug)]
struct Watch {
    email: String,
    /// The line of the row being pushed, from [`SegmentBuilder::at_line`].
    line: Option<u64>,
    seen: Vec<Sighting>,
}

impl SegmentBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder that also records every row holding `email` (normalised
    /// like the rows), with what became of it: `acsync explain`.
    pub fn watching(email: &str) -> Self {
        SegmentBuilder {
            watch: Some(Box::new(Watch {
                email: normalize_email(email),
                line: None,
                seen: Vec::new(),
            })),
            ..Self::default()
        }
    }

    /// This builder with rows numbered by `numbering` (file lines unless told).
    pub fn numbered(self, numbering: RowNumbering) -> Self {
        SegmentBuilder { numbering, ..self }
    }

    /// The file line the next pushed row starts on (readers whose rows are
    /// not lines call it; only a watching builder keeps it).
    pub fn at_line(&mut self, line: Option<u64>) {
        if let Some(w) = self.watch.as_mut() {
            w.line = line;
        }
    }

    /// Records a row of the watched email.
    fn spot(&mut self, row: u64, email: &str, fate: impl FnOnce() -> RowFate) {
        if let Some(w) = self.watch.as_mut().filter(|w| w.email == email) {
            let line = w.line;
            w.seen.push(Sighting {
                row,
                line,
                fate: fate(),
            });
        }
    }

    /// Feeds one data row. `fields` should hold [`clean_value`]d values.
    pub fn push(&mut self, row: u64, email_raw: &str, fields: Fields) {
        self.push_reported(row, email_raw, fields, None);
    }

    /// [`push`](Self::push) for a row some of whose fields could not be used
    /// and were left out of `fields`: `issue` says which and why. A row with
    /// a valid email stays a profile; the issue is counted and sampled.
    pub fn push_reported(
        &mut self,
        row: u64,
        email_raw: &str,
        fields: Fields,
        issue: Option<String>,
    ) {
        let email = normalize_email(email_raw);
        if email.is_empty() {
            return self.invalid(row, "", "empty email");
        }
        if !is_valid_email(&email) {
            return self.invalid(row, &email, "invalid email");
        }
        self.source_rows += 1;
        if let Some(first) = self.claim(&email, row) {
            self.spot(row, &email, || RowFate::Duplicate { first_row: first });
            self.duplicate_rows += 1;
            self.sample(
                row,
                &email,
                format!("duplicate email (first at {})", self.numbering.place(first)),
            );
            return;
        }
        self.spot(row, &email, || RowFate::Profile {
            issue: issue.clone(),
        });
        if let Some(issue) = issue {
            self.row_issues += 1;
            self.sample(row, &email, issue);
        }
        self.profiles.push(Profile { row, email, fields });
    }

    /// Counts a row whose email cannot be read at all (see
    /// [`Segment::unreadable_emails`]): invalid, and it holds removals back.
    pub fn unreadable(&mut self, row: u64, reason: impl Into<String>) {
        self.unreadable_emails += 1;
        self.invalid(row, "", reason);
    }

    /// Counts a row that cannot become a profile (bad email, unreadable row).
    pub fn invalid(&mut self, row: u64, email_raw: &str, reason: impl Into<String>) {
        self.source_rows += 1;
        self.invalid_rows += 1;
        let email = normalize_email(email_raw);
        let reason = reason.into();
        self.spot(row, &email, || RowFate::Invalid {
            reason: reason.clone(),
        });
        self.sample(row, &email, reason);
    }

    /// Rows seen so far (for progress reporting).
    pub fn rows(&self) -> u64 {
        self.source_rows
    }

    pub fn finish(mut self) -> Segment {
        self.profiles.shrink_to_fit();
        Segment {
            profiles: self.profiles,
            source_rows: self.source_rows,
            invalid_rows: self.invalid_rows,
            duplicate_rows: self.duplicate_rows,
            row_issues: self.row_issues,
            unreadable_emails: self.unreadable_emails,
            samples: self.samples,
            watched: self.watch.map(|w| w.seen).unwrap_or_default(),
        }
    }

    /// Registers `email` as the next profile; returns the first row if already seen.
    fn claim(&mut self, email: &str, row: u64) -> Option<u64> {
        let next = self.profiles.len();
        match self
            .index
            .entry(xxhash_rust::xxh3::xxh3_64(email.as_bytes()))
        {
            Entry::Vacant(v) => {
                v.insert(next);
                None
            }
            Entry::Occupied(o) => {
                let first = &self.profiles[*o.get()];
                if first.email == email {
                    return Some(first.row);
                }
                match self.collided.entry(email.to_owned()) {
                    Entry::Occupied(c) => Some(*c.get()),
                    Entry::Vacant(c) => {
                        c.insert(row);
                        None
                    }
                }
            }
        }
    }

    fn sample(&mut self, row: u64, email: &str, reason: String) {
        if self.samples.len() < MAX_SAMPLES {
            let email = if email.is_empty() {
                String::new()
            } else {
                mask_email(email)
            };
            self.samples.push(RowIssue { row, email, reason });
        }
    }
}

/// The keys are already xxh3 hashes: hashing them again would only cost time.
#[derive(Debug, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used for `u64` keys; fold anything else anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(first: &str) -> Fields {
        Fields::new(clean_value(first), None, None)
    }

    #[test]
    fn normalizes() {
        assert_eq!(
            normalize_email("  Jane.Doe@Example.COM \t"),
            "jane.doe@example.com"
        );
        assert_eq!(normalize_email("ÉLODIE@Exemple.FR"), "élodie@exemple.fr");
    }

    #[test]
    fn valid_emails() {
        for e in [
            "a@b.co",
            "jane.doe+tag@mail.example.com",
            "élodie@exemple.fr",
            "x@bücher.de",
            "o-k_1@my-host.sub.example.org",
            "user%tag!x@x.io",
        ] {
            assert!(is_valid_email(e), "{e}");
        }
    }

    #[test]
    fn invalid_emails() {
        let long = format!("{}@example.com", "a".repeat(250));
        for e in [
            "",
            "plain",
            "@example.com",
            "a@b",
            "a@@b.com",
            "a@b@c.com",
            "a b@c.com",
            "a@b .com",
            "a\tb@c.com",
            "a\u{7}@c.com",
            "a@.com",
            "a@com.",
            "a@b..com",
            "a,b@c.com",
            "<a@b.com>",
            "a@b.com;",
            &long,
            // What ActiveCampaign's bulk import refuses.
            "john..doe@ex.com",
            "invalid'character@example.com",
            "invalid.email@invaliddomain",
            ".a@x.io",
            "a.@x.io",
            "a:b@x.io",
            "a[b]@x.io",
            "a@x.c",
            "a@x.c0m",
            "a@x.123",
            "a@-x.io",
            "a@x-.io",
            "a@x_y.io",
            "a@x..io",
        ] {
            assert!(!is_valid_email(e), "{e:?}");
        }
    }

    #[test]
    fn clean_values() {
        assert_eq!(clean_value("  Jane "), Some("Jane"));
        assert_eq!(clean_value("   "), None);
        assert_eq!(clean_value(""), None);
    }

    #[test]
    fn dedup_first_row_wins_and_counts() {
        let mut b = SegmentBuilder::new();
        b.push(1, "Jane@Example.com", name("First"));
        b.push(2, "not-an-email", name("x"));
        b.push(3, " jane@example.COM ", name("Second"));
        b.push(4, "", name("y"));
        b.push(5, "bob@example.com", Fields::default());
        let s = b.finish();
        assert_eq!((s.source_rows, s.invalid_rows, s.duplicate_rows), (5, 2, 1));
        let emails: Vec<_> = s
            .profiles
            .iter()
            .map(|p| (p.row, p.email.as_str()))
            .collect();
        assert_eq!(emails, [(1, "jane@example.com"), (5, "bob@example.com")]);
        assert_eq!(s.profiles[0].fields.first_name(), Some("First"));
        let issues: Vec<_> = s
            .samples
            .iter()
            .map(|i| (i.row, i.email.as_str(), i.reason.as_str()))
            .collect();
        assert_eq!(
            issues,
            [
                (2, "n***", "invalid email"),
                (3, "j***@example.com", "duplicate email (first at line 1)"),
                (4, "", "empty email"),
            ]
        );
    }

    #[test]
    fn defects_outside_the_email_keep_the_row() {
        let mut b = SegmentBuilder::new();
        let issue = || Some("column \"First\" is not valid UTF-8; not sent".to_owned());
        b.push_reported(1, "a@x.io", Fields::default(), issue());
        b.push_reported(2, "bad", Fields::default(), issue());
        b.push_reported(3, "A@x.io", Fields::default(), issue());
        b.unreadable(4, "email is not valid UTF-8");
        let s = b.finish();
        assert_eq!(s.profiles.iter().map(|p| p.row).collect::<Vec<_>>(), [1]);
        assert_eq!(
            (s.source_rows, s.invalid_rows, s.duplicate_rows),
            (4, 2, 1),
            "only the bad email and the unreadable row are invalid"
        );
        assert_eq!((s.row_issues, s.unreadable_emails), (1, 1));
        let reasons: Vec<_> = s
            .samples
            .iter()
            .map(|i| (i.row, i.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (1, "column \"First\" is not valid UTF-8; not sent"),
                (2, "invalid email"),
                (3, "duplicate email (first at line 1)"),
                (4, "email is not valid UTF-8"),
            ]
        );
    }

    #[test]
    fn samples_are_capped() {
        let mut b = SegmentBuilder::new();
        for row in 1..=50 {
            b.push(row, "bad", Fields::default());
        }
        let s = b.finish();
        assert_eq!(s.invalid_rows, 50);
        assert_eq!(s.samples.len(), MAX_SAMPLES);
    }

    #[test]
    fn hash_collisions_stay_exact() {
        // Force a collision by planting a different email under the next email's hash.
        let mut b = SegmentBuilder::new();
        b.push(1, "a@x.io", Fields::default());
        let h = xxhash_rust::xxh3::xxh3_64(b"b@x.io");
        b.index.insert(h, 0);
        b.push(2, "b@x.io", Fields::default());
        b.push(3, "b@x.io", Fields::default());
        b.push(4, "a@x.io", Fields::default());
        let s = b.finish();
        let rows: Vec<_> = s.profiles.iter().map(|p| p.row).collect();
        assert_eq!(rows, [1, 2]);
        assert_eq!(s.duplicate_rows, 2);
        assert_eq!(s.samples[0].reason, "duplicate email (first at line 2)");
    }

    #[test]
    fn a_watched_email_is_followed_through_every_row() {
        let mut b = SegmentBuilder::watching(" Jane@Example.com");
        b.at_line(Some(2));
        b.push(1, "jane@example..com", name("Typo"));
        b.push(2, "bob@example.com", name("Bob"));
        b.at_line(Some(5));
        b.push(3, "JANE@example.com", name("First"));
        b.at_line(Some(6));
        b.push(4, "jane@example.com ", name("Again"));
        b.invalid(5, "jane@example.com", "a reader's own reason");
        let s = b.finish();
        let seen: Vec<_> = s.watched.iter().map(|w| (w.row, w.line, &w.fate)).collect();
        assert_eq!(
            seen,
            [
                (3, Some(5), &RowFate::Profile { issue: None }),
                (4, Some(6), &RowFate::Duplicate { first_row: 3 }),
                (
                    5,
                    Some(6),
                    &RowFate::Invalid {
                        reason: "a reader's own reason".into()
                    }
                ),
            ]
        );
        let mut b = SegmentBuilder::watching("jane@example..com");
        b.push(1, "jane@example..com", name("Typo"));
        b.push(2, "jane@example.com", name("Other"));
        let seen = b.finish().watched;
        assert_eq!(seen.len(), 1);
        assert_eq!(
            seen[0].fate,
            RowFate::Invalid {
                reason: "invalid email".into()
            }
        );
        assert!(SegmentBuilder::new().finish().watched.is_empty());
    }

    #[test]
    fn email_problems_name_the_rule() {
        assert_eq!(email_problem("a@b.co"), None);
        assert_eq!(email_problem(""), Some("the email is empty"));
        assert_eq!(email_problem("plain"), Some("it has no `@`"));
        assert_eq!(email_problem("a@@b.co"), Some("it has more than one `@`"));
        assert!(email_problem("john..doe@ex.com").is_some_and(|p| p.contains("before `@`")));
        assert!(email_problem("a@b").is_some_and(|p| p.contains("domain")));
    }
}
