//! Unit tests of the pure write core: every decision of a write, with no
//! IO, no runtime and no clock (times are plain numbers).

use std::collections::HashMap;
use std::time::Duration;

use super::answers::{BULK_REFUSED, ContactOnList};
use super::decide::*;
use super::verify::*;
use crate::activecampaign::{ApiError, BatchResult, BatchStatus, CheckedContact, ErrorBody};
use crate::model::Kept;
use crate::model::{
    Fields, Known, ListStatus, LiveMember, Member, MembershipRow, PendingOp, UnsubscribeMarks,
    WriteWindow,
};
use crate::plan::{Change, Removal};
use crate::run::history::ChangeEnd;
use crate::state::JournalStep;

const LIST: u64 = 7;
const SENT: i64 = 1_000;
const NOW: i64 = 1_050;

fn core(known: &Known) -> WriteCore<'_> {
    WriteCore {
        known,
        list_id: LIST,
        tags: &[],
        exclude_automations: false,
        maps_custom_fields: false,
        field_ids: Default::default(),
        started_at: 900,
        listed_now: false,
    }
}

fn change(i: u64) -> Change {
    let fields = Fields::new(Some(&format!("First{i}")), Some("Last"), None);
    Change {
        email: format!("user{i}@example.com"),
        row: i + 2,
        contact_id: None,
        hash: fields.hash64(),
        read_back: None,
        fields,
    }
}

fn changes(n: u64) -> Vec<Change> {
    (0..n).map(change).collect()
}

fn adds(c: &[Change]) -> Vec<Item<'_>> {
    c.iter()
        .enumerate()
        .map(|(i, c)| Item::change(i, PendingOp::Add, c))
        .collect()
}

fn body(json: &str) -> Box<ErrorBody> {
    Box::new(ErrorBody::parse(json.as_bytes()))
}

fn auth() -> ApiError {
    ApiError::Auth {
        connection: "c".into(),
        endpoint: "/contacts".into(),
        status: 401,
        body: body("{}"),
        key_source: "environment variable `AC_KEY`".into(),
    }
}

fn rejected(json: &str) -> ApiError {
    ApiError::Rejected {
        connection: "c".into(),
        endpoint: "/import/bulk_import".into(),
        status: 400,
        body: body(json),
    }
}

fn exhausted() -> ApiError {
    ApiError::RetriesExhausted {
        connection: "c".into(),
        endpoint: "/contact/sync".into(),
        attempts: 5,
        last: "503".into(),
    }
}

fn every_error() -> Vec<(ApiError, ErrorClass)> {
    let s = || "x".to_string();
    vec![
        (
            ApiError::Config {
                connection: s(),
                reason: s(),
            },
            ErrorClass::Fatal,
        ),
        (auth(), ErrorClass::Fatal),
        (
            ApiError::ListNotFound {
                connection: s(),
                list_id: LIST,
                body: body("{}"),
            },
            ErrorClass::Fatal,
        ),
        (
            ApiError::Tls {
                connection: s(),
                reason: s(),
            },
            ErrorClass::Fatal,
        ),
        (rejected(r#"{"message":"bad"}"#), ErrorClass::Refused),
        (exhausted(), ErrorClass::InDoubt),
        (
            ApiError::Decode {
                connection: s(),
                endpoint: s(),
                reason: s(),
            },
            ErrorClass::InDoubt,
        ),
        (
            ApiError::BatchTimeout {
                connection: s(),
                batch_id: s(),
                waited_secs: 1,
                last_status: s(),
            },
            ErrorClass::InDoubt,
        ),
    ]
}

fn live(email: &str, status: ListStatus, first: Option<&str>) -> LiveMember {
    LiveMember {
        contact_id: 42,
        email: email.into(),
        status,
        first_name: first.map(str::to_owned),
        last_name: Some("Last".into()),
        phone: None,
        contact_created: None,
    }
}

// ---- routing and journaling before a send ----

#[test]
fn bulk_from_ten_or_with_tags_or_when_automations_are_excluded() {
    let known = Known::new();
    let mut c = core(&known);
    let cs = changes(10);
    let items = adds(&cs);
    assert!(!c.by_bulk(&items[..9]));
    assert!(c.by_bulk(&items));
    let tags = vec!["vip".to_string()];
    c.tags = &tags;
    assert!(c.by_bulk(&items[..1]), "only bulk import adds tags");
    assert!(!c.by_bulk(&[]));
    let r = Removal {
        email: "gone@example.com".into(),
        contact_id: None,
    };
    assert!(!c.by_bulk(&[Item::removal(0, &r)]), "a removal has no tags");
    c.exclude_automations = true;
    assert!(c.by_bulk(&[Item::removal(0, &r)]));
    assert!(!c.by_bulk(&[]));
}

#[test]
fn the_list_is_read_to_settle_doubts_only_when_there_are_some_and_the_run_goes_on() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(1);
    let mut t = WriteTally::default();
    assert!(!c.reads_to_settle(&t, false), "nothing in doubt");
    t.doubt(&Item::change(0, PendingOp::Add, &cs[0]), "no answer");
    assert!(c.reads_to_settle(&t, false));
    assert!(!c.reads_to_settle(&t, true), "a stopped run reads no more");
}

#[test]
fn intents_are_journaled_with_the_operation_before_a_send() {
    let mut known = Known::new();
    let mut old = Member::unknown("user1@example.com");
    old.owned = true;
    old.contact_id = Some(5);
    known.insert(old);
    let cs = changes(2);
    let c = core(&known);
    let rows = c.intents(&[
        Item::change(0, PendingOp::Add, &cs[0]),
        Item::change(1, PendingOp::Update, &cs[1]),
    ]);
    assert_eq!(rows[0].pending, Some(PendingOp::Add));
    assert_eq!(rows[1].pending, Some(PendingOp::Update));
    assert!(
        rows[1].owned && rows[1].contact_id == Some(5),
        "the rest of the row is kept"
    );
}

#[test]
fn a_bulk_contact_subscribes_adds_unsubscribes_removals_and_tags_only_non_removals() {
    let known = Known::new();
    let tags = vec!["vip".to_string()];
    let mut c = core(&known);
    c.tags = &tags;
    let cs = changes(1);
    let add = c.bulk_contact(&Item::change(0, PendingOp::Add, &cs[0]));
    assert_eq!(
        (add.subscribe, add.unsubscribe, add.tags),
        (vec![LIST], vec![], tags.clone())
    );
    let upd = c.bulk_contact(&Item::change(0, PendingOp::Update, &cs[0]));
    assert!(upd.subscribe.is_empty() && upd.unsubscribe.is_empty());
    let r = Removal {
        email: "gone@example.com".into(),
        contact_id: None,
    };
    let rm = c.bulk_contact(&Item::removal(0, &r));
    assert_eq!((rm.subscribe, rm.unsubscribe), (vec![], vec![LIST]));
    assert!(rm.tags.is_empty() && rm.first_name.is_none());
}

// ---- error classes ----

#[test]
fn every_api_error_has_its_class() {
    for (e, class) in every_error() {
        assert_eq!(class_of(&e), class, "{e:?}");
        assert_eq!(fatal(&e), class == ErrorClass::Fatal);
    }
}

// ---- one change through contact/sync and contactLists ----

#[test]
fn a_single_change_that_landed_is_recorded_by_its_operation() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(1);
    let r = Removal {
        email: "gone@example.com".into(),
        contact_id: Some(9),
    };
    let mut t = WriteTally::default();
    for (op, item) in [
        (PendingOp::Add, Item::change(0, PendingOp::Add, &cs[0])),
        (
            PendingOp::Update,
            Item::change(0, PendingOp::Update, &cs[0]),
        ),
        (
            PendingOp::Resubscribe,
            Item::change(0, PendingOp::Resubscribe, &cs[0]),
        ),
        (PendingOp::Remove, Item::removal(0, &r)),
    ] {
        let SingleStep::Save(m) =
            c.after_single(&mut t, &item, Ok(SingleAnswer::Applied), SENT, NOW)
        else {
            panic!("{op:?}: saved");
        };
        assert_eq!(m.pending, None, "{op:?}: intent cleared");
        match op {
            PendingOp::Add => {
                assert!(m.owned && m.status == Some(ListStatus::Active));
                assert_eq!(m.sent_hash, Some(cs[0].hash));
            }
            PendingOp::Update => assert!(!m.owned && m.status.is_none()),
            PendingOp::Resubscribe => assert!(!m.owned && m.status == Some(ListStatus::Active)),
            PendingOp::Remove => {
                assert!(m.unsubscribed_by_us && m.status == Some(ListStatus::Unsubscribed));
                let w = m.last_write.expect("window");
                assert_eq!((w.from, w.to), (SENT, NOW), "our unsubscribe's window");
                assert_eq!(m.contact_id, Some(9));
            }
        }
    }
    assert_eq!((t.added, t.updated, t.removed, t.failed), (2, 1, 1, 0));
}

