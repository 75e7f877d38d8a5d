//! The drift-check cases: a list in sync with the state, last checked three
//! days ago, on which others changed 0.5% of the members since; one run
//! checks what changed (item 10), compared with a full read of the same
//! list, and the same world on an account whose status changes do not move
//! a contact's `udate`, where the check must notice it cannot be trusted
//! and the next run reads in full (item 11).
//!
//! A planted change is *found* when the run's outcome shows it: the state
//! database's member row has the new status, or the new member with its
//! contact id, a field edited in ActiveCampaign is written back, a deleted
//! contact's id is gone from the row (or the check counted it gone). The
//! status file's `last_run.read` and `last_run.drift` are printed when the
//! run writes them.

use std::collections::{BTreeMap, HashMap};

use acsync::model::{ListStatus, Member};
use acsync::simulator::ChangedBy;
use acsync::state::{ExportMeta, StateDb};
use serde_json::Value;

use super::figures::{
    Metric, RunFigures, Sizes, by_endpoint, count, limit_answers, metric, wall_cpu,
};
use super::measure::Exec;
use super::world::{EXPORT, Mix, World, email};

const DAY: i64 = 24 * 3600;
/// How long ago the account's records were written: well before the last
/// check, as on a real account, so that a check asking by the day does
/// not take every member for changed.
const WORLD_AGE: i64 = 30 * DAY;
/// How long ago the last read of the list was (within `full_read_every`).
const LAST_CHECK: i64 = 3 * DAY;

/// What others did to a member (or to the list) since the last check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    OptOut,
    Bounce,
    Unconfirmed,
    Status91,
    UnsubscribedByAdmin,
    FirstNameEdited,
    AddedNewContact,
    AddedExistingContact,
    Deleted,
}

impl Change {
    /// The changes made to members, in equal shares with the two kinds of
    /// adds (deletions are a few).
    const ON_MEMBERS: [Change; 6] = [
        Change::OptOut,
        Change::Bounce,
        Change::Unconfirmed,
        Change::Status91,
        Change::UnsubscribedByAdmin,
        Change::FirstNameEdited,
    ];
    /// The kinds planted in equal shares: those and the two adds.
    const SHARED: usize = Change::ON_MEMBERS.len() + 2;

    fn name(self) -> &'static str {
        match self {
            Change::OptOut => "opt-outs",
            Change::Bounce => "bounces",
            Change::Unconfirmed => "unconfirmed (0)",
            Change::Status91 => "status 91",
            Change::UnsubscribedByAdmin => "unsubscribed by an admin",
            Change::FirstNameEdited => "first names edited",
            Change::AddedNewContact => "new contacts added",
            Change::AddedExistingContact => "existing contacts added",
            Change::Deleted => "contacts deleted",
        }
    }

    /// The status a member's row must show afterwards.
    fn status(self) -> Option<ListStatus> {
        match self {
            Change::OptOut | Change::UnsubscribedByAdmin => Some(ListStatus::Unsubscribed),
            Change::Bounce => Some(ListStatus::Bounced),
            Change::Unconfirmed => Some(ListStatus::Unconfirmed),
            Change::Status91 => Some(ListStatus::Other(91)),
            Change::AddedNewContact | Change::AddedExistingContact => Some(ListStatus::Active),
            Change::FirstNameEdited | Change::Deleted => None,
        }
    }
}

/// One change made by others.
struct Planted {
    change: Change,
    email: String,
    contact_id: u64,
}

/// A list of `n` members in sync with the state, last read three days ago.
struct DriftWorld {
    w: World,
    /// Contact ids of members `0..n`, by index.
    ids: Vec<u64>,
    /// Contacts of the account on no list (some get added by hand).
    strangers: Vec<(String, u64)>,
}

