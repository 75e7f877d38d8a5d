//! Example-based tests, one or more per planning and merge rule.

use super::*;
use crate::model::{PendingOp, WriteWindow};
use crate::segment::SegmentBuilder;

fn fields(first: &str) -> Fields {
    Fields::new(Some(first), None, None)
}

fn segment(rows: &[(&str, Fields)]) -> Segment {
    let mut b = SegmentBuilder::new();
    for (i, (email, f)) in rows.iter().enumerate() {
        b.push(i as u64 + 1, email, f.clone());
    }
    b.finish()
}

fn member(email: &str, status: Option<ListStatus>) -> Member {
    Member {
        contact_id: Some(7),
        status,
        ..Member::unknown(email)
    }
}

fn live(email: &str, status: ListStatus, first: Option<&str>) -> LiveMember {
    LiveMember {
        contact_id: 7,
        email: email.into(),
        status,
        first_name: first.map(Into::into),
        last_name: None,
        phone: Some(String::new()),
        contact_created: None,
    }
}

fn known(members: impl IntoIterator<Item = Member>) -> Known {
    members.into_iter().collect()
}

fn settings(prune: Prune, max_removals: RemovalLimit) -> PlanSettings {
    PlanSettings {
        prune,
        max_removals,
        max_profiles: 100,
        allow_empty: false,
        allow_removals: false,
    }
}

fn run(seg: &Segment, k: &Known) -> Plan {
    plan(
        seg,
        k,
        None,
        &settings(Prune::Owned, RemovalLimit::Count(100)),
    )
    .expect("plans")
}

fn emails(changes: &[Change]) -> Vec<&str> {
    changes.iter().map(|c| c.email.as_str()).collect()
}

use ListStatus::{Active, Unsubscribed};

#[test]
fn adds_mixed_case_duplicates_once_and_skips_invalid() {
    let seg = segment(&[
        ("B@x.io", fields("first")),
        ("bad", fields("z")),
        ("b@X.io", fields("second")),
        ("a@x.io", fields("a")),
    ]);
    let k = known([member("a@x.io", None)]);
    let p = run(&seg, &k);
    assert_eq!(emails(&p.adds), ["b@x.io", "a@x.io"]);
    assert_eq!(p.adds[0].fields.first_name(), Some("first"));
    assert_eq!((p.adds[0].row, p.adds[0].contact_id), (1, None));
    assert_eq!((p.adds[1].row, p.adds[1].contact_id), (4, Some(7)));
    assert_eq!(p.adds[1].hash, fields("a").hash64());
    assert!(!p.is_empty());
}

#[test]
fn updates_only_when_the_sent_hash_differs() {
    let seg = segment(&[("a@x.io", fields("new")), ("b@x.io", fields("same"))]);
    let sent = |e, f: &str| Member {
        sent_hash: Some(fields(f).hash64()),
        ..member(e, Some(Active))
    };
    let p = run(
        &seg,
        &known([sent("a@x.io", "old"), sent("b@x.io", "same")]),
    );
    assert_eq!(emails(&p.updates), ["a@x.io"]);
    assert_eq!(p.unchanged, 1);
    assert!(p.adds.is_empty() && p.record_hashes.is_empty());
}

#[test]
fn records_hash_when_live_values_already_match() {
    let seg = segment(&[
        ("a@x.io", fields("Ann")),
        ("b@x.io", fields("Bob")),
        ("c@x.io", fields("Cy")),
    ]);
    let mut custom = seg.clone();
    custom.profiles[2].fields = Fields::with_custom(Some("Cy"), None, None, [("COMPANY", "Acme")]);
    let k = known(["a@x.io", "b@x.io", "c@x.io"].map(|e| member(e, Some(Active))));
    let lf: HashMap<_, _> = [("a@x.io", "Ann"), ("b@x.io", "Robert"), ("c@x.io", "Cy")]
        .map(|(e, f)| (e.to_owned(), live(e, Active, Some(f))))
        .into();
    let s = settings(Prune::Owned, RemovalLimit::Count(0));
    let p = plan(&custom, &k, Some(&lf), &s).expect("plans");
    assert_eq!(
        p.record_hashes,
        [("a@x.io".to_owned(), fields("Ann").hash64())]
    );
    // b drifted; c has a custom field a read cannot confirm.
    assert_eq!(emails(&p.updates), ["b@x.io", "c@x.io"]);
    assert_eq!(p.unchanged, 1);
    assert!(!p.is_empty());
    // Without a full read there is nothing to compare: send.
    assert_eq!(run(&seg, &k).updates.len(), 3);
}

