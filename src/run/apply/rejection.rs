//! Which contacts a whole-batch bulk rejection is about. ActiveCampaign
//! names each by an index whose base is undocumented (0 or 1; its own
//! example names contact 230 of any batch), so a named index is trusted
//! only when the named contact really has the problem the reason states;
//! otherwise the batch is split in halves and each half sent again, until
//! the bad contacts are alone in their batch (see docs/verification.md,
//! `failureReasons`). A valid contact is never failed for another's fault.

use std::ops::Range;

use super::decide::Submission;
use crate::segment::is_valid_email;

/// What a rejection naming contacts lets the run conclude.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectedBatch {
    /// These contacts (index in the batch, ActiveCampaign's reason),
    /// attributed with certainty: they fail, the rest is sent again.
    Named(Vec<(usize, String)>),
    /// No reading of the indexes is certain: send each half again.
    Split,
}

/// Reads `reasons` (index as ActiveCampaign gave it, reason) against the
/// batch's `emails` as sent. A batch of one is the contact's own fault.
pub fn read_rejection(reasons: &[(Option<u64>, String)], emails: &[&str]) -> RejectedBatch {
    if emails.len() == 1 {
        let why: Vec<&str> = reasons.iter().map(|(_, r)| r.as_str()).collect();
        return RejectedBatch::Named(vec![(0, why.join("; "))]);
    }
    match (
        named_in_base(0, reasons, emails),
        named_in_base(1, reasons, emails),
    ) {
        (Some(named), None) | (None, Some(named)) => RejectedBatch::Named(named),
        // Neither reading, or both (two neighbours with the problem): not certain.
        _ => RejectedBatch::Split,
    }
}

/// The contacts `reasons` name when indexes count from `base`, sorted,
/// one entry each; `None` unless every named contact exists and has the
/// problem its reason states.
fn named_in_base(
    base: u64,
    reasons: &[(Option<u64>, String)],
    emails: &[&str],
) -> Option<Vec<(usize, String)>> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (index, reason) in reasons {
        let i = usize::try_from(index.as_ref()?.checked_sub(base)?).ok()?;
        if !has_the_problem(emails.get(i)?, reason) {
            return None;
        }
        match out.iter_mut().find(|(j, _)| *j == i) {
            Some((_, r0)) => {
                r0.push_str("; ");
                r0.push_str(reason);
            }
            None => out.push((i, reason.clone())),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    Some(out)
}

/// Whether the contact with `email` has the problem `reason` states: only
/// a reason about the email can be checked, against acsync's own rule.
fn has_the_problem(email: &str, reason: &str) -> bool {
    reason.to_ascii_lowercase().contains("email") && !is_valid_email(email)
}

impl Submission {
    /// The two halves of a rejected batch, each sent on its own.
    pub fn halves(&self) -> Vec<Submission> {
        let Range { start, end } = self.range.clone();
        let mid = start + (end - start) / 2;
        [start..mid, mid..end]
            .into_iter()
            .filter(|r| !r.is_empty())
            .map(|range| self.part(range))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD_EMAIL: &str = "Field' email' incorrect format";

    fn reasons(list: &[(u64, &str)]) -> Vec<(Option<u64>, String)> {
        list.iter()
            .map(|(i, r)| (Some(*i), r.to_string()))
            .collect()
    }

    #[test]
    fn the_documented_body_names_no_contact_of_a_small_batch() {
        let emails = ["a@x.io"; 15];
        let r = read_rejection(&reasons(&[(230, BAD_EMAIL)]), &emails);
        assert_eq!(r, RejectedBatch::Split);
    }

    #[test]
    fn an_index_is_trusted_when_the_named_contact_has_the_bad_email() {
        let emails = ["a@x.io", "b@x.io", "not an email", "d@x.io"];
        for base in [0, 1] {
            let r = read_rejection(&reasons(&[(2 + base, BAD_EMAIL)]), &emails);
            assert_eq!(
                r,
                RejectedBatch::Named(vec![(2, BAD_EMAIL.into())]),
                "base {base}"
            );
        }
    }

    #[test]
    fn a_valid_named_contact_or_an_ambiguous_one_splits_the_batch() {
        // ActiveCampaign refused a contact whose address acsync finds valid.
        let valid = ["a@x.io", "b@x.io", "c@x.io"];
        let r = read_rejection(&reasons(&[(1, BAD_EMAIL)]), &valid);
        assert_eq!(r, RejectedBatch::Split);
        // Two neighbours with bad addresses: index 1 fits both bases.
        let both = ["bad one", "bad two", "c@x.io"];
        let r = read_rejection(&reasons(&[(1, BAD_EMAIL)]), &both);
        assert_eq!(r, RejectedBatch::Split);
        // A reason that is not about the email cannot be checked.
        let bad = ["a@x.io", "bad"];
        let r = read_rejection(&reasons(&[(1, "Field' phone' incorrect format")]), &bad);
        assert_eq!(r, RejectedBatch::Split);
        // No index at all.
        let r = read_rejection(&[(None, BAD_EMAIL.to_string())], &bad);
        assert_eq!(r, RejectedBatch::Split);
    }

    #[test]
    fn a_batch_of_one_is_its_own_fault() {
        let r = read_rejection(&reasons(&[(230, BAD_EMAIL)]), &["a@x.io"]);
        assert_eq!(r, RejectedBatch::Named(vec![(0, BAD_EMAIL.into())]));
    }

    #[test]
    fn reasons_for_one_contact_are_joined() {
        let emails = ["a@x.io", "bad"];
        let r = read_rejection(&reasons(&[(1, BAD_EMAIL), (1, "email again")]), &emails);
        let want = format!("{BAD_EMAIL}; email again");
        assert_eq!(r, RejectedBatch::Named(vec![(1, want)]));
    }

    #[test]
    fn halves_cover_the_range_without_intents() {
        let s = Submission::first(10..25);
        let h = s.halves();
        let ranges: Vec<_> = h.iter().map(|s| s.range.clone()).collect();
        assert_eq!(ranges, vec![10..17, 17..25]);
        assert!(h.iter().all(|s| !s.with_intents && s.replaces.is_none()));
        assert_eq!(Submission::first(3..4).halves().len(), 1);
    }
}
