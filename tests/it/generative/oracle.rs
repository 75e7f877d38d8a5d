//! The oracle: the rules of docs/ownership.md and docs/run-rules.md,
//! checked on what ActiveCampaign (the simulator) holds before and after a
//! run. The simulator records who last changed each membership: `Api` and
//! `Import` are acsync (nobody else writes through them in these tests),
//! `Contact` and `Admin` are others. So "owned" is read straight off the
//! ground truth: a membership is acsync's while acsync made its current
//! status, for this contact id.

use std::collections::{BTreeMap, BTreeSet};

use acsync::simulator::{ChangedBy, Simulator};

/// One membership of the list, as the simulator holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub email: String,
    pub status: u8,
    pub by: ChangedBy,
}

/// What the account holds at one instant, with the segment of the run.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The list's memberships by contact id.
    pub rows: BTreeMap<u64, Row>,
    /// Every contact by id (its email).
    pub contacts: BTreeMap<u64, String>,
    /// The segment the run read.
    pub segment: BTreeSet<String>,
    /// Renamed contacts: their email now -> the address acsync knew.
    pub renamed: BTreeMap<String, String>,
    /// Renamed contacts (their email now) that a killed run created by a
    /// write whose answer never reached acsync, renamed before any read
    /// could learn their ids: acsync cannot tell them from anyone's
    /// (docs/ownership.md, "Where ownership is kept").
    pub untraceable: BTreeSet<String>,
}

impl Snapshot {
    /// Reads the list and the contacts of `addresses` (every address a case
    /// may have used, renamed ones included).
    pub fn take(
        sim: &Simulator,
        list: u64,
        addresses: &[String],
        segment: BTreeSet<String>,
        renamed: BTreeMap<String, String>,
        untraceable: BTreeSet<String>,
    ) -> Snapshot {
        let rows = sim
            .members(list)
            .into_iter()
            .map(|m| {
                let row = Row {
                    email: m.email,
                    status: m.status,
                    by: m.changed_by,
                };
                (m.contact_id, row)
            })
            .collect();
        let contacts = addresses
            .iter()
            .filter_map(|a| sim.contact(a).map(|c| (c.id, c.email)))
            .collect();
        Snapshot {
            rows,
            contacts,
            segment,
            renamed,
            untraceable,
        }
    }
}

/// Whether acsync made this change (`POST /contactLists`, bulk import).
fn by_acsync(by: ChangedBy) -> bool {
    matches!(by, ChangedBy::Api | ChangedBy::Import)
}

/// docs/ownership.md, what "owned" means: "the membership as it is now is
/// acsync's doing: acsync subscribed this contact (this contact id) to this
/// list, and nothing ActiveCampaign shows since says that anyone else
/// changed it".
fn owned(row: &Row) -> bool {
    by_acsync(row.by) && row.status == 1
}

/// Rule 1, docs/run-rules.md, kept statuses: "acsync never sets status 1
/// over a status it did not cause: an unsubscribe it did not make, a
/// bounce, an unconfirmed double opt-in, or any status code it does not
/// write or does not know."
pub fn never_activates_over_others(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    before
        .rows
        .iter()
        .filter(|(_, b)| !by_acsync(b.by) && b.status != 1)
        .filter(|(id, _)| after.rows.get(id).is_some_and(|a| a.status == 1))
        .map(|(id, b)| {
            format!(
                "rule 1: {} (contact {id}) set active over status {} by {:?}",
                b.email, b.status, b.by
            )
        })
        .collect()
}

/// Rule 2, docs/ownership.md: "Members acsync does not own are never
/// unsubscribed by `prune = "owned"`"; and docs/run-rules.md, prune: "a
/// member who left the segment is unsubscribed only if acsync owns the
/// membership". An unsubscribe that creates a membership unsubscribes one
/// acsync never owned.
pub fn unsubscribes_only_owned_leavers(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    after
        .rows
        .iter()
        .filter(|(_, a)| a.status == 2 && by_acsync(a.by))
        .filter_map(|(id, a)| {
            let was = before.rows.get(id);
            if was.is_some_and(|b| b.status == 2) {
                return None;
            }
            let why = match was {
                None => "no membership".to_string(),
                Some(b) if !owned(b) => format!("status {} by {:?}", b.status, b.by),
                Some(_) if after.segment.contains(&a.email) => "in the segment".to_string(),
                Some(_) => return None,
            };
            Some(format!(
                "rule 2: {} (contact {id}) unsubscribed, not an owned leaver ({why})",
                a.email
            ))
        })
        .collect()
}