#[test]
fn repairs_drift_even_when_the_hash_matches() {
    let f = Fields::new(Some("Ann"), None, None);
    let seg = segment(&[
        ("a@x.io", f.clone()),
        ("b@x.io", f.clone()),
        ("c@x.io", fields("")),
    ]);
    let m = |e| Member {
        sent_hash: Some(f.hash64()),
        ..member(e, Some(Active))
    };
    let mut k = known([m("a@x.io"), m("b@x.io")]);
    k.insert(Member {
        sent_hash: Some(fields("").hash64()),
        ..member("c@x.io", Some(Active))
    });
    // a: edited in AC; b: phone differs but we do not send phone; c: "" live == "" sent.
    let mut b = live("b@x.io", Active, Some("Ann"));
    b.phone = Some("555".into());
    let lf: HashMap<_, _> = [
        ("a@x.io".to_owned(), live("a@x.io", Active, Some("Anne"))),
        ("b@x.io".to_owned(), b),
        ("c@x.io".to_owned(), live("c@x.io", Active, None)),
    ]
    .into();
    let p = plan(
        &seg,
        &k,
        Some(&lf),
        &settings(Prune::None, RemovalLimit::Count(0)),
    )
    .expect("plans");
    assert_eq!(emails(&p.updates), ["a@x.io"]);
    assert_eq!(p.unchanged, 2);
}

/// docs/run-rules.md, "Values ActiveCampaign changes": a read that shows
/// what the read before this export's last write showed is the stored form
/// of what it sent, not a drift; any other value is written again, and the
/// write carries what this read showed.
#[test]
fn a_value_read_back_in_the_form_seen_before_our_write_is_not_a_drift() {
    let f = Fields::new(Some("Bartholomew"), None, None);
    let seg = segment(&[("a@x.io", f.clone()), ("b@x.io", f.clone())]);
    let cut = live("a@x.io", Active, Some("Bartholo"));
    let seen = read_back_hash(&f, &cut);
    let m = |e, read_back_hash| Member {
        sent_hash: Some(f.hash64()),
        read_back_hash,
        ..member(e, Some(Active))
    };
    let k = known([m("a@x.io", Some(seen)), m("b@x.io", Some(seen))]);
    let lf: HashMap<_, _> = [
        ("a@x.io".to_owned(), cut),
        ("b@x.io".to_owned(), live("b@x.io", Active, Some("Bart"))),
    ]
    .into();
    let p = plan(
        &seg,
        &k,
        Some(&lf),
        &settings(Prune::None, RemovalLimit::Count(0)),
    )
    .expect("plans");
    assert_eq!(emails(&p.updates), ["b@x.io"]);
    let bart = read_back_hash(&f, &live("b@x.io", Active, Some("Bart")));
    assert_eq!(p.updates[0].read_back, Some(bart));
    assert_ne!(bart, seen);
    assert_eq!(p.unchanged, 1);
}

#[test]
fn the_first_updates_are_described_field_by_field() {
    let seg = segment(&[("a@x.io", fields("Anne")), ("b@x.io", fields("Bob"))]);
    let k = known([
        Member {
            sent_hash: Some(fields("Ann").hash64()),
            ..member("a@x.io", Some(Active))
        },
        member("b@x.io", Some(Active)),
    ]);
    let lf: HashMap<_, _> = [("a@x.io".to_owned(), live("a@x.io", Active, Some("Ann")))].into();
    let s = settings(Prune::None, RemovalLimit::Count(0));
    let p = plan(&seg, &k, Some(&lf), &s).expect("plans");
    assert_eq!(emails(&p.updates), ["a@x.io", "b@x.io"]);
    let a = &p.update_diffs[0];
    assert_eq!(a.email, "a@x.io");
    assert_eq!(diff::describe(&a.fields), "first_name \"Ann\" → \"Anne\"");
    // b was not in the read: its old value is unknown.
    assert_eq!(
        diff::describe(&p.update_diffs[1].fields),
        "first_name (not known) → \"Bob\""
    );

    let many: Vec<(String, Fields)> = (0..DIFF_SAMPLES + 5)
        .map(|i| (format!("u{i}@x.io"), fields("New")))
        .collect();
    let rows: Vec<(&str, Fields)> = many.iter().map(|(e, f)| (e.as_str(), f.clone())).collect();
    let k = known(many.iter().map(|(e, _)| member(e, Some(Active))));
    let p = run(&segment(&rows), &k);
    assert_eq!(p.updates.len(), DIFF_SAMPLES + 5);
    assert_eq!(p.update_diffs.len(), DIFF_SAMPLES);
}

#[test]
fn resubscribes_only_our_own_unsubscribes() {
    let seg = segment(&[("ours@x.io", fields("a")), ("optout@x.io", fields("b"))]);
    let ours = Member {
        unsubscribed_by_us: true,
        owned: true,
        ..member("ours@x.io", Some(Unsubscribed))
    };
    let k = known([ours, member("optout@x.io", Some(Unsubscribed))]);
    let p = run(&seg, &k);
    assert_eq!(emails(&p.resubscribes), ["ours@x.io"]);
    assert_eq!(p.kept_unsubscribed, ["optout@x.io"]);
    assert!(p.adds.is_empty() && p.updates.is_empty());
    let c = p.counts();
    assert_eq!(
        (c.to_resubscribe, c.kept_unsubscribed, c.unchanged),
        (1, 1, 0)
    );
}

