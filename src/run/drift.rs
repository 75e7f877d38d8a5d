//! The drift check (docs/run-rules.md, drift checks): between full reads,
//! what others changed on the list, at a cost that follows the change and
//! not the list. It reads the members ActiveCampaign shows as updated since
//! the last check, then proves the read: the list's count of each status
//! must equal what the state, with the read folded in, expects, and a
//! random sample of members read in their own rows must show what the
//! state says. What ActiveCampaign does not document (whether a status
//! change moves a contact's `udate`, the filter's precision) is never
//! assumed: a proof that disagrees makes the next run read in full.
//!
//! [`judge_counts`] is pure; [`check`] performs the reads.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;

use super::error::RunError;
use crate::activecampaign::changed::ChangedRead;
use crate::activecampaign::{CheckedContact, Client};
use crate::config::Export;
use crate::model::{Known, ListStatus, LiveMember};
use crate::plan::DriftReason;
use crate::status::DriftCheck;

/// How many recorded members each check reads in their own rows (one
/// request: `ids[]` takes 100).
pub const SAMPLE: usize = 100;

/// How far before the last check the read asks from. The filter is sent
/// as a day; ActiveCampaign compares it in the account's zone (UTC−12 to
/// UTC+14) at a precision it does not document, and "after a day" may
/// mean from the next midnight. Asked for the UTC day two days before the
/// last check, the first moment read is at most 36 hours after that day
/// began (the next midnight at UTC−12), still 12 hours before the last
/// check in every zone; the cost is reading again what changed in that
/// margin.
const MARGIN_HOURS: i64 = 48;

/// The day a drift check asks for changes from, given when the last
/// check began.
pub fn asked_from(last_check: DateTime<Utc>) -> NaiveDate {
    (last_check - chrono::Duration::hours(MARGIN_HOURS)).date_naive()
}

/// What the rows a drift check read, before its proof.
pub struct DriftRead {
    /// The members shown as updated since the day asked, with their rows.
    pub changed: Vec<LiveMember>,
    /// The sampled members as their own rows show them now (on the list).
    pub sampled: Vec<LiveMember>,
    /// Sampled members whose own row shows another status or address than
    /// the record.
    pub sample_disagreed: Vec<String>,
    /// Sampled members on the list by the record that ActiveCampaign no
    /// longer shows there (deleted contacts, or rows removed): consistent
    /// with the counts when they show at least as many gone.
    pub sample_missing: Vec<String>,
    /// How many members were sampled.
    pub sample_size: usize,
    pub asked_from: NaiveDate,
}

/// The list's count of each status at one moment: the four acsync reads
/// and every member whatever the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusCounts {
    pub four: [Option<u64>; 4],
    pub every: Option<u64>,
}

/// What the counts prove about a drift check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountsProof {
    /// Every count is what the state with the read folded in expects.
    Agreed,
    /// Fewer members than expected and nowhere more: `gone` members left
    /// the list without a row to show it (deleted contacts).
    Gone(u64),
    /// Some status has more members than expected: a change the read did
    /// not show (a status change that did not move `udate`, an add by
    /// someone else that did not): named for the operator.
    Disagreed(String),
    /// A count was not answered, or the list moved between the counts
    /// before and after the read: nothing is proven either way.
    Unproven,
}

/// How many members `known` records with each of the four statuses, and
/// on the list at all.
pub fn expected_counts(known: &Known) -> StatusCounts {
    let mut four = [0u64; 4];
    let mut every = 0u64;
    for status in known.iter().filter_map(|m| m.status) {
        every += 1;
        if let Some(i) = ListStatus::ALL.iter().position(|s| *s == status) {
            four[i] += 1;
        }
    }
    StatusCounts {
        four: four.map(Some),
        every: Some(every),
    }
}

