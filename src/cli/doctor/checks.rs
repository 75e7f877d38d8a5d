//! The reads of `acsync doctor`: one function per group of checks, each
//! turning what the account (or the segment) answered into verdicts through
//! [`super::verdicts`]. Every request is a GET.

use std::collections::HashMap;
use std::sync::Arc;

use super::verdicts::{self, Check};
use crate::activecampaign::{ApiError, Client, FieldDef};
use crate::config::{Connection, Export};
use crate::model::{ListStatus, LiveMember};
use crate::run::cross_check::{self, SAMPLE_PER_STATUS};
use crate::run::{RunError, Runner, fields};
use crate::segment::Segment;

/// The reads that check the key and the host (one each: lists, contacts, fields).
const PROBES: [(&str, &str); 3] = [
    ("GET /lists", "lists"),
    ("GET /contacts", "contacts"),
    ("GET /fields", "fields"),
];

/// The fix of a failure below HTTP.
const REACH_FIX: &str = "check the connection's `url` in acsync.toml and that this host can reach it (DNS, firewall, proxy)";

/// Checks 1, 2 and 6 of one connection. The client is returned only when
/// the key works on the API host: the export checks need both.
pub async fn connection(runner: &Runner, conn: &Arc<Connection>) -> (Vec<Check>, Option<Client>) {
    let scope = format!("connection {}", conn.name);
    let source = verdicts::key_source(&conn.api_key);
    let client = match runner.client_for(conn) {
        Ok(c) => c,
        Err(e) => {
            let fix = format!(
                "make {source} hold this account's API key (ActiveCampaign shows it under Settings > Developer)"
            );
            return (vec![Check::fail(&scope, "key", e.to_string(), &fix)], None);
        }
    };
    let url = conn.base_url.as_str().trim_end_matches('/').to_string();
    let mut probes = Vec::new();
    for (endpoint, path) in PROBES {
        match client.probe(endpoint, &[path]).await {
            Ok(p) => probes.push(p),
            Err(e) => {
                let found = format!("cannot read {url}/api/3/{path}: {e}");
                return (
                    vec![Check::fail(&scope, "api host", found, REACH_FIX)],
                    None,
                );
            }
        }
    }
    let checks = vec![
        verdicts::api_host(&scope, &url, &probes),
        verdicts::access(&scope, &source, &probes),
        verdicts::rate_limit(&scope, conn.requests_per_second, &probes),
    ];
    let usable = verdicts::passed(&checks[..2]);
    (checks, usable.then_some(client))
}

/// The account's fields, read once per connection.
pub type FieldCache = HashMap<String, Result<Vec<FieldDef>, String>>;

/// Checks 3, 4 and 5 of one export, and whether its segment can be read.
pub async fn export(client: &Client, export: &Export, cache: &mut FieldCache) -> Vec<Check> {
    let scope = format!("export {}", export.id);
    let mut out = Vec::new();
    let list_ok = list(client, export, &scope, &mut out).await;
    let segment = match crate::source::read_async(&export.source, &export.mapping).await {
        Ok(s) => {
            out.push(Check::ok(&scope, "segment", describe(&s)));
            Some(s)
        }
        Err(e) => {
            let fix = format!(
                "fix the [source] of {} so that it can be read (a run fails the same way)",
                export.file.display()
            );
            out.push(Check::fail(&scope, "segment", e.to_string(), &fix));
            None
        }
    };
    out.extend(mapped_fields(client, export, &scope, segment.as_ref(), cache).await);
    if list_ok {
        out.push(statuses(client, export, &scope).await);
    }
    out
}

/// Check 3: the list exists (its name shown).
async fn list(client: &Client, export: &Export, scope: &str, out: &mut Vec<Check>) -> bool {
    let check = match client.get_list(export.list_id).await {
        Ok(l) => Check::ok(scope, "list", format!("list {} \"{}\"", l.id, l.name)),
        Err(e @ ApiError::ListNotFound { .. }) => Check::fail(
            scope,
            "list",
            e.to_string(),
            &format!(
                "set `list_id` in {} to the id of an existing list (the number in the list's address in ActiveCampaign), or create the list",
                export.file.display()
            ),
        ),
        Err(e) => Check::fail(scope, "list", e.to_string(), REACH_FIX),
    };
    let ok = check.verdict == verdicts::Verdict::Ok;
    out.push(check);
    ok
}