fn prune_case(prune: Prune) -> Vec<String> {
    let seg = segment(&[("keep@x.io", fields("k"))]);
    let owned = |e| Member {
        owned: true,
        ..member(e, Some(Active))
    };
    let k = known([
        owned("keep@x.io"),
        owned("z-owned@x.io"),
        owned("b-owned@x.io"),
        member("foreign@x.io", Some(Active)),
        Member {
            owned: true,
            ..member("gone@x.io", Some(Unsubscribed))
        },
        Member {
            owned: true,
            ..member("absent@x.io", None)
        },
    ]);
    let p = plan(&seg, &k, None, &settings(prune, RemovalLimit::Count(10))).expect("plans");
    assert_eq!(p.would_remove, p.removals.len() as u64);
    p.removals.into_iter().map(|r| r.email).collect()
}

#[test]
fn prune_policies() {
    assert_eq!(prune_case(Prune::Owned), ["b-owned@x.io", "z-owned@x.io"]);
    assert_eq!(
        prune_case(Prune::All),
        ["b-owned@x.io", "foreign@x.io", "z-owned@x.io"]
    );
    assert!(prune_case(Prune::None).is_empty());
}

fn blocked_case(limit: RemovalLimit, allow_removals: bool) -> Plan {
    // 1000 active members, all owned, 500 of them gone from the segment.
    let mut members = Vec::new();
    for i in 0..1000 {
        members.push(Member {
            owned: true,
            ..member(&format!("m{i:04}@x.io"), Some(Active))
        });
    }
    let mut rows: Vec<(String, Fields)> = (500..1000)
        .map(|i| (format!("m{i:04}@x.io"), Fields::default()))
        .collect();
    rows.push(("new@x.io".into(), Fields::default()));
    let rows: Vec<(&str, Fields)> = rows.iter().map(|(e, f)| (e.as_str(), f.clone())).collect();
    let s = PlanSettings {
        allow_removals,
        max_profiles: 10_000,
        ..settings(Prune::Owned, limit)
    };
    plan(&segment(&rows), &known(members), None, &s).expect("plans")
}

#[test]
fn max_removals_percent_and_count() {
    let p = blocked_case(RemovalLimit::Percent(10.0), false);
    assert_eq!(
        p.blocked.as_deref(),
        Some(
            "would unsubscribe 500 of the 1000 members this export owns (50%), above max_removals 10%"
        )
    );
    assert!(p.removals.is_empty());
    assert_eq!(
        (p.would_remove, p.managed_members, p.adds.len()),
        (500, 1000, 1)
    );
    assert_eq!(p.updates.len(), 500, "adds and updates are still planned");
    let c = p.counts();
    assert_eq!((c.to_remove, c.would_remove, c.to_add), (0, 500, 1));

    let p = blocked_case(RemovalLimit::Count(499), false);
    assert_eq!(
        p.blocked.as_deref(),
        Some(
            "would unsubscribe 500 of the 1000 members this export owns (50%), above max_removals 499"
        )
    );
    assert!(
        blocked_case(RemovalLimit::Count(500), false)
            .blocked
            .is_none()
    );
    assert_eq!(
        blocked_case(RemovalLimit::Percent(50.0), false)
            .removals
            .len(),
        500
    );
    let lifted = blocked_case(RemovalLimit::Count(0), true);
    assert_eq!((lifted.removals.len(), lifted.blocked), (500, None));
}

#[test]
fn a_block_holds_back_the_removals_it_drops() {
    let blocked = blocked_case(RemovalLimit::Count(10), false);
    assert!(blocked.removals.is_empty());
    assert_eq!(blocked.held_back.len(), 500);
    assert_eq!(blocked.held_back[0].email, "m0000@x.io", "in email order");
    let lifted = blocked_case(RemovalLimit::Count(10), true);
    assert!(lifted.held_back.is_empty());
}

#[test]
fn blocked_reason_rounds_percent() {
    assert_eq!(
        blocked_reason(1, 3, RemovalLimit::Count(0), Prune::All),
        "would unsubscribe 1 of 3 active members of the list (33.3%), above max_removals 0"
    );
}

/// An export that owns 60 of a shared list's 1,060 active
/// members must not unsubscribe 59 of its 60 under a 10% guard.
#[test]
fn max_removals_is_measured_against_the_members_the_export_manages() {
    let mut members = Vec::new();
    for i in 0..1060 {
        members.push(Member {
            owned: i < 60,
            ..member(&format!("m{i:04}@x.io"), Some(Active))
        });
    }
    // Only one owned member stays in the segment.
    let rows = [("m0000@x.io", Fields::default())];
    let s = settings(Prune::Owned, RemovalLimit::Percent(10.0));
    let p = plan(&segment(&rows), &known(members.clone()), None, &s).expect("plans");
    assert_eq!((p.would_remove, p.managed_members), (59, 60));
    assert!(p.removals.is_empty());
    assert_eq!(
        p.blocked.as_deref(),
        Some(
            "would unsubscribe 59 of the 60 members this export owns (98.3%), above max_removals 10%"
        )
    );
    // Under `all`, the whole list is the base (and every member removable).
    let s = settings(Prune::All, RemovalLimit::Percent(10.0));
    let p = plan(&segment(&rows), &known(members), None, &s).expect("plans");
    assert_eq!((p.would_remove, p.managed_members), (1059, 1060));
    assert!(
        p.blocked
            .is_some_and(|r| r.contains("1060 active members of the list"))
    );
}

