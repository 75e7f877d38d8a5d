//! Property tests: for arbitrary small segments, known states (with pending
//! intents) and live lists, a plan applied to a model of the list converges
//! (planning again gives nothing to write) and never breaks rules 3 and 4.

use proptest::prelude::*;

use super::*;
use crate::model::PendingOp;
use crate::segment::{SegmentBuilder, clean_value};

const POOL: [&str; 6] = ["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io", "f@x.io"];
const VALUES: [&str; 3] = ["", "Ann", "Bob"];

fn arb_fields() -> impl Strategy<Value = Fields> {
    (0..3usize, 0..3usize, prop::option::of(0..2usize)).prop_map(|(first, phone, company)| {
        Fields::with_custom(
            clean_value(VALUES[first]),
            None,
            clean_value(VALUES[phone]),
            company.map(|c| ("COMPANY", ["Acme", "Bolt"][c])),
        )
    })
}

fn arb_status() -> impl Strategy<Value = ListStatus> {
    prop_oneof![
        Just(ListStatus::Active),
        Just(ListStatus::Unsubscribed),
        Just(ListStatus::Bounced),
        Just(ListStatus::Unconfirmed)
    ]
}

fn arb_segment() -> impl Strategy<Value = Segment> {
    prop::collection::vec((0..POOL.len(), any::<bool>(), arb_fields()), 0..8).prop_map(|rows| {
        let mut b = SegmentBuilder::new();
        for (i, (e, upper, f)) in rows.into_iter().enumerate() {
            let email = if upper {
                POOL[e].to_uppercase()
            } else {
                POOL[e].to_owned()
            };
            b.push(i as u64 + 1, &email, f);
        }
        b.finish()
    })
}

fn arb_member(email: &'static str) -> impl Strategy<Value = Member> {
    let op = prop_oneof![
        Just(PendingOp::Add),
        Just(PendingOp::Update),
        Just(PendingOp::Remove),
        Just(PendingOp::Resubscribe)
    ];
    (
        prop::option::of(arb_status()),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(arb_fields()),
        prop::option::of(op),
    )
        .prop_map(move |(status, owned, by_us, sent, pending)| Member {
            email: email.into(),
            contact_id: None,
            status,
            owned,
            unsubscribed_by_us: by_us,
            sent_hash: sent.map(|f| f.hash64()),
            read_back_hash: None,
            pending,
            last_write: None,
        })
}

fn arb_known() -> impl Strategy<Value = Known> {
    POOL.map(|e| prop::option::of(arb_member(e)))
        .prop_map(|ms| ms.into_iter().flatten().collect())
}

fn arb_live() -> impl Strategy<Value = Vec<LiveMember>> {
    POOL.map(|_| prop::option::of((arb_status(), 0..3usize, 0..3usize)))
        .prop_map(|ls| {
            POOL.iter()
                .zip(ls)
                .enumerate()
                .filter_map(|(i, (e, l))| {
                    let (status, first, phone) = l?;
                    let value = |v: usize| Some(VALUES[v].to_owned());
                    Some(LiveMember {
                        contact_id: i as u64 + 1,
                        email: (*e).into(),
                        status,
                        first_name: value(first),
                        last_name: None,
                        phone: value(phone),
                        contact_created: None,
                    })
                })
                .collect()
        })
}

fn arb_settings() -> impl Strategy<Value = PlanSettings> {
    let prune = prop_oneof![Just(Prune::Owned), Just(Prune::All), Just(Prune::None)];
    let limit = prop_oneof![
        (0..4u64).prop_map(RemovalLimit::Count),
        (0..=100u32).prop_map(|p| RemovalLimit::Percent(p.into()))
    ];
    (prune, limit, any::<bool>()).prop_map(|(prune, max_removals, allow_removals)| PlanSettings {
        prune,
        max_removals,
        max_profiles: 100,
        allow_empty: true,
        allow_removals,
    })
}