/// The counts' proof: `before` and `after` were taken around the read,
/// `expected` from the state with the read folded in.
pub fn judge_counts(
    expected: StatusCounts,
    before: StatusCounts,
    after: StatusCounts,
) -> CountsProof {
    if before != after {
        return CountsProof::Unproven;
    }
    let (Some(every), Some(want_every)) = (after.every, expected.every) else {
        return CountsProof::Unproven;
    };
    let mut named = Vec::new();
    let mut fewer = 0u64;
    let mut sum_counted = 0u64;
    let mut sum_expected = 0u64;
    for ((status, counted), want) in ListStatus::ALL.iter().zip(after.four).zip(expected.four) {
        let (Some(counted), Some(want)) = (counted, want) else {
            return CountsProof::Unproven;
        };
        sum_counted += counted;
        sum_expected += want;
        if counted > want {
            named.push(format!(
                "{} {} members where {want} were expected",
                counted,
                status.as_str()
            ));
        }
        fewer += want.saturating_sub(counted);
    }
    // Members of a status acsync cannot ask for (91, unknown codes).
    let others = every.saturating_sub(sum_counted);
    let want_others = want_every.saturating_sub(sum_expected);
    if others > want_others {
        named.push(format!(
            "{others} members of another status where {want_others} were expected"
        ));
    }
    if !named.is_empty() {
        return CountsProof::Disagreed(format!(
            "the list counts {}: changes the read of updated members did not show",
            named.join(", ")
        ));
    }
    fewer += want_others.saturating_sub(others);
    match fewer {
        0 => CountsProof::Agreed,
        n => CountsProof::Gone(n),
    }
}

/// Reads the members updated since `asked_from` (or says more than `cap`
/// changed), and a sample of the other recorded members in their own rows.
pub async fn read(
    export: &Export,
    client: &Client,
    known: &Known,
    asked_from: NaiveDate,
    cap: u64,
) -> Result<Option<DriftRead>, RunError> {
    let changed = match client
        .changed_members(export.list_id, asked_from, cap)
        .await?
    {
        ChangedRead::TooMany(n) => {
            tracing::info!(export = %export.id, changed = n, cap, "more than half the list changed since the last check: reading it in full");
            return Ok(None);
        }
        ChangedRead::Read(rows) => rows,
    };
    let changed: Vec<LiveMember> = changed.into_iter().filter_map(|c| c.as_read).collect();
    let shown: HashSet<u64> = changed.iter().map(|l| l.contact_id).collect();
    let ids = sample_ids(known, &shown);
    let found = client.members_among(export.list_id, &ids).await?;
    let (sample_disagreed, sample_missing) = sample_disagreements(known, &ids, &found);
    Ok(Some(DriftRead {
        changed,
        sampled: found.into_iter().filter_map(|c| c.as_read).collect(),
        sample_disagreed,
        sample_missing,
        sample_size: ids.len(),
        asked_from,
    }))
}

/// Up to [`SAMPLE`] recorded members on the list with a known contact id
/// that the read of updated members did not show, chosen at random.
fn sample_ids(known: &Known, shown: &HashSet<u64>) -> Vec<u64> {
    let candidates: Vec<u64> = known
        .iter()
        .filter(|m| m.status.is_some() && m.pending.is_none())
        .filter_map(|m| m.contact_id)
        .filter(|id| !shown.contains(id))
        .collect();
    // Seeded from the thread's generator; `SmallRng` is `Send`, so the
    // run's future stays `Send` across the reads.
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    candidates
        .choose_multiple(&mut rng, SAMPLE)
        .copied()
        .collect()
}

/// The sampled members whose own row shows something else than the state
/// records (another status or address), and those it shows no row for at
/// all (their addresses).
fn sample_disagreements(
    known: &Known,
    ids: &[u64],
    found: &[CheckedContact],
) -> (Vec<String>, Vec<String>) {
    let asked: HashSet<u64> = ids.iter().copied().collect();
    let (mut differ, mut missing) = (Vec::new(), Vec::new());
    for m in known.iter().filter(|m| m.status.is_some()) {
        let Some(id) = m.contact_id.filter(|id| asked.contains(id)) else {
            continue;
        };
        let row = found.iter().find(|c| c.id == id);
        let Some(seen) = row.and_then(|c| c.row.as_ref()).map(|r| r.status) else {
            missing.push(m.email.clone());
            continue;
        };
        if Some(seen) != m.status || row.is_some_and(|c| c.email != m.email) {
            differ.push(format!(
                "contact {id}: recorded {}, its row shows {}",
                m.status.map_or("none", |s| s.as_str()),
                seen.as_str()
            ));
        }
    }
    (differ, missing)
}

/// Counts the list's members of each status (five requests).
pub async fn count(export: &Export, client: &Client) -> Result<StatusCounts, RunError> {
    let mut four = [None; 4];
    for (n, status) in four.iter_mut().zip(ListStatus::ALL) {
        *n = client.count_members(export.list_id, Some(status)).await?;
    }
    let every = client.count_members(export.list_id, None).await?;
    Ok(StatusCounts { four, every })
}