/// Bounced and unconfirmed members are never planned as
/// adds (which would force status 1) nor resubscribed.
#[test]
fn bounced_and_unconfirmed_members_are_kept_as_they_are() {
    let rows = [
        ("bounced@x.io", Fields::default()),
        ("unconfirmed@x.io", Fields::default()),
        ("ours@x.io", Fields::default()),
    ];
    let k = known([
        member("bounced@x.io", Some(ListStatus::Bounced)),
        member("unconfirmed@x.io", Some(ListStatus::Unconfirmed)),
        Member {
            unsubscribed_by_us: true,
            ..member("ours@x.io", Some(Unsubscribed))
        },
    ]);
    let p = run(&segment(&rows), &k);
    assert!(p.adds.is_empty() && p.updates.is_empty());
    assert_eq!(p.kept_bounced, ["bounced@x.io"]);
    assert_eq!(p.kept_unconfirmed, ["unconfirmed@x.io"]);
    assert_eq!(emails(&p.resubscribes), ["ours@x.io"]);
    let c = p.counts();
    assert_eq!((c.kept_bounced, c.kept_unconfirmed), (1, 1));
}

/// A member whose change is still in doubt (a batch not
/// yet finished) is neither re-added, updated nor removed.
#[test]
fn members_in_doubt_are_left_alone() {
    let rows = [("stays@x.io", Fields::default())];
    let k = known([
        Member {
            pending: Some(PendingOp::Add),
            ..member("stays@x.io", None)
        },
        Member {
            pending: Some(PendingOp::Remove),
            owned: true,
            ..member("left@x.io", Some(Active))
        },
    ]);
    let s = settings(Prune::Owned, RemovalLimit::Count(100));
    let p = plan(&segment(&rows), &k, None, &s).expect("plans");
    assert!(p.adds.is_empty() && p.removals.is_empty());
    assert_eq!(p.in_doubt, ["stays@x.io"]);
    assert_eq!((p.would_remove, p.managed_members), (0, 0));
}

#[test]
fn merge_keeps_intents_while_a_batch_is_unsettled() {
    let m = Member {
        pending: Some(PendingOp::Add),
        ..member("a@x.io", None)
    };
    let keep = Merge {
        now: 100,
        keep_pending: true,
        created: None,
    };
    let out = merge_live(known([m.clone()]), &[live("a@x.io", Active, None)], keep);
    let a = &out["a@x.io"];
    assert_eq!(
        (a.pending, a.owned, a.status),
        (Some(PendingOp::Add), false, Some(Active))
    );
    // Settled: the add landed, the membership is ours.
    let out = merge_live(
        known([m]),
        &[live("a@x.io", Active, None)],
        Merge::settle_all(100),
    );
    assert!(out["a@x.io"].owned && out["a@x.io"].pending.is_none());
    // A remove that landed is ours, with a window ending at the read.
    let r = Member {
        pending: Some(PendingOp::Remove),
        owned: true,
        ..member("r@x.io", Some(Active))
    };
    let out = merge_live(
        known([r]),
        &[live("r@x.io", Unsubscribed, None)],
        Merge::settle_all(100),
    );
    let r = &out["r@x.io"];
    assert!(r.unsubscribed_by_us);
    assert_eq!(r.last_write.map(|w| w.to), Some(100));
    // The same, while its batch cannot be followed: the read shows it.
    let r = Member {
        pending: Some(PendingOp::Remove),
        owned: true,
        ..member("r@x.io", Some(Active))
    };
    let out = merge_live(known([r]), &[live("r@x.io", Unsubscribed, None)], keep);
    let r = &out["r@x.io"];
    assert!(r.unsubscribed_by_us && r.pending.is_none());
}

#[test]
fn guards_fail_before_planning() {
    let s = PlanSettings {
        max_profiles: 1,
        ..settings(Prune::Owned, RemovalLimit::Count(0))
    };
    let two = segment(&[("a@x.io", fields("a")), ("b@x.io", fields("b"))]);
    assert_eq!(
        plan(&two, &Known::new(), None, &s),
        Err(PlanError::TooManyProfiles {
            profiles: 2,
            max: 1
        })
    );
    let empty = segment(&[("bad", fields("a"))]);
    assert_eq!(
        plan(&empty, &Known::new(), None, &s),
        Err(PlanError::EmptySegment)
    );
    let allow = PlanSettings {
        allow_empty: true,
        prune: Prune::All,
        max_removals: RemovalLimit::Percent(100.0),
        ..s
    };
    let k = known([member("a@x.io", Some(Active))]);
    let p = plan(&empty, &k, None, &allow).expect("allowed");
    assert_eq!(p.removals.len(), 1);
}

