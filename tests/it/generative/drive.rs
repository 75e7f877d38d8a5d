//! Gives a case's events effect: the segment file, in-process runs (killed
//! by dropping the run once the simulator holds a request unanswered), and
//! others' changes through the simulator's handle. Every run is checked by
//! the oracle against snapshots taken right before and after it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use acsync::run::{RunOptions, RunReport};
use acsync::simulator::{ChangedBy, Simulator};
use acsync::status::Outcome;

use super::events::{Case, Event, KillPoint, OthersAction, address};
use super::oracle::{self, Snapshot};
use crate::harness::World;

const EXPORT: &str = "gen";

/// Long enough that a held answer never arrives while the case runs.
const FOREVER: Duration = Duration::from_secs(3600);

/// What a case did: runs that ended, runs killed mid-way.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub runs: usize,
    pub kills: usize,
}

/// Runs `case`, then a last full-read run, then two more: the second must
/// find nothing to write; the first broken rule, with the event that broke it.
pub async fn replay(case: &Case) -> Result<Tally, String> {
    let mut d = Driver::new(case).await;
    let last = [Event::FullReadRun];
    for (i, event) in case.events.iter().chain(&last).enumerate() {
        let found = d.apply(*event).await;
        if !found.is_empty() {
            let at = if i < case.events.len() {
                format!("event {i} ({event:?})")
            } else {
                "the final full-read run".to_string()
            };
            return Err(format!("at {at}:\n  {}", found.join("\n  ")));
        }
    }
    let found = d.quiet_run().await;
    if !found.is_empty() {
        return Err(format!(
            "at a full-read run after the final one:\n  {}",
            found.join("\n  ")
        ));
    }
    Ok(d.tally)
}

struct Driver {
    w: World,
    /// Segment members: address index -> first-name version.
    segment: BTreeMap<usize, u32>,
    /// Contacts renamed by others: `moved{n}@example.net` -> the address.
    moved: BTreeMap<String, String>,
    /// Whether the last run was killed: the next one must converge.
    after_kill: bool,
    /// Set by a kill to the highest contact id before the killed run, until
    /// the next run ends: a contact above it was created by a write whose
    /// answer may never have reached acsync.
    unanswered_above: Option<u64>,
    /// Contacts (their email now) renamed while that was so.
    untraceable: BTreeSet<String>,
    tally: Tally,
}

impl Driver {
    async fn new(case: &Case) -> Driver {
        let w = World::new().await;
        let bulk = if case.bulk {
            "exclude_automations = true\n"
        } else {
            ""
        };
        let drift = if case.drift_checks {
            "drift_check_every = \"0\"\n"
        } else {
            ""
        };
        w.write_export(
            EXPORT,
            &format!("max_removals = \"100%\"\nallow_empty = true\n{bulk}{drift}"),
        );
        w.sim.set_status_change_moves_udate(!case.udate_still);
        if case.stored_form {
            w.sim
                .set_stored_form(Some(super::events::STORED_FORM_CHARS));
        }
        let d = Driver {
            w,
            segment: case.initial.iter().map(|i| (*i, 0)).collect(),
            moved: BTreeMap::new(),
            after_kill: false,
            unanswered_above: None,
            untraceable: BTreeSet::new(),
            tally: Tally::default(),
        };
        d.write_segment();
        d
    }

    fn sim(&self) -> &Simulator {
        &self.w.sim
    }

    fn write_segment(&self) {
        let rows: Vec<(String, String)> = self
            .segment
            .iter()
            .map(|(i, v)| (address(*i), format!("Name{i}v{v}")))
            .collect();
        self.w.write_people(EXPORT, &rows);
    }

    fn segment_emails(&self) -> BTreeSet<String> {
        self.segment.keys().map(|i| address(*i)).collect()
    }

