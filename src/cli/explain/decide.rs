//! The next run's decision for one address, read off the plan the run's own
//! planner made (`run::prepare::make_plan`): which list holds the address
//! (adds, updates, removals, kept...) is the decision; this file only puts
//! the planner's reason into words. Pure.

use crate::model::{ListStatus, LiveMember, Member, Profile, Prune};
use crate::plan::{OtherWant, Plan};

/// What is known about the address besides the plan.
pub struct Subject<'a> {
    pub email: &'a str,
    pub profile: Option<&'a Profile>,
    /// The member the planner saw (after any live read was merged in).
    pub member: Option<&'a Member>,
    pub live: Option<&'a LiveMember>,
    pub prune: Prune,
    pub other: Option<&'a OtherWant>,
    /// The planner unsubscribes it when no guard holds removals back.
    pub removal_candidate: bool,
}

/// The action, the reason in words, and the fields an update changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: &'static str,
    pub reason: String,
    pub fields: Vec<String>,
}

fn said(action: &'static str, reason: impl Into<String>) -> Decision {
    Decision {
        action,
        reason: reason.into(),
        fields: Vec::new(),
    }
}

/// Finds the address in the plan and says why it is there.
pub fn decide(plan: &Plan, s: &Subject<'_>) -> Decision {
    let e = s.email;
    let has = |v: &[crate::plan::Change]| v.iter().any(|c| c.email == e);
    if plan.in_doubt.iter().any(|x| x == e) {
        let op = s
            .member
            .and_then(|m| m.pending)
            .map_or("a change", |p| p.as_str());
        return said(
            "in_doubt",
            format!(
                "the outcome of an earlier run's {op} is not known yet (a killed run, or a bulk batch ActiveCampaign has not finished): it is left exactly as it is until a full read of the list settles it"
            ),
        );
    }
    if has(&plan.adds) {
        return said(
            "add",
            "it is in the segment and not on the list as far as acsync knows: it is subscribed with its fields",
        );
    }
    if has(&plan.updates) {
        return update(s);
    }
    if has(&plan.resubscribes) {
        return said(
            "resubscribe",
            "this export unsubscribed it and it is back in the segment: it is subscribed again (once ActiveCampaign confirms the status 2 is still the one acsync wrote)",
        );
    }
    if plan.removals.iter().any(|r| r.email == e) {
        let why = match s.prune {
            Prune::All => {
                "it is not in the segment and prune = \"all\" makes the list exactly the segment"
            }
            _ => "it left the segment and this export subscribed it (prune = \"owned\")",
        };
        return said(
            "unsubscribe",
            format!("{why}: it gets list status 2 (the contact is not deleted)"),
        );
    }
    if let Some(d) = kept(plan, e) {
        return d;
    }
    match s.profile {
        Some(_) => in_segment_unchanged(plan, s),
        None => left_segment(plan, s),
    }
}

/// A member in the segment whose list status acsync never overrides.
fn kept(plan: &Plan, e: &str) -> Option<Decision> {
    let kept = |v: &[String]| v.iter().any(|x| x == e);
    if kept(&plan.kept_unsubscribed) {
        return Some(said(
            "keep",
            "it unsubscribed itself (list status 2 that this export did not cause): acsync never resubscribes it",
        ));
    }
    if kept(&plan.kept_bounced) {
        return Some(said(
            "keep",
            "its address bounced (list status 3): acsync never forces it back to active",
        ));
    }
    if kept(&plan.kept_unconfirmed) {
        return Some(said(
            "keep",
            "it has not confirmed its subscription yet (double opt-in, list status 0): acsync leaves it so",
        ));
    }
    None
}