#[test]
fn a_single_add_kept_by_its_status_is_counted_kept_not_failed() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(1);
    let item = Item::change(0, PendingOp::Add, &cs[0]);
    let mut t = WriteTally::default();
    for status in [
        ListStatus::Unsubscribed,
        ListStatus::Bounced,
        ListStatus::Other(91),
        ListStatus::Unconfirmed,
    ] {
        let step = c.after_single(&mut t, &item, Ok(SingleAnswer::Kept(status, 11)), SENT, NOW);
        let SingleStep::Save(m) = step else {
            panic!("saved")
        };
        assert_eq!(
            (m.status, m.contact_id, m.pending),
            (Some(status), Some(11), None)
        );
        assert!(!m.unsubscribed_by_us && !m.owned);
    }
    assert_eq!(
        (
            t.kept_unsubscribed,
            t.kept_bounced,
            t.kept_unconfirmed,
            t.kept_other_status
        ),
        (1, 1, 1, 1)
    );
    assert_eq!((t.added, t.failed), (0, 0));
    assert_eq!(
        t.outcomes.of(0),
        &ChangeEnd::Kept(Kept::Unconfirmed),
        "the last one"
    );
}

#[test]
fn removing_a_contact_that_does_not_exist_records_no_membership() {
    let mut known = Known::new();
    let mut m = Member::unknown("gone@example.com");
    m.status = Some(ListStatus::Active);
    m.owned = true;
    known.insert(m);
    let c = core(&known);
    let r = Removal {
        email: "gone@example.com".into(),
        contact_id: None,
    };
    let mut t = WriteTally::default();
    let step = c.after_single(
        &mut t,
        &Item::removal(0, &r),
        Ok(SingleAnswer::NoSuchContact),
        SENT,
        NOW,
    );
    let SingleStep::Save(m) = step else {
        panic!("saved")
    };
    assert_eq!((m.status, m.pending), (None, None));
    assert_eq!(t.removed, 0);
    assert_eq!(t.outcomes.of(0), &ChangeEnd::NotActive);
}

#[test]
fn a_single_error_stops_keeps_its_intent_or_fails_by_class() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(1);
    let item = Item::change(0, PendingOp::Add, &cs[0]);
    for (e, class) in every_error() {
        let mut t = WriteTally::default();
        let step = c.after_single(&mut t, &item, Err(e), SENT, NOW);
        match (class, step) {
            (ErrorClass::Fatal, SingleStep::Stop(_)) => assert_eq!(t.failed, 0),
            (ErrorClass::InDoubt, SingleStep::KeepIntent) => {
                assert_eq!((t.in_doubt(), t.failed), (1, 0), "settled later by a read");
            }
            (ErrorClass::Refused, SingleStep::Save(m)) => {
                assert_eq!(m.pending, None, "retried next run, not pending");
                assert_eq!(t.failed, 1);
                assert_eq!(t.failures[0].row, Some(2));
                assert!(matches!(t.outcomes.of(0), ChangeEnd::Failed(_)));
            }
            (class, step) => panic!("{class:?} gave {step:?}"),
        }
    }
}

