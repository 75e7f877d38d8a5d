//! Validation of export files: [`super::raw::RawExport`] into
//! [`super::types::Export`], collecting every problem as a located error.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::context::{Cx, parse_toml_all};
use super::error::{ErrorKind, Located};
use super::raw::{RawExport, RawLimit, RawMapping, RawSource};
use super::redact::shown;
use super::settings::{Settings, allows};
use super::types::{Connection, DEFAULT_SOURCE_TIMEOUT, Export, Mapping, Source};
use super::{suggest, values};
use crate::model::{Prune, RemovalLimit};

/// Validates the text of export `id` (file `file`) against `settings`.
pub fn export(
    id: &str,
    file: &Path,
    src: &str,
    settings: &Settings,
) -> Result<Export, Vec<Located>> {
    let mut cx = Cx::new(file, src);
    let Some((raw, blanked)) = parse_toml_all::<RawExport>(&mut cx) else {
        return Err(cx.errors);
    };
    let parsed = cx.errors.len();
    let built = build(id, file, raw, settings, &mut cx);
    // A key blanked for its parse error is missing now: not a second error.
    // A key missing from a table nothing was blanked in is reported all the
    // same (every error of a file at once: docs/configuration.md, validation).
    let blanked_tables: Vec<usize> = blanked.iter().map(|&l| table_of(src, l)).collect();
    let mut later = cx.errors.split_off(parsed);
    later.retain(|e| {
        e.kind != ErrorKind::MissingKey || !blanked_tables.contains(&table_of(src, e.line))
    });
    cx.errors.extend(later);
    cx.sort();
    match built {
        Some(e) if cx.errors.is_empty() => Ok(e),
        _ => Err(cx.errors),
    }
}

/// The folder a `[source]` `path` of export file `file` is relative to:
/// the file's own folder.
pub fn source_base(file: &Path) -> &Path {
    file.parent().unwrap_or(Path::new("."))
}

/// Which table line `line` (1-based) of `src` belongs to: the line of the
/// nearest `[header]` at or above it, 0 for the top-level keys. A missing
/// top-level key is reported at line 1, which is top level too.
fn table_of(src: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    src.lines()
        .take(line)
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with('['))
        .map(|(i, _)| i + 1)
        .last()
        .unwrap_or(0)
}

fn build(
    id: &str,
    file: &Path,
    raw: RawExport,
    settings: &Settings,
    cx: &mut Cx,
) -> Option<Export> {
    if let Some(k) = &raw.api_key {
        cx.invalid(k.span(), "an inline `api_key` is not allowed: keys belong to a connection in acsync.toml, via api_key_env, api_key_file or api_key_credential");
    }
    let connection = connection(id, raw.connection.as_ref(), settings, cx);
    let list_id = list_id(raw.list_id.as_ref(), cx);
    let tz = match &raw.timezone {
        Some(t) => values::timezone(t.get_ref())
            .map_err(|m| cx.invalid(t.span(), m))
            .ok(),
        None => Some(chrono_tz::UTC),
    };
    // A bad time zone must not hide a bad cron expression: check it in UTC.
    let schedule = match &raw.schedule {
        Some(s) => values::schedule(s.get_ref().trim(), tz.unwrap_or(chrono_tz::UTC))
            .map_err(|m| cx.invalid(s.span(), m))
            .ok()
            .filter(|_| tz.is_some()),
        None => missing(cx, "schedule", "a cron expression such as \"*/30 * * * *\""),
    };
    let limits = limits(&raw, cx);
    let history_retention = history_retention(&raw, settings, cx);
    let source = source(file, raw.source, cx);
    let mapping = mapping(raw.mapping, cx);
    Some(Export {
        id: id.to_string(),
        file: file.to_path_buf(),
        sha256: sha256_hex(cx.src.as_bytes()),
        connection: connection?,
        list_id: list_id?,
        schedule: schedule?,
        enabled: raw.enabled.unwrap_or(true),
        prune: limits.prune,
        max_removals: limits.max_removals,
        max_profiles: limits.max_profiles,
        allow_empty: raw.allow_empty.unwrap_or(false),
        exclude_automations: raw.exclude_automations.unwrap_or(false),
        tags: tags(raw.tags, cx),
        full_read_every: limits.full_read_every,
        drift_check_every: limits.drift_check_every,
        history_retention,
        source: source?,
        mapping: mapping?,
    })
}

