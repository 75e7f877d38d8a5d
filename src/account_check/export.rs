//! The checks of one export on its account: its list exists (check 3),
//! its segment reads, every mapped field exists and the segment's first
//! values fit it (check 4), and the list read returns per-list statuses
//! (check 5), and the drift check's filter is honoured; see
//! docs/verification.md. Every request is a GET.

use super::connection::REACH_FIX;
use super::{Finding, plural};
use crate::activecampaign::changed::ChangedRead;
use crate::activecampaign::{ApiError, Client, FieldDef};
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
        let started = chrono::Utc::now().timestamp();
        match first_pages(client, export).await {
            Ok(live) => {
                out.push(statuses(client, export, &scope, &live, started).await);
                out.push(removal_check(client, export, &scope, &live).await);
                out.push(drift_filter(client, export, &scope).await);
            }
            Err(e) => out.push(Finding::fail(
                &scope,
                "list statuses",
                e.to_string(),
                REACH_FIX,
            )),
        }
    }
    out
}

/// The first page of the list's members of each status, by the run's own
/// request.
async fn first_pages(client: &Client, export: &Export) -> Result<Vec<LiveMember>, ApiError> {
    let mut live = Vec::new();
    for status in ListStatus::ALL {
        live.extend(client.first_members(export.list_id, status).await?);
    }
    Ok(live)
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
async fn statuses(
    client: &Client,
    export: &Export,
    scope: &str,
    live: &[LiveMember],
    started: i64,
) -> Finding {
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
    match cross_check::sample(export, client, live, started).await {
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

/// How many members the removal check's probe asks for.
const REMOVAL_SAMPLE: usize = 5;

/// The read a run makes right before unsubscribing (`ids[]` with each
/// contact's side-loaded rows, docs/verification.md) answers as acsync
/// needs: every asked member comes back, with its own row on the list, in
/// the status the list read shows. Read-only, one request.
async fn removal_check(
    client: &Client,
    export: &Export,
    scope: &str,
    live: &[LiveMember],
) -> Finding {
    const CHECK: &str = "removal check";
    let sample: Vec<&LiveMember> = live.iter().take(REMOVAL_SAMPLE).collect();
    if sample.is_empty() {
        return Finding::ok(scope, CHECK, "no member to ask for yet");
    }
    let ids: Vec<u64> = sample.iter().map(|m| m.contact_id).collect();
    let checked = match client.members_among(export.list_id, &ids).await {
        Ok(c) => c,
        Err(e) => return Finding::fail(scope, CHECK, e.to_string(), REMOVAL_FIX),
    };
    let wrong: Vec<String> = sample
        .iter()
        .filter_map(|m| {
            let shown = checked
                .iter()
                .find(|c| c.id == m.contact_id)
                .and_then(|c| c.row.as_ref())
                .map(|r| r.status);
            (shown != Some(m.status)).then(|| {
                let shown = shown.map_or("no row".to_string(), |s| s.to_string());
                format!(
                    "contact {} ({} in the list read, {shown} in its own row)",
                    m.contact_id, m.status
                )
            })
        })
        .collect();
    if wrong.is_empty() {
        return Finding::ok(
            scope,
            CHECK,
            format!(
                "`ids[]` with `include=contactLists` answered {} asked, each with its own row",
                plural(sample.len() as u64, "member")
            ),
        );
    }
    Finding::fail(
        scope,
        CHECK,
        format!("the read by `ids[]` disagrees: {}", wrong.join("; ")),
        REMOVAL_FIX,
    )
}

/// The drift check's read (docs/run-rules.md, drift checks) is honoured:
/// asked for the members updated after tomorrow, the list answers none.
/// An account that ignores `filters[updated_after]` answers every member:
/// each drift check then finds "more than half the list changed" and reads
/// in full, which is safe but costs a full read. Read-only, one request.
async fn drift_filter(client: &Client, export: &Export, scope: &str) -> Finding {
    const CHECK: &str = "drift check";
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    match client.changed_members(export.list_id, tomorrow, 0).await {
        Ok(ChangedRead::Read(rows)) if rows.is_empty() => Finding::ok(
            scope,
            CHECK,
            "`filters[updated_after]` is honoured: no member updated after tomorrow",
        ),
        Ok(ChangedRead::Read(rows)) => Finding::warn(
            scope,
            CHECK,
            format!(
                "`filters[updated_after]` answered {} updated after tomorrow",
                plural(rows.len() as u64, "member")
            ),
            DRIFT_FIX,
        ),
        Ok(ChangedRead::TooMany(n)) => Finding::warn(
            scope,
            CHECK,
            format!(
                "`filters[updated_after]` is not honoured: {} updated after tomorrow",
                plural(n, "member")
            ),
            DRIFT_FIX,
        ),
        Err(e) => Finding::fail(scope, CHECK, e.to_string(), REACH_FIX),
    }
}

/// The fix when the account does not honour the drift check's filter.
const DRIFT_FIX: &str = "every drift check on this account reads the list in full instead (safe, but a request per 100 members): set drift_check_every to full_read_every, and report this line to the acsync maintainers";

/// The fix when the read before an unsubscribe does not answer as needed.
const REMOVAL_FIX: &str = "acsync unsubscribes a member only when its own row, read this way, shows it active: on this account removals are left as they are (each run says why); report this line to the acsync maintainers";