/// An update: the fields a read shows drifted, else every field it sends.
fn update(s: &Subject<'_>) -> Decision {
    let Some(p) = s.profile else {
        return said("update", "its fields are written again");
    };
    let drifted: Vec<String> = s.live.map(|l| drift(p, l)).unwrap_or_default();
    if !drifted.is_empty() {
        return Decision {
            action: "update",
            reason: format!(
                "ActiveCampaign holds other values for {} than the segment: they are written again",
                drifted.join(", ")
            ),
            fields: drifted,
        };
    }
    let sent = s.member.is_some_and(|m| m.sent_hash.is_some());
    let why = if sent {
        "its values differ from what this export last sent"
    } else {
        "this export has no record of sending its current values"
    };
    Decision {
        action: "update",
        reason: format!("{why}: its fields are written"),
        fields: field_names(p),
    }
}

/// Names of first name, last name and phone whose live value differs (a
/// field the segment does not send never drifts; custom fields are not in
/// a contact read).
fn drift(p: &Profile, live: &LiveMember) -> Vec<String> {
    let f = &p.fields;
    [
        ("first_name", f.first_name(), &live.first_name),
        ("last_name", f.last_name(), &live.last_name),
        ("phone", f.phone(), &live.phone),
    ]
    .into_iter()
    .filter(|(_, ours, theirs)| ours.is_some_and(|v| v != theirs.as_deref().unwrap_or("")))
    .map(|(name, _, _)| name.to_string())
    .collect()
}

/// The fields a profile sends, by name.
pub fn field_names(p: &Profile) -> Vec<String> {
    let f = &p.fields;
    let mut names: Vec<String> = [
        ("first_name", f.first_name()),
        ("last_name", f.last_name()),
        ("phone", f.phone()),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_some())
    .map(|(n, _)| n.to_string())
    .collect();
    names.extend(f.custom().map(|(k, _)| k.to_string()));
    names
}

fn in_segment_unchanged(plan: &Plan, s: &Subject<'_>) -> Decision {
    if let Some(o) = s.other.filter(|o| o.wins)
        && plan.conflicts.iter().any(|x| x == s.email)
    {
        return said(
            "nothing",
            format!(
                "export `{}` wants it with other values and its id sorts first: its values are the ones written, not this export's",
                o.export
            ),
        );
    }
    said(
        "nothing",
        "it is subscribed and its values equal what this export last sent: no write",
    )
}

