//! The per-connection rate budget, shared by every clone of a client.
//!
//! Hand-written rather than `governor`: we need two kinds of budget that
//! cooperate (an even per-second pace for every call, plus sliding-minute
//! windows for the bulk importer), a "pause everyone" hook for `Retry-After`,
//! and deterministic tests under tokio's paused clock. That is ~150 lines
//! here, clearer than adapting a GCRA crate to all three.
//!
//! * Every request takes a slot of an even pace of `requests_per_second`,
//!   stretched by [`SAFETY_MARGIN`]: at 5 rps the slots are 204 ms apart, so
//!   any six consecutive sends span 1.02 s and arrival jitter under 20 ms can
//!   never make the server count six in one second. No burst is allowed: the
//!   account's budget is shared with other integrations. A sliding log of
//!   the instants requests were really let go backs the pace up, so a task
//!   woken late by a busy CPU delays the ones after it instead of crowding
//!   them.
//! * A bulk import first takes a slot of a sliding-minute window: 100 a
//!   minute for multi-contact requests, 20 for single-contact ones. A
//!   single-contact import also counts against the 100 (the docs do not say
//!   whether the two budgets are separate; counting it twice is the safe
//!   reading and costs at most 20 of the 100).
//!
//! * A bulk import answered 429 gives its minute slots back
//!   ([`RateBudget::give_back`]): the 429 is the per-second limiter's, which
//!   refuses a request before anything counts it, so keeping the slot would
//!   make the retry cost a second one and push the 100th import of a minute
//!   into the next. The importer's own limit answer (a 400) keeps its slot:
//!   whether that one counts is not documented, and keeping it errs slow.
//!
//! * A request that finds no idle connection opens one: its TCP and TLS
//!   handshakes may make it reach the server well after it was let go, and
//!   closer than one second to the fifth send after it (measured: a cold
//!   first request of a run answered 429 by the sixth, BENCHMARKS.md item 8).
//!   The pacer keeps a model of the client's connection pool
//!   ([`PoolModel`]): such a request counts in the sliding log from when
//!   its answer came (an upper bound of when the server saw it) instead of
//!   from when it was let go. A warm one costs nothing.
//!
//! * Other processes on the same state folder (the daemon and a manual
//!   `acsync sync`, say) share the account's budget through one file
//!   ([`super::account_budget`]): after its own pacer, a request also waits
//!   for the account's next turn there ([`RateBudget::shared_in`]).
//!
//! Slots are reserved under a short lock and waited for outside it, so
//! concurrent callers are served in reservation order. A caller that is
//! cancelled while waiting leaves its slot unused, which only errs on the
//! slow side.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

use super::account_budget::{AccountBudget, Pace, wall_micros};

/// How much slower than the published limits we pace (2 %).
pub const SAFETY_MARGIN: f64 = 0.02;

/// How long the HTTP client keeps an idle connection (set on it, and
/// assumed by [`PoolModel`]).
pub const POOL_IDLE: Duration = Duration::from_secs(30);

/// Which budgets a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any call but a bulk import.
    Plain,
    /// `POST /import/bulk_import` with several contacts.
    BulkMulti,
    /// `POST /import/bulk_import` with one contact.
    BulkSingle,
}

/// The bulk-window slots one request took (none for a plain call), to be
/// given back if the server refused the request before counting it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkSlots {
    multi: Option<Instant>,
    single: Option<Instant>,
}

/// One connection's budgets.
#[derive(Debug)]
pub struct RateBudget {
    pacer: Pacer,
    bulk_multi: Window,
    bulk_single: Window,
    /// The turns every process on the state folder takes (`None`: this
    /// process paces alone).
    account: Option<AccountBudget>,
}

impl RateBudget {
    /// Zero rates are refused by `Client::new`; they are clamped to 1 here too.
    pub fn new(requests_per_second: u32, bulk_per_minute: u32, single_per_minute: u32) -> Self {
        let minute = stretch(Duration::from_secs(60));
        RateBudget {
            pacer: Pacer::new(requests_per_second.max(1)),
            bulk_multi: Window::new(bulk_per_minute.max(1), minute),
            bulk_single: Window::new(single_per_minute.max(1), minute),
            account: None,
        }
    }