#[test]
fn counts_serialize_for_plan_json() {
    let p = run(&segment(&[("a@x.io", fields("a"))]), &Known::new());
    let json = serde_json::to_value(p.counts()).expect("serializes");
    assert_eq!(json["to_add"], 1);
    assert_eq!(json["blocked"], serde_json::Value::Null);
    for key in [
        "to_update",
        "to_remove",
        "to_resubscribe",
        "kept_unsubscribed",
        "unchanged",
    ] {
        assert_eq!(json[key], 0, "{key}");
    }
}

fn merged(m: Member, l: Option<LiveMember>) -> Member {
    let email = m.email.clone();
    let out = merge_live(known([m]), l.as_slice(), Merge::settle_all(0));
    out.get(&email).cloned().expect("kept")
}

#[test]
fn merge_takes_live_status_and_ids() {
    let out = merge_live(
        known([Member {
            owned: true,
            ..member("gone@x.io", Some(Active))
        }]),
        &[LiveMember {
            contact_id: 9,
            ..live("new@x.io", Active, None)
        }],
        Merge::settle_all(0),
    );
    let gone = &out["gone@x.io"];
    assert_eq!(
        (gone.status, gone.owned, gone.contact_id),
        (None, false, Some(7)),
        "a removed row is not acsync's doing: ownership ends, the record stays"
    );
    let new = &out["new@x.io"];
    assert_eq!(
        (new.status, new.owned, new.contact_id),
        (Some(Active), false, Some(9))
    );
    // Someone else unsubscribed a member we think is active: an opt-out.
    let m = merged(
        member("a@x.io", Some(Active)),
        Some(live("a@x.io", Unsubscribed, None)),
    );
    assert_eq!(
        (m.status, m.unsubscribed_by_us),
        (Some(Unsubscribed), false)
    );
    // Our unsubscribe, undone by someone else: no longer ours to undo.
    let ours = Member {
        unsubscribed_by_us: true,
        ..member("a@x.io", Some(Unsubscribed))
    };
    let m = merged(ours.clone(), Some(live("a@x.io", Active, None)));
    assert_eq!((m.status, m.unsubscribed_by_us), (Some(Active), false));
    assert!(!merged(ours.clone(), None).unsubscribed_by_us);
    assert!(merged(ours, Some(live("a@x.io", Unsubscribed, None))).unsubscribed_by_us);
}

fn pending(op: PendingOp, status: Option<ListStatus>) -> Member {
    let l = status.map(|s| live("a@x.io", s, None));
    let m = Member {
        pending: Some(op),
        sent_hash: Some(1),
        ..member("a@x.io", None)
    };
    let out = merged(m, l);
    assert_eq!(out.pending, None, "{op:?} {status:?}: pending cleared");
    assert_eq!(out.status, status);
    out
}

#[test]
fn merge_resolves_pending_intents() {
    use PendingOp::*;
    assert!(pending(Add, Some(Active)).owned);
    let optout = pending(Add, Some(Unsubscribed));
    assert!(!optout.owned && !optout.unsubscribed_by_us);
    assert!(!pending(Add, None).owned);
    let resub = Member {
        pending: Some(Resubscribe),
        unsubscribed_by_us: true,
        ..member("a@x.io", Some(Unsubscribed))
    };
    assert!(!merged(resub.clone(), Some(live("a@x.io", Active, None))).unsubscribed_by_us);
    assert!(
        merged(resub, Some(live("a@x.io", Unsubscribed, None))).unsubscribed_by_us,
        "retry later"
    );
    assert!(pending(Remove, Some(Unsubscribed)).unsubscribed_by_us);
    assert!(!pending(Remove, Some(Active)).unsubscribed_by_us);
    assert_eq!(pending(Update, Some(Active)).sent_hash, None);
    assert_eq!(pending(Add, Some(Active)).sent_hash, Some(1));
}

/// Peak resident memory of this process (Linux), for the scale test.
fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or("VmHWM: 0 kB");
    line.split_whitespace()
        .nth(1)
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

/// A million-profile segment (first name, last name), as a CSV would give.
fn big_segment(n: u64) -> Segment {
    let mut b = SegmentBuilder::new();
    for i in 0..n {
        let f = Fields::new(Some(&format!("First{i}")), Some("Last"), None);
        b.push(i + 1, &format!("User{i}@Example.com"), f);
    }
    b.finish()
}

/// Scale checks, run by hand optimised, one at a time (peak memory is per process):
/// `CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo test --lib scale_ -- --ignored --nocapture --test-threads 1`
#[test]
#[ignore = "slow in debug builds; run by hand optimised"]
fn scale_first_run() {
    let seg = big_segment(1_000_000);
    println!("segment: peak {} MB", peak_rss_mb());
    let t = std::time::Instant::now();
    let s = PlanSettings {
        max_profiles: 1_000_000,
        ..settings(Prune::Owned, RemovalLimit::Percent(10.0))
    };
    let p = plan(&seg, &Known::new(), None, &s).expect("plans");
    println!(
        "first run: {:?}, {} adds, peak {} MB",
        t.elapsed(),
        p.adds.len(),
        peak_rss_mb()
    );
}

