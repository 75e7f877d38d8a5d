use super::*;
use crate::model::{Fields, Member, PendingOp};
use crate::plan::Removal;
use crate::status::Failure;

fn change(email: &str, row: u64, first: &str) -> Change {
    let fields = Fields::new(Some(first), None, None);
    Change {
        email: email.into(),
        row,
        contact_id: None,
        hash: fields.hash64(),
        fields,
    }
}

fn removal(email: &str) -> Removal {
    Removal {
        email: email.into(),
        contact_id: Some(9),
    }
}

fn plan() -> Plan {
    Plan {
        adds: vec![
            change("add@ex.com", 2, "Ann"),
            change("won@ex.com", 3, "Wil"),
        ],
        updates: vec![change("upd@ex.com", 4, "Uma")],
        resubscribes: vec![change("back@ex.com", 5, "Bo")],
        removals: vec![removal("gone@ex.com")],
        kept_unsubscribed: vec!["optout@ex.com".into()],
        kept_bounced: vec!["bounce@ex.com".into()],
        kept_unconfirmed: vec!["unconf@ex.com".into()],
        in_doubt: vec!["doubt@ex.com".into()],
        conflicts: vec!["won@ex.com".into(), "yield@ex.com".into()],
        kept_for_others: 1,
        kept_for_others_emails: vec!["theirs@ex.com".into()],
        ..Plan::default()
    }
}

fn shown(entries: &[NewEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            let first = e.fields.and_then(Fields::first_name).unwrap_or("-");
            let reason = e.reason.as_deref().unwrap_or("-");
            format!("{} {} {first} {reason}", e.email, e.change)
        })
        .collect()
}

#[test]
fn every_planned_change_and_every_kept_contact_is_one_entry() {
    let p = plan();
    let got = shown(&entries(&p, |_, _, _| Written::Landed));
    assert_eq!(
        got,
        [
            "add@ex.com added Ann -",
            format!("won@ex.com added Wil {CONFLICT_WON}").as_str(),
            "upd@ex.com updated Uma -",
            "back@ex.com resubscribed Bo -",
            "gone@ex.com unsubscribed - left the segment",
            "optout@ex.com kept - kept_unsubscribed",
            "bounce@ex.com kept - kept_bounced",
            "unconf@ex.com kept - kept_unconfirmed",
            "doubt@ex.com kept - in_doubt",
            "theirs@ex.com kept - kept_for_others",
            "yield@ex.com kept - conflict",
        ]
    );
}

#[test]
fn a_contact_that_failed_is_recorded_failed_not_added() {
    let p = plan();
    let mut tally = Tally::default();
    tally.failed = 1;
    tally.failures = vec![Failure::new(Some(2), "add@ex.com", "HTTP 422: bad email")];
    assert!(Outcomes::tally_suffices(&p, &tally, false));
    let o = Outcomes::new(&p, &tally, None, false);
    let got = entries(&p, |e, row, op| o.of(e, row, op));
    assert_eq!(got[0].change, ChangeKind::Failed);
    assert_eq!(got[0].reason.as_deref(), Some("HTTP 422: bad email"));
    assert_eq!(got[0].fields.and_then(Fields::first_name), Some("Ann"));
    assert_eq!(got[2].change, ChangeKind::Updated);
}

#[test]
fn the_tally_does_not_suffice_when_it_cannot_name_each_outcome() {
    let p = plan();
    let ok = Tally::default();
    assert!(Outcomes::tally_suffices(&p, &ok, false));
    assert!(!Outcomes::tally_suffices(&p, &ok, true), "a stopped run");
    let mut more = Tally::default();
    more.failed = 21;
    more.failures = vec![Failure::new(Some(2), "add@ex.com", "x")];
    assert!(
        !Outcomes::tally_suffices(&p, &more, false),
        "failures not itemised"
    );
    let mut removal_failed = Tally::default();
    removal_failed.failed = 1;
    removal_failed.failures = vec![Failure::new(None, "gone@ex.com", "x")];
    assert!(!Outcomes::tally_suffices(&p, &removal_failed, false));
    let mut kept = Tally::default();
    kept.kept_bounced = 1;
    assert!(!Outcomes::tally_suffices(&p, &kept, false));
    let mut not_active = Tally::default();
    not_active.not_active = 1;
    assert!(!Outcomes::tally_suffices(&p, &not_active, false));
}