// ---- bulk submission ----

#[test]
fn an_accepted_batch_forgets_its_placeholder_and_is_journaled_under_its_id() {
    let s = after_submit(Ok("b1".into()), &["a@x.io"; 3], "unacknowledged:1");
    assert_eq!(
        s.journal,
        [
            JournalStep::Remove("unacknowledged:1".into()),
            JournalStep::Add("b1".into())
        ],
        "one transaction: no instant without either"
    );
    assert!(matches!(s.then, AfterSubmit::Accepted(ref id) if id == "b1"));
}

#[test]
fn an_unanswered_submission_keeps_its_unacknowledged_placeholder() {
    for (e, class) in every_error() {
        let s = after_submit(Err(e), &["a@x.io"; 3], "unacknowledged:1");
        let forgets = s.journal == [JournalStep::Remove("unacknowledged:1".into())];
        assert_eq!(forgets, class != ErrorClass::InDoubt, "{class:?}");
        assert!(forgets || s.journal.is_empty());
        assert!(matches!(s.then, AfterSubmit::Failed(_)));
    }
}

#[test]
fn a_rejection_naming_contacts_fails_them_and_resubmits_the_rest() {
    let e = rejected(
        r#"{"success":0,"failureReasons":[{"contact":1,"failureReason":"invalid email"}]}"#,
    );
    // The named contact's address fails acsync's own rule: the index is
    // attributed with certainty (see rejection.rs).
    let sent = ["a@x.io", "not an email", "c@x.io", "d@x.io"];
    let s = after_submit(Err(e), &sent, "unacknowledged:1");
    assert_eq!(
        s.journal,
        [JournalStep::Remove("unacknowledged:1".into())],
        "nothing was queued"
    );
    let AfterSubmit::RejectNamed(named) = s.then else {
        panic!("named")
    };
    assert_eq!(named.len(), 1);
    let known = Known::new();
    let c = core(&known);
    let cs = changes(4);
    let items = adds(&cs);
    let mut t = WriteTally::default();
    let rows = c.reject_named(&mut t, &items, &named);
    let (i, _) = named[0];
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].email.as_str(), rows[0].pending),
        (items[i].email, None)
    );
    assert_eq!(t.failed, 1);
    assert!(
        t.failures[0].reason.contains("invalid email"),
        "{:?}",
        t.failures
    );
    let rest = rest_ranges(0..4, named.iter().map(|(i, _)| *i));
    assert_eq!(rest.iter().map(|r| r.len()).sum::<usize>(), 3);
    assert!(rest.iter().all(|r| !r.contains(&i)));
}

#[test]
fn the_documented_rejection_of_a_small_batch_splits_it() {
    let e = rejected(
        r#"{"success":0,"failureReasons":[{"contact":230,"failureReason":"Field' email' incorrect format"}]}"#,
    );
    let s = after_submit(Err(e), &["a@x.io"; 15], "unacknowledged:1");
    assert_eq!(s.journal, [JournalStep::Remove("unacknowledged:1".into())]);
    assert!(matches!(s.then, AfterSubmit::Split), "{:?}", s.then);
}

#[test]
fn a_rejection_that_names_no_contact_is_a_refusal_of_the_whole_batch() {
    let e = rejected(r#"{"success":0,"failureReasons":["Rate limit exceeded"]}"#);
    assert!(matches!(
        after_submit(Err(e), &["a@x.io"; 4], "unacknowledged:1").then,
        AfterSubmit::Failed(_)
    ));
}

#[test]
fn a_rejection_leaves_the_runs_between_named_contacts() {
    assert_eq!(rest_ranges(250..510, [240]), vec![250..490, 491..510]);
    assert_eq!(rest_ranges(0..5, [0, 4, 2, 2]), vec![1..2, 3..4]);
    assert_eq!(
        rest_ranges(0..2, [0, 1]),
        Vec::<std::ops::Range<usize>>::new()
    );
    assert_eq!(rest_ranges(10..13, [7]), vec![10..13]);
}

#[test]
fn a_first_submission_journals_its_intents_with_its_placeholder() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(3);
    let items = adds(&cs);
    let w = c.before_submit(&Submission::first(0..3), &items, "unacknowledged:1");
    assert_eq!(w.steps, [JournalStep::Add("unacknowledged:1".into())]);
    assert_eq!(w.members.len(), 3);
    assert!(w.members.iter().all(|m| m.pending == Some(PendingOp::Add)));
}

#[test]
fn a_resubmission_is_journaled_in_place_of_the_ended_batch_before_it_is_sent() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(3);
    let items = adds(&cs);
    let f = Submission::first(0..3).accepted("b1".into(), Duration::from_secs(10), SENT);
    let again = Submission::again(&f);
    assert_eq!((again.range.clone(), again.attempt), (0..3, 2));
    let w = c.before_submit(&again, &items, "unacknowledged:2");
    assert_eq!(
        w.steps,
        [
            JournalStep::Remove("b1".into()),
            JournalStep::Add("unacknowledged:2".into())
        ],
        "one transaction: the journal always holds one of them"
    );
    assert!(w.members.is_empty(), "its intents are journaled already");
}

#[test]
fn what_a_named_rejection_leaves_is_sent_again_without_intents() {
    let sub = Submission {
        attempt: 2,
        ..Submission::first(10..15)
    };
    let rest = sub.rest([1, 3]);
    let ranges: Vec<_> = rest.iter().map(|r| r.range.clone()).collect();
    assert_eq!(ranges, [10..11, 12..13, 14..15]);
    assert!(rest.iter().all(|r| r.attempt == 2 && !r.with_intents));
    assert!(rest.iter().all(|r| r.replaces.is_none()));
}