/// Rule 3, docs/run-rules.md, adds: "A contact acsync unsubscribed who
/// re-enters the segment is subscribed again" (and docs/ownership.md: "An
/// unsubscribe made by any of them counts as acsync's own"). Checked after
/// a run that ended.
pub fn resubscribes_its_own_unsubscribes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    before
        .rows
        .iter()
        .filter(|(_, b)| b.status == 2 && by_acsync(b.by))
        .filter(|(_, b)| before.segment.contains(&b.email))
        .filter(|(id, _)| after.rows.get(id).is_none_or(|a| a.status != 1))
        .map(|(id, b)| {
            format!(
                "rule 3: {} (contact {id}) re-entered the segment after acsync's own unsubscribe and is not active",
                b.email
            )
        })
        .collect()
}

/// Rule 4, docs/run-rules.md: a segment member "not on the list is
/// subscribed"; leaving is status 2 and "contacts are never deleted"; crash
/// safety: "no duplicate contact". A contact acsync creates is a segment
/// member: a removal never creates one.
pub fn creates_contacts_only_for_the_segment(
    before: &Snapshot,
    after: &Snapshot,
    created: usize,
    duplicates: Vec<String>,
) -> Vec<String> {
    let new: Vec<&String> = after
        .contacts
        .iter()
        .filter(|(id, _)| !before.contacts.contains_key(id))
        .map(|(_, email)| email)
        .collect();
    let mut found: Vec<String> = new
        .iter()
        .filter(|e| !after.segment.contains(e.as_str()))
        .map(|e| format!("rule 4: contact created for {e}, not in the segment"))
        .collect();
    if created != new.len() {
        found.push(format!(
            "rule 4: {created} contacts created, {} of them under a case's addresses",
            new.len()
        ));
    }
    found.extend(
        duplicates
            .into_iter()
            .map(|e| format!("rule 4: duplicate contact {e}")),
    );
    found
}

/// Rule 5, docs/run-rules.md, crash safety: the next run "converges the
/// list to the segment with no duplicate contact and no forgotten
/// ownership"; kept statuses stay kept. Checked after a run that read the
/// list in full (the one after a kill always does: `unsettled`). A contact
/// whose email others changed counts as out of the segment once the
/// address acsync subscribed it under has left (while that address is
/// still in the segment, either answer is taken); one acsync cannot trace
/// (`Snapshot::untraceable`) may stay.
pub fn converged(after: &Snapshot) -> Vec<String> {
    let by_email: BTreeMap<&str, u64> = after
        .contacts
        .iter()
        .map(|(id, e)| (e.as_str(), *id))
        .collect();
    let mut found: Vec<String> = after
        .segment
        .iter()
        .filter_map(|email| {
            let row = by_email
                .get(email.as_str())
                .and_then(|id| after.rows.get(id));
            match row {
                Some(r) if r.status == 1 || !by_acsync(r.by) => None,
                Some(r) => Some(format!(
                    "rule 5: {email} in the segment, status {} by {:?}",
                    r.status, r.by
                )),
                None => Some(format!("rule 5: {email} in the segment, not on the list")),
            }
        })
        .collect();
    found.extend(
        after
            .rows
            .iter()
            .filter(|(_, r)| owned(r))
            .filter(|(_, r)| !after.untraceable.contains(&r.email))
            .filter(|(_, r)| {
                let known_as = after.renamed.get(&r.email).unwrap_or(&r.email);
                !after.segment.contains(known_as)
            })
            .map(|(id, r)| {
                format!(
                    "rule 5: {} (contact {id}) subscribed by acsync, out of the segment, still active",
                    r.email
                )
            }),
    );
    found
}

/// Each rule flags the violation it names, and only that.
#[cfg(test)]
mod tests {
    use super::*;
    use ChangedBy::{Admin, Contact, Import};