    /// Shares the per-second budget with every process that uses the same
    /// file for `account_url` in `dir` (see [`super::account_budget`]). A
    /// file that cannot be opened is warned about; the budget stays this
    /// process's own.
    pub fn shared_in(mut self, dir: &Path, account_url: &str) -> Self {
        let second = stretch(Duration::from_secs(1));
        let per_window = self.pacer.sent.capacity;
        let pace = Pace {
            interval: self.pacer.interval.as_micros() as u64,
            window: second.as_micros() as u64,
            per_window,
        };
        match AccountBudget::open(dir, account_url, pace) {
            Ok(account) => self.account = Some(account),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot open the account's shared request budget; this process paces itself alone")
            }
        }
        self
    }

    /// Waits until a request of this kind may be sent. Keep the grant
    /// until the answer comes ([`Grant::answered`]); dropping it counts as
    /// an answer on a connection that is closed (a cancelled request).
    pub async fn acquire(&self, kind: Kind) -> Grant<'_> {
        let slots = match kind {
            Kind::Plain => BulkSlots::default(),
            Kind::BulkMulti => BulkSlots {
                multi: Some(self.bulk_multi.acquire().await),
                single: None,
            },
            Kind::BulkSingle => BulkSlots {
                single: Some(self.bulk_single.acquire().await),
                multi: Some(self.bulk_multi.acquire().await),
            },
        };
        let sent = self.pacer.acquire().await;
        let turn = self.take_turn().await;
        Grant {
            pacer: &self.pacer,
            account: turn,
            slots,
            sent,
            reusable: false,
        }
    }

    /// Waits for the account's next turn in the shared file, if any: the
    /// turn and its file, for the grant to move later if it must.
    async fn take_turn(&self) -> Option<(&AccountBudget, u64)> {
        let account = self.account.as_ref()?;
        let at = account.take_turn()?;
        let now = wall_micros();
        if at > now {
            tokio::time::sleep(Duration::from_micros(at - now)).await;
        }
        // Woken late (a busy CPU): the request goes now, so it counts from now.
        let woke = wall_micros();
        if woke > at + LATE_WAKE_US {
            account.move_later(at, woke);
            return Some((account, woke));
        }
        Some((account, at))
    }

    /// Frees the bulk slots of a request the server refused with a 429.
    pub fn give_back(&self, slots: BulkSlots) {
        if let Some(at) = slots.multi {
            self.bulk_multi.forget(at);
        }
        if let Some(at) = slots.single {
            self.bulk_single.forget(at);
        }
    }

    /// Holds every further request of this connection until `until`
    /// (a 429's `Retry-After` applies to the account, not to one caller).
    pub fn pause_until(&self, until: Instant) {
        self.pacer.pause_until(until);
        if let Some(account) = &self.account {
            let ahead = until.saturating_duration_since(Instant::now());
            account.pause_until(wall_micros() + ahead.as_micros() as u64);
        }
    }
}

/// A wake-up later than this after its shared turn is recorded as its own.
const LATE_WAKE_US: u64 = 5_000;

/// One request let go: its bulk slots, and its place in the pacer's
/// connection model until its answer comes.
#[derive(Debug)]
pub struct Grant<'a> {
    pacer: &'a Pacer,
    /// The turn taken in the shared file, if any.
    account: Option<(&'a AccountBudget, u64)>,
    slots: BulkSlots,
    sent: Sent,
    reusable: bool,
}

impl Grant<'_> {
    /// The bulk-window slots it took (see [`RateBudget::give_back`]).
    pub fn slots(&self) -> BulkSlots {
        self.slots
    }

    /// Its answer came now; `reusable`: an HTTP answer was read, so its
    /// connection goes back to the pool (a transport error closes it).
    pub fn answered(mut self, reusable: bool) {
        self.reusable = reusable;
    }
}

impl Drop for Grant<'_> {
    fn drop(&mut self) {
        self.pacer
            .answered(self.sent, self.reusable, Instant::now());
        // A request that opened a connection counts from its answer in the
        // other processes' view too.
        if let (Some((account, at)), true) = (self.account, self.sent.cold) {
            account.move_later(at, wall_micros());
        }
    }
}