#[test]
fn a_batch_not_accepted_stops_doubts_or_fails_by_class() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(3);
    let items = adds(&cs);
    for (e, class) in every_error() {
        let mut t = WriteTally::default();
        let r = c.submit_failed(&mut t, &items, e);
        match class {
            ErrorClass::Fatal => assert!(r.is_err()),
            ErrorClass::InDoubt => {
                assert!(r.expect("not fatal").is_empty(), "intents stay pending");
                assert_eq!((t.in_doubt(), t.failed), (3, 0));
            }
            ErrorClass::Refused => {
                let rows = r.expect("not fatal");
                assert!(rows.iter().all(|m| m.pending.is_none()));
                assert_eq!(t.failed, 3);
            }
        }
    }
}

// ---- bulk batch outcomes ----

#[test]
fn a_completed_batch_lands_all_but_the_contacts_it_refused() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(4);
    let items = adds(&cs);
    let result = BatchResult {
        status: BatchStatus::Completed,
        created_ids: vec![],
        failed_emails: vec!["user2@example.com".into()],
    };
    let mut t = WriteTally::default();
    let done = c.batch_completed(&mut t, &items, &result, SENT, NOW);
    assert_eq!(done.refused, vec![2]);
    assert_eq!(done.members.len(), 3);
    assert!(done.members.iter().all(|m| m.owned && m.pending.is_none()));
    assert_eq!(t.added, 3);
}

#[test]
fn only_refused_adds_are_looked_up_within_the_budget() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(1);
    let mut t = WriteTally::default();
    assert!(!c.wants_lookup(&mut t, &Item::change(0, PendingOp::Update, &cs[0])));
    let add = Item::change(0, PendingOp::Add, &cs[0]);
    let looked = (0..CLASSIFY_MAX + 5)
        .filter(|_| c.wants_lookup(&mut t, &add))
        .count();
    assert_eq!(
        looked as u32,
        CLASSIFY_MAX - 1,
        "the update counted against the budget"
    );
}

#[test]
fn a_refused_contact_is_kept_by_its_status_or_failed() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(1);
    let item = Item::change(0, PendingOp::Add, &cs[0]);
    let found = |status| {
        Ok(Some(ContactOnList {
            contact_id: 8,
            status,
        }))
    };
    let mut t = WriteTally::default();
    let m = c.refused_in_batch(&mut t, &item, found(Some(ListStatus::Unsubscribed)));
    assert_eq!(m.expect("kept").status, Some(ListStatus::Unsubscribed));
    let m = c.refused_in_batch(&mut t, &item, found(Some(ListStatus::Bounced)));
    assert_eq!(m.expect("kept").status, Some(ListStatus::Bounced));
    assert_eq!((t.kept_unsubscribed, t.kept_bounced, t.failed), (1, 1, 0));
    for lookup in [
        found(Some(ListStatus::Active)),
        found(None),
        Ok(None),
        Err(exhausted()),
    ] {
        let m = c
            .refused_in_batch(&mut t, &item, lookup)
            .expect("not fatal");
        assert_eq!(m.pending, None);
    }
    assert_eq!(t.failed, 4);
    assert!(t.failures.iter().all(|f| f.reason == BULK_REFUSED));
    assert!(
        c.refused_in_batch(&mut t, &item, Err(auth())).is_err(),
        "fatal stops"
    );
}

#[test]
fn an_unreadable_batch_outcome_leaves_its_changes_in_doubt_unless_fatal() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(2);
    let items = adds(&cs);
    let mut t = WriteTally::default();
    assert!(c.info_failed(&mut t, &items, "b1", auth()).is_err());
    assert_eq!(t.in_doubt(), 0);
    c.info_failed(&mut t, &items, "b1", exhausted())
        .expect("no verdict");
    assert_eq!((t.in_doubt(), t.failed), (2, 0));
    c.batch_given_up(&mut t, &items, "b2", BatchStatus::Failed);
    assert_eq!(t.in_doubt(), 4);
}

// ---- settling doubts with a read ----

/// Changes of a batch that ended without landing them all.
fn doubtful(c: &WriteCore<'_>, t: &mut WriteTally, items: &[Item<'_>]) {
    c.batch_given_up(t, items, "b1", BatchStatus::Interrupted);
}

#[test]
fn a_read_settles_doubts_landed_not_landed_and_kept() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(5);
    let items = adds(&cs);
    let mut t = WriteTally::default();
    doubtful(&c, &mut t, &items);
    let read = vec![
        live("user0@example.com", ListStatus::Active, Some("First0")),
        live("user1@example.com", ListStatus::Active, Some("Other")),
        live("user2@example.com", ListStatus::Bounced, None),
        live("user3@example.com", ListStatus::Unconfirmed, None),
    ];
    let rows = c.settle(&mut t, Some(&read), NOW);
    assert_eq!(t.in_doubt(), 0);
    assert_eq!(
        (t.added, t.kept_bounced, t.kept_unconfirmed, t.failed),
        (1, 1, 1, 2)
    );
    assert_eq!(rows.len(), 3, "landed and kept are recorded");
    assert_eq!(rows[0].contact_id, Some(42), "learned from the read");
    assert_eq!(t.outcomes.of(0), &ChangeEnd::Landed);
    assert_eq!(t.outcomes.of(2), &ChangeEnd::Kept(Kept::Bounced));
    let failed = [1, 4].map(|slot| matches!(t.outcomes.of(slot), ChangeEnd::Failed(_)));
    assert_eq!(failed, [true; 2], "fields not seen, not a member");
}