impl DriftWorld {
    async fn new(n: u64, per_kind: u64, real_limits: bool) -> DriftWorld {
        let w = World::new(real_limits).await;
        // The check, not a due full read, is what is measured: the full
        // read is a week apart (whatever the default).
        let path = w.root().join("exports").join(format!("{EXPORT}.toml"));
        let file = std::fs::read_to_string(&path).expect("export file");
        let file = file.replacen("\n\n[source]", "\nfull_read_every = \"7d\"\n\n[source]", 1);
        std::fs::write(&path, file).expect("export file");
        let ids = w.seed_sim(n);
        let strangers = (0..per_kind)
            .map(|i| {
                let e = format!("stranger{i}@example.com");
                let id = w.sim.add_contact(&e, Some("Stranger"), None, None);
                (e, id)
            })
            .collect();
        w.seed_state(n, Some(&ids));
        let state = w.root().join("state");
        let mut db = StateDb::open(&state).expect("state opens");
        let meta = db.export_meta(EXPORT).expect("meta").expect("seeded meta");
        let last = chrono::Utc::now() - chrono::TimeDelta::seconds(LAST_CHECK);
        let meta = ExportMeta {
            last_full_read: Some(last),
            ..meta
        };
        db.set_export_meta(EXPORT, &meta).expect("meta");
        drop(db);
        w.write_segment(Mix::same(n).segment());
        w.sim.age(WORLD_AGE);
        DriftWorld { w, ids, strangers }
    }

    /// Plants `per_kind` changes of each shared kind and `deleted`
    /// deletions, members picked evenly over the list.
    fn plant(&self, per_kind: u64, deleted: u64) -> Vec<Planted> {
        let on_members = Change::ON_MEMBERS
            .iter()
            .map(|c| (*c, per_kind))
            .chain([(Change::Deleted, deleted)]);
        let picks = Change::ON_MEMBERS.len() as u64 * per_kind + deleted;
        let stride = (self.ids.len() as u64 / picks.max(1)).max(1);
        let mut members = (0..picks).map(|k| k * stride + stride / 2);
        let mut planted = Vec::new();
        for (change, count) in on_members {
            for i in members.by_ref().take(count as usize) {
                planted.push(self.change_member(change, i));
            }
        }
        let (sim, list) = (&self.w.sim, self.w.list);
        for i in 0..per_kind {
            let e = format!("added-by-hand{i}@example.com");
            let id = sim.add_contact(&e, Some("Added"), None, None);
            sim.set_membership(id, list, 1, ChangedBy::Admin);
            planted.push(Planted {
                change: Change::AddedNewContact,
                email: e,
                contact_id: id,
            });
        }
        for (e, id) in &self.strangers {
            sim.set_membership(*id, list, 1, ChangedBy::Admin);
            planted.push(Planted {
                change: Change::AddedExistingContact,
                email: e.clone(),
                contact_id: *id,
            });
        }
        planted
    }

    /// Makes `change` to member `i`, as its author would.
    fn change_member(&self, change: Change, i: u64) -> Planted {
        let (sim, list) = (&self.w.sim, self.w.list);
        let p = Planted {
            change,
            email: email(i),
            contact_id: self.ids[i as usize],
        };
        let id = p.contact_id;
        match change {
            Change::OptOut => sim.set_membership(id, list, 2, ChangedBy::Contact),
            Change::Bounce => sim.set_membership(id, list, 3, ChangedBy::Admin),
            Change::Unconfirmed => sim.set_membership(id, list, 0, ChangedBy::Contact),
            Change::Status91 => sim.set_membership(id, list, 91, ChangedBy::Admin),
            Change::UnsubscribedByAdmin => sim.set_membership(id, list, 2, ChangedBy::Admin),
            Change::FirstNameEdited => {
                assert!(sim.edit_contact_by_others(&p.email, "EditedInActiveCampaign"));
            }
            Change::Deleted => assert!(sim.delete_contact(&p.email)),
            Change::AddedNewContact | Change::AddedExistingContact => {
                unreachable!("an add is no change to a member")
            }
        }
        p
    }

    /// The state database's member rows, by email.
    fn members(&self) -> HashMap<String, Member> {
        let db = StateDb::open_read_only(&self.w.root().join("state")).expect("state opens");
        let scope = acsync::state::scope_of(&self.w.export());
        db.load_members(&scope).expect("members load")
    }

    /// The status file's `last_run` (`Null` when there is none).
    fn last_run(&self) -> Value {
        let path = self
            .w
            .root()
            .join("exports")
            .join(format!("{EXPORT}.status.json"));
        let file = std::fs::read(path).unwrap_or_default();
        let status: Value = serde_json::from_slice(&file).unwrap_or(Value::Null);
        status["last_run"].clone()
    }

