//! `acsync check --online`: asks each valid export's account whether its
//! list and its mapped custom fields exist (read-only `GET /lists/{id}` and
//! `GET /fields`, the fields once per connection), and locates an unknown
//! one at its key in the export file (`exports/vip.toml:14:1: custom field
//! `NOSUCH` ...`), the way the offline check locates a bad value.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::activecampaign::{ApiError, FieldDef};
use crate::config::raw::RawExport;
use crate::config::{self, Export, Located};
use crate::run::{RunError, Runner, RunnerPaths, fields};

/// The problems found online in the named export files (every valid export
/// when `files` is empty). Exports with offline errors are not asked about.
pub fn errors(config_dir: &Path, files: &[PathBuf]) -> anyhow::Result<Vec<Located>> {
    let folder = config::load_folder(config_dir);
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let named: Vec<PathBuf> = files.iter().map(|f| canon(f)).collect();
    let exports: Vec<&Export> = folder
        .exports
        .iter()
        .filter(|e| named.is_empty() || named.contains(&canon(&e.file)))
        .filter_map(|e| e.result.as_ref().ok())
        .collect();
    if exports.is_empty() {
        return Ok(Vec::new());
    }
    let runner = Runner::new(RunnerPaths::new(config_dir, &folder.settings.daemon));
    let rt = super::runtime()?;
    Ok(rt.block_on(async {
        let mut cache = HashMap::new();
        let mut out = Vec::new();
        for e in exports {
            out.extend(check_export(&runner, e, &mut cache).await);
        }
        out
    }))
}

/// Where the keys of one export file are.
struct Spans {
    src: String,
    connection: Option<Range<usize>>,
    list_id: Option<Range<usize>>,
    fields: Vec<(String, Range<usize>)>,
}

impl Spans {
    fn read(file: &Path) -> Spans {
        let src = std::fs::read_to_string(file).unwrap_or_default();
        let raw = toml::from_str::<RawExport>(&src).ok();
        let (connection, list_id, fields) = match raw {
            Some(r) => (
                r.connection.map(|c| c.span()),
                r.list_id.map(|l| l.span()),
                (r.mapping
                    .map(|m| m.into_inner().fields)
                    .unwrap_or_default()
                    .into_keys())
                .map(|k| (k.get_ref().clone(), k.span()))
                .collect(),
            ),
            None => (None, None, Vec::new()),
        };
        Spans {
            src,
            connection,
            list_id,
            fields,
        }
    }

    fn at(&self, file: &Path, span: Option<&Range<usize>>, message: String) -> Located {
        match span {
            Some(s) => Located::at(file, &self.src, s.start, message),
            None => Located::whole_file(file, message),
        }
    }

    fn field(&self, key: &str) -> Option<&Range<usize>> {
        self.fields
            .iter()
            .find(|(k, _)| k == key || k.trim().eq_ignore_ascii_case(key.trim()))
            .map(|(_, s)| s)
    }
}

/// Field lists by connection name: read once per connection.
type Cache = HashMap<String, Result<Vec<FieldDef>, String>>;

async fn check_export(runner: &Runner, export: &Export, cache: &mut Cache) -> Vec<Located> {
    let file = &export.file;
    let spans = Spans::read(file);
    let unreachable = |e: &dyn std::fmt::Display| {
        spans.at(
            file,
            spans.connection.as_ref(),
            format!("cannot check online: {e}"),
        )
    };
    let client = match runner.client_for(&export.connection) {
        Ok(c) => c,
        Err(e) => return vec![unreachable(&e)],
    };
    let mut out = Vec::new();
    match client.get_list(export.list_id).await {
        Ok(_) => {}
        Err(e @ ApiError::ListNotFound { .. }) => {
            out.push(spans.at(file, spans.list_id.as_ref(), e.to_string()));
        }
        Err(e) => return vec![unreachable(&e)],
    }
    if export.mapping.fields.is_empty() {
        return out;
    }
    let name = export.connection.name.clone();
    if !cache.contains_key(&name) {
        let defs = client.fields().await.map_err(|e| e.to_string());
        cache.insert(name.clone(), defs);
    }
    match cache.get(&name) {
        Some(Ok(defs)) => {
            for key in export.mapping.fields.keys() {
                if let Err(u) = fields::resolve(std::iter::once(key), defs) {
                    let e = RunError::UnknownField {
                        key: u.key,
                        hint: u.hint,
                    };
                    out.push(spans.at(file, spans.field(key), e.to_string()));
                }
            }
        }
        Some(Err(e)) => out.push(unreachable(e)),
        None => {}
    }
    out
}
