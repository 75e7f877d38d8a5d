//! The state database's schema and its migrations, keyed by `PRAGMA user_version`.
//!
//! Each migration is one step from version N-1 to N, run in an IMMEDIATE
//! transaction that re-reads the version first: the daemon and `acsync sync`
//! may open a fresh database at the same instant, and only one may migrate.

use rusqlite::{Connection, TransactionBehavior};

/// The schema version this build writes. A database with a higher version was
/// written by a newer acsync and is refused rather than misread.
pub(crate) const LATEST: i64 = 7;

/// The version that added the run history ([`V3`]).
pub(crate) const HISTORY: i64 = 3;

/// The version that records each export's file content ([`V5`]).
pub(crate) const CONFIG_SHA: i64 = 5;

/// The version whose history names the bulk import of each change ([`V6`]).
pub(crate) const HISTORY_BATCH: i64 = 6;

/// The version that records each export's drift checks ([`V7`]).
pub(crate) const DRIFT_CHECK: i64 = 7;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; LATEST as usize] = [V1, V2, V3, V4, V5, V6, V7];

/// Version 1.
///
/// `members` is keyed by (export, email) WITHOUT ROWID, so one export's rows
/// sit together in the primary-key b-tree: loading an export is one range
/// scan, and the key doubles as the per-export index. `sent_hash` and
/// `contact_id` are u64 values bit-cast to SQLite's signed 64-bit integer.
const V1: &str = "
CREATE TABLE members (
    export             TEXT    NOT NULL,
    email              TEXT    NOT NULL,
    contact_id         INTEGER,
    status             INTEGER CHECK (status IN (1, 2)),
    owned              INTEGER NOT NULL DEFAULT 0 CHECK (owned IN (0, 1)),
    unsubscribed_by_us INTEGER NOT NULL DEFAULT 0 CHECK (unsubscribed_by_us IN (0, 1)),
    sent_hash          INTEGER,
    pending            TEXT    CHECK (pending IN ('add', 'update', 'remove', 'resubscribe')),
    PRIMARY KEY (export, email)
) WITHOUT ROWID;

-- has_pending() is asked before every run; pending rows are few.
CREATE INDEX members_pending ON members (export) WHERE pending IS NOT NULL;

CREATE TABLE exports (
    export         TEXT PRIMARY KEY NOT NULL,
    fingerprint    TEXT NOT NULL,
    last_full_read TEXT
) WITHOUT ROWID;

-- The run journal: a row is written when a run starts and completed when it
-- ends, so a run killed mid-way is visible to the next one.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    export      TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT,
    summary     TEXT CHECK (summary IS NULL OR json_valid(summary))
);
CREATE INDEX runs_export ON runs (export, id);
";

/// Version 2 (acsync 0.2): every list status (0 unconfirmed, 3 bounced) may
/// be recorded; our own unsubscribes carry the window they happened in
/// (`unsub_from`, `unsub_to`, Unix seconds); bulk batches are journaled as
/// soon as ActiveCampaign accepts them, so a run killed while a batch is
/// still processing can follow it to its end. The state records which
/// configuration folder owns it.
///
/// A 0.1 mark "unsubscribed by us" has no recorded time: it gets the window
/// from the epoch to the moment of the upgrade, so a membership that changed
/// after the upgrade is never taken for ours. Every other column, ownership
/// and pending intents included, is copied as it was.
const V2: &str = "
CREATE TABLE members_v2 (
    export             TEXT    NOT NULL,
    email              TEXT    NOT NULL,
    contact_id         INTEGER,
    status             INTEGER CHECK (status IN (0, 1, 2, 3)),
    owned              INTEGER NOT NULL DEFAULT 0 CHECK (owned IN (0, 1)),
    unsubscribed_by_us INTEGER NOT NULL DEFAULT 0 CHECK (unsubscribed_by_us IN (0, 1)),
    sent_hash          INTEGER,
    pending            TEXT    CHECK (pending IN ('add', 'update', 'remove', 'resubscribe')),
    unsub_from         INTEGER,
    unsub_to           INTEGER,
    PRIMARY KEY (export, email)
) WITHOUT ROWID;

INSERT INTO members_v2
SELECT export, email, contact_id, status, owned, unsubscribed_by_us, sent_hash, pending,
       CASE WHEN unsubscribed_by_us = 1 THEN 0 END,
       CASE WHEN unsubscribed_by_us = 1 THEN CAST(strftime('%s', 'now') AS INTEGER) END
FROM members;

DROP TABLE members;
ALTER TABLE members_v2 RENAME TO members;
CREATE INDEX members_pending ON members (export) WHERE pending IS NOT NULL;

