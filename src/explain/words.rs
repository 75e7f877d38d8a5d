//! The next run's decision for one address in words. The decision itself
//! is the planner's ([`MemberPlan`], with its [`LeftAlone`] reason): this
//! file only says it, with what else is known about the address. Pure.

use serde::Serialize;

use crate::model::{Fields, LeftAlone, LiveMember, Member, Profile, Prune};
use crate::plan::{MemberPlan, OtherWant, diff};

/// What is known about the address besides the planner's decision.
pub struct Subject<'a> {
    pub profile: Option<&'a Profile>,
    /// The member the planner saw (after any live read was merged in).
    pub member: Option<&'a Member>,
    /// The address as ActiveCampaign holds it (a full read, or one read).
    pub live: Option<&'a LiveMember>,
    pub prune: Prune,
    pub other: Option<&'a OtherWant>,
    /// The deleted export that still wants the member, if one does.
    pub deleted: Option<&'a str>,
    /// Why the plan's removals are held back, when they are.
    pub blocked: Option<&'a str>,
}

/// What the next run does with the address: the action, why the planner
/// leaves it alone (when it does, by the name the run history stores), the
/// reason in words, and the fields an update changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// `add`, `update`, `resubscribe`, `unsubscribe`, `keep` (left alone,
    /// and the run history records why), `nothing`, `in_doubt` or `fail`.
    pub action: &'static str,
    pub kept: Option<LeftAlone>,
    pub reason: String,
    /// For an update: the fields whose values differ (names), when known.
    pub fields: Vec<String>,
}

/// `add`, `update`, `resubscribe`, `unsubscribe`; for a member left alone,
/// `in_doubt`, `keep` when the run history records why, else `nothing`.
pub fn action(what: MemberPlan) -> &'static str {
    match what {
        MemberPlan::Add => "add",
        MemberPlan::Update => "update",
        MemberPlan::Resubscribe => "resubscribe",
        MemberPlan::Unsubscribe => "unsubscribe",
        MemberPlan::LeftAlone(LeftAlone::InDoubt) => "in_doubt",
        MemberPlan::LeftAlone(r) if r.recorded() => "keep",
        MemberPlan::LeftAlone(_) => "nothing",
    }
}

/// Says the planner's decision for the address.
pub fn say(what: MemberPlan, s: &Subject<'_>) -> Decision {
    let decision = |reason: String| Decision {
        action: action(what),
        kept: match what {
            MemberPlan::LeftAlone(r) => Some(r),
            _ => None,
        },
        reason,
        fields: Vec::new(),
    };
    match what {
        MemberPlan::Add => decision("it is in the segment and not on the list as far as acsync knows: it is subscribed with its fields".into()),
        MemberPlan::Update => update(s, decision(String::new())),
        MemberPlan::Resubscribe => decision("this export unsubscribed it and it is back in the segment: it is subscribed again (once ActiveCampaign confirms the status 2 is still the one acsync wrote)".into()),
        MemberPlan::Unsubscribe => {
            let why = match s.prune {
                Prune::All => "it is not in the segment and prune = \"all\" makes the list exactly the segment",
                _ => "it left the segment and this export subscribed it (prune = \"owned\")",
            };
            decision(format!("{why}: it gets list status 2 (the contact is not deleted)"))
        }
        MemberPlan::LeftAlone(r) => decision(left_alone(r, s)),
    }
}

fn left_alone(r: LeftAlone, s: &Subject<'_>) -> String {
    use crate::model::Kept;
    let other = s.other.map_or("another export", |o| o.export.as_str());
    match r {
        LeftAlone::Status(Kept::Unsubscribed) => "it unsubscribed itself (list status 2 that this export did not cause): acsync never resubscribes it".into(),
        LeftAlone::Status(Kept::Bounced) => "its address bounced (list status 3): acsync never forces it back to active".into(),
        LeftAlone::Status(Kept::Unconfirmed) => "it has not confirmed its subscription yet (double opt-in, list status 0): acsync leaves it so".into(),
        LeftAlone::Status(Kept::OtherStatus) => "its list status is one acsync does not manage (91 \"removed\", or an unknown code): someone else's, never written over".into(),
        LeftAlone::InDoubt => {
            let op = s.member.and_then(|m| m.pending).map_or("a change", |p| p.as_str());
            format!("the outcome of an earlier run's {op} is not known yet (a killed run, or a bulk batch ActiveCampaign has not finished): it is left exactly as it is until a full read of the list settles it")
        }
        LeftAlone::WantedByOthers => format!("it left this segment, but export `{other}` of the same list still wants it: never unsubscribed while another export does"),
        LeftAlone::WantedByDeleted => {
            let deleted = s.deleted.unwrap_or("another export");
            format!("it left this segment, but it is kept for the deleted export `{deleted}`, which wanted it: a deleted export's members stay as they are until it is released (release it with `acsync release {deleted}`)")
        }
        LeftAlone::Conflict if s.other.is_some_and(|o| o.wins) => format!("export `{other}` wants it with other values and its id sorts first: its values are the ones written, not this export's"),
        LeftAlone::Conflict => format!("export `{other}` wants it with other values; this export's values are the ones written, and they are written already"),
        LeftAlone::NotActive => "it is no longer active on the list: not touched".into(),
        LeftAlone::Unchanged => unchanged(s),
        LeftAlone::NotOwned => "it left the segment, but this export did not subscribe it: prune = \"owned\" leaves it on the list".into(),
        LeftAlone::PruneNone => "it left the segment; prune = \"none\" never unsubscribes".into(),
        LeftAlone::RemovalsBlocked => format!(
            "it left the segment and would be unsubscribed, but this run's removals are blocked: {}",
            s.blocked.unwrap_or("removals are held back")
        ),
        LeftAlone::NotSubscribed => {
            let status = s.member.and_then(|m| m.status).map_or("none", |st| st.as_str());
            format!("it is not in the segment and its list status is {status}: acsync only unsubscribes active members")
        }
        LeftAlone::NotMember => "it is not in the segment and not a member of the list as far as acsync knows".into(),
    }
}

