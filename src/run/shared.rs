//! Several exports of one configuration folder on one list (docs/ownership.md): "an
//! export never unsubscribes a contact that another export of the list
//! still has in its segment [...] Conflicting field values for one contact
//! are reported as `conflicts` and resolved the same way every time."
//!
//! The exports of a shared list record their wanted sets in the state
//! database (see [`crate::state::Wanted`]). A sibling is an export of this
//! folder that targets the same list, or one whose file still exists but
//! is invalid right now and that last ran there or recorded a wanted set
//! there (its last wishes still count). A sibling that never recorded a
//! set holds every removal back until it has. An export whose file is gone
//! is no sibling: it is retired (`run::retired`).

use std::collections::HashMap;
use std::path::Path;

use crate::config::{Export, Folder};
use crate::plan::{OtherExports, OtherWant};
use crate::state::{RecordedExport, Wanted, scope_of};

/// The ids of `export`'s siblings on `scope`, sorted, given the wanted
/// rows of the others on `scope` and every recorded export.
pub fn siblings(
    folder: &Folder,
    export: &Export,
    scope: &str,
    rows: &[Wanted],
    recorded: &[RecordedExport],
) -> Vec<String> {
    let ran_here = |id: &str| {
        let recorded_here =
            |r: &RecordedExport| r.export == id && r.scope.as_deref() == Some(scope);
        rows.iter().any(|r| r.export == id) || recorded.iter().any(recorded_here)
    };
    let mut ids: Vec<String> = folder
        .exports
        .iter()
        .filter(|e| e.id != export.id)
        .filter(|e| match &e.result {
            Ok(other) => scope_of(other) == scope,
            Err(_) => ran_here(&e.id),
        })
        .map(|e| e.id.clone())
        .collect();
    ids.sort();
    ids
}

/// What the siblings want, from their recorded rows: per email the wish of
/// the sibling whose id sorts first (so every export picks the same one).
pub fn others(export_id: &str, siblings: &[String], rows: Vec<Wanted>) -> OtherExports {
    let mut wanted: HashMap<String, OtherWant> = HashMap::new();
    let mut recorded: Vec<&str> = Vec::new();
    for r in &rows {
        if !siblings.contains(&r.export) {
            continue;
        }
        if !recorded.contains(&r.export.as_str()) {
            recorded.push(&r.export);
        }
        let first = wanted.get(&r.email).is_none_or(|o| r.export < o.export);
        if first {
            let want = OtherWant {
                export: r.export.clone(),
                hash: r.hash,
                wins: r.export.as_str() < export_id,
            };
            wanted.insert(r.email.clone(), want);
        }
    }
    let silent: Vec<&String> = siblings
        .iter()
        .filter(|s| !recorded.contains(&s.as_str()))
        .collect();
    let hold_removals = (!silent.is_empty()).then(|| {
        let names: Vec<String> = silent.iter().map(|s| format!("`{s}`")).collect();
        format!(
            "export {} targets the same list and has not recorded its segment yet; removals wait for its next run",
            names.join(", ")
        )
    });
    OtherExports {
        wanted,
        hold_removals,
        retired: Default::default(),
    }
}

/// The configuration folder of a runner, loaded to find siblings.
pub fn load(config_root: &Path) -> Folder {
    crate::config::load_folder(config_root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(export: &str, email: &str, hash: u64) -> Wanted {
        Wanted {
            export: export.into(),
            email: email.into(),
            hash,
        }
    }

    #[test]
    fn the_first_export_by_id_wins_and_silent_siblings_hold_removals() {
        let sibs = vec!["a".to_string(), "c".to_string(), "d".to_string()];
        let rows = vec![
            row("c", "x@x.io", 3),
            row("a", "x@x.io", 1),
            row("c", "y@x.io", 3),
            row("gone", "z@x.io", 9),
        ];
        let o = others("b", &sibs, rows);
        assert_eq!(o.wanted["x@x.io"].export, "a");
        assert!(o.wanted["x@x.io"].wins, "a sorts before b");
        assert!(!o.wanted["y@x.io"].wins, "c sorts after b");
        assert!(!o.wanted.contains_key("z@x.io"), "not a sibling any more");
        let hold = o.hold_removals.expect("d never recorded");
        assert!(hold.contains("`d`"), "{hold}");
        let o = others(
            "b",
            &sibs[..2],
            vec![row("a", "x@x.io", 1), row("c", "x@x.io", 2)],
        );
        assert_eq!(o.hold_removals, None);
    }
}