#[test]
#[ignore = "slow in debug builds; run by hand optimised"]
fn scale_steady_state() {
    let seg = big_segment(1_000_000);
    // All known and sent; 1% changed, 1% gone from the segment.
    let k: Known = seg
        .profiles
        .iter()
        .map(|p| {
            let h = if p.row % 100 == 0 {
                0
            } else {
                p.fields.hash64()
            };
            let e = if p.row % 100 == 1 {
                format!("gone{}@x.io", p.row)
            } else {
                p.email.clone()
            };
            Member {
                sent_hash: Some(h),
                owned: true,
                ..member(&e, Some(Active))
            }
        })
        .collect();
    println!("segment + known: peak {} MB", peak_rss_mb());
    let s = PlanSettings {
        max_profiles: 1_000_000,
        ..settings(Prune::Owned, RemovalLimit::Percent(10.0))
    };
    let t = std::time::Instant::now();
    let p = plan(&seg, &k, None, &s).expect("plans");
    println!(
        "steady: {:?}, {:?}, peak {} MB",
        t.elapsed(),
        p.counts(),
        peak_rss_mb()
    );
    let lf: HashMap<String, LiveMember> = seg
        .profiles
        .iter()
        .map(|p| {
            (
                p.email.clone(),
                LiveMember {
                    first_name: p.fields.first_name().map(str::to_owned),
                    last_name: p.fields.last_name().map(str::to_owned),
                    ..live(&p.email, Active, None)
                },
            )
        })
        .collect();
    let t = std::time::Instant::now();
    let p = plan(&seg, &k, Some(&lf), &s).expect("plans");
    println!(
        "with full read: {:?}, {} updates, peak {} MB",
        t.elapsed(),
        p.updates.len(),
        peak_rss_mb()
    );
}

/// The shared-list rules of the planner.
#[test]
fn other_exports_keep_their_members_and_win_conflicts_in_id_order() {
    let rows = [("both@x.io", fields("Ann")), ("mine@x.io", fields("M"))];
    let owned = |e: &str, f: &str| Member {
        owned: true,
        sent_hash: Some(fields(f).hash64()),
        ..member(e, Some(Active))
    };
    let k = known([
        owned("both@x.io", "Anna"),
        owned("mine@x.io", "M"),
        owned("theirs@x.io", "T"),
        owned("gone@x.io", "G"),
    ]);
    let want = |hash: u64, wins: bool| OtherWant {
        export: "a".into(),
        hash,
        wins,
    };
    let mut others = OtherExports::default();
    others
        .wanted
        .insert("both@x.io".into(), want(fields("Anna").hash64(), true));
    others
        .wanted
        .insert("theirs@x.io".into(), want(fields("T").hash64(), true));
    let s = settings(Prune::Owned, RemovalLimit::Count(100));
    let p = plan_shared(&segment(&rows), &k, None, &s, &others).expect("plans");
    assert_eq!(p.conflicts, ["both@x.io"]);
    assert!(p.updates.is_empty(), "the other export's values win");
    assert_eq!(p.kept_for_others, 1);
    assert_eq!(p.kept_for_others_emails, ["theirs@x.io"]);
    assert_eq!(p.removals.len(), 1);
    assert_eq!(p.removals[0].email, "gone@x.io");
    // When we sort first, we write our values.
    others.wanted.get_mut("both@x.io").expect("x").wins = false;
    let p = plan_shared(&segment(&rows), &k, None, &s, &others).expect("plans");
    assert_eq!(emails(&p.updates), ["both@x.io"]);
    // A sibling that never recorded its wishes holds every removal.
    others.hold_removals = Some("export `c` has not run".into());
    let p = plan_shared(&segment(&rows), &k, None, &s, &others).expect("plans");
    assert!(p.removals.is_empty());
    assert!(p.blocked.is_some_and(|b| b.contains("`c`")));
}

/// What [`plan_for`] says of each address of one plan.
fn member_plans(
    seg: &Segment,
    k: &Known,
    s: &PlanSettings,
    others: &OtherExports,
    emails: &[&str],
) -> Vec<MemberPlan> {
    emails
        .iter()
        .map(|e| plan_for(seg, k, None, s, others, e).expect("plans").1)
        .collect()
}