    fn snapshot(&self) -> Snapshot {
        let mut addresses: Vec<String> = (0..super::events::ADDRESSES).map(address).collect();
        addresses.extend(self.moved.keys().cloned());
        let (sim, list) = (self.sim(), self.w.list);
        Snapshot::take(
            sim,
            list,
            &addresses,
            self.segment_emails(),
            self.moved.clone(),
            self.untraceable.clone(),
        )
    }

    /// Applies one event; the rules it broke (none for a non-run).
    async fn apply(&mut self, event: Event) -> Vec<String> {
        match event {
            Event::Join(i) => {
                self.segment.insert(i, 0);
                self.write_segment();
            }
            Event::Leave(i) => {
                self.segment.remove(&i);
                self.write_segment();
            }
            Event::EditName(i) => {
                if let Some(v) = self.segment.get_mut(&i) {
                    *v += 1;
                    self.write_segment();
                }
            }
            Event::Run => return self.checked_run(None, false).await,
            Event::FullReadRun => return self.checked_run(None, true).await,
            Event::Kill(point) => return self.checked_run(Some(point), false).await,
            Event::Others(i, action) => self.others(i, action),
            Event::TimePasses => self.w.pass_time(3 * 24 * 3600),
        }
        Vec::new()
    }

    /// A run (killed at `kill` if it gets there), checked by the oracle.
    async fn checked_run(&mut self, kill: Option<KillPoint>, full_read: bool) -> Vec<String> {
        let before = self.snapshot();
        let highest = before
            .contacts
            .keys()
            .chain(before.rows.keys())
            .max()
            .copied();
        let contacts = self.sim().contact_count();
        let report = self.run(kill, full_read).await;
        let after = self.snapshot();
        let created = self.sim().contact_count().saturating_sub(contacts);
        let mut found = oracle::never_activates_over_others(&before, &after);
        found.extend(oracle::unsubscribes_only_owned_leavers(&before, &after));
        found.extend(oracle::creates_contacts_only_for_the_segment(
            &before,
            &after,
            created,
            self.sim().duplicate_emails(),
        ));
        let Some(report) = report else {
            self.tally.kills += 1;
            self.after_kill = true;
            self.unanswered_above = self.unanswered_above.or(Some(highest.unwrap_or(0)));
            return found;
        };
        self.unanswered_above = None;
        if report.outcome != Outcome::Success {
            found.push(format!(
                "the run ended {:?}: {:?}",
                report.outcome, report.last_run.error
            ));
        }
        self.tally.runs += 1;
        found.extend(oracle::resubscribes_its_own_unsubscribes(&before, &after));
        if self.after_kill || full_read {
            found.extend(oracle::converged(&after));
        }
        self.after_kill = false;
        found
    }

    /// Two full-read runs after the final one, nothing having changed
    /// since: the list converged, so the second sends no write
    /// (docs/run-rules.md: a run with no segment change writes nothing; a
    /// value ActiveCampaign stores in another form is sent again once, by
    /// the first, then recognised).
    async fn quiet_run(&mut self) -> Vec<String> {
        let mut found = self.checked_run(None, true).await;
        let before = self.sim().ledger();
        found.extend(self.checked_run(None, true).await);
        let after = self.sim().ledger();
        if after.writes > before.writes {
            let sent: Vec<String> = after
                .by_endpoint
                .iter()
                .filter(|(e, n)| !e.starts_with("GET ") && before.by_endpoint.get(*e) != Some(*n))
                .map(|(e, n)| {
                    format!(
                        "{e} x{}",
                        n - before.by_endpoint.get(e).copied().unwrap_or(0)
                    )
                })
                .collect();
            found.push(format!(
                "a converged list was written again: {}",
                sent.join(", ")
            ));
        }
        found
    }

