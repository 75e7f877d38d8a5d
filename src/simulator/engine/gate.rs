//! The gate every request passes before it reaches an endpoint: the ledger
//! (what was asked, what was answered), the general 5 rps sliding-window
//! limit (§1.3), the bulk-import per-minute limits (§4.1) and the seeded
//! fault dice. One mutex guards all of it; each critical section is a few
//! deque operations.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::super::config::Faults;

/// What the simulator saw. Every request counts in `total`, `by_endpoint`
/// and `reads`/`writes` (by method), whatever its answer, dropped ones too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    pub total: u64,
    /// `"METHOD /path"` with ids replaced by `{id}`, e.g.
    /// `"POST /import/bulk_import"`, `"GET /contacts/{id}/contactLists"`.
    pub by_endpoint: BTreeMap<String, u64>,
    /// HTTP status -> count of answers (dropped connections have none).
    pub by_status: BTreeMap<u16, u64>,
    /// Non-GET requests.
    pub writes: u64,
    /// GET requests.
    pub reads: u64,
    /// 429s: the general limit plus injected storms.
    pub rate_limited_429: u64,
    /// Bulk-import rate-limit 400s (§4.3).
    pub bulk_rate_limited_400: u64,
    /// Injected faults of every kind (errors, drops, delays, storm 429s,
    /// failed/interrupted batches, extra `status:false` polls).
    pub faults_injected: u64,
    /// Connections closed without an answer.
    pub dropped: u64,
    /// Most requests accepted (not 429'd) in any sliding 1 s window.
    pub max_in_any_second: u32,
    /// Bulk batches accepted and contacts they queued.
    pub batches_submitted: u64,
    pub contacts_queued: u64,
}

/// Fault decisions for one request. Always three draws from the RNG so a
/// seed replays the same sequence whatever the outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Roll {
    pub delay: Option<Duration>,
    pub drop: bool,
    /// 500 or 503.
    pub error: Option<u16>,
}

/// Outcome of the general limit check.
pub enum Admit {
    /// Accepted; `remaining` for the `RateLimit-Remaining` header (None when
    /// unlimited).
    Yes { remaining: Option<u32> },
    /// 429; whole seconds for `Retry-After`.
    No { retry_after: u64 },
}

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);

pub struct Gate {
    pub ledger: Ledger,
    rps: u32,
    bulk_per_minute: u32,
    bulk_single_per_minute: u32,
    /// Accepted requests of the last second (also tracks the max when
    /// unlimited).
    window: VecDeque<Instant>,
    bulk_multi: VecDeque<Instant>,
    bulk_single: VecDeque<Instant>,
    rng: SmallRng,
    faults: Faults,
    storm_until: Option<Instant>,
    freeze: Option<Freeze>,
}

/// A process killed mid-run, as the server sees it: `pass` more requests
/// are answered, then none is. The first unanswered one is applied first
/// when `apply_held` (the write landed, its answer never arrived).
#[derive(Clone, Copy, Debug)]
struct Freeze {
    pass: u64,
    apply_held: bool,
    seen: u64,
}

/// What becomes of one request under a [`Freeze`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreezeStep {
    Answer,
    ApplyThenHang,
    Hang,
}

impl Gate {
    pub fn new(rps: u32, bulk_per_minute: u32, bulk_single_per_minute: u32, seed: u64) -> Self {
        Gate {
            ledger: Ledger::default(),
            rps,
            bulk_per_minute,
            bulk_single_per_minute,
            window: VecDeque::new(),
            bulk_multi: VecDeque::new(),
            bulk_single: VecDeque::new(),
            rng: SmallRng::seed_from_u64(seed),
            faults: Faults::default(),
            storm_until: None,
            freeze: None,
        }
    }

    /// From now on, answer `pass` requests and then stop answering.
    pub fn freeze_after(&mut self, pass: u64, apply_held: bool) {
        self.freeze = Some(Freeze {
            pass,
            apply_held,
            seen: 0,
        });
    }

    /// Answer again (requests already held stay unanswered).
    pub fn thaw(&mut self) {
        self.freeze = None;
    }

    /// Whether a request has reached the freeze.
    pub fn frozen(&self) -> bool {
        self.freeze.is_some_and(|f| f.seen > f.pass)
    }

    /// Counts one request against the freeze.
    pub fn freeze_step(&mut self) -> FreezeStep {
        let Some(f) = self.freeze.as_mut() else {
            return FreezeStep::Answer;
        };
        f.seen += 1;
        match f.seen.cmp(&(f.pass + 1)) {
            std::cmp::Ordering::Less => FreezeStep::Answer,
            std::cmp::Ordering::Equal if f.apply_held => FreezeStep::ApplyThenHang,
            _ => FreezeStep::Hang,
        }
    }

