//! The wall clock of the control loop, injected so that tests drive it.
//!
//! The loop reads two clocks: tokio's monotonic [`tokio::time::Instant`]
//! for its sleeps, and the wall clock (this trait) for cron arithmetic. In
//! production the wall clock is the system's ([`SystemClock`]). Tests use
//! [`TokioClock`], a wall clock that moves with tokio's time: under
//! `#[tokio::test(start_paused = true)]` both clocks advance together,
//! instantly, so an every-second schedule is tested without real sleeps.

use chrono::{DateTime, Utc};

/// The wall clock the loop schedules by.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock (`Utc::now()`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A wall clock that reads `base` at its creation and then moves exactly as
/// tokio's clock does (paused, advanced, or real).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that shows `base` now. Call it inside the runtime whose time
    /// it follows.
    pub fn starting_at(base: DateTime<Utc>) -> Self {
        TokioClock {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now().duration_since(self.start);
        // An elapsed time beyond chrono's range (centuries) cannot happen in
        // a test; saturate rather than panic.
        chrono::Duration::from_std(elapsed)
            .ok()
            .and_then(|d| self.base.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let base = DateTime::parse_from_rfc3339("2026-06-15T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let clock = TokioClock::starting_at(base);
        assert_eq!(clock.now(), base);
        tokio::time::advance(std::time::Duration::from_secs(90)).await;
        assert_eq!(clock.now(), base + chrono::Duration::seconds(90));
    }
}