    /// Runs the export; `None` when killed at `kill`. A killed run's
    /// batches land before this returns, as they do while acsync is down.
    async fn run(&self, kill: Option<KillPoint>, full_read: bool) -> Option<RunReport> {
        let opts = RunOptions {
            full_read,
            ..RunOptions::default()
        };
        let Some(point) = kill else {
            return Some(self.w.sync_with(EXPORT, opts).await);
        };
        let batches = self.sim().ledger().batches_submitted;
        match point {
            KillPoint::AfterRequests { answered, applied } => {
                self.sim().freeze_after(u64::from(answered), applied);
            }
            KillPoint::WhileABatchProcesses => self.sim().hold_bulk_answer(batches + 1, FOREVER),
        }
        let reached = async {
            loop {
                let held = match point {
                    KillPoint::AfterRequests { .. } => self.sim().frozen(),
                    KillPoint::WhileABatchProcesses => {
                        self.sim().ledger().batches_submitted > batches
                    }
                };
                if held {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        };
        let report = tokio::select! {
            r = self.w.sync_with(EXPORT, opts) => Some(r),
            () = reached => None,
        };
        self.sim().thaw();
        self.sim().hold_bulk_answer(0, Duration::ZERO);
        if report.is_none() {
            // The batches queued land, and a state transaction the dropped
            // run had started ends, before anything else happens.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        report
    }

    /// Someone else changes `address(i)`'s contact or membership.
    fn others(&mut self, i: usize, action: OthersAction) {
        let email = address(i);
        let sim = self.sim().clone();
        let membership = |status: u8, by: ChangedBy| self.membership_change(&email, status, by);
        match action {
            OthersAction::OptOut => membership(2, ChangedBy::Contact),
            OthersAction::FormSubscribe => membership(1, ChangedBy::Contact),
            OthersAction::AdminSubscribe => membership(1, ChangedBy::Admin),
            OthersAction::OptOutThenFormSubscribe => {
                membership(2, ChangedBy::Contact);
                membership(1, ChangedBy::Contact);
            }
            OthersAction::FormSubscribeThenOptOut => {
                membership(1, ChangedBy::Contact);
                membership(2, ChangedBy::Contact);
            }
            OthersAction::Bounce => membership(3, ChangedBy::Admin),
            OthersAction::Unconfirmed => membership(0, ChangedBy::Admin),
            OthersAction::Status91 => membership(91, ChangedBy::Admin),
            OthersAction::Delete => {
                sim.delete_contact(&email);
            }
            OthersAction::Recreate => {
                if sim.delete_contact(&email) {
                    sim.add_contact(&email, None, None, None);
                }
            }
            OthersAction::RenameAway => {
                let to = format!("moved{}@example.net", self.moved.len());
                let id = sim.contact(&email).map(|c| c.id);
                if sim.change_email(&email, &to) {
                    if id
                        .zip(self.unanswered_above)
                        .is_some_and(|(id, above)| id > above)
                    {
                        self.untraceable.insert(to.clone());
                    }
                    self.moved.insert(to, email);
                }
            }
            OthersAction::FieldEdit => {
                if sim.contact(&email).is_some() {
                    sim.add_contact(&email, Some("Edited"), None, None);
                }
            }
        }
    }

    /// Others set `email`'s membership to `status`: a subscribe creates the
    /// contact and the row if needed, any other status needs a row. The
    /// change is dated an hour from now, as others act well after acsync's
    /// last write: the evidence docs/ownership.md reads (the row's change
    /// time) then tells it apart, even when the status ends where acsync
    /// left it.
    fn membership_change(&self, email: &str, status: u8, by: ChangedBy) {
        let (sim, list) = (self.sim(), self.w.list);
        let was = sim.list_status(email, list);
        let contact = match (status, was) {
            (1, _) => Some(sim.add_contact(email, None, None, None)),
            (_, Some(_)) => sim.contact(email).map(|c| c.id),
            (_, None) => None,
        };
        let Some(id) = contact else {
            return;
        };
        sim.set_membership(id, list, status, by);
        if was != Some(status) {
            let later = chrono::Utc::now().timestamp() + 3600;
            sim.set_membership_udate(email, list, later);
        }
    }
}