/// When a request was let go, and whether it had to open a connection.
#[derive(Debug, Clone, Copy)]
struct Sent {
    at: Instant,
    cold: bool,
}

/// What the pacer believes of the HTTP client's pool (HTTP/1.1: one
/// request per connection at a time): the instants its idle connections
/// went idle, most recent last. A request takes the most recent idle one
/// (hyper's pool does), or opens one when none is left; one idle for
/// [`POOL_IDLE`] is closed.
#[derive(Debug, Default)]
struct PoolModel {
    idle: Vec<Instant>,
}

impl PoolModel {
    /// A request let go at `now`: whether it opens a connection.
    fn start(&mut self, now: Instant) -> bool {
        self.idle
            .retain(|&t| now.saturating_duration_since(t) < POOL_IDLE);
        self.idle.pop().is_none()
    }

    /// Its answer came at `now`; the connection is kept when `reusable`.
    fn end(&mut self, reusable: bool, now: Instant) {
        if reusable {
            self.idle.push(now);
        }
    }
}

fn stretch(d: Duration) -> Duration {
    d.mul_f64(1.0 + SAFETY_MARGIN)
}

/// An even pace: one slot every `interval`, no burst; plus a sliding log of
/// the instants callers were actually let go, so that a task woken late
/// (a busy CPU) cannot end up closer than one stretched second to the send
/// `per_second` places before it.
#[derive(Debug)]
struct Pacer {
    interval: Duration,
    next: Mutex<Option<Instant>>,
    sent: Window,
    pool: Mutex<PoolModel>,
}

impl Pacer {
    fn new(per_second: u32) -> Self {
        Pacer {
            interval: stretch(Duration::from_secs(1)) / per_second,
            next: Mutex::new(None),
            sent: Window::new(per_second, stretch(Duration::from_secs(1))),
            pool: Mutex::new(PoolModel::default()),
        }
    }

    fn reserve(&self, now: Instant) -> Instant {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let slot = next.map_or(now, |n| n.max(now));
        *next = Some(slot + self.interval);
        slot
    }

    async fn acquire(&self) -> Sent {
        sleep_until(self.reserve(Instant::now())).await;
        // Almost always immediate: only a late wake-up makes it wait.
        loop {
            let now = Instant::now();
            match self.sent.try_grant(now) {
                Ok(()) => {
                    let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
                    let cold = pool.start(now);
                    return Sent { at: now, cold };
                }
                Err(until) => sleep_until(until).await,
            }
        }
    }

    /// The answer to a request let go as `sent` came at `now`: a cold one
    /// counts in the sliding log from now on (see the module's doc).
    fn answered(&self, sent: Sent, reusable: bool, now: Instant) {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        pool.end(reusable, now);
        drop(pool);
        if sent.cold {
            self.sent.move_later(sent.at, now);
        }
    }

    fn pause_until(&self, until: Instant) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        *next = Some(next.map_or(until, |n| n.max(until)));
    }
}

/// A sliding window: at most `capacity` grants in any `span`.
#[derive(Debug)]
struct Window {
    capacity: usize,
    span: Duration,
    /// The last `capacity` grant times, oldest first (some may be in the future).
    grants: Mutex<VecDeque<Instant>>,
}

impl Window {
    fn new(capacity: u32, span: Duration) -> Self {
        let capacity = capacity as usize;
        Window {
            capacity,
            span,
            grants: Mutex::new(VecDeque::with_capacity(capacity)),
        }
    }

    fn reserve(&self, now: Instant) -> Instant {
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        let mut at = grants.back().map_or(now, |&last| last.max(now));
        if grants.len() >= self.capacity {
            // The grant `capacity` places back must have left the window.
            at = at.max(grants[grants.len() - self.capacity] + self.span);
        }
        grants.push_back(at);
        while grants.len() > self.capacity {
            grants.pop_front();
        }
        at
    }

    async fn acquire(&self) -> Instant {
        let at = self.reserve(Instant::now());
        sleep_until(at).await;
        at
    }

    /// Removes the grant made for `at` (the latest such, if several).
    fn forget(&self, at: Instant) {
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = grants.iter().rposition(|&g| g == at) {
            grants.remove(i);
        }
    }