    /// Found and planted, by kind. `gone`: deleted members the run's
    /// check counted gone without naming them.
    fn found(&self, planted: &[Planted], gone: u64) -> BTreeMap<Change, (u64, u64)> {
        let members = self.members();
        let mut by_kind: BTreeMap<Change, (u64, u64)> = BTreeMap::new();
        for p in planted {
            let row = members.get(&p.email);
            let known = match p.change {
                Change::FirstNameEdited => self
                    .w
                    .sim
                    .contact(&p.email)
                    .is_some_and(|c| c.first_name != "EditedInActiveCampaign"),
                Change::Deleted => row.is_none_or(|m| m.contact_id != Some(p.contact_id)),
                change => row.is_some_and(|m| {
                    m.status == change.status() && m.contact_id == Some(p.contact_id)
                }),
            };
            let e = by_kind.entry(p.change).or_default();
            e.0 += u64::from(known);
            e.1 += 1;
        }
        if let Some(d) = by_kind.get_mut(&Change::Deleted) {
            d.0 = d.0.max(gone.min(d.1));
        }
        by_kind
    }
}

/// Planted changes per shared kind, and deletions, for a list of `n`:
/// 0.5% in all.
fn shares(n: u64) -> (u64, u64) {
    let changes = n / 200;
    let deleted = (changes / 500).max(1);
    let per_kind = ((changes - deleted.min(changes)) / Change::SHARED as u64).max(1);
    (per_kind, deleted)
}

/// `read (reason)` and the drift figures of a status file's `last_run`.
fn read_kind(last_run: &Value) -> String {
    match last_run["read"].as_str() {
        Some(read) => format!(
            "{read} ({}); drift {}",
            last_run["read_reason"].as_str().unwrap_or("-"),
            last_run.get("drift").map_or("-".into(), Value::to_string)
        ),
        None => format!(
            "not reported (full_read {})",
            last_run["full_read"].as_bool().unwrap_or(false)
        ),
    }
}

fn found_rows(item: u8, when: &str, found: &BTreeMap<Change, (u64, u64)>) -> Vec<Metric> {
    let (all, planted) = found
        .values()
        .fold((0, 0), |(f, p), (kf, kp)| (f + kf, p + kp));
    let listed = found
        .iter()
        .map(|(k, (f, p))| format!("{} {f}/{p}", k.name()))
        .collect::<Vec<_>>()
        .join(", ");
    vec![metric(
        item,
        &format!("{when}: planted changes found"),
        format!("{all}/{planted}: {listed}"),
        "100%",
        Some(all == planted),
    )]
}

/// Item 10: the drift check against a full read of the same list.
pub async fn item10_drift_check(sizes: &Sizes, exec: &impl Exec) -> Vec<Metric> {
    let n = sizes.drift;
    let (per_kind, deleted) = shares(n);
    let d = DriftWorld::new(n, per_kind, sizes.real_limits).await;
    let planted = d.plant(per_kind, deleted);
    d.w.sim.reset_ledger();
    let fast = !sizes.real_limits;
    let check = d.w.measure(exec, "run", fast).await;
    let checked = d.w.sim.ledger();
    let last_run = d.last_run();
    let gone = last_run["drift"]["gone"].as_u64().unwrap_or(0);
    let found = d.found(&planted, gone);
    d.w.sim.reset_ledger();
    let full = d.w.measure(exec, "full-read", fast).await;
    let read = d.w.sim.ledger();
    let strict = n >= 1_000_000;
    let share = checked.total as f64 / read.total.max(1) as f64;
    let mut rows = vec![
        metric(
            10,
            &format!(
                "{n} members, {} changed by others: drift run's read",
                planted.len()
            ),
            read_kind(&last_run),
            "drift",
            Some(last_run["read"].as_str() == Some("drift")),
        ),
        metric(
            10,
            "drift run: requests by endpoint",
            format!(
                "{} in all: {}; writes {}",
                checked.total,
                by_endpoint(&checked),
                checked.writes
            ),
            "",
            None,
        ),
        metric(
            10,
            "drift run: requests vs the full read's",
            format!(
                "{} vs {} ({:.1}%)",
                checked.total,
                read.total,
                share * 100.0
            ),
            "≤ 10%",
            strict.then_some(share <= 0.10),
        ),
        run_row(10, "drift run: wall (CPU); limit answers", &check, &checked),
    ];
    rows.extend(found_rows(10, "drift run", &found));
    rows.extend(full_read_rows(10, &full, &read, gone));
    // The reference: what a full read leaves known (the same criteria).
    rows.extend(found_rows(
        10,
        "after sync --full-read",
        &d.found(&planted, 0),
    ));
    rows
}

