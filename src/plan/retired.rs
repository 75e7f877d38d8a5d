//! What deleted exports of the list still want (docs/ownership.md,
//! "Deleting an export"): an export whose file was deleted touches no
//! contact again, and no other export of the list unsubscribes what only it
//! wanted, until the operator releases it (`acsync release NAME`). Which
//! exports are deleted is the run's question (`run::retired`); what each
//! still wants, member by member, is answered here.

use std::collections::HashMap;

use crate::model::Member;

/// The wishes of the list's deleted (retired) exports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetiredWishes {
    /// Email → the first deleted export (by id) whose recorded segment
    /// holds it: the exports that shared the list when they last ran.
    pub wanted: HashMap<String, String>,
    /// Deleted exports that recorded no segment (they were alone on the
    /// list when they last ran), in id order.
    pub owned_until: Vec<OwnedUntil>,
}

/// A deleted export that was alone on its list: it wants every member
/// acsync owns there whose last write by acsync did not begin after the end
/// of its last run (it made that write, or kept what it found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedUntil {
    pub export: String,
    /// Unix seconds; `None`: its last run never finished, so no bound is
    /// known and every owned member is kept for it.
    pub until: Option<i64>,
}

impl RetiredWishes {
    /// The deleted export that still wants `m`, if any.
    pub fn wanting(&self, m: &Member) -> Option<&str> {
        if let Some(export) = self.wanted.get(m.email.as_str()) {
            return Some(export);
        }
        if !m.owned {
            return None;
        }
        let written = last_written(m);
        self.owned_until
            .iter()
            .find(|o| match (o.until, written) {
                (Some(until), Some(at)) => at <= until,
                // No bound, or a write of unknown time: kept.
                _ => true,
            })
            .map(|o| o.export.as_str())
    }
}

/// When acsync's last write to the membership began (Unix seconds), if
/// known: a write begun before the deleted export's last run ended may be
/// that run's, and a membership an earlier version recorded (its window
/// starts at the epoch) is kept for it; on doubt, the member is kept.
fn last_written(m: &Member) -> Option<i64> {
    m.last_write.map(|w| w.from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ListStatus, WriteWindow};

    fn owned(email: &str, written: Option<i64>) -> Member {
        Member {
            owned: true,
            status: Some(ListStatus::Active),
            last_write: written.map(|from| WriteWindow { from, to: from + 1 }),
            ..Member::unknown(email)
        }
    }

    #[test]
    fn a_lone_deleted_export_wants_what_acsync_last_wrote_by_the_end_of_its_last_run() {
        let wishes = RetiredWishes {
            wanted: [("rows@x.io".to_string(), "shared".to_string())].into(),
            owned_until: vec![OwnedUntil {
                export: "alone".into(),
                until: Some(100),
            }],
        };
        let by = |m: &Member| wishes.wanting(m);
        assert_eq!(by(&owned("early@x.io", Some(90))), Some("alone"));
        assert_eq!(by(&owned("same-second@x.io", Some(100))), Some("alone"));
        assert_eq!(by(&owned("unknown@x.io", None)), Some("alone"));
        // Recorded by an earlier version: its window starts at the epoch.
        let migrated = Member {
            last_write: Some(WriteWindow { from: 0, to: 900 }),
            ..owned("migrated@x.io", None)
        };
        assert_eq!(by(&migrated), Some("alone"));
        assert_eq!(
            by(&owned("later@x.io", Some(101))),
            None,
            "another export's write"
        );
        let not_owned = Member {
            owned: false,
            ..owned("manual@x.io", Some(90))
        };
        assert_eq!(by(&not_owned), None);
        assert_eq!(by(&owned("rows@x.io", Some(500))), Some("shared"));

        let unbounded = RetiredWishes {
            owned_until: vec![OwnedUntil {
                export: "killed".into(),
                until: None,
            }],
            ..RetiredWishes::default()
        };
        assert_eq!(
            unbounded.wanting(&owned("later@x.io", Some(101))),
            Some("killed")
        );
    }
}