fn left_segment(plan: &Plan, s: &Subject<'_>) -> Decision {
    let Some(m) = s.member.filter(|m| m.status.is_some()) else {
        return said(
            "nothing",
            "it is not in the segment and not a member of the list as far as acsync knows",
        );
    };
    if let Some(op) = m.pending {
        return said(
            "nothing",
            format!(
                "it left the segment, but an earlier {} has no known outcome yet: it is not touched until a full read settles it",
                op.as_str()
            ),
        );
    }
    if m.status != Some(ListStatus::Active) {
        let status = m.status.map_or("none", ListStatus::as_str);
        return said(
            "nothing",
            format!(
                "it is not in the segment and its list status is {status}: acsync only unsubscribes active members"
            ),
        );
    }
    if let Some(o) = s.other {
        return said(
            "keep",
            format!(
                "it left this segment, but export `{}` of the same list still wants it: never unsubscribed while another export does",
                o.export
            ),
        );
    }
    if s.removal_candidate {
        let why = plan.blocked.as_deref().unwrap_or("removals are held back");
        return said(
            "keep",
            format!(
                "it left the segment and would be unsubscribed, but this run's removals are blocked: {why}"
            ),
        );
    }
    match s.prune {
        Prune::None => said(
            "nothing",
            "it left the segment; prune = \"none\" never unsubscribes",
        ),
        _ if !m.owned => said(
            "nothing",
            "it left the segment, but this export did not subscribe it: prune = \"owned\" leaves it on the list",
        ),
        _ => said("nothing", "no change"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Fields, Known, RemovalLimit};
    use crate::plan::{PlanSettings, plan};
    use crate::segment::SegmentBuilder;

    fn settings(max: u64) -> PlanSettings {
        PlanSettings {
            prune: Prune::Owned,
            max_removals: RemovalLimit::Count(max),
            max_profiles: 1000,
            allow_empty: true,
            allow_removals: false,
        }
    }

    fn member(email: &str, status: ListStatus, owned: bool, hash: Option<u64>) -> Member {
        Member {
            status: Some(status),
            owned,
            sent_hash: hash,
            contact_id: Some(7),
            ..Member::unknown(email)
        }
    }

    fn subject<'a>(email: &'a str, p: Option<&'a Profile>, m: Option<&'a Member>) -> Subject<'a> {
        Subject {
            email,
            profile: p,
            member: m,
            live: None,
            prune: Prune::Owned,
            other: None,
            removal_candidate: false,
        }
    }

    #[test]
    fn each_list_of_the_plan_is_one_action() {
        let ann = Fields::new(Some("Ann"), None, None);
        let mut b = SegmentBuilder::new();
        for e in ["new@x.io", "same@x.io", "changed@x.io", "optout@x.io"] {
            b.push(1, e, ann.clone());
        }
        let seg = b.finish();
        let mut known = Known::new();
        known.insert(member(
            "same@x.io",
            ListStatus::Active,
            true,
            Some(ann.hash64()),
        ));
        known.insert(member("changed@x.io", ListStatus::Active, true, Some(1)));
        known.insert(member("optout@x.io", ListStatus::Unsubscribed, true, None));
        known.insert(member("gone@x.io", ListStatus::Active, true, Some(1)));
        known.insert(member("manual@x.io", ListStatus::Active, false, None));
        let p = plan(&seg, &known, None, &settings(10)).expect("plan");
        let act = |e: &str| {
            let prof = seg.profiles.iter().find(|x| x.email == e);
            decide(&p, &subject(e, prof, known.get(e))).action
        };
        assert_eq!(act("new@x.io"), "add");
        assert_eq!(act("same@x.io"), "nothing");
        assert_eq!(act("changed@x.io"), "update");
        assert_eq!(act("optout@x.io"), "keep");
        assert_eq!(act("gone@x.io"), "unsubscribe");
        assert_eq!(act("manual@x.io"), "nothing");
        assert_eq!(act("never@x.io"), "nothing");
        let d = decide(&p, &subject("manual@x.io", None, known.get("manual@x.io")));
        assert!(d.reason.contains("did not subscribe it"), "{}", d.reason);
    }

    #[test]
    fn an_update_names_the_drifted_fields_and_a_blocked_removal_says_so() {
        let mut b = SegmentBuilder::new();
        b.push(1, "a@x.io", Fields::new(Some("Ann"), Some("Lee"), None));
        let seg = b.finish();
        let live = LiveMember {
            contact_id: 7,
            email: "a@x.io".into(),
            status: ListStatus::Active,
            first_name: Some("Anne".into()),
            last_name: Some("Lee".into()),
            phone: None,
        };
        let m = member(
            "a@x.io",
            ListStatus::Active,
            true,
            Some(seg.profiles[0].fields.hash64()),
        );
        let mut known = Known::new();
        known.insert(m.clone());
        known.insert(member("gone@x.io", ListStatus::Active, true, None));
        let lives = std::collections::HashMap::from([("a@x.io".to_string(), live.clone())]);
        let p = plan(&seg, &known, Some(&lives), &settings(0)).expect("plan");
        let mut s = subject("a@x.io", seg.profiles.first(), Some(&m));
        s.live = Some(&live);
        let d = decide(&p, &s);
        assert_eq!(
            (d.action, d.fields.clone()),
            ("update", vec!["first_name".to_string()])
        );
        let gone = known.get("gone@x.io");
        let mut s = subject("gone@x.io", None, gone);
        s.removal_candidate = true;
        let d = decide(&p, &s);
        assert_eq!(d.action, "keep");
        assert!(d.reason.contains("above max_removals 0"), "{}", d.reason);
    }
}
