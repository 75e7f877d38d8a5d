use super::*;
use crate::model::Fields;
use crate::plan::Removal;

fn change(email: &str, row: u64, first: &str) -> Change {
    let fields = Fields::new(Some(first), None, None);
    Change {
        email: email.into(),
        row,
        contact_id: None,
        hash: fields.hash64(),
        read_back: None,
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
        kept_for_deleted: [("old".to_string(), vec!["deleted@ex.com".to_string()])].into(),
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
    let got = shown(&entries(&p, |_| Written::Landed));
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
            "deleted@ex.com kept - kept_for_deleted",
            "yield@ex.com kept - conflict",
        ]
    );
}

#[test]
fn slots_follow_the_plan_adds_updates_resubscribes_then_removals() {
    let p = plan();
    let s = Slots::of(&p);
    assert_eq!(
        [s.add(1), s.update(0), s.resubscribe(0), s.removal(0)],
        [1, 2, 3, 4]
    );
    let seen = std::cell::RefCell::new(Vec::new());
    let got = entries(&p, |slot| {
        seen.borrow_mut().push(slot);
        Written::Landed
    });
    assert_eq!(got.len(), 12);
    assert_eq!(seen.into_inner(), [0, 1, 2, 3, 4]);
}

#[test]
fn each_end_the_write_saw_is_recorded_as_it_is() {
    let p = plan();
    let mut o = ChangeOutcomes::default();
    o.set(0, ChangeEnd::Failed("HTTP 422: bad email".into()));
    o.set(1, ChangeEnd::InDoubt);
    o.set(2, ChangeEnd::Kept(Kept::Unsubscribed));
    o.set(3, ChangeEnd::Landed);
    o.set(4, ChangeEnd::NotActive);
    let got = entries(&p, |slot| o.written(slot, false));
    assert_eq!(
        shown(&got[..5]),
        [
            "add@ex.com failed Ann HTTP 422: bad email",
            "won@ex.com kept - in_doubt",
            "upd@ex.com kept - kept_unsubscribed",
            "back@ex.com resubscribed Bo -",
            "gone@ex.com kept - not_active",
        ]
    );
    let mut bounced = ChangeOutcomes::default();
    bounced.set(0, ChangeEnd::Kept(Kept::Bounced));
    bounced.set(1, ChangeEnd::Kept(Kept::Unconfirmed));
    let got = entries(&p, |slot| bounced.written(slot, false));
    assert_eq!(got[0].reason.as_deref(), Some("kept_bounced"));
    assert_eq!(got[1].reason.as_deref(), Some("kept_unconfirmed"));
}

#[test]
fn a_change_never_sent_is_not_recorded_by_a_stopped_run_and_failed_by_one_that_ended() {
    let p = Plan {
        adds: vec![
            change("sent@ex.com", 2, "S"),
            change("unsent@ex.com", 3, "U"),
        ],
        removals: vec![removal("stay@ex.com")],
        ..Plan::default()
    };
    let mut o = ChangeOutcomes::default();
    o.set(0, ChangeEnd::Landed);
    let got = shown(&entries(&p, |slot| o.written(slot, true)));
    assert_eq!(got, ["sent@ex.com added S -"]);
    let got = shown(&entries(&p, |slot| o.written(slot, false)));
    assert_eq!(got[1], format!("unsent@ex.com failed U {NOT_APPLIED}"));
}

#[test]
fn a_batch_records_its_landed_changes_as_the_run_records_them() {
    let p = plan();
    let record = RunRecord::new(7, "vip", Utc::now(), &p);
    let landed = [&p.adds[0], &p.adds[1], &p.updates[0]]
        .into_iter()
        .zip([Op::Add, Op::Add, Op::Update])
        .enumerate()
        .map(|(slot, (c, op))| LandedChange {
            slot,
            email: &c.email,
            op,
            fields: &c.fields,
        });
    let batch = record.landed("batch-1", landed);
    let list = batch.entries();
    // The same lines as the end of the run would record for them.
    let at_the_end = shown(&entries(&p, |_| Written::Landed));
    assert_eq!(shown(&list), at_the_end[..3]);
    let run = batch.run(&list);
    assert_eq!((run.run_id, run.export, run.entries.len()), (7, "vip", 3));
    assert_eq!(batch.slots().collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn changes_recorded_with_their_batch_are_left_out_at_the_end() {
    let p = plan();
    let mut o = ChangeOutcomes::default();
    (0..5).for_each(|slot| o.set(slot, ChangeEnd::Landed));
    o.set(0, ChangeEnd::Recorded);
    o.set(2, ChangeEnd::Recorded);
    let got = entries(&p, |slot| o.written(slot, false));
    let emails: Vec<&str> = got.iter().map(|e| e.email).collect();
    assert!(!emails.contains(&"add@ex.com") && !emails.contains(&"upd@ex.com"));
    assert!(emails.contains(&"won@ex.com") && emails.contains(&"gone@ex.com"));
}
