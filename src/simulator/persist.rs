//! Seeding from a seed file and keeping the account between restarts
//! (`acsync simulator --seed-file/--state-file`): the IO around the pure
//! [`Seed`] and [`snapshot`] of the model.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::handle::Simulator;
use super::model::seed::{Seed, SeedError, SeedSummary};
use super::model::snapshot;

/// A state file that could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a simulator state file: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Simulator {
    /// Adds a seed's lists, fields and contacts to the account.
    pub fn apply_seed(&self, seed: &Seed) -> Result<SeedSummary, SeedError> {
        seed.apply(&mut self.shared().account().account)
    }

    /// Replaces the account with the one saved in `path`. `Ok(false)` when
    /// there is no such file (a first start).
    pub fn load_state(&self, path: &Path) -> Result<bool, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(source) => {
                let path = path.to_path_buf();
                return Err(StateError::Read { path, source });
            }
        };
        let mut account = snapshot::from_json(&text).map_err(|reason| StateError::Parse {
            path: path.to_path_buf(),
            reason,
        })?;
        let mut world = self.shared().account();
        // The zone is the simulator's setting, not saved with the account.
        account.times = world.account.times;
        world.account = account;
        Ok(true)
    }

    /// Writes the account to `path` atomically (a temporary file renamed
    /// over it), mode 0600: it holds personal data.
    pub fn save_state(&self, path: &Path) -> Result<(), StateError> {
        let json = snapshot::to_json(&self.shared().account().account);
        let json = json.map_err(|e| StateError::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(path, json.as_bytes()).map_err(|source| StateError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Waits until no bulk batch is queued, at most `limit`: batches are
    /// not saved, so a stop waits for those just submitted to land.
    pub async fn settle(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.shared().account().batches.outstanding().0 > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{}.tmp", name.unwrap_or_default()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