fn after(p: &Plan) -> Known {
    let landed = |c: &Change| Member {
        status: Some(ListStatus::Active),
        sent_hash: Some(c.hash),
        owned: true,
        ..Member::unknown(c.email.as_str())
    };
    let mut k = Known::new();
    k.insert(landed(&p.adds[0]));
    // won@ex.com: refused with no itemised reason (row unchanged).
    k.insert(Member::unknown("won@ex.com"));
    k.insert(Member {
        status: Some(ListStatus::Unsubscribed),
        ..Member::unknown("upd@ex.com")
    });
    k.insert(Member {
        pending: Some(PendingOp::Resubscribe),
        ..Member::unknown("back@ex.com")
    });
    k.insert(Member {
        status: None,
        ..Member::unknown("gone@ex.com")
    });
    k
}

#[test]
fn without_an_itemised_tally_the_member_rows_tell_each_outcome() {
    let p = plan();
    let tally = Tally::default();
    let o = Outcomes::new(&p, &tally, Some(after(&p)), false);
    let got = shown(&entries(&p, |e, row, op| o.of(e, row, op)));
    assert_eq!(got[0], "add@ex.com added Ann -");
    assert_eq!(got[1], format!("won@ex.com failed Wil {NOT_APPLIED}"));
    assert_eq!(got[2], "upd@ex.com kept - kept_unsubscribed");
    assert_eq!(got[3], format!("back@ex.com failed Bo {IN_DOUBT}"));
    assert_eq!(got[4], "gone@ex.com kept - not_active");
}

#[test]
fn a_stopped_run_records_only_what_it_knows() {
    let p = Plan {
        adds: vec![
            change("sent@ex.com", 2, "S"),
            change("unsent@ex.com", 3, "U"),
        ],
        removals: vec![removal("stay@ex.com")],
        ..Plan::default()
    };
    let mut k = Known::new();
    k.insert(Member {
        status: Some(ListStatus::Active),
        sent_hash: Some(p.adds[0].hash),
        ..Member::unknown("sent@ex.com")
    });
    k.insert(Member {
        status: Some(ListStatus::Active),
        ..Member::unknown("stay@ex.com")
    });
    let tally = Tally::default();
    let o = Outcomes::new(&p, &tally, Some(k), true);
    let got = shown(&entries(&p, |e, row, op| o.of(e, row, op)));
    assert_eq!(got, ["sent@ex.com added S -"]);
}

#[test]
fn a_batch_records_its_landed_changes_as_the_run_records_them() {
    let p = plan();
    let record = RunRecord::new(7, "vip", Utc::now(), &p);
    let landed = [&p.adds[0], &p.adds[1], &p.updates[0]]
        .into_iter()
        .zip([Op::Add, Op::Add, Op::Update])
        .map(|(c, op)| (c.email.as_str(), c.row, op, &c.fields));
    let batch = record.landed(landed);
    let list = batch.entries();
    // The same lines as the end of the run would record for them.
    let at_the_end = shown(&entries(&p, |_, _, _| Written::Landed));
    assert_eq!(shown(&list), at_the_end[..3]);
    let run = batch.run(&list);
    assert_eq!((run.run_id, run.export, run.entries.len()), (7, "vip", 3));
    assert_eq!(batch.rows().collect::<Vec<_>>(), [2, 3, 4]);
}

#[test]
fn rows_recorded_with_their_batch_are_left_out_at_the_end() {
    let p = plan();
    let mut tally = Tally::default();
    [2u64, 4]
        .into_iter()
        .for_each(|r| tally.history_recorded.insert(r));
    let o = Outcomes::new(&p, &tally, None, false);
    let recorded = &tally.history_recorded;
    let got = entries(&p, |e, row, op| at_end(recorded, &o, e, row, op));
    let emails: Vec<&str> = got.iter().map(|e| e.email).collect();
    assert!(!emails.contains(&"add@ex.com") && !emails.contains(&"upd@ex.com"));
    assert!(emails.contains(&"won@ex.com") && emails.contains(&"gone@ex.com"));
    assert!(!recorded.contains(3) && !recorded.contains(1_000_000));
}
