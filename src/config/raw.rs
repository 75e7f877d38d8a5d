//! Raw serde types: the TOML exactly as written, with spans. Nearly every
//! field is optional here so that a missing key becomes a located validation
//! error reported together with the others, instead of stopping the parse.
//! Unknown keys are refused by serde (`deny_unknown_fields`).
//!
//! The same types describe the files to editors: `acsync schema` derives the
//! JSON Schemas in `schema/` from them (`JsonSchema`). `Spanned<T>` is
//! described as `T` (`#[schemars(with = …)]`); a key the validator requires
//! is described with a non-optional type so that editors flag its absence;
//! doc comments become the descriptions shown on hover.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

/// acsync.toml: daemon settings and ActiveCampaign connections.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "acsync.toml")]
pub struct RawSettings {
    /// Daemon settings.
    pub daemon: Option<RawDaemon>,
    /// ActiveCampaign accounts, by name; exports refer to one with `connection = "NAME"`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawConnection>")]
    pub connections: BTreeMap<String, Spanned<RawConnection>>,
}

/// [daemon]: where state and status files go, how logs look, metrics.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Daemon")]
pub struct RawDaemon {
    /// State database (ownership, run journal) and locks. Default: $STATE_DIRECTORY, else /var/lib/acsync. Relative paths are relative to the config folder.
    #[schemars(with = "Option<String>", example = "/var/lib/acsync")]
    pub state_dir: Option<Spanned<String>>,
    /// Log format: "text" (no timestamps under journald) or "json".
    #[schemars(with = "Option<String>", extend("enum" = ["text", "json"], "default" = "text"))]
    pub log_format: Option<Spanned<String>>,
    /// Only for read-only export folders (e.g. a ConfigMap mount): status files go here, mirroring exports/.
    #[schemars(with = "Option<String>", example = "/var/lib/acsync/status")]
    pub status_dir: Option<Spanned<String>>,
    /// Socket address serving Prometheus metrics (/metrics) and /healthz. Off when unset.
    #[schemars(with = "Option<String>", example = "127.0.0.1:9464")]
    pub metrics_listen: Option<Spanned<String>>,
    /// How long the run history (`acsync history`) is kept, e.g. "90d"; exports may set their own. At most 2,000,000 entries per export are kept in any case.
    #[schemars(with = "Option<String>", extend("default" = "90d"))]
    pub history_retention: Option<Spanned<String>>,
    /// Where every process on this machine takes its turns of each account's request budget (one file per account). Default: <state_dir>/budget. Give two configuration folders that use one account the same folder, so that together they keep its requests_per_second. Relative paths are relative to the config folder.
    #[schemars(with = "Option<String>", example = "/var/lib/acsync/budget")]
    pub budget_dir: Option<Spanned<String>>,
}

/// [connections.NAME]: one ActiveCampaign account. Exactly one of api_key_env, api_key_file, api_key_credential.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    rename = "Connection",
    extend("oneOf" = [
        {"required": ["api_key_env"]},
        {"required": ["api_key_file"]},
        {"required": ["api_key_credential"]}
    ])
)]
pub struct RawConnection {
    /// The REST endpoint shown under Settings > Developer: the bare hostname or the full https:// URL (plain http only for loopback).
    #[schemars(with = "String", example = "acme.api-us1.com")]
    pub url: Option<Spanned<String>>,
    /// Environment variable holding the API key.
    #[schemars(with = "Option<String>", example = &"AC_PROD_KEY")]
    pub api_key_env: Option<Spanned<String>>,
    /// File holding the API key.
    #[schemars(with = "Option<String>", example = "/etc/acsync/secrets/prod.key")]
    pub api_key_file: Option<Spanned<String>>,
    /// systemd credential name (LoadCredential=), read from $CREDENTIALS_DIRECTORY.
    #[schemars(with = "Option<String>", example = "ac-prod")]
    pub api_key_credential: Option<Spanned<String>>,
    /// Never allowed: accepted by the parser only to refuse it with a clear
    /// message. Its value is never kept, printed or logged.
    #[schemars(skip)]
    pub api_key: Option<Spanned<IgnoredValue>>,
    /// Required, must be true: acknowledges that profile data, personal data included, leaves your systems for ActiveCampaign.
    #[schemars(with = "bool", extend("const" = true))]
    pub accept_data_transfer: Option<Spanned<bool>>,
    /// The account's request budget, shared by every export on this connection.
    #[schemars(with = "Option<i64>", range(min = 1, max = 100), extend("default" = 5))]
    pub requests_per_second: Option<Spanned<i64>>,
    /// Glob patterns over export ids that may use this connection (default: all).
    #[schemars(with = "Option<Vec<String>>", example = ["marketing/*"])]
    pub allowed_exports: Option<Spanned<Vec<String>>>,
}

