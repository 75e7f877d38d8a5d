//! `acsync.toml`: the `[daemon]` settings and the `[connections.*]`
//! accounts, validated into [`Settings`]. Problems are collected, never
//! fatal: an invalid connection is left out and named in `broken`, so the
//! exports that use it can say why.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;

use super::context::{Cx, parse_toml};
use super::error::{ErrorKind, Located};
use super::raw::{RawConnection, RawDaemon, RawSettings};
use super::redact::shown;
use super::types::{ApiKeySource, Connection, DaemonSettings, LogFormat};
use super::values;

/// The validated `acsync.toml`, with whatever errors it had.
#[derive(Debug, Clone)]
pub struct Settings {
    pub file: PathBuf,
    pub daemon: DaemonSettings,
    pub connections: BTreeMap<String, Arc<Connection>>,
    /// Connections that are declared but invalid.
    pub broken: BTreeSet<String>,
    /// Where each broken connection's table starts (line, column): the
    /// place `Folder::errors` (of `load`) names the exports it skips.
    pub broken_at: BTreeMap<String, (usize, usize)>,
    pub errors: Vec<Located>,
}

impl Settings {
    /// Validates the text of `acsync.toml` (at `file`, inside `config_dir`).
    pub fn from_source(file: &Path, src: &str, config_dir: &Path) -> Settings {
        let mut cx = Cx::new(file, src);
        let raw: Option<RawSettings> = parse_toml(&mut cx);
        let mut settings = Settings::empty(file, config_dir);
        if let Some(raw) = raw {
            settings.daemon = daemon(raw.daemon, &mut cx, config_dir);
            for (name, conn) in raw.connections {
                let at = super::error::line_col(src, conn.span().start);
                match connection(&name, conn, &mut cx, config_dir) {
                    Some(c) => {
                        settings.connections.insert(name, Arc::new(c));
                    }
                    None => {
                        settings.broken_at.insert(name.clone(), at);
                        settings.broken.insert(name);
                    }
                }
            }
        }
        cx.sort();
        settings.errors = cx.errors;
        settings
    }

    /// Defaults, no connections: what a missing or unparsable file yields.
    pub fn empty(file: &Path, config_dir: &Path) -> Settings {
        Settings {
            file: file.to_path_buf(),
            daemon: daemon(None, &mut Cx::new(file, ""), config_dir),
            connections: BTreeMap::new(),
            broken: BTreeSet::new(),
            broken_at: BTreeMap::new(),
            errors: Vec::new(),
        }
    }
}

fn default_state_dir() -> PathBuf {
    // systemd's StateDirectory= sets $STATE_DIRECTORY (colon-separated if several).
    std::env::var("STATE_DIRECTORY")
        .ok()
        .and_then(|v| v.split(':').next().map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("/var/lib/acsync"))
}

fn daemon(raw: Option<RawDaemon>, cx: &mut Cx, config_dir: &Path) -> DaemonSettings {
    let mut out = DaemonSettings {
        state_dir: default_state_dir(),
        log_format: LogFormat::Text,
        status_dir: None,
        metrics_listen: None,
        history_retention: super::types::DEFAULT_HISTORY_RETENTION,
        budget_dir: None,
    };
    let Some(raw) = raw else { return out };
    if let Some(dir) = raw.state_dir {
        out.state_dir = config_dir.join(dir.get_ref());
    }
    if let Some(f) = raw.log_format {
        match f.get_ref().as_str() {
            "text" => out.log_format = LogFormat::Text,
            "json" => out.log_format = LogFormat::Json,
            other => cx.invalid(
                f.span(),
                format!(
                    "log_format must be \"text\" or \"json\", not `{}`",
                    shown(other)
                ),
            ),
        }
    }
    out.status_dir = raw.status_dir.map(|d| config_dir.join(d.get_ref()));
    out.budget_dir = raw.budget_dir.map(|d| config_dir.join(d.get_ref()));
    if let Some(d) = &raw.history_retention {
        match values::duration(d.get_ref()) {
            Ok(v) => out.history_retention = v,
            Err(msg) => cx.invalid(d.span(), msg),
        }
    }
    if let Some(addr) = raw.metrics_listen {
        match addr.get_ref().parse() {
            Ok(a) => out.metrics_listen = Some(a),
            Err(_) => cx.invalid(
                addr.span(),
                format!(
                    "metrics_listen `{}` is not a socket address such as 127.0.0.1:9464",
                    shown(addr.get_ref())
                ),
            ),
        }
    }
    out
}