/// Unchanged: also when a read shows other values, the form ActiveCampaign
/// stored what this export sent in (the plan's rule, docs/run-rules.md).
fn unchanged(s: &Subject<'_>) -> String {
    let stored_form: Vec<&str> = s
        .profile
        .zip(s.live)
        .map(|(p, l)| diff::drifted_fields(&p.fields, l))
        .unwrap_or_default();
    if stored_form.is_empty() {
        return "it is subscribed and its values equal what this export last sent: no write".into();
    }
    format!(
        "it is subscribed; ActiveCampaign shows {} in another form than sent, the same form it showed before this export last sent them: that is how it stores them, no write",
        stored_form.join(", ")
    )
}

/// An update: the fields a read shows drifted, else every field it sends.
fn update(s: &Subject<'_>, mut d: Decision) -> Decision {
    let Some(p) = s.profile else {
        d.reason = "its fields are written again".into();
        return d;
    };
    let drifted: Vec<String> = s
        .live
        .map(|l| diff::drifted_fields(&p.fields, l))
        .unwrap_or_default()
        .into_iter()
        .map(str::to_string)
        .collect();
    if !drifted.is_empty() {
        d.reason = format!(
            "ActiveCampaign holds other values for {} than the segment: they are written again",
            drifted.join(", ")
        );
        d.fields = drifted;
        return d;
    }
    let why = if s.member.is_some_and(|m| m.sent_hash.is_some()) {
        "its values differ from what this export last sent"
    } else {
        "this export has no record of sending its current values"
    };
    d.reason = format!("{why}: its fields are written");
    d.fields = field_names(&p.fields);
    d
}

/// The fields a profile sends, by name.
pub fn field_names(f: &Fields) -> Vec<String> {
    f.sent().map(|(name, _)| name.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kept, ListStatus};

    fn subject<'a>(p: Option<&'a Profile>, live: Option<&'a LiveMember>) -> Subject<'a> {
        Subject {
            profile: p,
            member: None,
            live,
            prune: Prune::Owned,
            other: None,
            deleted: None,
            blocked: None,
        }
    }

    #[test]
    fn actions_follow_the_history() {
        assert_eq!(action(MemberPlan::Add), "add");
        let left = |r| action(MemberPlan::LeftAlone(r));
        assert_eq!(left(LeftAlone::Status(Kept::Bounced)), "keep");
        assert_eq!(left(LeftAlone::InDoubt), "in_doubt");
        assert_eq!(left(LeftAlone::Unchanged), "nothing");
        assert_eq!(left(LeftAlone::RemovalsBlocked), "nothing");
    }

    #[test]
    fn an_update_names_the_drifted_fields() {
        let p = Profile {
            email: "a@x.io".into(),
            row: 1,
            fields: Fields::new(Some("Ann"), Some("Lee"), None),
        };
        let live = LiveMember {
            contact_id: 7,
            email: "a@x.io".into(),
            status: ListStatus::Active,
            first_name: Some("Anne".into()),
            last_name: Some("Lee".into()),
            phone: None,
            contact_created: None,
        };
        let d = say(MemberPlan::Update, &subject(Some(&p), Some(&live)));
        assert_eq!(
            (d.action, d.fields),
            ("update", vec!["first_name".to_string()])
        );
        let d = say(MemberPlan::Update, &subject(Some(&p), None));
        assert_eq!(d.fields, ["first_name", "last_name"]);
        let blocked = Subject {
            blocked: Some("above max_removals 0"),
            ..subject(None, None)
        };
        let d = say(MemberPlan::LeftAlone(LeftAlone::RemovalsBlocked), &blocked);
        assert!(d.reason.contains("above max_removals 0"), "{}", d.reason);
        assert_eq!(d.kept, Some(LeftAlone::RemovalsBlocked));
    }
}