#[test]
fn doubts_no_read_could_settle_stay_in_doubt_and_are_no_failures() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(2);
    let items = adds(&cs);
    let mut t = WriteTally::default();
    doubtful(&c, &mut t, &items);
    let rows = c.settle(&mut t, None, NOW);
    assert!(rows.is_empty(), "intents stay pending for the next run");
    assert_eq!((t.failed, t.unsettled), (0, 2));
    assert!(t.failures.is_empty());
    let in_doubt = [0, 1].map(|slot| matches!(t.outcomes.of(slot), ChangeEnd::InDoubt));
    assert_eq!(in_doubt, [true; 2]);
}

/// A batch whose end is unknown may land after the read: what the read
/// does not show yet stays in doubt (see docs/status-file.md, outcomes).
#[test]
fn a_batch_of_unknown_outcome_not_seen_in_a_read_stays_in_doubt() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(2);
    let items = adds(&cs);
    let mut t = WriteTally::default();
    c.info_failed(&mut t, &items, "b1", exhausted())
        .expect("no verdict");
    let read = vec![live(
        "user0@example.com",
        ListStatus::Active,
        Some("First0"),
    )];
    let rows = c.settle(&mut t, Some(&read), NOW);
    assert_eq!(rows.len(), 1, "the one the read shows landed");
    assert_eq!((t.added, t.failed, t.unsettled), (1, 0, 1));
    assert!(t.failures.is_empty());
    assert!(matches!(t.outcomes.of(1), ChangeEnd::InDoubt));
}

#[test]
fn what_a_read_shows_of_each_operation() {
    let known = Known::new();
    let mut c = core(&known);
    let cs = changes(1);
    let e = "user0@example.com";
    let upd = Item::change(0, PendingOp::Update, &cs[0]);
    let active = live(e, ListStatus::Active, Some("First0"));
    assert_eq!(c.seen_in_read(&upd, Some(&active)), SeenInRead::Landed);
    c.maps_custom_fields = true;
    assert_eq!(
        c.seen_in_read(&upd, Some(&active)),
        SeenInRead::NotLanded,
        "custom fields cannot be seen"
    );
    let r = Removal {
        email: e.into(),
        contact_id: None,
    };
    let rm = Item::removal(0, &r);
    assert_eq!(c.seen_in_read(&rm, Some(&active)), SeenInRead::NotLanded);
    let unsub = live(e, ListStatus::Unsubscribed, None);
    assert_eq!(c.seen_in_read(&rm, Some(&unsub)), SeenInRead::Landed);
    assert_eq!(c.seen_in_read(&rm, None), SeenInRead::NotLanded);
    let res = Item::change(0, PendingOp::Resubscribe, &cs[0]);
    assert_eq!(
        c.seen_in_read(&res, Some(&unsub)),
        SeenInRead::NotLanded,
        "not kept: still ours"
    );
    let add = Item::change(0, PendingOp::Add, &cs[0]);
    assert_eq!(
        c.seen_in_read(&add, Some(&unsub)),
        SeenInRead::Kept(ListStatus::Unsubscribed)
    );
}

