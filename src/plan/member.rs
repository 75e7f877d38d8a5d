//! What a plan does with one member ([`MemberPlan`]): the write it makes,
//! or why it leaves the member alone ([`LeftAlone`]). The planner notes it
//! where it decides (for the one address `explain` asks about); the rules
//! for members not in the segment live here.

use super::{OtherExports, Plan, PlanSettings};
use crate::model::{LeftAlone, ListStatus, Member, Prune};

/// What a plan does with one member: a write, or why none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberPlan {
    Add,
    Update,
    Resubscribe,
    Unsubscribe,
    LeftAlone(LeftAlone),
}

/// The one member whose [`MemberPlan`] is asked for, if any.
pub(super) struct Watch<'a> {
    pub(super) email: Option<&'a str>,
    pub(super) found: Option<MemberPlan>,
}

impl Watch<'_> {
    pub(super) fn none() -> Self {
        Watch {
            email: None,
            found: None,
        }
    }

    pub(super) fn note(&mut self, email: &str, what: MemberPlan) {
        if self.email == Some(email) {
            self.found = Some(what);
        }
    }
}

/// Why a known member that is not in the segment is not unsubscribed;
/// `None` when the prune policy unsubscribes it.
pub(super) fn leaver_kept(
    m: &Member,
    s: &PlanSettings,
    others: &OtherExports,
) -> Option<LeftAlone> {
    if m.pending.is_some() {
        return Some(LeftAlone::InDoubt);
    }
    match m.status {
        None => return Some(LeftAlone::NotMember),
        Some(ListStatus::Active) => {}
        Some(_) => return Some(LeftAlone::NotSubscribed),
    }
    match s.prune {
        Prune::None => return Some(LeftAlone::PruneNone),
        Prune::Owned if !m.owned => return Some(LeftAlone::NotOwned),
        Prune::Owned | Prune::All => {}
    }
    if others.wanted.contains_key(m.email.as_str()) {
        return Some(LeftAlone::WantedByOthers);
    }
    others
        .retired
        .wanting(m)
        .map(|_| LeftAlone::WantedByDeleted)
}

/// What the plan does with a member not in the segment (known or not).
pub(super) fn leaver_plan(
    plan: &Plan,
    m: Option<&Member>,
    s: &PlanSettings,
    others: &OtherExports,
) -> MemberPlan {
    let Some(m) = m else {
        return MemberPlan::LeftAlone(LeftAlone::NotMember);
    };
    match leaver_kept(m, s, others) {
        Some(why) => MemberPlan::LeftAlone(why),
        None if plan.removals.iter().any(|r| r.email == m.email) => MemberPlan::Unsubscribe,
        None => MemberPlan::LeftAlone(LeftAlone::RemovalsBlocked),
    }
}
