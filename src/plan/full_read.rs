//! Whether a run reads its list in full, and why: the one decision the
//! run, `acsync plan` and `acsync explain` share (docs/run-rules.md, full
//! reads). Pure: the caller gathers the [`ReadFacts`] from the state
//! snapshot, the export and the command line.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::Plan;
use crate::model::ListStatus;

/// Why a run reads the list in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullReadReason {
    /// `--full-read`.
    Forced,
    /// `--adopt`: the list is taken over as it is.
    Adopt,
    /// No run of the export is recorded.
    FirstRun,
    /// The export now targets another list or account.
    TargetChanged,
    /// An earlier change has no known outcome: a pending intent, a killed
    /// run or a batch ActiveCampaign has not finished.
    Unsettled,
    /// The mapping changed since the last run.
    MappingChanged,
    /// `full_read_every = "0"`: every run reads.
    EveryRun,
    /// The list was never read in full.
    NeverRead,
    /// `full_read_every` has passed since the last full read.
    Elapsed,
    /// The plan's removals need more contact lookups (one request each)
    /// than reading the list costs (a request per 100 members).
    CheaperThanLookups,
    /// The last drift check's proof (the counts of each status, or the
    /// sample of members read in their own rows) disagreed with what it
    /// read: what changed on this account cannot be read incrementally.
    DriftDisagreed,
    /// A drift check found more than half the list changed since the last
    /// check: reading it all costs no more.
    ChangedTooMuch,
}

impl FullReadReason {
    /// The stable name `plan --json` and `explain --json` print.
    pub fn as_str(self) -> &'static str {
        match self {
            FullReadReason::Forced => "forced",
            FullReadReason::Adopt => "adopt",
            FullReadReason::FirstRun => "first_run",
            FullReadReason::TargetChanged => "target_changed",
            FullReadReason::Unsettled => "unsettled",
            FullReadReason::MappingChanged => "mapping_changed",
            FullReadReason::EveryRun => "every_run",
            FullReadReason::NeverRead => "never_read",
            FullReadReason::Elapsed => "full_read_every_elapsed",
            FullReadReason::CheaperThanLookups => "cheaper_than_lookups",
            FullReadReason::DriftDisagreed => "drift_check_disagreed",
            FullReadReason::ChangedTooMuch => "drift_check_too_large",
        }
    }

    /// In words, for `plan` and `explain`.
    pub fn describe(self, every: Duration) -> String {
        match self {
            FullReadReason::Forced => "--full-read asks for it".into(),
            FullReadReason::Adopt => "--adopt takes the list over as it is".into(),
            FullReadReason::FirstRun => "no run of this export is recorded yet".into(),
            FullReadReason::TargetChanged => "the export now targets another list".into(),
            FullReadReason::Unsettled => "an earlier change has no known outcome (a pending intent, a killed run or an unfinished batch)".into(),
            FullReadReason::MappingChanged => "the mapping changed since the last run".into(),
            FullReadReason::EveryRun => "full_read_every is 0: every run reads the list".into(),
            FullReadReason::NeverRead => "the list has not been read in full yet".into(),
            FullReadReason::Elapsed => format!(
                "full_read_every ({}) has passed since the last full read",
                humantime::format_duration(every)
            ),
            FullReadReason::CheaperThanLookups => "reading the list costs fewer requests than looking up each removal's contact".into(),
            FullReadReason::DriftDisagreed => "the last drift check's proof (status counts or sample) disagreed with what it read".into(),
            FullReadReason::ChangedTooMuch => "more than half the list changed since the last check: a full read costs no more".into(),
        }
    }
}

