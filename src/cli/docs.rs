//! Documentation generated from the clap definitions, so it never disagrees
//! with `--help`: `acsync completions SHELL` (clap_complete) and `acsync man`
//! (clap_mangen, one page with a section per command). The file formats'
//! pages, acsync.toml(5) and acsync-export(5), are generated from the JSON
//! Schemas (themselves derived from the parser's types), so every key, type,
//! default and description is the one `acsync check` and editors use. The
//! packaged copies under `packaging/` are these outputs, checked fresh by
//! tests.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use roff::{Roff, bold, italic, roman};
use serde_json::Value;

use super::Cli;
use super::schema::SchemaFile;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    std::io::stdout().write_all(&completion_script(shell))?;
    Ok(ExitCode::SUCCESS)
}

/// The completion script for `shell`.
pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "acsync", &mut out);
    out
}

/// Prints the manual page (roff) on stdout.
pub fn man() -> anyhow::Result<ExitCode> {
    std::io::stdout().write_all(&man_page()?)?;
    Ok(ExitCode::SUCCESS)
}

/// acsync(1): clap_mangen's standard sections, then every command with its
/// arguments, exit status, environment, files and examples.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let cmd = Cli::command();
    let page = clap_mangen::Man::new(cmd.clone()).manual("acsync manual");
    let mut out = Vec::new();
    page.render_title(&mut out)?;
    page.render_name_section(&mut out)?;
    page.render_synopsis_section(&mut out)?;
    page.render_description_section(&mut out)?;
    commands_section(&cmd).to_writer(&mut out)?;
    static_sections().to_writer(&mut out)?;
    page.render_version_section(&mut out)?;
    Ok(out)
}

/// COMMANDS: each visible subcommand's usage, about and arguments.
fn commands_section(cmd: &clap::Command) -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut sub = sub.clone().bin_name(format!("acsync {}", sub.get_name()));
        let usage = sub.render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ").to_string();
        r.control("TP", []).text([bold(usage)]);
        if let Some(about) = sub.get_about() {
            r.text([roman(about.to_string())]);
        }
        r.control("RS", []);
        // `--help` is on every command: listing it each time is noise.
        let args = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && a.get_id() != "help");
        for arg in args {
            r.control("TP", []).text(arg_label(arg));
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            r.text([roman(help)]);
        }
        r.control("RE", []);
    }
    r
}

/// `--format <FORMAT>`, `[FILES]...`: how an argument is written.
fn arg_label(arg: &clap::Arg) -> Vec<roff::Inline> {
    let value = arg
        .get_value_names()
        .and_then(|v| v.first())
        .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string);
    let mut label = if arg.is_positional() {
        vec![italic(value.clone())]
    } else {
        vec![bold(format!("--{}", arg.get_long().unwrap_or_default()))]
    };
    if !arg.is_positional() && arg.get_action().takes_values() {
        label.push(roman(" "));
        label.push(italic(value));
    }
    let possible: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if !possible.is_empty() {
        label.push(roman(format!(" ({})", possible.join(", "))));
    }
    label
}