#[test]
fn the_planner_names_every_write_and_why_it_leaves_a_member_alone() {
    use LeftAlone::*;
    let same = fields("same");
    let seg = segment(&[
        ("new@x.io", fields("n")),
        ("same@x.io", same.clone()),
        ("changed@x.io", fields("now")),
        ("back@x.io", fields("b")),
        ("optout@x.io", fields("o")),
        ("bounced@x.io", fields("b")),
        ("unconfirmed@x.io", fields("u")),
        ("doubt@x.io", fields("d")),
        ("theirs@x.io", fields("mine")),
    ]);
    let with = |email: &str, status: ListStatus, owned: bool| Member {
        owned,
        sent_hash: Some(same.hash64()),
        ..member(email, Some(status))
    };
    let k = known([
        with("same@x.io", Active, true),
        with("changed@x.io", Active, true),
        Member {
            unsubscribed_by_us: true,
            ..with("back@x.io", Unsubscribed, true)
        },
        with("optout@x.io", Unsubscribed, false),
        with("bounced@x.io", ListStatus::Bounced, true),
        with("unconfirmed@x.io", ListStatus::Unconfirmed, true),
        Member {
            pending: Some(PendingOp::Update),
            ..with("doubt@x.io", Active, true)
        },
        with("theirs@x.io", Active, true),
        with("gone@x.io", Active, true),
        with("manual@x.io", Active, false),
        with("left-optout@x.io", Unsubscribed, false),
        with("shared@x.io", Active, true),
        with("deleted@x.io", Active, true),
    ]);
    let want = |hash: u64, wins: bool| OtherWant {
        export: "a-first".into(),
        hash,
        wins,
    };
    let others = OtherExports {
        wanted: [
            ("theirs@x.io".to_string(), want(1, true)),
            ("shared@x.io".to_string(), want(same.hash64(), true)),
        ]
        .into(),
        hold_removals: None,
        retired: RetiredWishes {
            wanted: [("deleted@x.io".to_string(), "old".to_string())].into(),
            owned_until: Vec::new(),
        },
    };
    let s = settings(Prune::Owned, RemovalLimit::Count(100));
    let asked = [
        ("new@x.io", MemberPlan::Add),
        ("same@x.io", MemberPlan::LeftAlone(Unchanged)),
        ("changed@x.io", MemberPlan::Update),
        ("back@x.io", MemberPlan::Resubscribe),
        (
            "optout@x.io",
            MemberPlan::LeftAlone(Status(Kept::Unsubscribed)),
        ),
        ("bounced@x.io", MemberPlan::LeftAlone(Status(Kept::Bounced))),
        (
            "unconfirmed@x.io",
            MemberPlan::LeftAlone(Status(Kept::Unconfirmed)),
        ),
        ("doubt@x.io", MemberPlan::LeftAlone(InDoubt)),
        ("theirs@x.io", MemberPlan::LeftAlone(Conflict)),
        ("gone@x.io", MemberPlan::Unsubscribe),
        ("manual@x.io", MemberPlan::LeftAlone(NotOwned)),
        ("left-optout@x.io", MemberPlan::LeftAlone(NotSubscribed)),
        ("shared@x.io", MemberPlan::LeftAlone(WantedByOthers)),
        ("deleted@x.io", MemberPlan::LeftAlone(WantedByDeleted)),
        ("never@x.io", MemberPlan::LeftAlone(NotMember)),
    ];
    let emails: Vec<&str> = asked.iter().map(|(e, _)| *e).collect();
    let got = member_plans(&seg, &k, &s, &others, &emails);
    let want: Vec<MemberPlan> = asked.iter().map(|(_, w)| *w).collect();
    assert_eq!(got, want);

    // The same member under other settings: prune = "none", removals held.
    let none = settings(Prune::None, RemovalLimit::Count(100));
    let got = member_plans(&seg, &k, &none, &others, &["gone@x.io"]);
    assert_eq!(got, [MemberPlan::LeftAlone(PruneNone)]);
    let held = settings(Prune::Owned, RemovalLimit::Count(0));
    let got = member_plans(&seg, &k, &held, &others, &["gone@x.io"]);
    assert_eq!(got, [MemberPlan::LeftAlone(RemovalsBlocked)]);
    // Watching changes nothing in the plan itself.
    let (p, _) = plan_for(&seg, &k, None, &s, &others, "gone@x.io").expect("plans");
    assert_eq!(p, plan_shared(&seg, &k, None, &s, &others).expect("plans"));
}

#[test]
fn what_deleted_exports_want_is_kept_and_counted_per_export() {
    let owned = |e: &str, is: bool| Member {
        owned: is,
        sent_hash: Some(fields("x").hash64()),
        ..member(e, Some(Active))
    };
    let k = known([
        owned("stay@x.io", true),
        owned("rows@x.io", true),
        owned("alone@x.io", true),
        owned("manual@x.io", false),
    ]);
    let seg = segment(&[("stay@x.io", fields("x"))]);
    let s = settings(Prune::Owned, RemovalLimit::Count(100));
    let mut others = OtherExports::default();
    let p = plan_shared(&seg, &k, None, &s, &others).expect("plans");
    assert_eq!(p.removals.len(), 2, "nobody deleted: both leavers go");

    others.retired = RetiredWishes {
        wanted: [("rows@x.io".to_string(), "b-shared".to_string())].into(),
        // Its last run never finished: every owned member is kept for it.
        owned_until: vec![OwnedUntil {
            export: "a-alone".into(),
            until: None,
        }],
    };
    let p = plan_shared(&seg, &k, None, &s, &others).expect("plans");
    assert!(p.removals.is_empty() && p.blocked.is_none());
    assert_eq!(p.kept_for_deleted["b-shared"], ["rows@x.io"]);
    assert_eq!(p.kept_for_deleted["a-alone"], ["alone@x.io"]);
    assert_eq!(p.counts().kept_for_deleted["a-alone"], 1);
    assert_eq!(p.kept_for_others, 0, "not another export's live wish");
}

