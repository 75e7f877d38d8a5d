//! `acsync check --online`: whether each export's list and mapped custom
//! fields exist on its account (the run's own [`crate::target_check`]),
//! each problem located at its key in the export file
//! (`exports/vip.toml:14:1: custom field `NOSUCH` ...`), the way the
//! offline check locates a bad value.

use crate::config::key_spans::KeySpans;
use crate::config::{ErrorKind, Export, Located};
use crate::run::{RunError, Runner};
use crate::target_check::{self, AccountFields, ListCheck};

/// The problems of `exports` on their accounts; the fields of an account
/// are read once.
pub async fn errors(runner: &Runner, exports: &[&Export]) -> Vec<Located> {
    let mut fields = AccountFields::default();
    let mut out = Vec::new();
    for e in exports {
        out.extend(export_errors(runner, e, &mut fields).await);
    }
    out
}

async fn export_errors(
    runner: &Runner,
    export: &Export,
    fields: &mut AccountFields,
) -> Vec<Located> {
    let spans = KeySpans::read(&export.file);
    let unreachable = |e: &dyn std::fmt::Display| {
        let message = format!("cannot check online: {e}");
        spans.at_connection(ErrorKind::AccountUnreachable, message)
    };
    let client = match runner.client_for(&export.connection) {
        Ok(c) => c,
        Err(e) => return vec![unreachable(&e)],
    };
    let mut out = Vec::new();
    match target_check::list(&client, export.list_id).await {
        Ok(ListCheck::Exists(_)) => {}
        Ok(ListCheck::Missing(e)) => {
            out.push(spans.at_list_id(ErrorKind::MissingList, e.to_string()));
        }
        Err(e) => return vec![unreachable(&e)],
    }
    if export.mapping.fields.is_empty() {
        return out;
    }
    let defs = match fields.of(&export.connection.name, &client).await {
        Ok(d) => d,
        Err(e) => {
            out.push(unreachable(&e));
            return out;
        }
    };
    for (key, found) in target_check::field_keys(export, defs) {
        if let Err(u) = found {
            let message = RunError::from(u).to_string();
            out.push(spans.at_field(ErrorKind::UnknownField, key, message));
        }
    }
    out
}
