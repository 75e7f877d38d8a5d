//! Retry policy, pure: which answers are retried, how long to wait, and how
//! to read `Retry-After`.
//!
//! Hand-written rather than `backon`: the loop itself (in `transport.rs`) is
//! fifteen lines, and keeping the policy as plain functions makes every rule
//! unit-testable without a server or a clock.
//!
//! * Retried: 429, every 5xx (503 is how the account limit sometimes shows,
//!   api notes §1.3), the bulk importer's "Rate limit exceeded" 400, timeouts
//!   and dropped or refused connections.
//! * Never retried: 401/403. Intermittent 403s are reported in the wild
//!   (api notes §6, §8.7), but a wrong or revoked key must fail fast and
//!   loudly rather than burn the account's budget for minutes.
//! * Other 4xx are the request's fault and are returned as they are.
//!
//! The wait before retry `n` (1-based) is "equal jitter" exponential backoff,
//! uniform in `[c/2, c]` with `c = min(base * 2^(n-1), max)`, and never less
//! than the server's `Retry-After` (whole **seconds**, pitfall §8.11), which
//! is itself capped at [`RETRY_AFTER_CAP`] so a bogus value cannot park a run.

use rand::Rng;
use std::time::{Duration, SystemTime};

/// The longest `Retry-After` we obey.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);

/// What an HTTP answer of ActiveCampaign is, for the retry loop: the one
/// classification every request (and `doctor`'s probes) follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerClass {
    Success,
    /// Transient: retried. `rate_limited` marks 429s and the bulk
    /// rate-limit 400.
    Transient {
        rate_limited: bool,
    },
    /// 401/403: the key was refused.
    KeyRefused,
    /// Any other 4xx (or an unexpected 1xx/3xx): the request's fault.
    RequestRefused,
}

impl AnswerClass {
    /// The class of an answer with `status`; `bulk_rate_limit` tells
    /// whether a 400 body is the bulk importer's rate-limit answer.
    pub fn of(status: u16, bulk_rate_limit: bool) -> AnswerClass {
        match status {
            200..=299 => AnswerClass::Success,
            429 => AnswerClass::Transient { rate_limited: true },
            400 if bulk_rate_limit => AnswerClass::Transient { rate_limited: true },
            401 | 403 => AnswerClass::KeyRefused,
            500..=599 => AnswerClass::Transient {
                rate_limited: false,
            },
            _ => AnswerClass::RequestRefused,
        }
    }

    /// Whether the request is sent again.
    pub fn is_transient(self) -> bool {
        matches!(self, AnswerClass::Transient { .. })
    }
}

/// Exponential backoff bounds.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The upper bound of the wait before retry `n` (1-based).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1).min(31));
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The wait before retry `n`: jittered backoff, at least `retry_after`
    /// (capped at [`RETRY_AFTER_CAP`]).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(retry);
        let jittered = ceiling.mul_f64(rng.random_range(0.5..=1.0));
        match retry_after {
            Some(ra) => jittered.max(ra.min(RETRY_AFTER_CAP)),
            None => jittered,
        }
    }
}

/// Parses a `Retry-After` value: delta-seconds (the form ActiveCampaign
/// documents; a fraction is tolerated) or an HTTP date. `None` if unreadable.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::try_from_secs_f64(secs).ok())
            .flatten();
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(at.with_timezone(&chrono::Utc));
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn answer_classes() {
        use AnswerClass::*;
        let limited = Transient { rate_limited: true };
        let failing = Transient {
            rate_limited: false,
        };
        for (status, bulk_rate_limit, class) in [
            (200, false, Success),
            (201, false, Success),
            (429, false, limited),
            (503, false, failing),
            (500, false, failing),
            (400, true, limited),
            (400, false, RequestRefused),
            (401, false, KeyRefused),
            (403, false, KeyRefused),
            (404, false, RequestRefused),
            (422, false, RequestRefused),
            (302, false, RequestRefused),
        ] {
            assert_eq!(AnswerClass::of(status, bulk_rate_limit), class, "{status}");
            assert_eq!(class.is_transient(), class == limited || class == failing);
        }
    }

    #[test]
    fn retry_after_is_seconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_000);
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after(" 1 ", now), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn retry_after_http_date() {
        // 2015-10-21T07:28:00Z == 1445412480.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_000);
        let d = parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now);
        assert_eq!(d, Some(Duration::from_secs(480)));
        let later = now + Duration::from_secs(10_000);
        let d = parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", later);
        assert_eq!(d, Some(Duration::ZERO));
    }

    #[test]
    fn backoff_bounds() {
        let b = Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(10),
        };
        assert_eq!(b.ceiling(1), Duration::from_millis(500));
        assert_eq!(b.ceiling(2), Duration::from_secs(1));
        assert_eq!(b.ceiling(5), Duration::from_secs(8));
        assert_eq!(b.ceiling(6), Duration::from_secs(10));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(10));
        let mut rng = SmallRng::seed_from_u64(7);
        for retry in 1..=12 {
            let c = b.ceiling(retry);
            for _ in 0..200 {
                let d = b.delay(retry, None, &mut rng);
                assert!(
                    d >= c / 2 && d <= c,
                    "retry {retry}: {d:?} outside [{:?}, {c:?}]",
                    c / 2
                );
            }
        }
    }

    #[test]
    fn retry_after_is_a_floor_and_capped() {
        let b = Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
        };
        let mut rng = SmallRng::seed_from_u64(1);
        let d = b.delay(1, Some(Duration::from_secs(30)), &mut rng);
        assert_eq!(d, Duration::from_secs(30));
        let d = b.delay(1, Some(Duration::from_secs(86_400)), &mut rng);
        assert_eq!(d, RETRY_AFTER_CAP);
        let d = b.delay(4, Some(Duration::ZERO), &mut rng);
        assert!(d >= Duration::from_millis(40));
    }
}
