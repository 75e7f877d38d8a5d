//! A folder-level rule (see docs/ownership.md, shared lists): `prune = "all"`
//! on a list that another export also targets is a `check` error (it would
//! unsubscribe the other export's members). The error sits on the `prune`
//! key of each such export, and the export is not run.

use std::collections::HashMap;

use super::account::scope_of;
use super::error::{ErrorKind, Located};
use super::types::LoadedExport;
use crate::model::Prune;

/// Turns every valid `prune = "all"` export that shares its list with
/// another export of the folder into an invalid one, located at `prune`.
pub fn refuse_prune_all_on_shared_lists(exports: &mut [LoadedExport]) {
    let mut by_scope: HashMap<String, Vec<String>> = HashMap::new();
    for e in exports.iter() {
        if let Ok(x) = &e.result {
            by_scope.entry(scope_of(x)).or_default().push(e.id.clone());
        }
    }
    for e in exports.iter_mut() {
        let Ok(x) = &e.result else { continue };
        if x.prune != Prune::All {
            continue;
        }
        let others: Vec<String> = by_scope
            .get(&scope_of(x))
            .into_iter()
            .flatten()
            .filter(|id| **id != e.id)
            .cloned()
            .collect();
        if others.is_empty() {
            continue;
        }
        let quoted: Vec<String> = others.iter().map(|id| format!("`{id}`")).collect();
        let message = format!(
            "prune = \"all\" on list {} that export {} also targets would unsubscribe their members; use prune = \"owned\" on a shared list",
            x.list_id,
            quoted.join(", ")
        );
        let kind = ErrorKind::PruneAllOnSharedList { others };
        e.result = Err(vec![at_prune_key(kind, &e.file, message)]);
    }
}

fn at_prune_key(kind: ErrorKind, file: &std::path::Path, message: String) -> Located {
    let src = std::fs::read_to_string(file).unwrap_or_default();
    let mut offset = 0;
    for line in src.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with("prune") && t["prune".len()..].trim_start().starts_with('=') {
            let at = offset + (line.len() - t.len());
            return Located::at(kind, file, &src, at, message);
        }
        offset += line.len();
    }
    Located::whole_file(kind, file, message)
}