/// The sections clap cannot know (exit status, environment, files,
/// examples): each a heading and its tagged paragraphs.
const STATIC_SECTIONS: &[(&str, &[(&str, &str)])] = &[
    (
        "EXIT STATUS",
        &[
            ("0", "success; plan --detailed-exitcode: nothing to change"),
            (
                "1",
                "the run, plan or check failed (sync: outcome partial, failed or blocked)",
            ),
            (
                "2",
                "bad usage; plan --detailed-exitcode: there are changes (or blocked removals)",
            ),
        ],
    ),
    (
        "ENVIRONMENT",
        &[
            (
                "ACSYNC_CONFIG_DIR",
                "the configuration folder when --config-dir is not given (default /etc/acsync)",
            ),
            ("RUST_LOG", "log level filter, e.g. info or acsync=debug"),
            ("NO_COLOR", "set: acsync status prints no colours"),
            (
                "STATE_DIRECTORY, CREDENTIALS_DIRECTORY",
                "set by systemd: the default state folder, and where api_key_credential keys are read",
            ),
        ],
    ),
    (
        "FILES",
        &[
            (
                "/etc/acsync/acsync.toml",
                "daemon settings and ActiveCampaign connections",
            ),
            (
                "/etc/acsync/exports/**/NAME.toml",
                "one export per file; NAME is its id",
            ),
            (
                "/etc/acsync/exports/**/NAME.status.json",
                "written by acsync next to each export",
            ),
            (
                "/var/lib/acsync",
                "the state database (ownership, run journal) and locks",
            ),
        ],
    ),
    (
        "EXAMPLES",
        &[
            (
                "acsync check --config-dir config --format github",
                "validate a configuration repository in GitHub Actions",
            ),
            (
                "acsync plan emea/vip --json --detailed-exitcode",
                "what a run would change, for a review bot",
            ),
            (
                "acsync status --watch",
                "the status table, redrawn every 2 seconds",
            ),
        ],
    ),
];

/// [`STATIC_SECTIONS`] as roff, then SEE ALSO.
fn static_sections() -> Roff {
    let mut r = Roff::new();
    for (heading, paragraphs) in STATIC_SECTIONS {
        r.control("SH", [*heading]);
        for (tag, text) in *paragraphs {
            r.control("TP", []).text([bold(*tag)]).text([roman(*text)]);
        }
    }
    r.control("SH", ["SEE ALSO"]);
    r.text([roman("systemctl(1), journalctl(1), systemd.service(5)")]);
    r
}

/// What a file-format page says beyond its schema.
struct PageInfo {
    /// The page name: `acsync.toml`, `acsync-export`.
    name: &'static str,
    /// The NAME line's summary.
    summary: &'static str,
    /// Where such files live.
    path: &'static str,
    see_also: &'static str,
}

fn page_info(file: SchemaFile) -> PageInfo {
    match file {
        SchemaFile::Settings => PageInfo {
            name: "acsync.toml",
            summary: "acsync daemon settings and ActiveCampaign connections",
            path: "/etc/acsync/acsync.toml",
            see_also: "acsync(1), acsync-export(5), systemd.exec(5)",
        },
        SchemaFile::Export => PageInfo {
            name: "acsync-export",
            summary: "an acsync export: one segment synced to one ActiveCampaign list",
            path: "/etc/acsync/exports/**/NAME.toml",
            see_also: "acsync(1), acsync.toml(5)",
        },
    }
}

/// The packaged file name of `file`'s page: `acsync.toml.5`, `acsync-export.5`.
pub fn config_man_file_name(file: SchemaFile) -> String {
    format!("{}.5", page_info(file).name)
}

/// acsync.toml(5) or acsync-export(5), from `file`'s JSON Schema: the
/// top-level keys, then one section per table.
pub fn config_man_page(file: SchemaFile) -> Vec<u8> {
    let schema: Value = serde_json::from_str(&file.render()).unwrap_or_default();
    let info = page_info(file);
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let mut r = Roff::new();
    let version = format!("acsync {}", env!("CARGO_PKG_VERSION"));
    r.control(
        "TH",
        [
            info.name.to_uppercase().as_str(),
            "5",
            "",
            &version,
            "acsync manual",
        ],
    );
    r.control("SH", ["NAME"]);
    r.text([roman(format!("{} - {}", info.name, info.summary))]);
    r.control("SH", ["SYNOPSIS"]);
    r.text([bold(info.path)]);
    r.control("SH", ["DESCRIPTION"]);
    r.text([roman(text(&schema, "description"))]);
    r.text([roman(
        "A TOML file. Keys not listed here are refused by acsync check, with FILE:LINE:COL.",
    )]);
    let defs = schema.get("definitions").cloned().unwrap_or_default();
    let (values, tables) = split_keys(&schema, &defs);
    if !values.is_empty() {
        r.control("SH", ["KEYS"]);
        keys(&mut r, &schema, &values, &defs);
    }
    for (title, def) in tables {
        r.control("SH", [title.as_str()]);
        r.text([roman(text(def, "description"))]);
        keys(&mut r, def, &split_keys(def, &defs).0, &defs);
    }
    r.control("SH", ["SEE ALSO"]);
    r.text([roman(info.see_also)]);
    r.render().into_bytes()
}