#[test]
fn a_contact_an_import_created_is_acsync_s_under_a_new_address() {
    let created: std::collections::HashMap<u64, i64> = [(7, 40)].into();
    let how = Merge {
        now: 100,
        keep_pending: false,
        created: Some(&created),
    };
    let out = merge_live(known([]), &[live("renamed@x.io", Active, None)], how);
    let m = &out["renamed@x.io"];
    assert!(m.owned, "{m:?}");
    // acsync's write ended when it saw its import end, not at this read: a
    // change to the row since then is someone else's.
    assert_eq!(m.last_write, Some(WriteWindow { from: 0, to: 40 }));
    // Created by acsync, but opted out since: not acsync's doing any more.
    let out = merge_live(known([]), &[live("renamed@x.io", Unsubscribed, None)], how);
    assert!(!out["renamed@x.io"].owned);
    // Not created by acsync: nobody's.
    let out = merge_live(
        known([]),
        &[live("other@x.io", Active, None)],
        Merge::settle_all(100),
    );
    assert!(!out["other@x.io"].owned);
}

#[test]
fn a_contact_renamed_in_activecampaign_takes_its_record_to_the_new_address() {
    let before = Member {
        owned: true,
        last_write: Some(WriteWindow { from: 10, to: 20 }),
        ..member("old@x.io", Some(Active))
    };
    let out = merge_live(
        known([before]),
        &[live("new@x.io", Active, None)],
        Merge::settle_all(100),
    );
    let new = &out["new@x.io"];
    assert!(new.owned && new.contact_id == Some(7), "{new:?}");
    let old = &out["old@x.io"];
    assert!(!old.owned && old.status.is_none(), "{old:?}");
}

#[test]
fn the_contact_an_import_created_under_a_known_address_replaces_an_erased_one() {
    let created: std::collections::HashMap<u64, i64> = [(8, 98)].into();
    let how = Merge {
        now: 100,
        keep_pending: false,
        created: Some(&created),
    };
    let readded = Member {
        owned: true,
        last_write: Some(WriteWindow { from: 90, to: 95 }),
        ..member("a@x.io", Some(Active))
    };
    let erased_and_readded = LiveMember {
        contact_id: 8,
        ..live("a@x.io", Active, None)
    };
    let out = merge_live(
        known([readded.clone()]),
        std::slice::from_ref(&erased_and_readded),
        how,
    );
    assert!(out["a@x.io"].owned && out["a@x.io"].contact_id == Some(8));
    // Without the import's word, another id is another contact.
    let out = merge_live(
        known([readded]),
        &[erased_and_readded],
        Merge::settle_all(100),
    );
    assert!(!out["a@x.io"].owned);
}

/// A drift check folds in only what it read: a member it did not read
/// keeps its record (a full read would take it for a non-member), and a
/// contact read under a new address takes its record's ownership there
/// while its old address holds it no more (docs/run-rules.md, drift checks).
#[test]
fn a_drift_checks_rows_change_only_the_members_they_show() {
    let owned = |email: &str, id: u64| Member {
        owned: true,
        contact_id: Some(id),
        ..member(email, Some(Active))
    };
    let before = known([owned("old@x.io", 7), owned("quiet@x.io", 8)]);
    let renamed = live("new@x.io", Active, None);
    let (out, touched) = merge_changed(before, &[renamed], Merge::settle_all(0));
    let quiet = out.get("quiet@x.io").expect("kept");
    assert_eq!(
        (quiet.status, quiet.owned),
        (Some(Active), true),
        "not read: as it was"
    );
    let old = out.get("old@x.io").expect("record kept");
    assert_eq!(old.status, None, "the contact left this address");
    let new = out.get("new@x.io").expect("followed");
    assert_eq!((new.contact_id, new.owned), (Some(7), true));
    assert_eq!(touched, ["new@x.io", "old@x.io"]);
}

/// An address a contact was renamed away from keeps naming it until a
/// read shows another contact there; when the drift check then shows the
/// contact where it was followed to, that stale record is not where it
/// was renamed from, and keeps what acsync did at that address since.
#[test]
fn a_drift_check_does_not_take_a_stale_record_for_a_rename() {
    let owned = |email: &str, id: u64| Member {
        owned: true,
        contact_id: Some(id),
        ..member(email, Some(Active))
    };
    // p1's contact 7 was renamed to moved@ (followed); acsync subscribed
    // p1 again since, a contact whose id no read has shown yet.
    let before = known([owned("moved@x.io", 7), owned("p1@x.io", 7)]);
    let moved = LiveMember {
        status: Unsubscribed,
        ..live("moved@x.io", Active, None)
    };
    let (out, _) = merge_changed(before, &[moved], Merge::settle_all(0));
    let p1 = out.get("p1@x.io").expect("kept");
    assert_eq!((p1.status, p1.owned), (Some(Active), true), "{p1:?}");
}