impl Serialize for FullReadReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What the decision is taken on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadFacts {
    /// `--full-read` or `--adopt` on the command line.
    pub forced: Option<FullReadReason>,
    /// The state records a run of the export.
    pub recorded: bool,
    pub target_changed: bool,
    pub unsettled: bool,
    /// The recorded mapping fingerprint matches the export's (in either
    /// stored form, `run::fingerprint::unchanged`).
    pub mapping_unchanged: bool,
    pub full_read_every: Duration,
    pub last_full_read: Option<DateTime<Utc>>,
    /// The last drift check's proof disagreed (recorded by that run).
    pub drift_disagreed: bool,
    pub drift_check_every: Duration,
    /// When the last read of either kind began (`None`: the last full
    /// read's time stands for it).
    pub last_check: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// Whether the run reads the list in full, and why. `from_state` is the
/// plan made without a read and how many members the state knows, once
/// the caller has it: a run with no other reason to read reads after all
/// when that plan's removals would cost more lookups than the read.
pub fn full_read_reason(
    facts: &ReadFacts,
    from_state: Option<(&Plan, usize)>,
) -> Option<FullReadReason> {
    if let Some(forced) = facts.forced {
        return Some(forced);
    }
    // A killed first run is unsettled before it is a first run: its
    // changes are what the read must settle.
    if facts.unsettled {
        return Some(FullReadReason::Unsettled);
    }
    if !facts.recorded {
        return Some(FullReadReason::FirstRun);
    }
    if facts.target_changed {
        return Some(FullReadReason::TargetChanged);
    }
    if !facts.mapping_unchanged {
        return Some(FullReadReason::MappingChanged);
    }
    if facts.full_read_every.is_zero() {
        return Some(FullReadReason::EveryRun);
    }
    let Some(last) = facts.last_full_read else {
        return Some(FullReadReason::NeverRead);
    };
    if facts.drift_disagreed {
        return Some(FullReadReason::DriftDisagreed);
    }
    let since = (facts.now - last).to_std().unwrap_or(Duration::ZERO);
    if since >= facts.full_read_every {
        return Some(FullReadReason::Elapsed);
    }
    let (plan, known) = from_state?;
    // Removals verify by contact id; members added by bulk import since the
    // last full read have none yet.
    let lookups = plan
        .removals
        .iter()
        .filter(|r| r.contact_id.is_none())
        .count();
    // A read: a page per 100 members, the empty page that ends each status
    // read, and the count of every status (docs/run-rules.md, kept statuses).
    (lookups > known.div_ceil(100) + ListStatus::ALL.len() + 1)
        .then_some(FullReadReason::CheaperThanLookups)
}

/// Why a run between full reads checks what others changed on its list
/// (docs/run-rules.md, drift checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftReason {
    /// `drift_check_every = "0"`: every run between full reads checks.
    EveryRun,
    /// `drift_check_every` has passed since the last read of either kind.
    Elapsed,
}

impl DriftReason {
    /// The stable name `plan --json` and the status file print.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftReason::EveryRun => "every_run",
            DriftReason::Elapsed => "drift_check_every_elapsed",
        }
    }

    /// In words, for `plan` and `explain`.
    pub fn describe(self, every: Duration) -> String {
        match self {
            DriftReason::EveryRun => {
                "drift_check_every is 0: every run between full reads checks".into()
            }
            DriftReason::Elapsed => format!(
                "drift_check_every ({}) has passed since the last check",
                humantime::format_duration(every)
            ),
        }
    }
}

impl Serialize for DriftReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Whether a run that does not read in full ([`full_read_reason`] said
/// `None`) checks what changed since the last check, and why.
pub fn drift_check_reason(facts: &ReadFacts) -> Option<DriftReason> {
    if facts.drift_check_every.is_zero() {
        return Some(DriftReason::EveryRun);
    }
    let last = facts.last_check.or(facts.last_full_read)?;
    let since = (facts.now - last).to_std().unwrap_or(Duration::ZERO);
    (since >= facts.drift_check_every).then_some(DriftReason::Elapsed)
}

/// The read a run makes of its list, and why: the one name `plan`,
/// `explain`, the status file and the log give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    Full(FullReadReason),
    Drift(DriftReason),
    /// Planned from the state database alone.
    None,
}