/// The definition an object property refers to, if it is a table.
fn table_ref<'a>(prop: &'a Value, defs: &'a Value) -> Option<&'a Value> {
    let direct = prop.get("$ref").and_then(Value::as_str);
    let wrapped = ["allOf", "anyOf"].iter().find_map(|k| {
        let alts = prop.get(*k)?.as_array()?;
        (alts.len() == 1).then(|| alts[0].get("$ref")?.as_str())?
    });
    let name = direct.or(wrapped)?.rsplit('/').next()?;
    defs.get(name)
}

/// A key and its schema.
type Key<'a> = (&'a String, &'a Value);
/// A table's section title (`[daemon]`, `[connections.NAME]`) and schema.
type Table<'a> = (String, &'a Value);

/// The keys of `obj` that hold a value, and its tables (a `[name]` or
/// `[name.NAME]` of their own, for a section each).
fn split_keys<'a>(obj: &'a Value, defs: &'a Value) -> (Vec<Key<'a>>, Vec<Table<'a>>) {
    let (mut values, mut tables) = (Vec::new(), Vec::new());
    let Some(props) = obj.get("properties").and_then(Value::as_object) else {
        return (values, tables);
    };
    for (key, prop) in props {
        let by_name = prop
            .get("additionalProperties")
            .and_then(|a| table_ref(a, defs));
        match (table_ref(prop, defs), by_name) {
            (Some(def), _) if def.get("properties").is_some() => {
                tables.push((format!("[{key}]"), def));
            }
            (_, Some(def)) => tables.push((format!("[{key}.NAME]"), def)),
            _ => values.push((key, prop)),
        }
    }
    (values, tables)
}

/// One `.TP` per key: `name = type (required)`, its description, default
/// and examples.
fn keys(r: &mut Roff, obj: &Value, values: &[Key<'_>], defs: &Value) {
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (key, prop) in values {
        let mut label = vec![
            bold(key.as_str()),
            roman(" = "),
            italic(type_label(prop, defs)),
        ];
        if required.contains(&key.as_str()) {
            label.push(roman(" (required)"));
        }
        r.control("TP", []).text(label);
        let mut body = prop
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(d) = prop.get("default") {
            body.push_str(&format!(" Default: {}.", toml_value(d)));
        }
        if let Some(Value::Array(ex)) = prop.get("examples") {
            let ex: Vec<String> = ex.iter().map(toml_value).collect();
            body.push_str(&format!(" Example: {}.", ex.join(", ")));
        }
        r.text([roman(body)]);
    }
}

/// How a value is written: `string`, `integer`, `owned | all | none`, …
fn type_label(prop: &Value, defs: &Value) -> String {
    if let Some(Value::Array(e)) = prop.get("enum") {
        let names: Vec<String> = e.iter().map(toml_value).collect();
        return names.join(" | ");
    }
    match prop.get("type").and_then(Value::as_str) {
        Some("array") => {
            let item = prop
                .get("items")
                .map_or("value".into(), |i| type_label(i, defs));
            format!("array of {item}")
        }
        Some("object") => "table".to_string(),
        Some(t) => t.to_string(),
        None => {
            let alts = table_ref(prop, defs)
                .and_then(|d| d.get("anyOf"))
                .or_else(|| prop.get("anyOf"))
                .and_then(Value::as_array);
            alts.map_or("value".into(), |a| {
                let names: Vec<String> = a.iter().map(|x| type_label(x, defs)).collect();
                names.join(" or ")
            })
        }
    }
}

/// A JSON value as TOML writes it.
fn toml_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Array(a) if a.is_empty() => "[]".to_string(),
        Value::Object(o) if o.is_empty() => "{}".to_string(),
        other => other.to_string(),
    }
}