-- Several exports on one list (docs/ownership.md): what each of them wants there
-- (its segment's emails and field hashes), written only while the list is
-- shared, so that no export unsubscribes what another still wants.
CREATE TABLE wanted (
    scope  TEXT    NOT NULL,
    export TEXT    NOT NULL,
    email  TEXT    NOT NULL,
    hash   INTEGER NOT NULL,
    PRIMARY KEY (scope, export, email)
) WITHOUT ROWID;

-- Which configuration folder this state belongs to (see StateDb::claim_folder).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE batches (
    export       TEXT NOT NULL,
    batch_id     TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    PRIMARY KEY (export, batch_id)
) WITHOUT ROWID;
";

/// Version 3: the run history, each run's per-contact changes
/// (`state::history`). `history_runs` holds one row per recorded run (its
/// export, time and entry count, so the size bound needs no count over
/// `history`); `history` one row per contact and run, keyed by run so that
/// a run's entries sit together and pruning a run is one range delete.
/// `fields` is a JSON object of the values sent. Nothing older is touched.
const V3: &str = "
CREATE TABLE history_runs (
    run_id  INTEGER PRIMARY KEY,
    export  TEXT    NOT NULL,
    at      TEXT    NOT NULL,
    entries INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX history_runs_export ON history_runs (export, run_id);

CREATE TABLE history (
    run_id INTEGER NOT NULL,
    email  TEXT    NOT NULL,
    change TEXT    NOT NULL CHECK (change IN
             ('added', 'updated', 'unsubscribed', 'resubscribed', 'kept', 'failed')),
    fields TEXT    CHECK (fields IS NULL OR json_valid(fields)),
    reason TEXT,
    PRIMARY KEY (run_id, email)
) WITHOUT ROWID;

-- contact_history and last_sent: one contact's entries, newest first.
CREATE INDEX history_email ON history (email, run_id);
";

/// Version 4 (acsync 0.3): a membership's provenance (docs/ownership.md).
/// `status` takes any code ActiveCampaign shows (91 "removed", or one it
/// adds later), so a run that saw one keeps it rather than forgetting it
/// and adding the contact again. The window of acsync's own unsubscribe
/// becomes the window of its last write of any kind (`write_from`,
/// `write_to`, Unix seconds). A membership an earlier version owns has no
/// recorded time: it gets the window from the epoch to the moment of the
/// upgrade, as version 2 did for unsubscribes, so a contact created or a
/// row changed after the upgrade is never taken for acsync's. Every other
/// column is copied as it was. `created` holds the ids of the contacts
/// acsync's imports created (their `/import/info` answers name them by id
/// only) until a full read has seen them.
const V4: &str = "
CREATE TABLE members_v4 (
    export             TEXT    NOT NULL,
    email              TEXT    NOT NULL,
    contact_id         INTEGER,
    status             INTEGER,
    owned              INTEGER NOT NULL DEFAULT 0 CHECK (owned IN (0, 1)),
    unsubscribed_by_us INTEGER NOT NULL DEFAULT 0 CHECK (unsubscribed_by_us IN (0, 1)),
    sent_hash          INTEGER,
    pending            TEXT    CHECK (pending IN ('add', 'update', 'remove', 'resubscribe')),
    write_from         INTEGER,
    write_to           INTEGER,
    PRIMARY KEY (export, email)
) WITHOUT ROWID;

INSERT INTO members_v4
SELECT export, email, contact_id, status, owned, unsubscribed_by_us, sent_hash, pending,
       CASE WHEN unsub_from IS NOT NULL THEN unsub_from WHEN owned = 1 THEN 0 END,
       CASE WHEN unsub_to IS NOT NULL THEN unsub_to
            WHEN owned = 1 THEN CAST(strftime('%s', 'now') AS INTEGER) END
FROM members;

DROP TABLE members;
ALTER TABLE members_v4 RENAME TO members;
CREATE INDEX members_pending ON members (export) WHERE pending IS NOT NULL;

CREATE TABLE created (
    scope      TEXT    NOT NULL,
    contact_id INTEGER NOT NULL,
    PRIMARY KEY (scope, contact_id)
) WITHOUT ROWID;
";

/// Version 5: each export's record keeps the SHA-256 of its file as of its
/// last run, so that a file moved or renamed (same bytes, new name) is
/// recognised and takes the old name's record over, while a deleted one is
/// retired (docs/ownership.md, "Deleting an export"). Older records have
/// none: they are never taken for a move.
const V5: &str = "
ALTER TABLE exports ADD COLUMN config_sha256 TEXT;
";

/// Version 6: each member keeps what a full read showed of its standard
/// fields right before acsync last sent them (`read_back`, the hash of
/// `plan::read_back_hash`), so that a value ActiveCampaign stores in
/// another form than sent is re-sent once, not on every full read
/// (docs/run-rules.md, "Values ActiveCampaign changes"). Older rows have
/// none: their next drift is written once more. A history entry names the
/// bulk import that made the change (`batch`, its id), the "by which
/// batch" of a membership's provenance (docs/ownership.md); entries of
/// single requests, and older ones, have none.
const V6: &str = "
ALTER TABLE members ADD COLUMN read_back INTEGER;
ALTER TABLE history ADD COLUMN batch TEXT;
";

/// Version 7: each export records when its last read of the list began,
/// full or drift check (`last_check`: a drift check asks ActiveCampaign for
/// what changed since then), and why its next run must read in full when
/// a drift check's proof disagreed (`read_in_full_because`; docs/run-rules.md,
/// drift checks). Older records have neither: their last full read is
/// their last check. A contact acsync's import created records when acsync
/// saw that import end (`seen_at`, Unix seconds): the end of acsync's write
/// to it, after which any change to its membership is someone else's
/// (docs/ownership.md). Older rows have none: no change to them is taken
/// for acsync's.
const V7: &str = "
ALTER TABLE exports ADD COLUMN last_check TEXT;
ALTER TABLE exports ADD COLUMN read_in_full_because TEXT;
ALTER TABLE created ADD COLUMN seen_at INTEGER;
";

/// The outcome of [`migrate`] when the file is newer than this build.
#[derive(Debug)]
pub(crate) enum MigrateError {
    TooNew { found: i64 },
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sqlite(e)
    }
}

/// Brings the schema to [`LATEST`], one committed step at a time.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > LATEST {
            return Err(MigrateError::TooNew { found: version });
        }
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Ok(());
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        migrate(&mut conn).expect("first migration");
        migrate(&mut conn).expect("second call is a no-op");
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(v, LATEST);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        conn.pragma_update(None, "user_version", LATEST + 1)
            .expect("set version");
        assert!(matches!(
            migrate(&mut conn),
            Err(MigrateError::TooNew { found }) if found == LATEST + 1
        ));
    }
}
