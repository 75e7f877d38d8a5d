//! The validated configuration types: what `acsync.toml` and an export file
//! mean once checked (connections, schedules, sources, mappings, exports).
//! A leaf of `config`: every sibling imports these from here, and
//! `config/mod.rs` re-exports them, so no file of `config/` depends on the
//! module root.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::error::Located;
use crate::model::{Prune, RemovalLimit};
use crate::segment::RowNumbering;

/// Validated `[daemon]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSettings {
    /// Where the state database and locks live.
    pub state_dir: PathBuf,
    pub log_format: LogFormat,
    /// When set, status files go here (mirroring `exports/`) instead of next to each export.
    pub status_dir: Option<PathBuf>,
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// How long the run history is kept (exports may override it).
    pub history_retention: Duration,
    /// Where the account request budgets are shared (docs/run-rules.md,
    /// one budget per account); `None`: `state_dir/budget`.
    pub budget_dir: Option<PathBuf>,
}

/// The run history's retention when neither acsync.toml nor the export sets one.
pub const DEFAULT_HISTORY_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Where a connection's API key comes from. The key itself is read only when
/// a client is built, and held as a `secrecy::SecretString`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeySource {
    /// An environment variable name.
    Env(String),
    /// A file path (absolute, or resolved against the config folder).
    File(PathBuf),
    /// A systemd credential name, read from `$CREDENTIALS_DIRECTORY/NAME`.
    Credential(String),
}

/// A validated `[connections.NAME]`: one ActiveCampaign account.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub name: String,
    /// Base URL without the `/api/3` suffix, e.g. `https://acme.api-us1.com`.
    pub base_url: reqwest::Url,
    pub api_key: ApiKeySource,
    /// The account's request budget, shared by every export on it.
    pub requests_per_second: u32,
    /// Glob patterns over export ids; empty means every export may use it.
    pub allowed_exports: Vec<String>,
}

/// A parsed cron schedule in its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// As written, e.g. `*/30 * * * *` or `@daily`.
    pub expr: String,
    pub cron: croner::Cron,
    pub tz: chrono_tz::Tz,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr && self.tz == other.tz
    }
}

/// The default `[source] timeout`: how long reading a file source may take.
pub const DEFAULT_SOURCE_TIMEOUT: Duration = Duration::from_secs(600);

/// Where a segment comes from. Paths are resolved against the export file's
/// folder. `timeout` bounds reading a file (a FIFO or a hung mount never
/// blocks a run); postgres is bounded by `statement_timeout`.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Csv {
        path: PathBuf,
        timeout: Duration,
    },
    Jsonl {
        path: PathBuf,
        timeout: Duration,
    },
    Sqlite {
        path: PathBuf,
        query: String,
        timeout: Duration,
    },
    Postgres {
        url_env: String,
        query: String,
        statement_timeout: Duration,
    },
}

impl Source {
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Csv { .. } => "csv",
            Source::Jsonl { .. } => "jsonl",
            Source::Sqlite { .. } => "sqlite",
            Source::Postgres { .. } => "postgres",
        }
    }

    /// What this source's row numbers count: the readers number rows by
    /// it, and plan, status, explain and check name rows through
    /// [`Source::row_place`].
    pub fn row_numbering(&self) -> RowNumbering {
        match self {
            Source::Csv { .. } | Source::Jsonl { .. } => RowNumbering::Line,
            Source::Sqlite { .. } | Source::Postgres { .. } => RowNumbering::DataRow,
        }
    }

    /// Row `row` of this source as shown: `line 13`, `data row 12`.
    pub fn row_place(&self, row: u64) -> String {
        self.row_numbering().place(row)
    }
}

/// `[mapping]`: ActiveCampaign field = segment column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mapping {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// Custom fields: personalization tag (e.g. `COMPANY`) or numeric field id → column.
    pub fields: BTreeMap<String, String>,
}

/// A validated export: everything a run needs, nothing left to check.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// The path under `exports/` without `.toml`, e.g. `emea/vip`.
    pub id: String,
    /// The export file.
    pub file: PathBuf,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    pub connection: Arc<Connection>,
    pub list_id: u64,
    pub schedule: Schedule,
    pub enabled: bool,
    pub prune: Prune,
    pub max_removals: RemovalLimit,
    pub max_profiles: u64,
    pub allow_empty: bool,
    pub exclude_automations: bool,
    pub tags: Vec<String>,
    /// Zero: read the list in full on every run.
    pub full_read_every: Duration,
    /// How often a run between full reads checks what others changed
    /// (docs/run-rules.md, drift checks). Zero: every such run.
    pub drift_check_every: Duration,
    /// How long this export's run history is kept (its own key, else the
    /// daemon's, else [`DEFAULT_HISTORY_RETENTION`]).
    pub history_retention: Duration,
    pub source: Source,
    pub mapping: Mapping,
}

/// One export file, valid or not.
#[derive(Debug, Clone)]
pub struct LoadedExport {
    pub id: String,
    pub file: PathBuf,
    /// SHA-256 of the bytes read; `None` when the file could not be read.
    pub sha256: Option<String>,
    pub result: Result<Export, Vec<Located>>,
}

#[cfg(test)]
mod tests {
    use super::Source;
    use std::time::Duration;

    #[test]
    fn rows_are_file_lines_for_files_and_data_rows_for_sql() {
        let timeout = Duration::from_secs(1);
        let csv = Source::Csv {
            path: "a.csv".into(),
            timeout,
        };
        let jsonl = Source::Jsonl {
            path: "a.jsonl".into(),
            timeout,
        };
        let sqlite = Source::Sqlite {
            path: "a.db".into(),
            query: "SELECT 1".into(),
            timeout,
        };
        assert_eq!(csv.row_place(6), "line 6");
        assert_eq!(jsonl.row_place(7), "line 7");
        assert_eq!(sqlite.row_place(7), "data row 7");
    }
}
