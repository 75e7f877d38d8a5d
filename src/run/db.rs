//! The run's state database handle, shared by the run and its applier.
//! Every transaction goes through [`RunDb::with`], on tokio's blocking
//! pool: a save of a million member rows takes seconds of CPU and disk,
//! which must not hold an async worker (the daemon runs every export's
//! requests, pacing and timers on those few threads). `spawn_blocking`
//! rather than a state actor: the run already awaits each write before the
//! next request, so a queue would add a thread and a protocol for nothing,
//! and the one mutex keeps writes of one run in order.
//!
//! Writes of every run in the process also take one writer gate
//! ([`write_gate`]): [`RunDb::with`] and [`RunDb::write`] are the only ways
//! to a `&mut StateDb`. SQLite admits one writer per database at a time, and
//! a connection that finds the lock taken waits in its busy handler, which
//! sleeps in steps of up to 100 ms; with twenty exports each committing a
//! few times a second, those sleeps (not the commits) delayed the requests
//! that follow each commit. Queued on the gate instead, the
//! next writer starts the moment the previous one commits.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use super::error::RunError;
use crate::state::StateDb;

#[derive(Clone)]
pub struct RunDb(Arc<Mutex<StateDb>>);

impl RunDb {
    pub fn new(db: StateDb) -> RunDb {
        RunDb(Arc::new(Mutex::new(db)))
    }

    /// Opens the state database in `state_dir` under the writer gate (the
    /// open may migrate the schema), on this thread: call it off the async
    /// workers.
    pub fn open(state_dir: &Path) -> Result<RunDb, RunError> {
        let _gate = write_gate();
        Ok(RunDb::new(StateDb::open(state_dir)?))
    }

    /// Runs the write transaction `f` on a blocking thread, under the
    /// writer gate, and waits for it.
    pub async fn with<T, F>(&self, f: F) -> Result<T, RunError>
    where
        T: Send + 'static,
        F: FnOnce(&mut StateDb) -> Result<T, RunError> + Send + 'static,
    {
        self.off_worker(move |db| db.write(f)).await?
    }

    /// Runs `work` on a blocking thread and waits for it: for work of
    /// several transactions that each take the gate ([`RunDb::write`]), so
    /// other runs may write between them.
    pub async fn off_worker<T, F>(&self, work: F) -> Result<T, RunError>
    where
        T: Send + 'static,
        F: FnOnce(&RunDb) -> T + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|e| RunError::Internal(format!("state writer stopped: {e}")))
    }

    /// The write transaction `f`, under the writer gate, on this thread:
    /// only from work already off the async workers ([`RunDb::off_worker`]).
    pub fn write<T, E>(&self, f: impl FnOnce(&mut StateDb) -> Result<T, E>) -> Result<T, RunError>
    where
        RunError: From<E>,
    {
        let _gate = write_gate();
        Ok(f(&mut *lock(&self.0)?)?)
    }

    /// A short read on this thread. No gate: WAL readers wait for nobody.
    pub fn read<T, E>(&self, f: impl FnOnce(&StateDb) -> Result<T, E>) -> Result<T, RunError>
    where
        RunError: From<E>,
    {
        Ok(f(&*lock(&self.0)?)?)
    }
}

/// The process's one state writer at a time (see the module doc).
fn write_gate() -> MutexGuard<'static, ()> {
    static GATE: Mutex<()> = Mutex::new(());
    // Guards no data: a panic of an earlier holder leaves nothing to repair.
    GATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// A panic while the database was held leaves it poisoned: the run stops
/// rather than guess.
fn lock(db: &Mutex<StateDb>) -> Result<MutexGuard<'_, StateDb>, RunError> {
    db.lock()
        .map_err(|_| RunError::Internal("state lock poisoned".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transaction runs on another thread than the task awaiting it
    /// (a current-thread runtime has one worker: the caller's).
    #[tokio::test(flavor = "current_thread")]
    async fn transactions_run_off_the_async_worker() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = RunDb::new(StateDb::open(dir.path()).expect("open"));
        let worker = std::thread::current().id();
        let ran_on = db
            .with(|d| {
                d.journal_batch("scope", "b1", chrono::Utc::now())?;
                Ok(std::thread::current().id())
            })
            .await
            .expect("written");
        assert_ne!(ran_on, worker);
        let open = db.read(|d| d.open_batches("scope")).expect("read");
        assert_eq!(open.len(), 1, "and it was written");
    }

    /// A write waits for the writer gate another thread holds.
    #[test]
    fn a_write_waits_for_the_gate() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::mpsc;
        let dir = tempfile::tempdir().expect("tempdir");
        let db = RunDb::open(dir.path()).expect("open");
        let released = Arc::new(AtomicBool::new(false));
        let (held, gate_taken) = mpsc::channel();
        let holder = {
            let released = released.clone();
            std::thread::spawn(move || {
                let _gate = write_gate();
                held.send(()).expect("send");
                std::thread::sleep(std::time::Duration::from_millis(100));
                released.store(true, Ordering::SeqCst);
            })
        };
        gate_taken.recv().expect("the gate is held");
        let after_release = db
            .write(|d| {
                d.journal_batch("scope", "b1", chrono::Utc::now())?;
                Ok::<_, RunError>(released.load(Ordering::SeqCst))
            })
            .expect("written");
        assert!(after_release);
        holder.join().expect("holder");
    }
}