/// What ActiveCampaign and the engine's state would hold after executing `p`.
/// Unsent (`None`) fields keep their live value, as in ActiveCampaign.
fn apply(p: &Plan, live: &mut HashMap<String, LiveMember>, known: &mut Known) {
    let write = |live: &mut HashMap<String, LiveMember>, c: &Change| {
        let id = live.len() as u64 + 100;
        let l = live.entry(c.email.clone()).or_insert_with(|| LiveMember {
            contact_id: c.contact_id.unwrap_or(id),
            email: c.email.clone(),
            status: ListStatus::Active,
            first_name: None,
            last_name: None,
            phone: None,
            contact_created: None,
        });
        for (ours, theirs) in [
            (c.fields.first_name(), &mut l.first_name),
            (c.fields.last_name(), &mut l.last_name),
            (c.fields.phone(), &mut l.phone),
        ] {
            if let Some(v) = ours {
                *theirs = Some(v.to_owned());
            }
        }
        l.status = ListStatus::Active;
        l.contact_id
    };
    for c in p.adds.iter().chain(&p.updates).chain(&p.resubscribes) {
        let id = write(live, c);
        if !known.contains(&c.email) {
            known.insert(Member::unknown(c.email.clone()));
        }
        let m = known.get_mut(&c.email).expect("just inserted");
        m.owned |= m.status.is_none();
        (m.status, m.unsubscribed_by_us, m.sent_hash, m.contact_id) =
            (Some(ListStatus::Active), false, Some(c.hash), Some(id));
    }
    for r in &p.removals {
        if let Some(l) = live.get_mut(&r.email) {
            l.status = ListStatus::Unsubscribed;
        }
        if let Some(m) = known.get_mut(&r.email) {
            (m.status, m.unsubscribed_by_us) = (Some(ListStatus::Unsubscribed), true);
        }
    }
    for (email, h) in &p.record_hashes {
        if let Some(m) = known.get_mut(email) {
            m.sent_hash = Some(*h);
        }
    }
}

