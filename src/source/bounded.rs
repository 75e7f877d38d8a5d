//! Bounded reads of file sources. A file read blocks a
//! thread, and a FIFO with no writer or a hung network mount blocks it for
//! ever; no thread can be interrupted in a blocking `open` or `read`. So the
//! read runs on a blocking thread the run stops waiting for:
//!
//! - past the source's `timeout` the run fails with [`SourceError::TimedOut`];
//! - when the run is cancelled (the daemon stops), at once, with
//!   [`SourceError::Abandoned`]: the token comes from [`cancel_reads_with`],
//!   scoped around the run by whoever spawns it;
//! - the abandoned thread stays blocked until its file answers. While it
//!   does, another read of the same file is refused
//!   ([`SourceError::StillBlocked`]) rather than block one more thread on
//!   each scheduled tick until the blocking pool is full.
//!
//! The runtime must not wait for such a thread when the process exits: the
//! command-line runtime shuts down with a bound (`cli::runtime`).

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use super::SourceError;
use crate::config::{Mapping, Source};
use crate::segment::Segment;

tokio::task_local! {
    /// The cancellation of the run reading, when its spawner scoped one.
    static READ_CANCEL: CancellationToken;
}

/// Runs `fut` (a run) so that a source read inside it is abandoned as soon
/// as `cancel` fires, instead of waiting for a blocked file.
pub async fn cancel_reads_with<F: Future>(cancel: CancellationToken, fut: F) -> F::Output {
    READ_CANCEL.scope(cancel, fut).await
}

/// Files with abandoned reads still blocked, and how many.
static ABANDONED: Mutex<Option<HashMap<PathBuf, u32>>> = Mutex::new(None);

/// One read's fate, decided under the [`ABANDONED`] lock so that a read that
/// ends just as it is abandoned is counted exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Running,
    Done,
    Abandoned,
}

fn with_abandoned<T>(f: impl FnOnce(&mut HashMap<PathBuf, u32>) -> T) -> T {
    let mut guard = ABANDONED.lock().unwrap_or_else(PoisonError::into_inner);
    f(guard.get_or_insert_with(HashMap::new))
}

/// Reads a file source (every kind but postgres) within its bounds.
pub(super) async fn read(source: &Source, mapping: &Mapping) -> Result<Segment, SourceError> {
    let (path, timeout) = match source {
        Source::Csv { path, timeout }
        | Source::Jsonl { path, timeout }
        | Source::Sqlite { path, timeout, .. } => (path.clone(), *timeout),
        Source::Postgres { .. } => return Err(SourceError::Unsupported { kind: "postgres" }),
    };
    if with_abandoned(|m| m.get(&path).is_some_and(|&n| n > 0)) {
        return Err(SourceError::StillBlocked { path });
    }
    let fate = Arc::new(Mutex::new(Fate::Running));
    let task = {
        let (src, mapping, fate, path) =
            (source.clone(), mapping.clone(), fate.clone(), path.clone());
        tokio::task::spawn_blocking(move || {
            let result = super::read(&src, &mapping);
            end(&fate, &path);
            result
        })
    };
    let cancel = READ_CANCEL.try_with(CancellationToken::clone).ok();
    let cancelled = async {
        match &cancel {
            Some(c) => c.cancelled().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        joined = task => joined.unwrap_or_else(|e| Err(SourceError::Stopped(e.to_string()))),
        () = tokio::time::sleep(timeout) => {
            abandon(&fate, &path);
            Err(SourceError::TimedOut { path, timeout: humantime::format_duration(timeout).to_string() })
        }
        () = cancelled => {
            abandon(&fate, &path);
            Err(SourceError::Abandoned { path })
        }
    }
}

/// The reading thread ended: if its read had been abandoned, the file is free.
fn end(fate: &Mutex<Fate>, path: &Path) {
    with_abandoned(|m| {
        let mut f = fate.lock().unwrap_or_else(PoisonError::into_inner);
        if *f == Fate::Abandoned
            && let Some(n) = m.get_mut(path)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(path);
            }
        }
        *f = Fate::Done;
    });
}

/// The run stops waiting: a thread still reading is counted as blocked.
fn abandon(fate: &Mutex<Fate>, path: &Path) {
    with_abandoned(|m| {
        let mut f = fate.lock().unwrap_or_else(PoisonError::into_inner);
        if *f == Fate::Running {
            *f = Fate::Abandoned;
            *m.entry(path.to_path_buf()).or_default() += 1;
        }
    });
}