    pub fn set_faults(&mut self, f: Faults, now: Instant) {
        self.storm_until = f.storm_429.map(|(len, _)| later(now, len));
        self.faults = f;
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    pub fn record_request(&mut self, endpoint: String, is_read: bool) {
        let l = &mut self.ledger;
        l.total += 1;
        *l.by_endpoint.entry(endpoint).or_default() += 1;
        if is_read {
            l.reads += 1;
        } else {
            l.writes += 1;
        }
    }

    pub fn record_status(&mut self, status: u16) {
        *self.ledger.by_status.entry(status).or_default() += 1;
    }

    pub fn roll(&mut self) -> Roll {
        let (d, x, e) = (
            self.rng.random::<f64>(),
            self.rng.random::<f64>(),
            self.rng.random::<f64>(),
        );
        let f = &self.faults;
        let delay = (d < f.latency_rate).then_some(f.latency);
        let drop = x < f.drop_rate;
        // Draw e once: below rate/2 -> 500, below rate -> 503 (half each).
        let error = if e < f.error_rate / 2.0 {
            Some(500)
        } else if e < f.error_rate {
            Some(503)
        } else {
            None
        };
        Roll { delay, drop, error }
    }

    /// Retry-After seconds of an ongoing 429 storm, if any.
    pub fn storm(&self, now: Instant) -> Option<u64> {
        let until = self.storm_until?;
        let secs = self.faults.storm_429.map(|(_, s)| u64::from(s))?;
        (now < until).then_some(secs)
    }

    /// The general limit: at most `rps` accepted requests in any sliding
    /// 1 s window (§1.3); 0 means unlimited.
    pub fn admit(&mut self, now: Instant) -> Admit {
        expire(&mut self.window, now, SECOND);
        if self.rps > 0 && self.window.len() >= self.rps as usize {
            let oldest = self.window.front().copied().unwrap_or(now);
            let wait = (oldest + SECOND).saturating_duration_since(now);
            return Admit::No {
                retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
            };
        }
        self.window.push_back(now);
        let in_window = u32::try_from(self.window.len()).unwrap_or(u32::MAX);
        self.ledger.max_in_any_second = self.ledger.max_in_any_second.max(in_window);
        let remaining = (self.rps > 0).then(|| self.rps.saturating_sub(in_window));
        Admit::Yes { remaining }
    }

    pub fn rps(&self) -> u32 {
        self.rps
    }

    /// Bulk-import limits per sliding minute (§4.1): single-contact and
    /// multi-contact requests have separate budgets. 0 means unlimited.
    /// Returns the configured limit on refusal (for the message).
    pub fn admit_bulk(&mut self, single: bool, now: Instant) -> Result<(), u32> {
        let (q, limit) = if single {
            (&mut self.bulk_single, self.bulk_single_per_minute)
        } else {
            (&mut self.bulk_multi, self.bulk_per_minute)
        };
        expire(q, now, MINUTE);
        if limit > 0 && q.len() >= limit as usize {
            self.ledger.bulk_rate_limited_400 += 1;
            return Err(limit);
        }
        q.push_back(now);
        Ok(())
    }
}

/// `now + d`, saturating far in the future instead of panicking on a huge
/// configured duration.
pub fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

fn expire(q: &mut VecDeque<Instant>, now: Instant, span: Duration) {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= span)
    {
        q.pop_front();
    }
}

/// `"GET /contacts/{id}/contactLists"` from a method and a request path:
/// the `/api/3` prefix is dropped and numeric segments become `{id}`.
pub fn endpoint_key(method: &str, path: &str) -> String {
    let rest = path.strip_prefix("/api/3").unwrap_or(path);
    let segments: Vec<&str> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.chars().all(|c| c.is_ascii_digit()) {
                "{id}"
            } else {
                s
            }
        })
        .collect();
    format!("{method} /{}", segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_keys_collapse_ids() {
        assert_eq!(
            endpoint_key("GET", "/api/3/contacts/12/contactLists"),
            "GET /contacts/{id}/contactLists"
        );
        assert_eq!(
            endpoint_key("POST", "/api/3/import/bulk_import"),
            "POST /import/bulk_import"
        );
    }

    #[test]
    fn sliding_window_admits_rps_then_refuses_section_1_3() {
        let mut g = Gate::new(5, 100, 20, 1);
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(matches!(
                g.admit(t0 + Duration::from_millis(i * 10)),
                Admit::Yes { .. }
            ));
        }
        match g.admit(t0 + Duration::from_millis(100)) {
            Admit::No { retry_after } => assert_eq!(retry_after, 1),
            Admit::Yes { .. } => panic!("sixth request in one second admitted"),
        }
        // Sliding, not fixed: the first slot frees exactly 1 s after it was used.
        assert!(matches!(
            g.admit(t0 + SECOND),
            Admit::Yes { remaining: Some(0) }
        ));
        assert_eq!(g.ledger.max_in_any_second, 5);
    }
}
