//! What an export may do to members who left its segment: which it may
//! unsubscribe, and how many in one run.

use std::fmt;

/// What an export does to members who left the segment (docs/run-rules.md, prune).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Prune {
    /// Unsubscribe only members this export subscribed.
    #[default]
    Owned,
    /// Make the list exactly the segment.
    All,
    /// Never unsubscribe.
    None,
}

/// The `max_removals` guard: an absolute count or a share of the members the
/// export manages (its owned active members under `prune = "owned"`, the
/// list's active members under `prune = "all"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RemovalLimit {
    Count(u64),
    /// Percent, 0..=100.
    Percent(f64),
}

impl RemovalLimit {
    /// The most unsubscribes allowed in one run for a list of `members` active members.
    pub fn allowed(self, members: u64) -> u64 {
        match self {
            RemovalLimit::Count(n) => n,
            RemovalLimit::Percent(p) => ((members as f64) * p / 100.0).floor() as u64,
        }
    }
}

impl fmt::Display for RemovalLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemovalLimit::Count(n) => write!(f, "{n}"),
            RemovalLimit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_limits() {
        assert_eq!(RemovalLimit::Percent(10.0).allowed(1000), 100);
        assert_eq!(RemovalLimit::Percent(10.0).allowed(9), 0);
        assert_eq!(RemovalLimit::Count(5).allowed(0), 5);
    }
}