    /// A snapshot of `rows` (contact id, email, status, by) with `segment`.
    fn snap(rows: &[(u64, &str, u8, ChangedBy)], segment: &[&str]) -> Snapshot {
        Snapshot {
            rows: rows
                .iter()
                .map(|(id, e, status, by)| {
                    let row = Row {
                        email: e.to_string(),
                        status: *status,
                        by: *by,
                    };
                    (*id, row)
                })
                .collect(),
            contacts: rows
                .iter()
                .map(|(id, e, ..)| (*id, e.to_string()))
                .collect(),
            segment: segment.iter().map(|e| e.to_string()).collect(),
            renamed: BTreeMap::new(),
            untraceable: BTreeSet::new(),
        }
    }

    #[test]
    fn rule_1_flags_an_activation_over_others_status_only() {
        for (status, by) in [(2, Contact), (3, Admin), (0, Admin), (91, Admin)] {
            let before = snap(&[(1, "a@x.io", status, by)], &["a@x.io"]);
            let after = snap(&[(1, "a@x.io", 1, Import)], &["a@x.io"]);
            assert_eq!(never_activates_over_others(&before, &after).len(), 1);
        }
        let own = snap(&[(1, "a@x.io", 2, Import)], &["a@x.io"]);
        let after = snap(&[(1, "a@x.io", 1, Import)], &["a@x.io"]);
        assert!(never_activates_over_others(&own, &after).is_empty());
    }

    #[test]
    fn rule_2_flags_unsubscribing_anything_but_an_owned_leaver() {
        let after = snap(&[(1, "a@x.io", 2, Import)], &[]);
        let owned_leaver = snap(&[(1, "a@x.io", 1, Import)], &[]);
        assert!(unsubscribes_only_owned_leavers(&owned_leaver, &after).is_empty());
        let others = snap(&[(1, "a@x.io", 1, Contact)], &[]);
        assert_eq!(unsubscribes_only_owned_leavers(&others, &after).len(), 1);
        let no_row = snap(&[], &[]);
        assert_eq!(unsubscribes_only_owned_leavers(&no_row, &after).len(), 1);
        let member = snap(&[(1, "a@x.io", 2, Import)], &["a@x.io"]);
        assert_eq!(
            unsubscribes_only_owned_leavers(&owned_leaver, &member).len(),
            1
        );
    }

    #[test]
    fn rule_3_flags_an_own_unsubscribe_left_in_place_on_reentry() {
        let before = snap(&[(1, "a@x.io", 2, Import)], &["a@x.io"]);
        assert_eq!(resubscribes_its_own_unsubscribes(&before, &before).len(), 1);
        let after = snap(&[(1, "a@x.io", 1, Import)], &["a@x.io"]);
        assert!(resubscribes_its_own_unsubscribes(&before, &after).is_empty());
        let opted_out = snap(&[(1, "a@x.io", 2, Contact)], &["a@x.io"]);
        assert!(resubscribes_its_own_unsubscribes(&opted_out, &opted_out).is_empty());
    }

    #[test]
    fn rule_4_flags_a_contact_created_outside_the_segment() {
        let before = snap(&[], &["a@x.io"]);
        let in_segment = snap(&[(1, "a@x.io", 1, Import)], &["a@x.io"]);
        assert!(creates_contacts_only_for_the_segment(&before, &in_segment, 1, vec![]).is_empty());
        let outside = snap(&[(1, "b@x.io", 2, Import)], &["a@x.io"]);
        assert_eq!(
            creates_contacts_only_for_the_segment(&before, &outside, 1, vec![]).len(),
            1
        );
        let dup = vec!["a@x.io".to_string()];
        assert_eq!(
            creates_contacts_only_for_the_segment(&before, &in_segment, 1, dup).len(),
            1
        );
    }

    #[test]
    fn rule_5_flags_a_missing_member_and_an_owned_leaver_still_active() {
        let kept = snap(
            &[(1, "a@x.io", 2, Contact), (2, "b@x.io", 1, Contact)],
            &["a@x.io"],
        );
        assert!(
            converged(&kept).is_empty(),
            "kept statuses, others' members"
        );
        let missing = snap(&[], &["a@x.io"]);
        assert_eq!(converged(&missing).len(), 1);
        let left = snap(&[(1, "a@x.io", 1, Import)], &[]);
        assert_eq!(converged(&left).len(), 1);
        let own_unsubscribe = snap(&[(1, "a@x.io", 2, Import)], &["a@x.io"]);
        assert_eq!(converged(&own_unsubscribe).len(), 1);
    }
}
