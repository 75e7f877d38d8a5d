//! Raw serde types: the TOML exactly as written, with spans. Nearly every
//! field is optional here so that a missing key becomes a located validation
//! error reported together with the others, instead of stopping the parse.
//! Unknown keys are refused by serde (`deny_unknown_fields`).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// `acsync.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub daemon: Option<RawDaemon>,
    #[serde(default)]
    pub connections: BTreeMap<String, Spanned<RawConnection>>,
}

/// `[daemon]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    pub state_dir: Option<Spanned<String>>,
    pub log_format: Option<Spanned<String>>,
    pub status_dir: Option<Spanned<String>>,
    pub metrics_listen: Option<Spanned<String>>,
}

/// `[connections.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnection {
    pub url: Option<Spanned<String>>,
    pub api_key_env: Option<Spanned<String>>,
    pub api_key_file: Option<Spanned<String>>,
    pub api_key_credential: Option<Spanned<String>>,
    /// Never allowed: accepted by the parser only to refuse it with a clear
    /// message. Its value is never kept, printed or logged.
    pub api_key: Option<Spanned<IgnoredValue>>,
    pub accept_data_transfer: Option<Spanned<bool>>,
    pub requests_per_second: Option<Spanned<i64>>,
    pub allowed_exports: Option<Spanned<Vec<String>>>,
}

/// An export file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    pub connection: Option<Spanned<String>>,
    pub list_id: Option<Spanned<i64>>,
    pub schedule: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    pub enabled: Option<bool>,
    pub prune: Option<Spanned<String>>,
    pub max_removals: Option<Spanned<RawLimit>>,
    pub max_profiles: Option<Spanned<i64>>,
    pub allow_empty: Option<bool>,
    pub exclude_automations: Option<bool>,
    pub tags: Option<Spanned<Vec<String>>>,
    pub full_read_every: Option<Spanned<String>>,
    /// Never allowed (see [`RawConnection::api_key`]).
    pub api_key: Option<Spanned<IgnoredValue>>,
    pub source: Option<Spanned<RawSource>>,
    pub mapping: Option<Spanned<RawMapping>>,
}

/// `max_removals`: a count (`50`) or a string (`"10%"`, `"50"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawLimit {
    Count(i64),
    Text(String),
}

/// `[source]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub kind: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub query: Option<Spanned<String>>,
    pub url_env: Option<Spanned<String>>,
    /// Never allowed: a connection string may hold a password. Refused with a
    /// pointer to `url_env`; the value is never kept.
    pub url: Option<Spanned<IgnoredValue>>,
    pub statement_timeout: Option<Spanned<String>>,
}

/// `[mapping]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMapping {
    pub email: Option<Spanned<String>>,
    pub first_name: Option<Spanned<String>>,
    pub last_name: Option<Spanned<String>>,
    pub phone: Option<Spanned<String>>,
    #[serde(default)]
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