fn connection(
    name: &str,
    raw: Spanned<RawConnection>,
    cx: &mut Cx,
    config_dir: &Path,
) -> Option<Connection> {
    let before = cx.errors.len();
    let header = raw.span();
    let raw = raw.into_inner();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        cx.invalid(
            header.clone(),
            format!(
                "connection name `{}` may only use letters, digits, `_` and `-`",
                shown(name)
            ),
        );
    }
    if let Some(k) = &raw.api_key {
        cx.invalid(k.span(), "an inline `api_key` is not allowed: keep the key out of TOML and use api_key_env, api_key_file or api_key_credential");
    }
    let api_key = key_source(name, &raw, header.clone(), cx, config_dir);
    data_transfer(name, &raw, header.clone(), cx);
    let base_url = match &raw.url {
        Some(u) => values::base_url(u.get_ref())
            .map_err(|m| cx.invalid(u.span(), m))
            .ok(),
        None => {
            let message = format!("connection `{name}` has no `url`");
            cx.error(ErrorKind::MissingKey, header.clone(), message);
            None
        }
    };
    let requests_per_second = rps(&raw, cx);
    let allowed_exports = allowed(&raw, cx);
    if cx.errors.len() > before {
        return None;
    }
    Some(Connection {
        name: name.to_string(),
        base_url: base_url?,
        api_key: api_key?,
        requests_per_second,
        allowed_exports,
    })
}

fn key_source(
    name: &str,
    raw: &RawConnection,
    header: Range<usize>,
    cx: &mut Cx,
    config_dir: &Path,
) -> Option<ApiKeySource> {
    let given: Vec<(&str, &Spanned<String>)> = [
        ("api_key_env", &raw.api_key_env),
        ("api_key_file", &raw.api_key_file),
        ("api_key_credential", &raw.api_key_credential),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    .collect();
    match given.as_slice() {
        [] => {
            cx.error(ErrorKind::MissingKey, header, format!("connection `{name}` needs exactly one of api_key_env, api_key_file, api_key_credential"));
            None
        }
        [(kind, v)] if v.get_ref().trim().is_empty() => {
            cx.invalid(v.span(), format!("`{kind}` is empty"));
            None
        }
        // The key itself pasted where its name belongs: refused, never echoed.
        [(kind, v)] if super::redact::has_key(v.get_ref()) => {
            cx.invalid(v.span(), format!("`{kind}` looks like an API key itself: never write the key in a TOML file; put it in the environment, a file or a systemd credential, and give its name here"));
            None
        }
        [("api_key_env", v)] => Some(ApiKeySource::Env(v.get_ref().clone())),
        [("api_key_file", v)] => Some(ApiKeySource::File(config_dir.join(v.get_ref()))),
        [(_, v)] => Some(ApiKeySource::Credential(v.get_ref().clone())),
        [_, (second, v), ..] => {
            cx.invalid(v.span(), format!("`{second}` given too: use exactly one of api_key_env, api_key_file, api_key_credential"));
            None
        }
    }
}

fn data_transfer(name: &str, raw: &RawConnection, header: Range<usize>, cx: &mut Cx) {
    const WHY: &str = "acknowledges that profile data, personal data included, leaves your systems for ActiveCampaign";
    match &raw.accept_data_transfer {
        Some(v) if *v.get_ref() => {}
        Some(v) => cx.invalid(
            v.span(),
            format!("accept_data_transfer must be true to use connection `{name}` (it {WHY})"),
        ),
        None => cx.error(
            ErrorKind::MissingKey,
            header,
            format!("connection `{name}` needs `accept_data_transfer = true` (it {WHY})"),
        ),
    }
}

fn rps(raw: &RawConnection, cx: &mut Cx) -> u32 {
    match &raw.requests_per_second {
        None => 5,
        Some(v) if (1..=100).contains(v.get_ref()) => *v.get_ref() as u32,
        Some(v) => {
            cx.invalid(v.span(), "requests_per_second must be between 1 and 100 (ActiveCampaign allows 5 per account)");
            5
        }
    }
}

fn allowed(raw: &RawConnection, cx: &mut Cx) -> Vec<String> {
    let Some(list) = &raw.allowed_exports else {
        return Vec::new();
    };
    for pattern in list.get_ref() {
        if let Err(e) = globset::Glob::new(pattern) {
            cx.invalid(
                list.span(),
                format!(
                    "allowed_exports pattern `{}` is invalid: {}",
                    shown(pattern),
                    e.kind()
                ),
            );
        }
    }
    list.get_ref().clone()
}

/// Whether `connection` may be used by export `id` (its `allowed_exports`).
pub fn allows(connection: &Connection, id: &str) -> bool {
    connection.allowed_exports.is_empty()
        || connection.allowed_exports.iter().any(|p| {
            globset::Glob::new(p)
                .map(|g| g.compile_matcher().is_match(id))
                .unwrap_or(false)
        })
}