fn assert_converged(p: &Plan, first: &Plan) {
    assert!(
        p.adds.is_empty() && p.updates.is_empty() && p.resubscribes.is_empty(),
        "{p:#?}"
    );
    assert!(p.record_hashes.is_empty(), "{p:#?}");
    if first.blocked.is_none() {
        assert!(
            p.is_empty() && p.would_remove == 0 && p.blocked.is_none(),
            "{p:#?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn plans_converge_and_keep_the_rules(
        seg in arb_segment(), known in arb_known(), live in arb_live(), s in arb_settings(),
    ) {
        let k = merge_live(known, &live, crate::plan::merge::Merge::settle_all(0));
        let mut live_map: HashMap<String, LiveMember> = live.iter().map(|l| (l.email.clone(), l.clone())).collect();
        let first = plan(&seg, &k, Some(&live_map), &s).expect("guards pass");

        let opted_out: Vec<&str> = k.iter()
            .filter(|m| m.status == Some(ListStatus::Unsubscribed) && !m.unsubscribed_by_us)
            .map(|m| m.email.as_str())
            .collect();
        for c in first.adds.iter().chain(&first.updates).chain(&first.resubscribes) {
            prop_assert!(!opted_out.contains(&c.email.as_str()), "opt-out written: {}", c.email);
        }
        for r in &first.removals {
            prop_assert!(!seg.profiles.iter().any(|p| p.email == r.email));
            prop_assert!(s.prune != Prune::None);
            prop_assert!(s.prune == Prune::All || k[r.email.as_str()].owned, "non-owned removed: {}", r.email);
        }
        if s.prune == Prune::None {
            prop_assert_eq!(first.would_remove, 0);
        }

        let mut k2 = k.clone();
        apply(&first, &mut live_map, &mut k2);
        for e in &opted_out {
            prop_assert_eq!(live_map[*e].status, ListStatus::Unsubscribed, "opt-out resubscribed: {}", e);
        }
        // Every other segment member is active with exactly the values we send.
        // Bounced and unconfirmed members keep their status.
        for e in first.kept_bounced.iter().chain(&first.kept_unconfirmed) {
            prop_assert_ne!(live_map[e].status, ListStatus::Active, "forced active: {}", e);
        }
        let kept = |e: &String| {
            first.kept_unsubscribed.contains(e)
                || first.kept_bounced.contains(e)
                || first.kept_unconfirmed.contains(e)
        };
        for p in seg.profiles.iter().filter(|p| !kept(&p.email)) {
            let l = &live_map[&p.email];
            prop_assert_eq!(l.status, ListStatus::Active);
            prop_assert!(diff::drifted_fields(&p.fields, l).is_empty(), "{:?} vs {:?}", p, l);
        }
        assert_converged(&plan(&seg, &k2, Some(&live_map), &s).expect("plans"), &first);
        assert_converged(&plan(&seg, &k2, None, &s).expect("plans"), &first);
        // The next full read agrees with what the state recorded.
        let live2: Vec<LiveMember> = live_map.values().cloned().collect();
        let k3 = merge_live(k2, &live2, crate::plan::merge::Merge::settle_all(0));
        assert_converged(&plan(&seg, &k3, Some(&live_map), &s).expect("plans"), &first);
    }
}

/// A defect outside the email: any of them may hit a row.
#[derive(Debug, Clone, Copy)]
enum Defect {
    None,
    /// The name's bytes are not UTF-8 (CSV).
    BadNameBytes,
    /// The unmapped `note` column holds commas, quotes and a newline,
    /// correctly quoted (CSV), or an extra key holds an array (JSONL).
    BusyExtraColumn,
    /// The name is a JSON array or object (JSONL; in CSV, bad bytes).
    WrongJsonType,
}

/// Source rows: an email (from [`POOL`], possibly upper-cased, or not an
/// address at all), a name from [`VALUES`], and a defect.
fn arb_rows() -> impl Strategy<Value = Vec<(usize, bool, usize, Defect)>> {
    let defect = prop_oneof![
        Just(Defect::None),
        Just(Defect::BadNameBytes),
        Just(Defect::BusyExtraColumn),
        Just(Defect::WrongJsonType)
    ];
    prop::collection::vec((0..=POOL.len(), any::<bool>(), 0..3usize, defect), 0..10)
}

fn row_email(e: usize, upper: bool) -> String {
    let email = POOL.get(e).copied().unwrap_or("not-an-address");
    if upper {
        email.to_uppercase()
    } else {
        email.to_owned()
    }
}

/// The rows as CSV (header `email,first_name,note`), with or without their defects.
fn csv_text(rows: &[(usize, bool, usize, Defect)], defects: bool) -> Vec<u8> {
    let mut out = b"email,first_name,note\n".to_vec();
    for &(e, upper, name, defect) in rows {
        out.extend_from_slice(row_email(e, upper).as_bytes());
        out.push(b',');
        match (defects, defect) {
            (true, Defect::BadNameBytes | Defect::WrongJsonType) => {
                out.extend_from_slice(b"B\xffb")
            }
            _ => out.extend_from_slice(VALUES[name].as_bytes()),
        }
        match (defects, defect) {
            (true, Defect::BusyExtraColumn) => out.extend_from_slice(b",\"a, \"\"b\"\"\nc\"\n"),
            _ => out.extend_from_slice(b",\n"),
        }
    }
    out
}

/// The rows as JSON Lines, with or without their defects.
fn jsonl_text(rows: &[(usize, bool, usize, Defect)], defects: bool) -> String {
    let mut out = String::new();
    for &(e, upper, name, defect) in rows {
        let email = serde_json::Value::from(row_email(e, upper));
        let name = serde_json::Value::from(VALUES[name]);
        let line = match (defects, defect) {
            (true, Defect::WrongJsonType) => {
                serde_json::json!({"email": email, "first_name": [name]})
            }
            (true, Defect::BadNameBytes) => {
                serde_json::json!({"email": email, "first_name": {"n": name}})
            }
            (true, Defect::BusyExtraColumn) => {
                serde_json::json!({"email": email, "first_name": name, "extra": [1, {"x": null}]})
            }
            _ => serde_json::json!({"email": email, "first_name": name}),
        };
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// The profiles' emails in source order (not their rows: a defect that
/// puts a newline in a quoted CSV field moves every later row's line).
fn emails_of(seg: &Segment) -> Vec<&str> {
    seg.profiles.iter().map(|p| p.email.as_str()).collect()
}

fn removed(p: &Plan) -> Vec<&str> {
    let mut v: Vec<&str> = p.removals.iter().map(|r| r.email.as_str()).collect();
    v.sort_unstable();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// docs/run-rules.md, the segment: a defect outside the email never removes a member.
    /// The same rows read with and without defects give the same profiles
    /// (same emails in the same order) and the same invalid rows, and the plan
    /// removes exactly the same members.
    #[test]
    fn defects_outside_the_email_never_remove_a_member(
        rows in arb_rows(), known in arb_known(), live in arb_live(), s in arb_settings(),
    ) {
        let mapping = crate::config::Mapping {
            email: "email".into(),
            first_name: Some("first_name".into()),
            ..Default::default()
        };
        let file = std::path::Path::new("seg");
        let read_csv = |defects| crate::source::read_csv(&csv_text(&rows, defects)[..], file, &mapping);
        let read_jsonl = |defects| {
            crate::source::read_jsonl(jsonl_text(&rows, defects).as_bytes(), file, &mapping)
        };
        let known = merge_live(known, &live, crate::plan::merge::Merge::settle_all(0));
        let live_map: HashMap<String, LiveMember> =
            live.iter().map(|l| (l.email.clone(), l.clone())).collect();
        for (clean, defective) in [
            (read_csv(false), read_csv(true)),
            (read_jsonl(false), read_jsonl(true)),
        ] {
            let (clean, defective) = (clean.expect("clean reads"), defective.expect("defective reads"));
            prop_assert_eq!(emails_of(&defective), emails_of(&clean));
            prop_assert_eq!(
                (defective.invalid_rows, defective.duplicate_rows, defective.unreadable_emails),
                (clean.invalid_rows, clean.duplicate_rows, 0)
            );
            let (a, b) = (plan(&clean, &known, Some(&live_map), &s), plan(&defective, &known, Some(&live_map), &s));
            let (a, b) = (a.expect("guards pass"), b.expect("guards pass"));
            prop_assert_eq!(removed(&b), removed(&a));
            prop_assert_eq!(b.would_remove, a.would_remove);
            for r in &b.removals {
                prop_assert!(!defective.profiles.iter().any(|p| p.email == r.email));
            }
        }
    }
}