/// Lowercase hex SHA-256 of `bytes` (the status file's `config_sha256`).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn missing<T>(cx: &mut Cx, key: &str, hint: &str) -> Option<T> {
    let message = format!("missing key `{key}` ({hint})");
    cx.error(ErrorKind::MissingKey, 0..0, message);
    None
}

fn connection(
    id: &str,
    raw: Option<&Spanned<String>>,
    settings: &Settings,
    cx: &mut Cx,
) -> Option<Arc<Connection>> {
    let Some(name) = raw else {
        return missing(
            cx,
            "connection",
            "the name of a [connections.NAME] in acsync.toml",
        );
    };
    let (span, name) = (name.span(), name.get_ref());
    if let Some(c) = settings.connections.get(name) {
        if allows(c, id) {
            return Some(c.clone());
        }
        cx.error(
            ErrorKind::ConnectionNotAllowed,
            span,
            format!(
                "connection `{name}` does not allow export `{id}` (its allowed_exports: {})",
                c.allowed_exports.join(", ")
            ),
        );
    } else if settings.broken.contains(name) {
        let kind = ErrorKind::BrokenConnection {
            connection: name.clone(),
        };
        cx.error(kind, span, broken_connection(name));
    } else {
        let known: Vec<&str> = settings.connections.keys().map(String::as_str).collect();
        let all = known
            .iter()
            .copied()
            .chain(settings.broken.iter().map(String::as_str));
        cx.error(
            ErrorKind::UnknownConnection,
            span,
            format!(
                "unknown connection `{}`{} (acsync.toml defines: {})",
                shown(name),
                suggest::hint(name, all),
                list_or_none(&known)
            ),
        );
    }
    None
}

