//! The request sequence of one change sent through `contact/sync` and
//! `contactLists`, purely: which request comes next given the answers so
//! far, and what the exchange ended in ([`SingleAnswer`], read by
//! [`WriteCore::after_single`](super::decide::WriteCore)). The executor
//! (`single.rs`) sends each request it names and hands back the answer.

use super::decide::SingleAnswer;
use crate::model::{ListStatus, PendingOp};

/// One request of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SingleRequest {
    /// `POST /contact/sync` with the change's values: answers the contact id.
    SyncContact,
    /// Looks the contact up by email: answers its id, if there is one.
    FindContact,
    /// Reads the contact's status on the list.
    ReadListStatus(u64),
    /// Sets the contact's status on the list.
    SetListStatus(u64, ListStatus),
    /// Sets the status back to 1 over acsync's own unsubscribe, marked as a
    /// re-subscription.
    Resubscribe(u64),
}

/// ActiveCampaign's answer to a [`SingleRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SingleReply {
    /// To [`SingleRequest::SyncContact`].
    Synced(u64),
    /// To [`SingleRequest::FindContact`].
    Found(Option<u64>),
    /// To [`SingleRequest::ReadListStatus`] (`None`: not on the list).
    ListStatus(Option<ListStatus>),
    /// To [`SingleRequest::SetListStatus`].
    StatusSet,
}

/// What comes next in an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SingleNext {
    Send(SingleRequest),
    Done(SingleAnswer),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    /// The contact id is known; its status not yet handled.
    Contact(u64),
    /// An add found the contact's status on the list free to set active.
    StatusFree(u64),
    Ended(SingleAnswer),
}

/// Where one change stands in its request sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SingleExchange {
    op: PendingOp,
    stage: Stage,
    /// The contact id, once known.
    contact_id: Option<u64>,
}

impl SingleExchange {
    /// A change of operation `op`; `contact_id` is the id known before any
    /// request (a removal by contact id needs no lookup).
    pub fn new(op: PendingOp, contact_id: Option<u64>) -> SingleExchange {
        let stage = match (op, contact_id) {
            (PendingOp::Remove, Some(id)) => Stage::Contact(id),
            _ => Stage::Start,
        };
        SingleExchange {
            op,
            stage,
            contact_id,
        }
    }

    /// The next request, or the end.
    pub fn next(&self) -> SingleNext {
        use SingleRequest::*;
        let send = match (self.op, self.stage) {
            (_, Stage::Ended(answer)) => return SingleNext::Done(answer),
            (PendingOp::Remove, Stage::Start) => FindContact,
            (_, Stage::Start) => SyncContact,
            // A contactLists status 1 would override an opt-out, a bounce or
            // a pending double opt-in: an add looks first.
            (PendingOp::Add, Stage::Contact(id)) => ReadListStatus(id),
            (PendingOp::Add, Stage::StatusFree(id)) => SetListStatus(id, ListStatus::Active),
            (PendingOp::Resubscribe, Stage::Contact(id)) => Resubscribe(id),
            (PendingOp::Remove, Stage::Contact(id)) => SetListStatus(id, ListStatus::Unsubscribed),
            // Not reached: an update ends once synced, and only an add
            // reads a status.
            (PendingOp::Update, _) | (_, Stage::StatusFree(_)) => {
                return SingleNext::Done(SingleAnswer::Applied);
            }
        };
        SingleNext::Send(send)
    }

    /// Takes the answer to the request [`SingleExchange::next`] named.
    pub fn answered(&mut self, reply: SingleReply) {
        let known = self.contact_id;
        if let SingleReply::Synced(id) | SingleReply::Found(Some(id)) = reply {
            self.contact_id = Some(id);
        }
        self.stage = match (reply, self.stage) {
            (SingleReply::Synced(id), _) if self.op == PendingOp::Update => match known {
                Some(was) if was != id => Stage::Ended(SingleAnswer::AnotherContact { was }),
                _ => Stage::Ended(SingleAnswer::Applied),
            },
            (SingleReply::Synced(id) | SingleReply::Found(Some(id)), _) => Stage::Contact(id),
            (SingleReply::Found(None), _) => Stage::Ended(SingleAnswer::NoSuchContact),
            (SingleReply::ListStatus(Some(status)), Stage::Contact(id))
                if status.keeps_adds_out() =>
            {
                Stage::Ended(SingleAnswer::Kept(status, id))
            }
            (SingleReply::ListStatus(_), Stage::Contact(id)) => Stage::StatusFree(id),
            (SingleReply::StatusSet, _) => Stage::Ended(SingleAnswer::Applied),
            // A status read only follows a known contact id.
            (SingleReply::ListStatus(_), stage) => stage,
        };
    }