impl ReadKind {
    /// `full`, `drift` or `none`.
    pub fn kind(self) -> &'static str {
        match self {
            ReadKind::Full(_) => "full",
            ReadKind::Drift(_) => "drift",
            ReadKind::None => "none",
        }
    }

    /// In words, for `plan` and `explain`: which read, and why.
    pub fn describe(self, full_read_every: Duration, drift_check_every: Duration) -> String {
        match self {
            ReadKind::Full(r) => format!("read the list in full: {}", r.describe(full_read_every)),
            ReadKind::Drift(r) => format!(
                "checked what others changed (a drift check): {}",
                r.describe(drift_check_every)
            ),
            ReadKind::None => "from local state".to_string(),
        }
    }

    /// The reason's stable name (`None` for no read).
    pub fn reason(self) -> Option<&'static str> {
        match self {
            ReadKind::Full(r) => Some(r.as_str()),
            ReadKind::Drift(r) => Some(r.as_str()),
            ReadKind::None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Removal;

    fn facts() -> ReadFacts {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap_or_default();
        ReadFacts {
            forced: None,
            recorded: true,
            target_changed: false,
            unsettled: false,
            mapping_unchanged: true,
            full_read_every: Duration::from_secs(3600),
            last_full_read: Some(now - chrono::Duration::minutes(10)),
            drift_disagreed: false,
            drift_check_every: Duration::from_secs(1800),
            last_check: None,
            now,
        }
    }

    #[test]
    fn a_disagreed_drift_check_makes_the_next_run_read_in_full() {
        let f = ReadFacts {
            drift_disagreed: true,
            ..facts()
        };
        assert_eq!(
            full_read_reason(&f, None),
            Some(FullReadReason::DriftDisagreed)
        );
    }

    #[test]
    fn a_drift_check_is_due_after_its_interval_since_the_last_check() {
        let f = facts();
        assert_eq!(drift_check_reason(&f), None, "the full read 10 min ago");
        let later = ReadFacts {
            now: f.now + chrono::Duration::minutes(25),
            ..f
        };
        assert_eq!(drift_check_reason(&later), Some(DriftReason::Elapsed));
        let checked = ReadFacts {
            last_check: Some(later.now - chrono::Duration::minutes(5)),
            ..later
        };
        assert_eq!(drift_check_reason(&checked), None, "checked 5 min ago");
        let every = ReadFacts {
            drift_check_every: Duration::ZERO,
            ..checked
        };
        assert_eq!(drift_check_reason(&every), Some(DriftReason::EveryRun));
    }

    fn removals(n: usize, with_id: bool) -> Plan {
        let removals = (0..n)
            .map(|i| Removal {
                email: format!("u{i}@x.io"),
                contact_id: with_id.then_some(i as u64),
            })
            .collect();
        Plan {
            removals,
            ..Plan::default()
        }
    }

    #[test]
    fn each_reason_in_its_order() {
        use FullReadReason::*;
        let f = facts();
        assert_eq!(full_read_reason(&f, None), None);
        let cases: [(ReadFacts, FullReadReason); 8] = [
            (
                ReadFacts {
                    forced: Some(Adopt),
                    unsettled: true,
                    ..f
                },
                Adopt,
            ),
            (
                ReadFacts {
                    unsettled: true,
                    recorded: false,
                    ..f
                },
                Unsettled,
            ),
            (
                ReadFacts {
                    recorded: false,
                    target_changed: true,
                    ..f
                },
                FirstRun,
            ),
            (
                ReadFacts {
                    target_changed: true,
                    mapping_unchanged: false,
                    ..f
                },
                TargetChanged,
            ),
            (
                ReadFacts {
                    mapping_unchanged: false,
                    ..f
                },
                MappingChanged,
            ),
            (
                ReadFacts {
                    full_read_every: Duration::ZERO,
                    last_full_read: None,
                    ..f
                },
                EveryRun,
            ),
            (
                ReadFacts {
                    last_full_read: None,
                    ..f
                },
                NeverRead,
            ),
            (
                ReadFacts {
                    now: f.now + chrono::Duration::hours(1),
                    ..f
                },
                Elapsed,
            ),
        ];
        for (facts, want) in cases {
            assert_eq!(full_read_reason(&facts, None), Some(want), "{facts:?}");
        }
    }

    #[test]
    fn a_read_is_chosen_when_removal_lookups_cost_more() {
        let f = facts();
        // 130 members: a read costs 2 pages + one per status (4) + the
        // count of every status = 7.
        let plan = removals(8, false);
        assert_eq!(
            full_read_reason(&f, Some((&plan, 130))),
            Some(FullReadReason::CheaperThanLookups)
        );
        assert_eq!(full_read_reason(&f, Some((&removals(7, false), 130))), None);
        // Removals that know their contact id need no lookup.
        assert_eq!(full_read_reason(&f, Some((&removals(40, true), 130))), None);
        // Another reason comes first.
        let due = ReadFacts {
            last_full_read: None,
            ..f
        };
        assert_eq!(
            full_read_reason(&due, Some((&plan, 130))),
            Some(FullReadReason::NeverRead)
        );
    }
}