/// An acsync export file (exports/NAME.toml): one segment synced to one ActiveCampaign list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "acsync export")]
pub struct RawExport {
    /// A [connections.*] name from acsync.toml.
    #[schemars(with = "String", example = &"prod")]
    pub connection: Option<Spanned<String>>,
    /// The ActiveCampaign list ID.
    #[schemars(with = "i64", range(min = 1), example = 12)]
    pub list_id: Option<Spanned<i64>>,
    /// 5-field cron, 6-field cron with seconds, or @hourly, @daily (= @midnight), @weekly, @monthly, @yearly (= @annually).
    #[schemars(with = "String", example = "*/30 * * * *", example = "@daily")]
    pub schedule: Option<Spanned<String>>,
    /// IANA time zone the schedule is evaluated in.
    #[schemars(with = "Option<String>", extend("default" = "UTC"), example = "Europe/Madrid")]
    pub timezone: Option<Spanned<String>>,
    /// false keeps the file but never runs it.
    #[schemars(extend("default" = true))]
    pub enabled: Option<bool>,
    /// owned: unsubscribe leavers only if this export subscribed them; all: the list becomes exactly the segment; none: never unsubscribe.
    #[schemars(with = "Option<String>", extend("enum" = ["owned", "all", "none"], "default" = "owned"))]
    pub prune: Option<Spanned<String>>,
    /// Most unsubscribes a run may do: a count (25) or a percent of current members ("10%"). Above it the run unsubscribes nobody and ends blocked.
    #[schemars(with = "Option<RawLimit>", extend("default" = "10%"))]
    pub max_removals: Option<Spanned<RawLimit>>,
    /// A larger segment fails the run before anything is sent.
    #[schemars(with = "Option<i64>", range(min = 1), extend("default" = 1_000_000))]
    pub max_profiles: Option<Spanned<i64>>,
    /// An empty segment fails the run unless true.
    #[schemars(extend("default" = false))]
    pub allow_empty: Option<bool>,
    /// Passed to ActiveCampaign's bulk import: automations do not fire for these contacts.
    #[schemars(extend("default" = false))]
    pub exclude_automations: Option<bool>,
    /// Tags added to contacts when subscribed or updated.
    #[schemars(with = "Option<Vec<String>>", extend("default" = []))]
    pub tags: Option<Spanned<Vec<String>>>,
    /// How often the list is read in full (every member of every status), e.g. "7d", "24h"; "0" = every run.
    #[schemars(with = "Option<String>", extend("default" = "7d"))]
    pub full_read_every: Option<Spanned<String>>,
    /// How often, between full reads, a run checks what others changed on the list (only the members ActiveCampaign shows as updated since the last check, proven by counts and a sample), e.g. "24h"; "0" = every run.
    #[schemars(with = "Option<String>", extend("default" = "24h"))]
    pub drift_check_every: Option<Spanned<String>>,
    /// How long this export's run history (`acsync history`) is kept, e.g. "30d". Default: [daemon] history_retention, else "90d".
    #[schemars(with = "Option<String>", example = "30d")]
    pub history_retention: Option<Spanned<String>>,
    /// Never allowed (see [`RawConnection::api_key`]).
    #[schemars(skip)]
    pub api_key: Option<Spanned<IgnoredValue>>,
    /// The segment: where profiles come from, one row per profile.
    #[schemars(with = "RawSource")]
    pub source: Option<Spanned<RawSource>>,
    /// Data matching: ActiveCampaign field = segment column.
    #[schemars(with = "RawMapping")]
    pub mapping: Option<Spanned<RawMapping>>,
}

/// `max_removals`: a count (`50`) or a string (`"10%"`, `"50"`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "MaxRemovals")]
pub enum RawLimit {
    Count(#[schemars(range(min = 0))] i64),
    Text(#[schemars(regex(pattern = r"^\s*([0-9]+(\.[0-9]+)?\s*%|[0-9]+)\s*$"))] String),
}

/// [source]: the segment. csv/jsonl/sqlite need `path`; sqlite/postgres need `query`; postgres needs `url_env`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Source")]
pub struct RawSource {
    /// Where the segment comes from.
    #[schemars(with = "String", extend("enum" = ["csv", "jsonl", "sqlite", "postgres"]))]
    pub kind: Option<Spanned<String>>,
    /// csv, jsonl, sqlite: the file, relative to this export file.
    #[schemars(with = "Option<String>", example = "../segments/vip.csv")]
    pub path: Option<Spanned<String>>,
    /// sqlite, postgres: the query, one row per profile.
    #[schemars(
        with = "Option<String>",
        example = "select email, first_name from profiles where segment = 'vip'"
    )]
    pub query: Option<Spanned<String>>,
    /// postgres: the environment variable holding the connection string (never a URL in TOML).
    #[schemars(with = "Option<String>", example = &"SEGMENTS_DATABASE_URL")]
    pub url_env: Option<Spanned<String>>,
    /// Never allowed: a connection string may hold a password. Refused with a
    /// pointer to `url_env`; the value is never kept.
    #[schemars(skip)]
    pub url: Option<Spanned<IgnoredValue>>,
    /// postgres: how long the query may run.
    #[schemars(with = "Option<String>", extend("default" = "10m"))]
    pub statement_timeout: Option<Spanned<String>>,
    /// csv, jsonl, sqlite: how long reading the file may take in all; past it the run fails (a pipe or a hung mount never blocks it).
    #[schemars(with = "Option<String>", extend("default" = "10m"))]
    pub timeout: Option<Spanned<String>>,
}

/// [mapping]: ActiveCampaign field = segment column.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Mapping")]
pub struct RawMapping {
    /// The column holding the email address.
    #[schemars(with = "String", example = &"email")]
    pub email: Option<Spanned<String>>,
    /// The column for the contact's first name.
    #[schemars(with = "Option<String>")]
    pub first_name: Option<Spanned<String>>,
    /// The column for the contact's last name.
    #[schemars(with = "Option<String>")]
    pub last_name: Option<Spanned<String>>,
    /// The column for the contact's phone.
    #[schemars(with = "Option<String>")]
    pub phone: Option<Spanned<String>>,
    /// Custom fields: personalization tag (COMPANY) or numeric field id = column.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub fields: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// Any TOML value, thrown away on parse: used for keys whose value may be a
/// secret, so the secret never reaches a `Debug` print or an error message.
#[derive(Debug)]
pub struct IgnoredValue;

impl<'de> Deserialize<'de> for IgnoredValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| IgnoredValue)
    }
}
