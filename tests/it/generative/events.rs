//! What may happen to an export and its list, as a case of the generative
//! test: the segment changes, acsync runs (to the end, with a full read, or
//! killed mid-way), and others act on ActiveCampaign. Plain values, shrunk
//! by proptest; the driver (`drive.rs`) gives them effect.

use proptest::prelude::*;

/// Addresses a case may use: few, so that events meet the same contacts,
/// and as many as bulk import takes a change from (`BULK_MIN`).
pub const ADDRESSES: usize = 10;

/// How many characters of a first name an account of a case with
/// `stored_form` keeps: the segment's names (`Name3v2`) lose their version.
pub const STORED_FORM_CHARS: usize = 5;

/// At most this many events a case.
pub const MAX_EVENTS: usize = 15;

/// The `i`th address of a case.
pub fn address(i: usize) -> String {
    format!("p{i}@example.com")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The address enters the segment.
    Join(usize),
    /// The address leaves the segment.
    Leave(usize),
    /// The address's first name changes in the segment.
    EditName(usize),
    /// `acsync sync` runs to its end.
    Run,
    /// `acsync sync --full-read` runs to its end.
    FullReadRun,
    /// `acsync sync` is killed mid-run.
    Kill(KillPoint),
    /// Someone else acts on the address's contact in ActiveCampaign.
    Others(usize, OthersAction),
    /// Three days pass: everything so far is older than what the next
    /// drift check asks ActiveCampaign for.
    TimePasses,
}

/// Where a run is killed. A run that ends before reaching it is a run that
/// ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillPoint {
    /// After `answered` requests were answered; the next one is applied
    /// (when `applied`) or not, and never answered.
    AfterRequests { answered: u8, applied: bool },
    /// While the run's first bulk batch is processing, before its answer
    /// (the batch id) reached acsync; the batch lands while acsync is down.
    WhileABatchProcesses,
}

/// What others do to a contact and its membership of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OthersAction {
    /// The contact unsubscribes (status 2).
    OptOut,
    /// A form subscribes the contact (status 1), creating it if needed.
    FormSubscribe,
    /// An admin subscribes the contact (status 1), creating it if needed.
    AdminSubscribe,
    /// The contact opts out and a form subscribes it again, both before
    /// acsync's next run (the status ends where it was).
    OptOutThenFormSubscribe,
    /// A form subscribes the contact and it opts out again, both before
    /// acsync's next run.
    FormSubscribeThenOptOut,
    /// The address bounces (status 3).
    Bounce,
    /// The membership awaits a double opt-in confirmation (status 0).
    Unconfirmed,
    /// A v1 overwrite leaves status 91 ("removed"), a code acsync never writes.
    Status91,
    /// The contact is erased.
    Delete,
    /// The contact is erased and the address signs up again: a new
    /// contact id, on no list.
    Recreate,
    /// The contact's email is changed to an address outside every segment.
    RenameAway,
    /// An admin edits the contact's first name.
    FieldEdit,
}

/// One case: how the export writes, who is in the segment at first, and
/// what happens. The driver ends every case with a full-read run.
#[derive(Clone, Debug)]
pub struct Case {
    /// `exclude_automations = true`: every write goes through bulk import
    /// (otherwise small changes use single-contact requests).
    pub bulk: bool,
    /// The account stores first names cut to [`STORED_FORM_CHARS`]
    /// characters (how ActiveCampaign stores values is undocumented).
    pub stored_form: bool,
    /// `drift_check_every = "0"`: every run between full reads makes a
    /// drift check (docs/run-rules.md, drift checks).
    pub drift_checks: bool,
    /// A list-status change leaves the contact's `udate` as it was (whether
    /// it moves is undocumented): a drift check cannot see it.
    pub udate_still: bool,
    /// Addresses in the segment before the first event.
    pub initial: Vec<usize>,
    pub events: Vec<Event>,
}

/// Mostly one of the first two addresses, so that edits and others'
/// changes meet on the same contacts.
fn arb_address() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0..2usize, 1 => 0..ADDRESSES]
}

fn arb_others() -> impl Strategy<Value = OthersAction> {
    prop_oneof![
        Just(OthersAction::OptOut),
        Just(OthersAction::FormSubscribe),
        Just(OthersAction::AdminSubscribe),
        Just(OthersAction::OptOutThenFormSubscribe),
        Just(OthersAction::FormSubscribeThenOptOut),
        Just(OthersAction::Bounce),
        Just(OthersAction::Unconfirmed),
        Just(OthersAction::Status91),
        Just(OthersAction::Delete),
        Just(OthersAction::Recreate),
        Just(OthersAction::RenameAway),
        Just(OthersAction::FieldEdit),
    ]
}

fn arb_kill() -> impl Strategy<Value = KillPoint> {
    prop_oneof![
        (0..5u8, any::<bool>())
            .prop_map(|(answered, applied)| KillPoint::AfterRequests { answered, applied }),
        Just(KillPoint::WhileABatchProcesses),
    ]
}

fn arb_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        2 => arb_address().prop_map(Event::Join),
        3 => arb_address().prop_map(Event::Leave),
        1 => arb_address().prop_map(Event::EditName),
        4 => Just(Event::Run),
        1 => Just(Event::FullReadRun),
        2 => arb_kill().prop_map(Event::Kill),
        6 => (arb_address(), arb_others()).prop_map(|(i, a)| Event::Others(i, a)),
        2 => Just(Event::TimePasses),
    ]
}

/// Cases: a way of writing, a first segment and up to [`MAX_EVENTS`] events.
pub fn arb_case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        prop::bool::weighted(0.25),
        (prop::bool::weighted(0.5), prop::bool::weighted(0.25)),
        prop::collection::btree_set(0..ADDRESSES, 0..=ADDRESSES),
        prop::collection::vec(arb_event(), 1..=MAX_EVENTS),
    )
        .prop_map(
            |(bulk, stored_form, (drift_checks, udate_still), initial, events)| Case {
                bulk,
                stored_form,
                drift_checks,
                udate_still: drift_checks && udate_still,
                initial: initial.into_iter().collect(),
                events,
            },
        )
}