/// The full read that follows a drift run: what it cost, and what it
/// still found to do: nothing when the check found everything, but for
/// re-adding the deleted contacts the check counted `gone` without naming.
fn full_read_rows(
    item: u8,
    full: &RunFigures,
    read: &acsync::simulator::Ledger,
    gone: u64,
) -> Vec<Metric> {
    let readded = full.added.min(gone);
    let left = full.added - readded + full.updated + full.removed;
    vec![
        metric(
            item,
            "then sync --full-read: requests by endpoint",
            format!("{} in all: {}", read.total, by_endpoint(read)),
            "",
            None,
        ),
        run_row(
            item,
            "sync --full-read: wall (CPU); limit answers",
            full,
            read,
        ),
        metric(
            item,
            "sync --full-read: adds / updates / removals left to do",
            format!(
                "{} / {} / {} ({readded} adds re-add contacts counted gone)",
                full.added, full.updated, full.removed
            ),
            "0 / 0 / 0 besides those",
            Some(left == 0),
        ),
    ]
}

fn run_row(item: u8, name: &str, f: &RunFigures, l: &acsync::simulator::Ledger) -> Metric {
    metric(
        item,
        name,
        format!(
            "{} ({}); {}; GET /contacts {}",
            wall_cpu(f),
            f.outcome,
            limit_answers(l),
            count(l, "GET /contacts")
        ),
        "",
        None,
    )
}

/// Item 11: item 10's world on an account where a list-status change
/// leaves the contact's `udate`: the check must report that it disagreed,
/// and the next run must read in full.
pub async fn item11_drift_fallback(sizes: &Sizes, exec: &impl Exec) -> Vec<Metric> {
    let n = sizes.drift;
    let (per_kind, deleted) = shares(n);
    let d = DriftWorld::new(n, per_kind, sizes.real_limits).await;
    d.w.sim.set_status_change_moves_udate(false);
    let planted = d.plant(per_kind, deleted);
    d.w.sim.reset_ledger();
    let fast = !sizes.real_limits;
    let check = d.w.measure(exec, "run", fast).await;
    let checked = d.w.sim.ledger();
    let first = d.last_run();
    let drift = &first["drift"];
    let disagreed = drift["disagreed"].is_string()
        || drift["counts"].as_str() == Some("disagreed")
        || drift["sample_disagreed"].as_u64().is_some_and(|s| s > 0);
    d.w.sim.reset_ledger();
    let next = d.w.measure(exec, "run", fast).await;
    let read = d.w.sim.ledger();
    let second = d.last_run();
    let gone = second["drift"]["gone"].as_u64().unwrap_or(0);
    let found = d.found(&planted, gone);
    let fell_back = second["read"].as_str() == Some("full")
        && second["read_reason"].as_str() == Some("drift_check_disagreed");
    let mut rows = vec![
        metric(
            11,
            &format!("status changes leave udate ({n} members): the check's read"),
            read_kind(&first),
            "drift, disagreed",
            Some(first["read"].as_str() == Some("drift") && disagreed),
        ),
        metric(
            11,
            "the check: requests by endpoint",
            format!("{} in all: {}", checked.total, by_endpoint(&checked)),
            "",
            None,
        ),
        run_row(11, "the check: wall (CPU); limit answers", &check, &checked),
        metric(
            11,
            "the next run's read",
            read_kind(&second),
            "full (drift_check_disagreed)",
            Some(fell_back),
        ),
        run_row(11, "the next run: wall (CPU); limit answers", &next, &read),
    ];
    rows.extend(found_rows(11, "after the next run", &found));
    rows
}