fn describe(s: &Segment) -> String {
    format!(
        "{} read: {} ({} invalid, {} duplicate)",
        verdicts::plural(s.source_rows, "row"),
        verdicts::plural(s.profiles.len() as u64, "profile"),
        s.invalid_rows,
        s.duplicate_rows
    )
}

/// Check 4: every mapped field exists (with its type) and the segment's
/// first values fit it.
async fn mapped_fields(
    client: &Client,
    export: &Export,
    scope: &str,
    segment: Option<&Segment>,
    cache: &mut FieldCache,
) -> Vec<Check> {
    if export.mapping.fields.is_empty() {
        return Vec::new();
    }
    let name = &export.connection.name;
    if !cache.contains_key(name) {
        let defs = client.fields().await.map_err(|e| e.to_string());
        cache.insert(name.clone(), defs);
    }
    let defs = match cache.get(name) {
        Some(Ok(d)) => d,
        Some(Err(e)) => return vec![Check::fail(scope, "fields", e.clone(), REACH_FIX)],
        None => return Vec::new(),
    };
    let fix = format!(
        "create the field in ActiveCampaign (Contacts > Manage Fields), or change this key under [mapping.fields] in {} to a tag or id the account has",
        export.file.display()
    );
    export
        .mapping
        .fields
        .keys()
        .map(|key| match fields::resolve(std::iter::once(key), defs) {
            Ok(resolved) => match resolved.get(key) {
                Some(def) => verdicts::field_fit(scope, key, def, segment),
                None => Check::fail(scope, &format!("field {key}"), "not resolved", &fix),
            },
            Err(u) => {
                let e = RunError::UnknownField {
                    key: u.key,
                    hint: u.hint,
                };
                Check::fail(scope, &format!("field {key}"), e.to_string(), &fix)
            }
        })
        .collect()
}

/// The fix when the list read does not return per-list statuses.
const STATUS_FIX: &str = "this account's list read filters `status` by another list's status, so acsync cannot tell who is subscribed to this list: do not run `acsync sync` against it (every run would fail the same cross-check before writing); report this line to the acsync maintainers";

/// Check 5: the list read (its first page of each status, by the run's own
/// request) returns per-list statuses, cross-checked on a sample against
/// each contact's `/contacts/{id}/contactLists`, as a run's full read is.
async fn statuses(client: &Client, export: &Export, scope: &str) -> Check {
    let mut live: Vec<LiveMember> = Vec::new();
    for status in ListStatus::ALL {
        match client.first_members(export.list_id, status).await {
            Ok(m) => live.extend(m),
            Err(e) => return Check::fail(scope, "list statuses", e.to_string(), REACH_FIX),
        }
    }
    if live.is_empty() {
        return Check::warn(
            scope,
            "list statuses",
            format!(
                "list {} has no members yet: nothing to cross-check",
                export.list_id
            ),
            "run `acsync doctor` again after the first sync (a run cross-checks every full read anyway)",
        );
    }
    let sampled: Vec<String> = ListStatus::ALL
        .iter()
        .filter_map(|s| {
            let n = live
                .iter()
                .filter(|m| m.status == *s)
                .count()
                .min(SAMPLE_PER_STATUS);
            (n > 0).then(|| format!("{n} {}", s.as_str()))
        })
        .collect();
    match cross_check::sample(export, client, &live).await {
        Ok(()) => Check::ok(
            scope,
            "list statuses",
            format!(
                "the list read agrees with /contacts/{{id}}/contactLists for {} sampled members",
                sampled.join(", ")
            ),
        ),
        Err(e @ RunError::ReadMismatch { .. }) => {
            Check::fail(scope, "list statuses", e.to_string(), STATUS_FIX)
        }
        Err(e) => Check::fail(scope, "list statuses", e.to_string(), REACH_FIX),
    }
}
