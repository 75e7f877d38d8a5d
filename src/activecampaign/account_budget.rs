//! One request budget per account across processes: the daemon, a manual
//! `acsync sync` and a second daemon on the same state folder take their
//! turns from one file, `STATE_DIR/budget/<hash>.slots`, so together they
//! never send more than `requests_per_second` (see docs/run-rules.md, one
//! budget per account). The file is named by a hash of the account's URL
//! (`config::account::account_key`), never by anything of the key.
//!
//! The file holds the instants (wall-clock microseconds) of the last
//! `requests_per_second` requests let go on the account, and when a
//! `Retry-After` pauses it. A process takes its turn under an exclusive
//! `flock`, held only to read and rewrite those few lines: the next turn is
//! one interval after the last and one stretched second after the one
//! `requests_per_second` places back ([`next_turn`], pure). The in-process
//! [`super::limit::RateBudget`] still orders a process's own callers; this
//! file only adds the wait the other processes' requests impose.
//!
//! The same rule fits replicas whose state lives in PostgreSQL: the lines
//! become a row per account taken with `SELECT … FOR UPDATE` (a round trip
//! per request instead of a file lock).
//!
//! A file that cannot be opened or locked is warned about once and the
//! process goes on with its own budget: pacing must never stop a run.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::Digest;

/// A turn further ahead than this is not believed (a clock stepped back,
/// a damaged file): the log is started afresh.
const BELIEVED_AHEAD: Duration = Duration::from_secs(120);

/// What the file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Turns {
    /// No turn before this (a `Retry-After` of any process), in µs.
    pub paused_until: u64,
    /// The last turns given, oldest first, in µs.
    pub given: Vec<u64>,
}

impl Turns {
    /// Reads the file's text; anything unreadable counts as empty.
    fn parse(text: &str) -> Turns {
        let mut numbers = text.split_whitespace().map(|n| n.parse::<u64>().ok());
        let Some(Some(paused_until)) = numbers.next() else {
            return Turns::default();
        };
        let given: Option<Vec<u64>> = numbers.collect();
        Turns {
            paused_until,
            given: given.unwrap_or_default(),
        }
    }

    fn text(&self) -> String {
        let mut s = self.paused_until.to_string();
        for t in &self.given {
            s.push('\n');
            s.push_str(&t.to_string());
        }
        s.push('\n');
        s
    }
}

/// The pace of one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// µs between two turns.
    pub interval: u64,
    /// µs of the sliding window (one second, stretched).
    pub window: u64,
    /// Turns in one window.
    pub per_window: usize,
}

/// The next turn at or after `now`, and the turns with it recorded (only the
/// last `per_window` are kept). Pure.
pub fn next_turn(turns: &Turns, now: u64, pace: Pace) -> (u64, Turns) {
    let believed = |t: u64| t <= now.saturating_add(BELIEVED_AHEAD.as_micros() as u64);
    let mut given: Vec<u64> = match turns.given.iter().all(|&t| believed(t)) {
        true => turns.given.clone(),
        false => Vec::new(),
    };
    let paused_until = match believed(turns.paused_until) {
        true => turns.paused_until,
        false => 0,
    };
    let mut at = now.max(paused_until);
    if let Some(&last) = given.last() {
        at = at.max(last + pace.interval);
    }
    if given.len() >= pace.per_window {
        at = at.max(given[given.len() - pace.per_window] + pace.window);
    }
    given.push(at);
    let drop = given.len().saturating_sub(pace.per_window);
    given.drain(..drop);
    (
        at,
        Turns {
            paused_until,
            given,
        },
    )
}

/// Moves the turn given at `at` to `later` (a request that had to open a
/// connection counts from its answer, as in `limit::PoolModel`). Pure.
pub fn move_later(turns: &mut Turns, at: u64, later: u64) {
    if let Some(i) = turns.given.iter().rposition(|&t| t == at) {
        turns.given[i] = later.max(at);
        turns.given.sort_unstable();
    }
}

/// Wall-clock microseconds since the epoch.
pub fn wall_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The file of one account, shared by every process on the state folder.
#[derive(Debug)]
pub struct AccountBudget {
    file: Mutex<File>,
    path: PathBuf,
    pace: Pace,
}

/// The file of the account at `account_url` in `dir`.
pub fn budget_path(dir: &Path, account_url: &str) -> PathBuf {
    let account = crate::config::account::account_key(account_url);
    let hash = sha2::Sha256::digest(account.as_bytes());
    dir.join(format!("{}.slots", hex::encode(&hash[..8])))
}

