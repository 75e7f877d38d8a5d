//! What a case reports: the sizes it runs at, the figures of one measured
//! run, the rows of the table, and how values are shown in it.

use std::time::Duration;

use acsync::simulator::Ledger;

/// How large each case is.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Items 1, 3 and 4: profiles in the segment and members in the state.
    pub big: u64,
    /// Item 2: new profiles of the initial export.
    pub export: u64,
    /// Item 5: members of the list read in full.
    pub read: u64,
    /// Item 7: consecutive runs, and the profiles of each.
    pub soak_runs: u32,
    pub soak_profiles: u64,
    /// Item 6: export files the daemon watches, and how long it idles.
    pub daemon_exports: usize,
    pub daemon_idle: Duration,
    /// Item 8: accounts in one daemon, and the profiles of each one's
    /// initial export.
    pub parallel_accounts: usize,
    pub parallel_profiles: u64,
    /// Items 10 and 11: members of the list whose drift is checked.
    pub drift: u64,
    /// Item 9: how long the busy-account soak lasts.
    pub busy_soak: Duration,
    /// Items 2, 4, 5, 8, 10 and 11 at ActiveCampaign's real limits (5 requests a
    /// second, 100 bulk imports a minute, 1 s of `status:false`). Off for
    /// the quick configuration, which only checks that everything works.
    pub real_limits: bool,
}

/// One measured figure of the table.
#[derive(Debug, Clone)]
pub struct Metric {
    pub item: u8,
    pub name: String,
    pub value: String,
    pub target: String,
    /// `None`: informational, no target.
    pub met: Option<bool>,
}

pub fn metric(item: u8, name: &str, value: String, target: &str, met: Option<bool>) -> Metric {
    Metric {
        item,
        name: name.to_owned(),
        value,
        target: target.to_owned(),
        met,
    }
}

/// What one measured run reports.
#[derive(Debug, Clone, Default)]
pub struct RunFigures {
    pub wall: Duration,
    /// VmHWM of the child process; `None` in-process.
    pub peak_rss_mb: Option<f64>,
    /// User + system CPU time of the child process (setup excluded: the
    /// child only runs); `None` in-process. Steadier than wall time on a
    /// machine other builds share.
    pub cpu: Option<Duration>,
    pub outcome: String,
    pub profiles: u64,
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    pub unchanged: u64,
    pub full_read: bool,
    pub api_requests: u64,
    /// Item 7: resident set after each run, MB.
    pub rss_series: Vec<f64>,
    /// Item 7: heap in use after each run, MB (counted by the suite's allocator).
    pub heap_series: Vec<f64>,
}

pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Wall time, with the CPU time beside it when measured.
pub fn wall_cpu(f: &RunFigures) -> String {
    match f.cpu {
        Some(cpu) => format!("{} (CPU {})", secs(f.wall), secs(cpu)),
        None => secs(f.wall),
    }
}

pub fn mb(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a (in-process)".into(), |v| format!("{v:.0} MB"))
}

pub fn judged(v: Option<f64>, max: f64) -> Option<bool> {
    v.map(|v| v <= max)
}

/// The share of bulk requests and limit answers in a ledger.
pub fn writes_of(l: &Ledger) -> u64 {
    l.writes
}

pub fn limit_answers(l: &Ledger) -> u64 {
    l.rate_limited_429 + l.bulk_rate_limited_400
}

pub fn count(l: &Ledger, endpoint: &str) -> u64 {
    l.by_endpoint.get(endpoint).copied().unwrap_or(0)
}

/// A ledger's requests by endpoint: `GET /contacts 12, GET /lists/{id} 1`.
pub fn by_endpoint(l: &Ledger) -> String {
    l.by_endpoint
        .iter()
        .map(|(e, n)| format!("{e} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
