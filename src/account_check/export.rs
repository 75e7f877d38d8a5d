//! The checks of one export on its account: its list exists (check 3),
//! its segment reads, every mapped field exists and the segment's first
//! values fit it (check 4), and the list read returns per-list statuses
//! (check 5); see docs/verification.md. Every request is a GET.

use super::connection::REACH_FIX;
use super::{Finding, plural};
use crate::activecampaign::{Client, FieldDef};
use crate::config::{Export, Source};
use crate::model::{ListStatus, LiveMember};
use crate::run::RunError;
use crate::run::cross_check::{self, SAMPLE_PER_STATUS};
use crate::run::fields::convert;
use crate::segment::Segment;
use crate::source::SourceError;
use crate::target_check::{self, AccountFields, ListCheck};

/// Checks 3, 4 and 5 of one export, and whether its segment can be read.
pub async fn export(client: &Client, export: &Export, fields: &mut AccountFields) -> Vec<Finding> {
    let scope = format!("export {}", export.id);
    let mut out = Vec::new();
    let list = list(client, export, &scope).await;
    let list_ok = list.severity == super::Severity::Ok;
    out.push(list);
    let segment = match crate::source::read_async(&export.source, &export.mapping).await {
        Ok(s) => {
            out.push(Finding::ok(&scope, "segment", describe(&s)));
            Some(s)
        }
        Err(e) => {
            // A mapped column or key the segment lacks is a [mapping] problem
            // (or the segment's); anything else is the [source]'s.
            let table = match e {
                SourceError::MissingColumn { .. } | SourceError::MissingKey { .. } => {
                    "the [mapping] (or the segment)"
                }
                _ => "the [source]",
            };
            let fix = format!(
                "fix {table} of {} so that it can be read (a run fails the same way)",
                export.file.display()
            );
            out.push(Finding::fail(&scope, "segment", e.to_string(), &fix));
            None
        }
    };
    out.extend(mapped_fields(client, export, &scope, segment.as_ref(), fields).await);
    if list_ok {
        out.push(statuses(client, export, &scope).await);
    }
    out
}

/// The finding of an export whose connection failed its checks.
pub fn not_checked(e: &Export) -> Finding {
    Finding::fail(
        &format!("export {}", e.id),
        "account checks",
        format!("not run: connection {} failed above", e.connection.name),
        "fix the connection first",
    )
}

/// Check 3: the list exists (its name shown).
async fn list(client: &Client, export: &Export, scope: &str) -> Finding {
    match target_check::list(client, export.list_id).await {
        Ok(ListCheck::Exists(l)) => {
            Finding::ok(scope, "list", format!("list {} \"{}\"", l.id, l.name))
        }
        Ok(ListCheck::Missing(e)) => Finding::fail(
            scope,
            "list",
            e.to_string(),
            &format!(
                "set `list_id` in {} to the id of an existing list (the number in the list's address in ActiveCampaign), or create the list",
                export.file.display()
            ),
        ),
        Err(e) => Finding::fail(scope, "list", e.to_string(), REACH_FIX),
    }
}

fn describe(s: &Segment) -> String {
    format!(
        "{} read: {} ({} invalid, {} duplicate)",
        plural(s.source_rows, "row"),
        plural(s.profiles.len() as u64, "profile"),
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
    fields: &mut AccountFields,
) -> Vec<Finding> {
    if export.mapping.fields.is_empty() {
        return Vec::new();
    }
    let defs = match fields.of(&export.connection.name, client).await {
        Ok(d) => d,
        Err(e) => return vec![Finding::fail(scope, "fields", e, REACH_FIX)],
    };
    let fix = format!(
        "create the field in ActiveCampaign (Contacts > Manage Fields), or change this key under [mapping.fields] in {} to a tag or id the account has",
        export.file.display()
    );
    target_check::field_keys(export, defs)
        .into_iter()
        .map(|(key, found)| match found {
            Ok(def) => field_fit(scope, key, &def, segment, &export.source),
            Err(u) => {
                let e = RunError::from(u);
                Finding::fail(scope, &format!("field {key}"), e.to_string(), &fix)
            }
        })
        .collect()
}

/// How many of the segment's first values each mapped field is tried with.
pub const FIRST_VALUES: usize = 20;

/// Check 4 for one field the account has: its type, and whether the
/// segment's first values for it fit (the conversion a run makes). `source`
/// names the rows of a value that does not.
pub fn field_fit(
    scope: &str,
    key: &str,
    def: &FieldDef,
    segment: Option<&Segment>,
    source: &Source,
) -> Finding {
    let check = format!("field {key}");
    let Some(segment) = segment else {
        return Finding::warn(
            scope,
            &check,
            format!(
                "{} exists; its values were not tried (the segment could not be read)",
                def.describe()
            ),
            "fix the segment check first",
        );
    };
    let values: Vec<(u64, &str)> = segment
        .profiles
        .iter()
        .filter_map(|p| {
            p.fields
                .custom()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (p.row, v))
        })
        .take(FIRST_VALUES)
        .collect();
    let refused: Vec<String> = values
        .iter()
        .filter_map(|(row, v)| {
            convert(def, v)
                .err()
                .map(|why| format!("{}: {why}", source.row_place(*row)))
        })
        .collect();
    let n = values.len();
    match refused.first() {
        None if n == 0 => Finding::ok(
            scope,
            &check,
            format!("{}; no value in the segment to try", def.describe()),
        ),
        None => Finding::ok(
            scope,
            &check,
            format!(
                "{}; the first {} fit",
                def.describe(),
                plural(n as u64, "value")
            ),
        ),
        Some(first) => Finding::fail(
            scope,
            &check,
            format!(
                "{}; {} of the first {} do not fit, e.g. {first}",
                def.describe(),
                refused.len(),
                plural(n as u64, "value")
            ),
            "correct these values in the source (or the field's type or options in ActiveCampaign); a run sends such a contact without the value and reports its row",
        ),
    }
}

/// The fix when the list read does not return per-list statuses.
const STATUS_FIX: &str = "this account's list read filters `status` by another list's status, so acsync cannot tell who is subscribed to this list: do not run `acsync sync` against it (every run would fail the same cross-check before writing); report this line to the acsync maintainers";

/// Check 5: the list read (its first page of each status, by the run's own
/// request) returns per-list statuses, cross-checked on a sample against
/// each contact's `/contacts/{id}/contactLists`, as a run's full read is.
async fn statuses(client: &Client, export: &Export, scope: &str) -> Finding {
    let mut live: Vec<LiveMember> = Vec::new();
    for status in ListStatus::ALL {
        match client.first_members(export.list_id, status).await {
            Ok(m) => live.extend(m),
            Err(e) => return Finding::fail(scope, "list statuses", e.to_string(), REACH_FIX),
        }
    }
    if live.is_empty() {
        return Finding::warn(
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
        Ok(()) => Finding::ok(
            scope,
            "list statuses",
            format!(
                "the list read agrees with /contacts/{{id}}/contactLists for {} sampled members",
                sampled.join(", ")
            ),
        ),
        Err(e @ RunError::ReadMismatch { .. }) => {
            Finding::fail(scope, "list statuses", e.to_string(), STATUS_FIX)
        }
        Err(e) => Finding::fail(scope, "list statuses", e.to_string(), REACH_FIX),
    }
}