impl AccountBudget {
    /// Opens (creating) the file of `account_url` in `dir` (mode 0700/0600).
    pub fn open(dir: &Path, account_url: &str, pace: Pace) -> std::io::Result<AccountBudget> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let path = budget_path(dir, account_url);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&path)?;
        Ok(AccountBudget {
            file: Mutex::new(file),
            path,
            pace,
        })
    }

    /// Reads the turns under the lock, lets `change` edit them, writes them
    /// back. The lock is held for a read and a write of a few lines.
    fn update<T>(&self, change: impl FnOnce(&mut Turns) -> T) -> std::io::Result<T> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.lock()?;
        let result = (|| {
            let mut text = String::new();
            file.seek(SeekFrom::Start(0))?;
            file.read_to_string(&mut text)?;
            let mut turns = Turns::parse(&text);
            let out = change(&mut turns);
            file.seek(SeekFrom::Start(0))?;
            file.set_len(0)?;
            file.write_all(turns.text().as_bytes())?;
            Ok(out)
        })();
        file.unlock()?;
        result
    }

    /// Takes the account's next turn; the wall-clock instant (µs) it is for.
    /// `None`: the file failed (warned about once); go on unshared.
    pub fn take_turn(&self) -> Option<u64> {
        let pace = self.pace;
        self.update(|turns| {
            let (at, next) = next_turn(turns, wall_micros(), pace);
            *turns = next;
            at
        })
        .map_err(|e| self.warn(&e))
        .ok()
    }

    /// The turn given at `at` counts from `later` on.
    pub fn move_later(&self, at: u64, later: u64) {
        if let Err(e) = self.update(|turns| move_later(turns, at, later)) {
            self.warn(&e);
        }
    }

    /// Holds every process's requests on the account until `until` (µs).
    pub fn pause_until(&self, until: u64) {
        let r = self.update(|turns| turns.paused_until = turns.paused_until.max(until));
        if let Err(e) = r {
            self.warn(&e);
        }
    }

    fn warn(&self, e: &std::io::Error) {
        crate::config::perms::warn_once(
            &self.path,
            &format!(
                "cannot use the account's shared request budget {}: {e}; this process paces itself alone",
                self.path.display()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACE: Pace = Pace {
        interval: 204_000,
        window: 1_020_000,
        per_window: 5,
    };

    #[test]
    fn turns_are_one_interval_apart_and_five_in_a_stretched_second() {
        let mut turns = Turns::default();
        let mut given = Vec::new();
        for _ in 0..12 {
            // Everyone asks at once: each turn waits for the one before.
            let (at, next) = next_turn(&turns, 1_000_000, PACE);
            turns = next;
            given.push(at);
        }
        assert!(given.windows(2).all(|w| w[1] - w[0] == PACE.interval));
        assert_eq!(turns.given.len(), 5, "only a window's worth is kept");
        for w in given.windows(6) {
            assert!(w[5] - w[0] >= PACE.window, "{w:?}");
        }
    }

    #[test]
    fn a_late_turn_and_a_pause_push_the_next_ones() {
        let mut turns = Turns::default();
        for _ in 0..5 {
            turns = next_turn(&turns, 0, PACE).1;
        }
        assert_eq!(next_turn(&turns, 0, PACE).0, PACE.window);
        // The last turn's request opened a connection: it counts from its
        // answer at 1.1 s, and the next turn keeps its interval from there.
        move_later(&mut turns, 4 * PACE.interval, 1_100_000);
        assert_eq!(next_turn(&turns, 0, PACE).0, 1_100_000 + PACE.interval);
        turns.paused_until = 5_000_000;
        assert_eq!(next_turn(&turns, 0, PACE).0, 5_000_000);
    }

    #[test]
    fn turns_far_ahead_are_not_believed() {
        let turns = Turns {
            paused_until: u64::MAX / 2,
            given: vec![u64::MAX / 2],
        };
        let (at, next) = next_turn(&turns, 7, PACE);
        assert_eq!(at, 7);
        let (at, _) = next_turn(&next, 7, PACE);
        assert_eq!(at, 7 + PACE.interval, "forgotten for good");
        assert_eq!(Turns::parse("garbage"), Turns::default());
        let t = Turns {
            paused_until: 3,
            given: vec![4, 5],
        };
        assert_eq!(Turns::parse(&t.text()), t);
    }

    #[test]
    fn two_handles_on_one_file_share_the_turns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = "https://acme.api-us1.com";
        let a = AccountBudget::open(dir.path(), url, PACE).expect("open");
        let b = AccountBudget::open(dir.path(), url, PACE).expect("open");
        let first = a.take_turn().expect("turn");
        let second = b.take_turn().expect("turn");
        assert!(second >= first + PACE.interval, "{first} {second}");
        let other =
            AccountBudget::open(dir.path(), "https://other.api-us1.com", PACE).expect("open");
        assert!(
            other.take_turn().expect("turn") < second,
            "another account waits for nothing"
        );
        let name = budget_path(dir.path(), url);
        assert!(
            !name.to_string_lossy().contains("acme"),
            "{}",
            name.display()
        );
    }
}