/// The error of an export whose connection is invalid: the root cause is in
/// `acsync.toml`, reported there once (`Folder::errors` of `load` folds these).
fn broken_connection(name: &str) -> String {
    format!(
        "connection `{name}` is invalid (see acsync.toml): this export is skipped until it is fixed"
    )
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn list_id(raw: Option<&Spanned<i64>>, cx: &mut Cx) -> Option<u64> {
    match raw {
        None => missing(cx, "list_id", "the ActiveCampaign list ID"),
        Some(v) if *v.get_ref() > 0 => Some(*v.get_ref() as u64),
        Some(v) => {
            cx.invalid(v.span(), "list_id must be a positive list ID");
            None
        }
    }
}

struct Limits {
    prune: Prune,
    max_removals: RemovalLimit,
    max_profiles: u64,
    full_read_every: Duration,
    drift_check_every: Duration,
}

/// The documented defaults (docs/configuration.md): a full read weekly,
/// a drift check daily in between.
pub const DEFAULT_FULL_READ_EVERY: Duration = Duration::from_secs(7 * 24 * 3600);
pub const DEFAULT_DRIFT_CHECK_EVERY: Duration = Duration::from_secs(24 * 3600);

fn limits(raw: &RawExport, cx: &mut Cx) -> Limits {
    let mut out = Limits {
        prune: Prune::Owned,
        max_removals: RemovalLimit::Percent(10.0),
        max_profiles: 1_000_000,
        full_read_every: DEFAULT_FULL_READ_EVERY,
        drift_check_every: DEFAULT_DRIFT_CHECK_EVERY,
    };
    if let Some(p) = &raw.prune {
        match p.get_ref().as_str() {
            "owned" => out.prune = Prune::Owned,
            "all" => out.prune = Prune::All,
            "none" => out.prune = Prune::None,
            other => cx.invalid(
                p.span(),
                format!(
                    "prune must be \"owned\", \"all\" or \"none\", not `{}`{}",
                    shown(other),
                    suggest::hint(other, ["owned", "all", "none"])
                ),
            ),
        }
    }
    if let Some(m) = &raw.max_removals {
        let parsed = match m.get_ref() {
            RawLimit::Count(n) if *n >= 0 => Ok(RemovalLimit::Count(*n as u64)),
            RawLimit::Count(_) => Err("max_removals must not be negative".to_string()),
            RawLimit::Text(t) => values::removal_limit_text(t),
        };
        match parsed {
            Ok(l) => out.max_removals = l,
            Err(msg) => cx.invalid(m.span(), msg),
        }
    }
    if let Some(m) = &raw.max_profiles {
        match u64::try_from(*m.get_ref()) {
            Ok(n) if n > 0 => out.max_profiles = n,
            _ => cx.invalid(m.span(), "max_profiles must be a positive count"),
        }
    }
    for (raw, value) in [
        (&raw.full_read_every, &mut out.full_read_every),
        (&raw.drift_check_every, &mut out.drift_check_every),
    ] {
        if let Some(d) = raw {
            match values::duration(d.get_ref()) {
                Ok(v) => *value = v,
                Err(msg) => cx.invalid(d.span(), msg),
            }
        }
    }
    out
}

/// The export's own `history_retention`, else the daemon's.
fn history_retention(raw: &RawExport, settings: &Settings, cx: &mut Cx) -> Duration {
    let fallback = settings.daemon.history_retention;
    let Some(d) = &raw.history_retention else {
        return fallback;
    };
    values::duration(d.get_ref()).unwrap_or_else(|msg| {
        cx.invalid(d.span(), msg);
        fallback
    })
}

fn tags(raw: Option<Spanned<Vec<String>>>, cx: &mut Cx) -> Vec<String> {
    let Some(raw) = raw else { return Vec::new() };
    let span = raw.span();
    let mut out = Vec::new();
    for t in raw.into_inner() {
        if t.trim().is_empty() {
            cx.invalid(span.clone(), "tags must not be empty strings");
        } else if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

fn source(file: &Path, raw: Option<Spanned<RawSource>>, cx: &mut Cx) -> Option<Source> {
    let Some(raw) = raw else {
        return missing(
            cx,
            "[source]",
            "where the segment comes from: kind and path or query",
        );
    };
    let header = raw.span();
    let raw = raw.into_inner();
    if let Some(u) = &raw.url {
        cx.invalid(u.span(), "`url` is not allowed in [source]: a connection string may hold a password; put it in an environment variable and name it with `url_env`");
    }
    let Some(kind) = &raw.kind else {
        cx.error(
            ErrorKind::MissingKey,
            header,
            "[source] needs `kind` (csv, jsonl, sqlite or postgres)",
        );
        return None;
    };
    let base = source_base(file);
    match kind.get_ref().as_str() {
        k @ ("csv" | "jsonl") => file_source(k, base, &raw, header, cx),
        "sqlite" => sqlite_source(base, &raw, header, cx),
        "postgres" => postgres(&raw, header, cx),
        other => {
            cx.invalid(
                kind.span(),
                format!(
                    "source kind must be csv, jsonl, sqlite or postgres, not `{}`{}",
                    shown(other),
                    suggest::hint(other, ["csv", "jsonl", "sqlite", "postgres"])
                ),
            );
            None
        }
    }
}

/// `kind = "csv"` or `"jsonl"`: a path (against the export file's folder)
/// and a read timeout.
fn file_source(
    kind: &str,
    base: &Path,
    raw: &RawSource,
    header: Range<usize>,
    cx: &mut Cx,
) -> Option<Source> {
    unused(
        cx,
        kind,
        &[
            ("query", &raw.query),
            ("url_env", &raw.url_env),
            ("statement_timeout", &raw.statement_timeout),
        ],
    );
    // Both are checked before either `?`, so that every error is reported.
    let path = required(cx, &raw.path, header, "path").map(|p| base.join(p));
    let timeout = read_timeout(raw, cx);
    let (path, timeout) = (path?, timeout?);
    Some(if kind == "csv" {
        Source::Csv { path, timeout }
    } else {
        Source::Jsonl { path, timeout }
    })
}

/// `kind = "sqlite"`: a database path, a query and a read timeout.
fn sqlite_source(
    base: &Path,
    raw: &RawSource,
    header: Range<usize>,
    cx: &mut Cx,
) -> Option<Source> {
    unused(
        cx,
        "sqlite",
        &[
            ("url_env", &raw.url_env),
            ("statement_timeout", &raw.statement_timeout),
        ],
    );
    let path = required(cx, &raw.path, header.clone(), "path").map(|p| base.join(p));
    let (query, timeout) = (
        required(cx, &raw.query, header, "query"),
        read_timeout(raw, cx),
    );
    Some(Source::Sqlite {
        path: path?,
        query: query?,
        timeout: timeout?,
    })
}

fn postgres(raw: &RawSource, header: Range<usize>, cx: &mut Cx) -> Option<Source> {
    unused(
        cx,
        "postgres",
        &[("path", &raw.path), ("timeout", &raw.timeout)],
    );
    let url_env = required(cx, &raw.url_env, header.clone(), "url_env");
    let query = required(cx, &raw.query, header, "query");
    let statement_timeout = match &raw.statement_timeout {
        None => Some(Duration::from_secs(600)),
        Some(t) => values::duration(t.get_ref())
            .map_err(|m| cx.invalid(t.span(), m))
            .ok(),
    };
    Some(Source::Postgres {
        url_env: url_env?,
        query: query?,
        statement_timeout: statement_timeout?,
    })
}

/// `[source] timeout` of a file kind: a duration above zero (zero would fail
/// every read), [`DEFAULT_SOURCE_TIMEOUT`] when absent.
fn read_timeout(raw: &RawSource, cx: &mut Cx) -> Option<Duration> {
    let Some(t) = &raw.timeout else {
        return Some(DEFAULT_SOURCE_TIMEOUT);
    };
    match values::duration(t.get_ref()) {
        Ok(d) if d.is_zero() => {
            cx.invalid(t.span(), "`timeout` must be above zero, e.g. \"10m\"");
            None
        }
        Ok(d) => Some(d),
        Err(m) => {
            cx.invalid(t.span(), m);
            None
        }
    }
}

fn required(
    cx: &mut Cx,
    v: &Option<Spanned<String>>,
    header: Range<usize>,
    key: &str,
) -> Option<String> {
    match v {
        Some(v) if !v.get_ref().trim().is_empty() => Some(v.get_ref().clone()),
        Some(v) => {
            cx.invalid(v.span(), format!("`{key}` is empty"));
            None
        }
        None => {
            let message = format!("[source] needs `{key}` for this kind");
            cx.error(ErrorKind::MissingKey, header, message);
            None
        }
    }
}

fn unused(cx: &mut Cx, kind: &str, keys: &[(&str, &Option<Spanned<String>>)]) {
    for (key, v) in keys {
        if let Some(v) = v {
            cx.invalid(
                v.span(),
                format!("`{key}` is not used by source kind {kind}"),
            );
        }
    }
}

fn mapping(raw: Option<Spanned<RawMapping>>, cx: &mut Cx) -> Option<Mapping> {
    let Some(raw) = raw else {
        return missing(cx, "[mapping]", "at least `email = \"<column>\"`");
    };
    let header = raw.span();
    let raw = raw.into_inner();
    let column = |cx: &mut Cx, v: Option<Spanned<String>>| -> Option<String> {
        let v = v?;
        if v.get_ref().trim().is_empty() {
            cx.invalid(v.span(), "a mapped column name must not be empty");
            return None;
        }
        Some(v.into_inner())
    };
    let email = match raw.email {
        Some(e) => column(cx, Some(e)),
        None => {
            cx.error(ErrorKind::MissingKey, header, "[mapping] needs `email = \"<column>\"`: the segment column holding the email address");
            None
        }
    };
    let mut fields = std::collections::BTreeMap::new();
    for (key, col) in raw.fields {
        let k = key.get_ref().trim();
        let ok = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            cx.invalid(key.span(), format!("custom field `{}` must be a personalization tag (e.g. COMPANY) or a numeric field id", shown(k)));
        }
        let key = if k.chars().all(|c| c.is_ascii_digit()) {
            k.to_string()
        } else {
            k.to_ascii_uppercase()
        };
        if let Some(col) = column(cx, Some(col)) {
            fields.insert(key, col);
        }
    }
    Some(Mapping {
        email: email?,
        first_name: column(cx, raw.first_name),
        last_name: column(cx, raw.last_name),
        phone: column(cx, raw.phone),
        fields,
    })
}
