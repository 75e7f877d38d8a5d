//! How a simulated account behaves: its key, limits, batch timings and
//! injected faults. Plain values; nothing else in the simulator is needed
//! to build one.

use std::time::Duration;

/// How the simulated account behaves. `Default` gives AC's documented limits.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The `Api-Token` every request must carry (§1.2). Default `"sim-key"`.
    pub api_key: String,
    /// General limit per account, sliding 1 s window (§1.3). 0 = unlimited.
    pub requests_per_second: u32,
    /// Multi-contact `bulk_import` requests per sliding minute (§4.1).
    pub bulk_per_minute: u32,
    /// Single-contact `bulk_import` requests per sliding minute (§4.1).
    pub bulk_single_per_minute: u32,
    /// `/import/info` answers `status:false` this long after submit (§4.4).
    pub info_false_for: Duration,
    /// How long a batch stays `active` before it completes.
    pub import_duration: Duration,
    /// Faults active from the start (also settable with `set_faults`).
    pub faults: Faults,
    /// Seed of every random choice (faults, batch ids): runs are repeatable.
    pub seed: u64,
    /// The account's time zone: every time ActiveCampaign answers is in it
    /// (§12). Default US Central with daylight saving, as the documented
    /// examples' account.
    pub time_zone: chrono_tz::Tz,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            api_key: "sim-key".into(),
            requests_per_second: 5,
            bulk_per_minute: 100,
            bulk_single_per_minute: 20,
            info_false_for: Duration::from_secs(1),
            import_duration: Duration::from_millis(200),
            faults: Faults::default(),
            seed: 0,
            time_zone: chrono_tz::America::Chicago,
        }
    }
}

/// Injected misbehaviour. Rates are shares in `0.0..=1.0`.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Requests answered 500 or 503 (half each).
    pub error_rate: f64,
    /// Requests whose connection is closed with no answer.
    pub drop_rate: f64,
    /// Requests delayed by `latency`.
    pub latency_rate: f64,
    pub latency: Duration,
    /// Bulk batches ending `failed` (nothing applied) or `interrupted` (a
    /// prefix applied), half each (§4.4).
    pub fail_batch_rate: f64,
    /// Extra `/import/info` polls answering `status:false` per batch, beyond
    /// `info_false_for`.
    pub info_false_polls: u32,
    /// Every request 429 for this long, with this `Retry-After` (seconds),
    /// starting when the faults are set.
    pub storm_429: Option<(Duration, u32)>,
}