#[test]
fn failures_for_the_status_file_are_capped_but_every_outcome_is_kept() {
    let known = Known::new();
    let c = core(&known);
    let cs = changes(30);
    let items = adds(&cs);
    let mut t = WriteTally::default();
    c.submit_failed(&mut t, &items, rejected(r#"{"message":"no"}"#))
        .expect("refused");
    assert_eq!((t.failed, t.failures.len()), (30, FAILURES_MAX));
    assert!(
        matches!(t.outcomes.of(29), ChangeEnd::Failed(why) if why.contains("no")),
        "the history has each one's reason"
    );
}

#[test]
fn matching_values_get_their_hash_recorded_without_a_write() {
    let mut known = Known::new();
    let mut m = Member::unknown("user0@example.com");
    (m.owned, m.status) = (true, Some(ListStatus::Active));
    known.insert(m);
    let c = core(&known);
    let rows = c.matching_hashes(&[
        ("user0@example.com".into(), 77),
        ("new@example.com".into(), 5),
    ]);
    assert_eq!(rows[0].sent_hash, Some(77));
    assert!(
        rows[0].owned && rows[0].pending.is_none(),
        "nothing else changes"
    );
    assert_eq!((rows[1].sent_hash, rows[1].owned), (Some(5), false));
}

// ---- the reads before a destructive write ----

/// Planned removals of these addresses and contact ids.
fn removals(of: &[(&str, Option<u64>)]) -> Vec<Removal> {
    of.iter()
        .map(|&(email, contact_id)| Removal {
            email: email.into(),
            contact_id,
        })
        .collect()
}

/// Their items, one slot each in order.
fn removal_items(removals: &[Removal]) -> Vec<Item<'_>> {
    removals
        .iter()
        .enumerate()
        .map(|(slot, r)| Item::removal(slot, r))
        .collect()
}

#[test]
fn only_removals_still_active_under_their_email_are_made() {
    let removals = removals(&[
        ("a@x.io", Some(1)),
        ("optout@x.io", Some(2)),
        ("renamed@x.io", Some(3)),
        ("moved@x.io", Some(4)),
        ("noid@x.io", None),
    ]);
    let items = removal_items(&removals);
    let active = read_now(&[
        (1, "a@x.io", Some(ListStatus::Active)),
        (3, "new@x.io", Some(ListStatus::Active)),
        (4, "wanted@x.io", Some(ListStatus::Active)),
    ]);
    let known = Known::new();
    let c = core(&known);
    let mut t = WriteTally::default();
    let check = c.confirm_removals(&mut t, &items, &active, &|e| e == "wanted@x.io");
    let emails = |v: &[Item<'_>]| v.iter().map(|i| i.email.to_string()).collect::<Vec<_>>();
    assert_eq!(emails(&check.same_email), ["a@x.io"]);
    assert_eq!(emails(&check.by_id), ["renamed@x.io"]);
    assert_eq!(check.wanted_again, ["moved@x.io"]);
    let not_made: Vec<&str> = check.not_made.iter().map(|m| m.email.as_str()).collect();
    assert_eq!(not_made, ["optout@x.io", "moved@x.io", "noid@x.io"]);
    assert!(
        check
            .not_made
            .iter()
            .all(|m| m.status.is_none() && !m.unsubscribed_by_us)
    );
    assert_eq!(t.not_active, 3);
    assert_eq!(t.outcomes.of(1), &ChangeEnd::NotActive);
    assert_eq!(
        t.outcomes.of(3),
        &ChangeEnd::NotActive,
        "not recorded as unsubscribed"
    );
    assert_eq!(t.outcomes.of(0), &ChangeEnd::NotSent, "made later");
}

/// What the read before an unsubscribe answered: contact id, current
/// email and the status of its own side-loaded row (`None`: no row).
fn read_now(contacts: &[(u64, &str, Option<ListStatus>)]) -> HashMap<u64, CheckedContact> {
    contacts
        .iter()
        .map(|&(id, email, status)| {
            let row = status.map(|status| MembershipRow {
                status,
                udate: Some(1_005),
                marks: UnsubscribeMarks::default(),
                sourceid: None,
            });
            let email = email.to_string();
            let as_read = None;
            (
                id,
                CheckedContact {
                    id,
                    email,
                    row,
                    as_read,
                },
            )
        })
        .collect()
}

/// Only a contact whose own row says active is unsubscribed; one whose row
/// is missing or says otherwise is not, and is recorded as the row shows
/// it (a status acsync does not manage is then kept on re-entry).
#[test]
fn a_removal_is_made_only_when_the_contacts_own_row_says_active() {
    let removals = removals(&[
        ("u1@x.io", Some(1)),
        ("u2@x.io", Some(2)),
        ("u3@x.io", Some(3)),
        ("u4@x.io", Some(4)),
        ("u5@x.io", Some(5)),
    ]);
    let items = removal_items(&removals);
    let read = read_now(&[
        (1, "u1@x.io", Some(ListStatus::Active)),
        (2, "u2@x.io", Some(ListStatus::Bounced)),
        (3, "u3@x.io", Some(ListStatus::Unconfirmed)),
        (4, "u4@x.io", Some(ListStatus::Other(91))),
        (5, "u5@x.io", None),
    ]);
    let known = Known::new();
    let mut t = WriteTally::default();
    let check = core(&known).confirm_removals(&mut t, &items, &read, &|_| false);
    let made: Vec<&str> = check.same_email.iter().map(|i| i.email).collect();
    assert_eq!(made, ["u1@x.io"]);
    assert!(check.by_id.is_empty());
    assert_eq!(t.not_active, 4);
    let recorded: Vec<(&str, Option<ListStatus>)> = check
        .not_made
        .iter()
        .map(|m| (m.email.as_str(), m.status))
        .collect();
    assert_eq!(
        recorded,
        [
            ("u2@x.io", Some(ListStatus::Bounced)),
            ("u3@x.io", Some(ListStatus::Unconfirmed)),
            ("u4@x.io", Some(ListStatus::Other(91))),
            ("u5@x.io", None),
        ]
    );
    assert!(check.not_made.iter().all(|m| !m.owned));
}

/// A row that changed after acsync's last write to it (beyond the skew) is
/// someone else's doing: not unsubscribed, and no longer acsync's.
#[test]
fn a_removal_whose_row_changed_since_our_last_write_is_not_made_and_not_ours() {
    let mut known = Known::new();
    for (email, to) in [("same@x.io", 1_000), ("later@x.io", 1_005 - 121)] {
        known.insert(Member {
            owned: true,
            status: Some(ListStatus::Active),
            contact_id: Some(if email == "same@x.io" { 1 } else { 2 }),
            last_write: Some(WriteWindow { from: to - 10, to }),
            ..Member::unknown(email)
        });
    }
    let removals = removals(&[("same@x.io", Some(1)), ("later@x.io", Some(2))]);
    let items = removal_items(&removals);
    // Both rows changed at 1_005: inside the skew of the first write, after
    // the second.
    let read = read_now(&[
        (1, "same@x.io", Some(ListStatus::Active)),
        (2, "later@x.io", Some(ListStatus::Active)),
    ]);
    let mut t = WriteTally::default();
    let check = core(&known).confirm_removals(&mut t, &items, &read, &|_| false);
    let made: Vec<&str> = check.same_email.iter().map(|i| i.email).collect();
    assert_eq!(made, ["same@x.io"]);
    assert_eq!(t.not_active, 1);
    let m = &check.not_made[0];
    assert_eq!(m.email, "later@x.io");
    assert!(!m.owned && m.last_write.is_none());
    assert_eq!(m.status, Some(ListStatus::Active));
}

fn ours(window: Option<(i64, i64)>) -> Member {
    Member {
        unsubscribed_by_us: true,
        status: Some(ListStatus::Unsubscribed),
        last_write: window.map(|(from, to)| WriteWindow { from, to }),
        ..Member::unknown("user0@example.com")
    }
}

fn row(code: i64, udate: Option<i64>) -> Option<MembershipRow> {
    Some(MembershipRow {
        status: ListStatus::from_code(code),
        udate,
        marks: UnsubscribeMarks::default(),
        sourceid: None,
    })
}

#[test]
fn resubscribes_only_our_own_unchanged_unsubscribe() {
    let m = ours(Some((1_000, 1_010)));
    assert_eq!(Resubscribe::of(&m, row(2, Some(1_005))), Resubscribe::Yes);
    // Inside the clock-skew margin.
    assert_eq!(Resubscribe::of(&m, row(2, Some(1_100))), Resubscribe::Yes);
    // Changed after our write (2 -> 1 -> 2 by the contact): an opt-out.
    let later = 1_010 + WriteWindow::SKEW_SECS + 1;
    let kept = Resubscribe::Keep(ListStatus::Unsubscribed);
    assert_eq!(Resubscribe::of(&m, row(2, Some(later))), kept);
    // Nothing to compare with: keep.
    assert_eq!(Resubscribe::of(&m, row(2, None)), kept);
    assert_eq!(Resubscribe::of(&ours(None), row(2, Some(1_005))), kept);
    let not_ours = Member {
        unsubscribed_by_us: false,
        ..m.clone()
    };
    assert_eq!(Resubscribe::of(&not_ours, row(2, Some(1_005))), kept);
}

/// A status 2 inside our window whose row names someone else's
/// unsubscribe (a campaign's link, an automation, a reason) is theirs.
#[test]
fn a_row_marked_by_someone_elses_unsubscribe_is_kept_inside_our_window() {
    let m = ours(Some((1_000, 1_010)));
    let kept = Resubscribe::Keep(ListStatus::Unsubscribed);
    let marked =
        |marks: UnsubscribeMarks| row(2, Some(1_005)).map(|r| MembershipRow { marks, ..r });
    let some = |id: &str| Some(id.to_string());
    for marks in [
        UnsubscribeMarks {
            campaign: some("7"),
            message: some("12"),
            ..UnsubscribeMarks::default()
        },
        UnsubscribeMarks {
            automation: some("3"),
            ..UnsubscribeMarks::default()
        },
        UnsubscribeMarks {
            reason: some("Too many emails"),
            ..UnsubscribeMarks::default()
        },
    ] {
        assert_eq!(
            Resubscribe::of(&m, marked(marks.clone())),
            kept,
            "{marks:?}"
        );
    }
    // The source of the last subscription is no mark of an unsubscribe.
    let resubscribed_before = row(2, Some(1_005)).map(|r| MembershipRow {
        sourceid: Some(4),
        ..r
    });
    assert_eq!(Resubscribe::of(&m, resubscribed_before), Resubscribe::Yes);
}

#[test]
fn other_statuses_are_never_overwritten() {
    let m = ours(Some((1_000, 1_010)));
    assert_eq!(
        Resubscribe::of(&m, row(1, Some(5))),
        Resubscribe::AlreadyActive
    );
    assert_eq!(
        Resubscribe::of(&m, row(3, Some(1_005))),
        Resubscribe::Keep(ListStatus::Bounced)
    );
    assert_eq!(
        Resubscribe::of(&m, row(0, Some(1_005))),
        Resubscribe::Keep(ListStatus::Unconfirmed)
    );
    assert_eq!(
        Resubscribe::of(&m, row(91, Some(1_005))),
        Resubscribe::Keep(ListStatus::Other(91))
    );
    assert_eq!(Resubscribe::of(&m, None), Resubscribe::NotMember);
}

/// What the core makes of `read` for a resubscribe of `user0@example.com`,
/// recorded as `m`.
fn after_read(
    m: Member,
    t: &mut WriteTally,
    read: Result<MembershipRead, ApiError>,
) -> ResubscribeStep {
    let mut known = Known::new();
    known.insert(m);
    let cs = changes(1);
    let item = Item::change(0, PendingOp::Resubscribe, &cs[0]);
    core(&known).after_membership_read(t, &item, read)
}

fn read(row: Option<MembershipRow>) -> Result<MembershipRead, ApiError> {
    Ok(MembershipRead {
        contact_id: Some(31),
        row,
    })
}

#[test]
fn a_resubscribe_is_sent_as_a_resubscribe_or_as_an_add_by_its_row() {
    let m = ours(Some((1_000, 1_010)));
    let mut t = WriteTally::default();
    let step = after_read(m.clone(), &mut t, read(row(2, Some(1_005))));
    assert!(matches!(
        step,
        ResubscribeStep::Send(PendingOp::Resubscribe)
    ));
    let step = after_read(m, &mut t, read(None));
    assert!(matches!(step, ResubscribeStep::Send(PendingOp::Add)));
}

#[test]
fn a_contact_someone_else_resubscribed_is_recorded_active_and_updated_only_if_changed() {
    let mut m = ours(Some((1_000, 1_010)));
    m.sent_hash = Some(changes(1)[0].hash);
    let mut t = WriteTally::default();
    let step = after_read(m.clone(), &mut t, read(row(1, Some(5))));
    let ResubscribeStep::Record(active, None) = step else {
        panic!("{step:?}")
    };
    assert_eq!(active.status, Some(ListStatus::Active));
    assert!(!active.unsubscribed_by_us && active.last_write.is_none());
    assert_eq!(
        t.outcomes.of(0),
        &ChangeEnd::Landed,
        "nothing left to write"
    );
    m.sent_hash = Some(1);
    let step = after_read(m, &mut t, read(row(1, Some(5))));
    assert!(matches!(
        step,
        ResubscribeStep::Record(_, Some(PendingOp::Update))
    ));
    assert_eq!(t.added + t.updated, 0, "counted once the update lands");
}

#[test]
fn a_resubscribe_found_bounced_is_recorded_kept() {
    let mut t = WriteTally::default();
    let step = after_read(
        ours(Some((1_000, 1_010))),
        &mut t,
        read(row(3, Some(1_005))),
    );
    let ResubscribeStep::Record(kept, None) = step else {
        panic!("{step:?}")
    };
    assert_eq!(
        (kept.status, kept.contact_id),
        (Some(ListStatus::Bounced), Some(31))
    );
    assert_eq!(t.kept_bounced, 1);
    assert_eq!(t.outcomes.of(0), &ChangeEnd::Kept(Kept::Bounced));
}

#[test]
fn a_failed_membership_read_fails_the_resubscribe_unless_it_stops_the_run() {
    let mut t = WriteTally::default();
    let step = after_read(ours(None), &mut t, Err(exhausted()));
    assert!(matches!(step, ResubscribeStep::Failed));
    assert_eq!(t.failed, 1);
    assert!(t.failures[0].reason.starts_with("not resubscribed"));
    assert!(matches!(t.outcomes.of(0), ChangeEnd::Failed(_)));
    let step = after_read(ours(None), &mut t, Err(auth()));
    assert!(matches!(step, ResubscribeStep::Stop(_)));
    assert_eq!(t.failed, 1);
}

#[test]
fn a_membership_read_starts_from_the_recorded_contact_id() {
    let mut known = Known::new();
    let mut m = ours(None);
    m.contact_id = Some(77);
    known.insert(m);
    let c = core(&known);
    let cs = changes(2);
    let recorded = Item::change(0, PendingOp::Resubscribe, &cs[0]);
    assert_eq!(c.known_contact_id(&recorded), Some(77));
    let unknown = Item::change(1, PendingOp::Resubscribe, &cs[1]);
    assert_eq!(c.known_contact_id(&unknown), None, "looked up by email");
}

/// docs/verification.md, "Before each kind of write": a bulk add of
/// contacts acsync has no record of is checked against the list's
/// statuses first, unless the run read the list in full before planning
/// or the single path (which reads each status) sends it.
#[test]
fn bulk_adds_of_unrecorded_contacts_are_checked_unless_the_list_was_just_read() {
    let c = changes(12);
    let empty = Known::new();
    assert!(core(&empty).checks_adds(&adds(&c)));
    assert!(!core(&empty).checks_adds(&adds(&c[..3])), "single path");
    let read = WriteCore {
        listed_now: true,
        ..core(&empty)
    };
    assert!(!read.checks_adds(&adds(&c)));
    let known: Known = c
        .iter()
        .map(|c| Member {
            status: Some(ListStatus::Active),
            ..Member::unknown(c.email.clone())
        })
        .collect();
    assert!(!core(&known).checks_adds(&adds(&c)), "all recorded");
}

/// A member awaiting its double opt-in is kept; when members of a status
/// acsync cannot ask for may exist, the other unrecorded adds are looked
/// up first, and a lookup keeps, sends or skips each.
#[test]
fn adds_are_sorted_by_the_census_and_by_each_lookup() {
    let c = changes(12);
    let known = Known::new();
    let core = core(&known);
    let mut t = WriteTally::default();
    let waiting = LiveMember {
        contact_id: 40,
        ..live(&c[3].email, ListStatus::Unconfirmed, None)
    };
    let census = ListCensus {
        unconfirmed: vec![waiting],
        others_possible: false,
    };
    let sorted = core.confirm_adds(&mut t, adds(&c), &census);
    assert_eq!((sorted.send.len(), sorted.look_up.len()), (11, 0));
    assert_eq!(sorted.kept.len(), 1);
    assert_eq!(sorted.kept[0].status, Some(ListStatus::Unconfirmed));
    assert_eq!(sorted.kept[0].contact_id, Some(40));
    assert!(!sorted.kept[0].owned);
    assert_eq!(t.kept_unconfirmed, 1);

    let census = ListCensus {
        others_possible: true,
        ..ListCensus::default()
    };
    let sorted = core.confirm_adds(&mut t, adds(&c), &census);
    assert_eq!((sorted.send.len(), sorted.look_up.len()), (0, 12));
    let item = sorted.look_up[0];
    let seen = |status| {
        Ok(Some(ContactOnList {
            contact_id: 9,
            status,
        }))
    };
    let removed = core.after_add_lookup(&mut t, &item, seen(Some(ListStatus::Other(91))));
    assert!(matches!(removed, Ok(AddLookup::Keep(m)) if m.status == Some(ListStatus::Other(91))));
    for free in [seen(None), seen(Some(ListStatus::Active)), Ok(None)] {
        assert!(matches!(
            core.after_add_lookup(&mut t, &item, free),
            Ok(AddLookup::Send)
        ));
    }
    assert!(matches!(
        core.after_add_lookup(&mut t, &item, Err(exhausted())),
        Ok(AddLookup::Skip)
    ));
    assert_eq!(t.failed, 1);
    assert!(core.after_add_lookup(&mut t, &item, Err(auth())).is_err());
}

/// docs/ownership.md, where ownership is kept: an update by address that
/// reached another contact (the recorded one was renamed) leaves the
/// address's record describing the new contact (not acsync's, no known
/// row), and the recorded contact's provenance follows it to the address
/// a read by its id shows; gone or unmoved, nothing follows.
#[test]
fn an_update_that_reached_another_contact_moves_the_record_by_id() {
    let cs = changes(1);
    let before = Member {
        contact_id: Some(1),
        status: Some(ListStatus::Active),
        owned: true,
        last_write: Some(WriteWindow { from: 10, to: 20 }),
        ..Member::unknown(cs[0].email.clone())
    };
    let known: Known = [before.clone()].into_iter().collect();
    let c = core(&known);
    let mut t = WriteTally::default();
    let item = Item {
        contact_id: Some(2),
        ..Item::change(0, PendingOp::Update, &cs[0])
    };
    let answer = Ok(SingleAnswer::AnotherContact { was: 1 });
    let SingleStep::Moved { row, was } = c.after_single(&mut t, &item, answer, SENT, NOW) else {
        panic!("moved");
    };
    assert_eq!(was, 1);
    assert_eq!(
        (row.contact_id, row.status, row.owned),
        (Some(2), None, false)
    );
    assert_eq!(row.last_write, None);

    let moved = CheckedContact {
        id: 1,
        email: "moved@example.net".into(),
        row: Some(MembershipRow {
            status: ListStatus::Active,
            udate: Some(15),
            marks: Default::default(),
            sourceid: None,
        }),
        as_read: None,
    };
    let m = c
        .moved_contact(&before, Some(moved.clone()))
        .expect("follows");
    assert_eq!(m.email, "moved@example.net");
    assert_eq!(
        (m.contact_id, m.status, m.owned),
        (Some(1), Some(ListStatus::Active), true)
    );
    let unmoved = CheckedContact {
        email: before.email.clone(),
        ..moved
    };
    assert!(c.moved_contact(&before, Some(unmoved)).is_none());
    assert!(c.moved_contact(&before, None).is_none());
}