    /// The contact id learned so far.
    pub fn contact_id(&self) -> Option<u64> {
        self.contact_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SingleReply::*;
    use SingleRequest::*;

    /// Runs an exchange against scripted replies: the requests it sent and
    /// its end.
    fn run(
        op: PendingOp,
        known_id: Option<u64>,
        replies: &[SingleReply],
    ) -> (Vec<SingleRequest>, SingleAnswer) {
        let mut ex = SingleExchange::new(op, known_id);
        let mut sent = Vec::new();
        let mut replies = replies.iter();
        loop {
            match ex.next() {
                SingleNext::Done(answer) => return (sent, answer),
                SingleNext::Send(request) => {
                    sent.push(request);
                    ex.answered(*replies.next().expect("a reply for each request"));
                }
            }
        }
    }

    #[test]
    fn an_add_reads_the_list_status_before_setting_it_active() {
        let (sent, end) = run(
            PendingOp::Add,
            None,
            &[Synced(5), ListStatus(None), StatusSet],
        );
        let active = crate::model::ListStatus::Active;
        assert_eq!(
            sent,
            [SyncContact, ReadListStatus(5), SetListStatus(5, active)]
        );
        assert_eq!(end, SingleAnswer::Applied);
    }

    #[test]
    fn an_add_found_opted_out_bounced_unconfirmed_or_removed_is_not_set_active() {
        use crate::model::ListStatus as S;
        for status in [S::Unsubscribed, S::Bounced, S::Unconfirmed, S::Other(91)] {
            let (sent, end) = run(PendingOp::Add, None, &[Synced(5), ListStatus(Some(status))]);
            assert_eq!(sent, [SyncContact, ReadListStatus(5)]);
            assert_eq!(end, SingleAnswer::Kept(status, 5));
        }
    }

    #[test]
    fn an_update_is_one_sync() {
        let (sent, end) = run(PendingOp::Update, Some(9), &[Synced(9)]);
        assert_eq!((sent, end), (vec![SyncContact], SingleAnswer::Applied));
        let (_, end) = run(PendingOp::Update, None, &[Synced(9)]);
        assert_eq!(end, SingleAnswer::Applied);
    }

    /// docs/ownership.md: the address names another contact than the one
    /// recorded (renamed or erased since): the exchange says which it was.
    #[test]
    fn an_update_that_reached_another_contact_names_the_one_recorded() {
        let (sent, end) = run(PendingOp::Update, Some(9), &[Synced(12)]);
        assert_eq!(sent, [SyncContact]);
        assert_eq!(end, SingleAnswer::AnotherContact { was: 9 });
    }

    #[test]
    fn a_resubscribe_syncs_then_resubscribes_without_reading_the_status() {
        let (sent, _) = run(PendingOp::Resubscribe, None, &[Synced(5), StatusSet]);
        assert_eq!(sent, [SyncContact, Resubscribe(5)]);
    }

    #[test]
    fn a_removal_looks_an_unknown_contact_up_then_unsubscribes_it_by_id() {
        let unsub = crate::model::ListStatus::Unsubscribed;
        let (sent, end) = run(PendingOp::Remove, None, &[Found(Some(8)), StatusSet]);
        assert_eq!(sent, [FindContact, SetListStatus(8, unsub)]);
        assert_eq!(end, SingleAnswer::Applied);
        let (sent, _) = run(PendingOp::Remove, Some(4), &[StatusSet]);
        assert_eq!(sent, [SetListStatus(4, unsub)], "no lookup by email");
        let (sent, end) = run(PendingOp::Remove, None, &[Found(None)]);
        assert_eq!(
            (sent, end),
            (vec![FindContact], SingleAnswer::NoSuchContact)
        );
    }

    #[test]
    fn the_contact_id_learned_is_kept_also_when_a_later_request_fails() {
        let mut ex = SingleExchange::new(PendingOp::Add, None);
        ex.answered(Synced(12));
        assert_eq!(ex.contact_id(), Some(12));
        assert_eq!(ex.next(), SingleNext::Send(ReadListStatus(12)));
    }
}
