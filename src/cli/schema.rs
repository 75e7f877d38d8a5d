//! `acsync schema` (hidden): the JSON Schemas of `acsync.toml` and of export
//! files, derived from the raw config types so that they cannot drift from
//! what the parser accepts. Committed under `schema/` for TOML editors
//! (Taplo / Even Better TOML read a `#:schema PATH` directive); a test fails
//! when the committed files are stale.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::Value;

use crate::config::raw::{RawExport, RawSettings};

/// Which file a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaFile {
    /// `acsync.toml`.
    Settings,
    /// `exports/**/NAME.toml`.
    Export,
}

impl SchemaFile {
    pub const ALL: [SchemaFile; 2] = [SchemaFile::Settings, SchemaFile::Export];

    /// The committed file name under `schema/`.
    pub fn file_name(self) -> &'static str {
        match self {
            SchemaFile::Settings => "acsync.schema.json",
            SchemaFile::Export => "export.schema.json",
        }
    }

    /// The schema as pretty JSON with a final newline (the committed bytes).
    pub fn render(self) -> String {
        let schema = match self {
            SchemaFile::Settings => generate::<RawSettings>(),
            SchemaFile::Export => generate::<RawExport>(),
        };
        let mut text = serde_json::to_string_pretty(&schema).expect("a schema is JSON");
        text.push('\n');
        text
    }
}

/// Draft-07: the newest draft every TOML editor's validator understands.
fn generate<T: JsonSchema>() -> Value {
    let schema: Schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut value = schema.to_value();
    tidy(&mut value);
    value
}

/// TOML has no null: an optional key is simply absent, so the `null` that
/// schemars adds for `Option<T>` would only offer editors a value that does
/// not exist. The `int64` formats are dropped too: not standard JSON Schema
/// formats, and the ranges that matter are given as minimum/maximum.
fn tidy(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| f.contains("int"))
            {
                map.remove("format");
            }
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(alts)) = map.get_mut(key) {
                    alts.retain(|a| a.get("type").is_none_or(|t| t != "null"));
                }
            }
            map.values_mut().for_each(tidy);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// Writes every schema into `dir`.
pub fn write_all(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for f in SchemaFile::ALL {
        std::fs::write(dir.join(f.file_name()), f.render())?;
    }
    Ok(())
}

/// `acsync schema [FILE] [--write DIR]`.
pub fn run(file: Option<SchemaFile>, write: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    if let Some(dir) = write {
        write_all(&dir)?;
        eprintln!("acsync schema: wrote {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", file.unwrap_or(SchemaFile::Export).render());
    Ok(ExitCode::SUCCESS)
}