/// The report of a check whose read is `read` and whose counts proved
/// `proof`: the sample or the counts disagreeing name why the next run
/// reads in full.
pub fn report(reason: DriftReason, read: &DriftRead, proof: &CountsProof) -> DriftCheck {
    let mut why = Vec::new();
    if let CountsProof::Disagreed(text) = proof {
        why.push(text.clone());
    }
    let gone = match proof {
        CountsProof::Gone(n) => *n,
        _ => 0,
    };
    // A sampled member gone from the list is a deleted contact when the
    // counts show that many gone; beyond that, a change the read missed.
    let missing_unexplained = read.sample_missing.len() as u64 > gone;
    if missing_unexplained {
        why.push(format!(
            "{} sampled members are no longer on the list while the counts show {gone} gone",
            read.sample_missing.len()
        ));
    }
    if !read.sample_disagreed.is_empty() {
        why.push(format!(
            "{} of {} sampled members differ from the record, which the read of updated members did not show: {}",
            read.sample_disagreed.len(),
            read.sample_size,
            read.sample_disagreed
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    DriftCheck {
        reason: reason.as_str().to_string(),
        asked_from: read.asked_from.to_string(),
        changed: read.changed.len() as u64,
        sampled: read.sample_size as u64,
        sample_disagreed: read.sample_disagreed.len() as u64
            + if missing_unexplained {
                read.sample_missing.len() as u64
            } else {
                0
            },
        counts: match proof {
            CountsProof::Agreed | CountsProof::Gone(_) => "agreed",
            CountsProof::Disagreed(_) => "disagreed",
            CountsProof::Unproven => "unproven",
        }
        .to_string(),
        gone,
        disagreed: (!why.is_empty()).then(|| why.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(four: [u64; 4], every: u64) -> StatusCounts {
        StatusCounts {
            four: four.map(Some),
            every: Some(every),
        }
    }

    #[test]
    fn counts_equal_to_the_record_agree() {
        let c = counts([90, 5, 3, 2], 100);
        assert_eq!(judge_counts(c, c, c), CountsProof::Agreed);
    }

    /// An opt-out that did not move the contact's `udate`: one active
    /// fewer, one unsubscribed more than the state with the read expects.
    #[test]
    fn a_status_change_the_read_missed_disagrees_and_names_the_status() {
        let expected = counts([90, 5, 3, 2], 100);
        let now = counts([89, 6, 3, 2], 100);
        let CountsProof::Disagreed(why) = judge_counts(expected, now, now) else {
            panic!("must disagree");
        };
        assert!(why.contains("6 unsubscribed members where 5"), "{why}");
    }

    #[test]
    fn a_member_moved_to_an_unknown_code_disagrees() {
        let expected = counts([90, 5, 3, 2], 100);
        let now = counts([89, 5, 3, 2], 100);
        assert!(matches!(
            judge_counts(expected, now, now),
            CountsProof::Disagreed(w) if w.contains("1 members of another status")
        ));
    }

    /// Deleted contacts only lower counts: named as gone, not a missed
    /// status change.
    #[test]
    fn fewer_members_everywhere_are_gone_not_disagreement() {
        let expected = counts([90, 5, 3, 2], 100);
        let now = counts([88, 4, 3, 2], 97);
        assert_eq!(judge_counts(expected, now, now), CountsProof::Gone(3));
    }

    #[test]
    fn a_list_that_moved_between_the_counts_proves_nothing() {
        let expected = counts([90, 5, 3, 2], 100);
        let before = counts([89, 6, 3, 2], 100);
        let after = counts([89, 6, 3, 2], 101);
        assert_eq!(judge_counts(expected, before, after), CountsProof::Unproven);
        let unanswered = StatusCounts {
            every: None,
            ..expected
        };
        assert_eq!(
            judge_counts(expected, unanswered, unanswered),
            CountsProof::Unproven
        );
    }

    #[test]
    fn the_day_asked_covers_every_zone_before_the_last_check() {
        let last = DateTime::parse_from_rfc3339("2026-12-07T01:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .ok();
        let day = last.map(asked_from);
        // 48 hours before 01:30 UTC on the 7th is 01:30 UTC on the 5th:
        // the 5th, read as "after the 5th" from midnight on the 6th at
        // UTC-12 (12:00 UTC), still covers everything since the last check.
        assert_eq!(day, NaiveDate::from_ymd_opt(2026, 12, 5));
    }
}