    /// Moves the grant made for `at` (if still in the log) to `later`.
    fn move_later(&self, at: Instant, later: Instant) {
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = grants.iter().rposition(|&g| g == at) {
            grants[i] = later.max(at);
            grants.make_contiguous().sort_unstable();
        }
    }

    /// Grants now if the window has room (no reservation ahead), else
    /// tells when it will.
    fn try_grant(&self, now: Instant) -> Result<(), Instant> {
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        if grants.len() >= self.capacity {
            let free_at = grants[grants.len() - self.capacity] + self.span;
            if now < free_at {
                return Err(free_at);
            }
        }
        grants.push_back(now);
        while grants.len() > self.capacity {
            grants.pop_front();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The most timestamps inside any half-open window `[t, t + span)`.
    fn max_in_window(times: &[Instant], span: Duration) -> usize {
        let mut sorted = times.to_vec();
        sorted.sort();
        let mut best = 0;
        let mut lo = 0;
        for hi in 0..sorted.len() {
            while sorted[hi] - sorted[lo] >= span {
                lo += 1;
            }
            best = best.max(hi - lo + 1);
        }
        best
    }

    #[tokio::test(start_paused = true)]
    async fn pacer_never_allows_six_in_a_second() {
        let budget = Arc::new(RateBudget::new(5, 100, 20));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let b = budget.clone();
            tasks.push(tokio::spawn(async move {
                let mut times = Vec::new();
                for _ in 0..10 {
                    b.acquire(Kind::Plain).await;
                    times.push(Instant::now());
                }
                times
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        // 40 sends: 39 intervals of 204 ms.
        assert_eq!(all.len(), 40);
        assert!(max_in_window(&all, Duration::from_secs(1)) <= 5);
        // Still tight with 20 ms of arrival jitter.
        assert!(max_in_window(&all, Duration::from_millis(1019)) <= 5);
        let took = all.iter().max().unwrap().duration_since(start);
        assert_eq!(took, Duration::from_millis(204) * 39);
    }

    #[tokio::test(start_paused = true)]
    async fn late_wakeups_cannot_squeeze_six_into_a_second() {
        let pacer = Pacer::new(5);
        let t0 = Instant::now();
        // Five callers let go at 0, 204, ..., 816 ms, the first one late by 30 ms.
        pacer.acquire().await;
        pacer.sent.grants.lock().unwrap()[0] = t0 + Duration::from_millis(30);
        let mut times = vec![t0 + Duration::from_millis(30)];
        for _ in 0..5 {
            pacer.acquire().await;
            times.push(Instant::now());
        }
        // The even pace alone would let the sixth go at 1020 ms, 990 ms
        // after the late first one.
        assert_eq!(times[5] - t0, Duration::from_millis(1050));
        assert!(max_in_window(&times, Duration::from_millis(1019)) <= 5);
    }

    /// Lets go `n` plain requests, each answered at once; their send times.
    async fn sends(budget: &RateBudget, n: usize) -> Vec<Instant> {
        let mut times = Vec::new();
        for _ in 0..n {
            let g = budget.acquire(Kind::Plain).await;
            times.push(Instant::now());
            g.answered(true);
        }
        times
    }

    fn log(budget: &RateBudget) -> Vec<Instant> {
        let grants = budget.pacer.sent.grants.lock().unwrap();
        grants.iter().copied().collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_opens_a_connection_counts_from_its_answer() {
        let ms = Duration::from_millis;
        let budget = RateBudget::new(5, 100, 20);
        let t0 = Instant::now();
        // The first request opens the connection; its answer comes 150 ms
        // later (handshakes): the server may have seen it that late.
        let first = budget.acquire(Kind::Plain).await;
        tokio::time::sleep(ms(150)).await;
        first.answered(true);
        assert_eq!(log(&budget), [t0 + ms(150)]);
        let times = sends(&budget, 5).await;
        // The next four ride the open connection at the even pace...
        assert_eq!(times[3] - t0, ms(204) * 4);
        // ...and the fifth after it waits one stretched second from its answer.
        assert_eq!(times[4] - t0, ms(150) + ms(1020));
        assert!(max_in_window(&[&[t0 + ms(150)], &times[..]].concat(), ms(1019)) <= 5);
    }

    #[tokio::test(start_paused = true)]
    async fn warm_requests_count_from_when_they_were_let_go() {
        let ms = Duration::from_millis;
        let budget = RateBudget::new(5, 100, 20);
        let t0 = Instant::now();
        sends(&budget, 1).await;
        let slow = budget.acquire(Kind::Plain).await;
        tokio::time::sleep(ms(150)).await;
        slow.answered(true);
        // Its slow answer moves nothing: the connection was already open.
        assert_eq!(log(&budget), [t0, t0 + ms(204)]);
        let times = sends(&budget, 4).await;
        assert_eq!(times[3] - t0, ms(204) * 5);
    }

    #[test]
    fn the_pool_model_opens_a_connection_when_none_is_idle() {
        let mut pool = PoolModel::default();
        let t0 = Instant::now();
        assert!(pool.start(t0), "the first request opens one");
        assert!(pool.start(t0), "a second at once opens another");
        pool.end(true, t0);
        pool.end(false, t0);
        assert!(!pool.start(t0), "one was kept");
        assert!(pool.start(t0), "the other closed on its error");
        pool.end(true, t0);
        assert!(pool.start(t0 + POOL_IDLE), "idle for POOL_IDLE: closed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_request_leaves_no_connection_behind() {
        let budget = RateBudget::new(5, 100, 20);
        drop(budget.acquire(Kind::Plain).await);
        let g = budget.acquire(Kind::Plain).await;
        assert!(
            g.sent.cold,
            "the dropped request's connection is not reused"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn pacer_idle_does_not_bank_a_burst() {
        let budget = RateBudget::new(5, 100, 20);
        budget.acquire(Kind::Plain).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let t0 = Instant::now();
        budget.acquire(Kind::Plain).await;
        budget.acquire(Kind::Plain).await;
        assert_eq!(Instant::now() - t0, Duration::from_millis(204));
    }

    #[tokio::test(start_paused = true)]
    async fn bulk_window_is_a_sliding_minute() {
        let budget = RateBudget::new(50, 3, 20);
        let t0 = Instant::now();
        let mut times = Vec::new();
        for _ in 0..7 {
            budget.acquire(Kind::BulkMulti).await;
            times.push(Instant::now());
        }
        assert!(max_in_window(&times, Duration::from_secs(60)) <= 3);
        // grants 4..6 wait one stretched minute after grants 1..3.
        assert!(times[3] - t0 >= Duration::from_millis(61_200));
        assert!(times[6] - t0 >= Duration::from_millis(122_400));
        assert!(times[6] - t0 < Duration::from_secs(124));
    }

    #[tokio::test(start_paused = true)]
    async fn single_contact_imports_count_against_both() {
        let budget = RateBudget::new(50, 3, 2);
        let t0 = Instant::now();
        budget.acquire(Kind::BulkSingle).await;
        budget.acquire(Kind::BulkSingle).await;
        budget.acquire(Kind::BulkMulti).await;
        assert!(Instant::now() - t0 < Duration::from_secs(1));
        // Multi window now full (2 singles + 1 multi).
        budget.acquire(Kind::BulkMulti).await;
        assert!(Instant::now() - t0 >= Duration::from_millis(61_200));
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_every_caller() {
        let budget = RateBudget::new(5, 100, 20);
        let t0 = Instant::now();
        budget.pause_until(t0 + Duration::from_secs(3));
        budget.acquire(Kind::Plain).await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(3));
        // An earlier pause never moves the pace backwards.
        budget.pause_until(t0);
        budget.acquire(Kind::Plain).await;
        assert_eq!(Instant::now() - t0, Duration::from_millis(3204));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bulk_import_refused_with_429_gives_its_minute_slot_back() {
        let budget = RateBudget::new(100, 2, 1);
        let t0 = Instant::now();
        budget.acquire(Kind::BulkMulti).await;
        let refused = budget.acquire(Kind::BulkMulti).await;
        budget.give_back(refused.slots());
        // The retry takes the freed slot: no wait for the minute to pass.
        budget.acquire(Kind::BulkMulti).await;
        assert!(Instant::now() - t0 < Duration::from_secs(1));
        // Without a give-back the window is full again: the next waits a minute.
        budget.acquire(Kind::BulkMulti).await;
        assert!(Instant::now() - t0 >= Duration::from_secs(60));
    }
}
