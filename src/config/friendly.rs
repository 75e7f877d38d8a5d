//! The TOML parser's and serde's messages rewritten for a person (see
//! docs/configuration.md, validation): `invalid type: string "x", expected
//! i64` and `data did not match any variant of untagged enum RawLimit` become
//! "`list_id` must be a whole number …, not text", naming the key (found in
//! the source at the error's span) and what it accepts; unknown keys get a
//! "did you mean". The value itself is never quoted. Pure.

use std::ops::Range;

use super::error::ErrorKind;
use super::redact::shown;
use super::suggest;

/// The kind and message for a parse error `message` at `span` of `src`.
pub fn message(message: &str, src: &str, span: Range<usize>) -> (ErrorKind, String) {
    let message = message.trim_end();
    if message.starts_with("unknown field `api_key`") {
        let inline = "an inline `api_key` is not allowed: keep the key out of TOML and use api_key_env, api_key_file or api_key_credential in acsync.toml";
        return (ErrorKind::UnknownKey, inline.into());
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        return (ErrorKind::UnknownKey, unknown_key(rest));
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        return (
            ErrorKind::MissingKey,
            format!("missing key `{}`", shown(field)),
        );
    }
    let type_error = [
        "invalid type: ",
        "invalid value: ",
        "invalid length ",
        "unknown variant ",
    ]
    .iter()
    .any(|p| message.starts_with(p))
        || message.starts_with("data did not match any variant");
    if !type_error {
        return (ErrorKind::Syntax, message.to_string());
    }
    (ErrorKind::WrongType, wrong_type(message, src, span))
}

/// `invalid type: string "x", expected i64` at `span` → a sentence naming
/// the key and what it accepts.
fn wrong_type(message: &str, src: &str, span: Range<usize>) -> String {
    let Some((table, key)) = key_at(src, span.start) else {
        return "this value has the wrong type here".into();
    };
    let expected = message.rsplit_once(", expected ").map(|(_, e)| e);
    let wants = accepted(&table, &key)
        .map(str::to_string)
        .or_else(|| expected.map(type_words))
        .unwrap_or_else(|| "of another type".into());
    let found = message
        .strip_prefix("invalid type: ")
        .map(|f| format!(", not {}", found_words(f)))
        .unwrap_or_default();
    let what = if table == "mapping.fields" {
        " (a custom field)"
    } else {
        ""
    };
    format!("`{}`{what} must be {wants}{found}", shown(&key))
}

/// `lst_id`, expected one of `connection`, `list_id`, … → a sentence.
fn unknown_key(rest: &str) -> String {
    let (key, tail) = rest.split_once('`').unwrap_or((rest, ""));
    let mut allowed: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    // Declared only to be refused: never suggested. `url` in [source] is
    // refused in favour of `url_env`.
    let source = allowed.contains(&"url_env");
    allowed.retain(|k| *k != "api_key" && !(source && *k == "url"));
    let hint = suggest::hint(key, allowed.iter().copied());
    let list = if allowed.is_empty() {
        "none".to_string()
    } else {
        allowed.join(", ")
    };
    format!("unknown key `{}`{hint}; allowed here: {list}", shown(key))
}

/// The table (`""` at the top, `source`, `connections.prod`) and the key
/// whose value holds byte `offset`: the last `KEY =` before it.
fn key_at(src: &str, offset: usize) -> Option<(String, String)> {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let eq = before.rfind('=')?;
    let start = before[..eq].rfind(['\n', '{', ',']).map_or(0, |i| i + 1);
    let key = before[start..eq].trim().trim_matches(['"', '\'']);
    let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if key.is_empty() || !key.chars().all(bare) {
        return None;
    }
    let table = before[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(['[', ']', ' ']).to_string())
        .unwrap_or_default();
    // `[connections.prod]` and `[connections."prod"]` read the same.
    let table = match table.split_once('.') {
        Some(("connections", _)) => "connections.*".to_string(),
        _ => table,
    };
    Some((table, key.to_string()))
}

/// What a key accepts, in words, for the keys of both file kinds.
fn accepted(table: &str, key: &str) -> Option<&'static str> {
    const COLUMN: &str = "a column name in quotes (e.g. \"email\")";
    const DURATION: &str = "a duration in quotes (e.g. \"24h\", \"90m\") or \"0\"";
    const BOOL: &str = "true or false (without quotes)";
    const PATH: &str = "a path in quotes";
    Some(match (table, key) {
        ("", "connection") => {
            "the name of a [connections.NAME] of acsync.toml, in quotes (e.g. \"prod\")"
        }
        ("", "list_id") => {
            "a whole number without quotes, the ActiveCampaign list ID (e.g. list_id = 12)"
        }
        ("", "schedule") => "a cron expression in quotes (e.g. \"*/30 * * * *\" or \"@daily\")",
        ("", "timezone") => "an IANA time zone name in quotes (e.g. \"Europe/Madrid\")",
        ("", "enabled" | "allow_empty" | "exclude_automations") => BOOL,
        ("", "prune") => "\"owned\", \"all\" or \"none\"",
        ("", "max_removals") => {
            "a count (e.g. 25) or a percent of current members in quotes (e.g. \"10%\")"
        }
        ("", "max_profiles") => "a positive whole number without quotes (e.g. 1000000)",
        ("", "tags") => "a list of tag names (e.g. [\"vip\", \"newsletter\"])",
        ("", "full_read_every" | "drift_check_every" | "history_retention") => DURATION,
        ("", "source") => "a [source] table (kind, path or query)",
        ("", "mapping") => "a [mapping] table (email = \"<column>\", …)",
        ("", "daemon") => "a [daemon] table",
        ("", "connections") => "tables [connections.NAME]",
        ("source", "kind") => "\"csv\", \"jsonl\", \"sqlite\" or \"postgres\"",
        ("source", "path") => PATH,
        ("source", "query") => "an SQL query in quotes",
        ("source", "url_env") => "the name of an environment variable in quotes",
        ("source", "statement_timeout" | "timeout") => DURATION,
        ("mapping", "fields") => "a [mapping.fields] table (TAG = \"<column>\")",
        ("mapping" | "mapping.fields", _) => COLUMN,
        ("daemon", "state_dir" | "status_dir") => PATH,
        ("daemon", "history_retention") => DURATION,
        ("daemon", "log_format") => "\"text\" or \"json\"",
        ("daemon", "metrics_listen") => "a socket address in quotes (e.g. \"127.0.0.1:9464\")",
        ("connections.*", "url") => "the API URL in quotes (e.g. \"https://acme.api-us1.com\")",
        ("connections.*", "api_key_env") => "the name of an environment variable in quotes",
        ("connections.*", "api_key_file") => PATH,
        ("connections.*", "api_key_credential") => "a systemd credential name in quotes",
        ("connections.*", "accept_data_transfer") => "true (without quotes)",
        ("connections.*", "requests_per_second") => "a whole number from 1 to 100, without quotes",
        ("connections.*", "allowed_exports") => {
            "a list of export name patterns (e.g. [\"marketing/*\"])"
        }
        _ => return None,
    })
}

/// serde's "expected …" in words.
fn type_words(expected: &str) -> String {
    let e = expected.trim();
    let int = (e.starts_with('i') || e.starts_with('u'))
        && e.len() > 1
        && e[1..].chars().all(|c| c.is_ascii_digit());
    if int {
        "a whole number (without quotes)".into()
    } else if e.contains("boolean") {
        "true or false (without quotes)".into()
    } else if e.contains("string") {
        "text in quotes".into()
    } else if e.contains("sequence") {
        "a list in brackets".into()
    } else if e.starts_with("struct") || e.contains("map") {
        "a table".into()
    } else {
        "of another type".into()
    }
}

/// serde's "invalid type: …" (what was found) in words, without the value.
fn found_words(found: &str) -> &'static str {
    let found = found.split(", expected").next().unwrap_or(found);
    match found.split([' ', ':']).next().unwrap_or("") {
        "string" | "char" => "text",
        "integer" if found.contains(" as i128") || found.contains(" as u128") => {
            "a number too large"
        }
        "integer" => "a number",
        "floating" => "a decimal number",
        "boolean" => "true/false",
        "sequence" => "a list",
        "map" => "a table (or a date)",
        _ => "this kind of value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(src: &str, needle: &str, msg: &str) -> String {
        let i = src.find(needle).expect("needle");
        let (kind, text) = message(msg, src, i..i + needle.len());
        assert_eq!(kind, ErrorKind::WrongType, "{text}");
        text
    }

    #[test]
    fn type_errors_name_the_key_and_what_it_accepts() {
        let src = "connection = \"x\"\nlist_id = \"twelve\"\n";
        assert_eq!(
            at(
                src,
                "\"twelve\"",
                "invalid type: string \"twelve\", expected i64"
            ),
            "`list_id` must be a whole number without quotes, the ActiveCampaign list ID (e.g. list_id = 12), not text"
        );
        let src = "max_removals = -3.5\n";
        assert_eq!(
            at(
                src,
                "-3.5",
                "data did not match any variant of untagged enum RawLimit"
            ),
            "`max_removals` must be a count (e.g. 25) or a percent of current members in quotes (e.g. \"10%\")"
        );
        let src = "[connections.prod]\nrequests_per_second = \"5\"\n";
        assert!(
            at(src, "\"5\"", "invalid type: string \"5\", expected i64")
                .starts_with("`requests_per_second` must be a whole number from 1 to 100")
        );
        let src = "[mapping.fields]\nCOMPANY = 1\n";
        assert_eq!(
            at(src, "1", "invalid type: integer `1`, expected a string"),
            "`COMPANY` (a custom field) must be a column name in quotes (e.g. \"email\"), not a number"
        );
        let src = "tags = [\"a\", 1]\n";
        assert!(
            at(src, "1]", "invalid type: integer `1`, expected a string")
                .starts_with("`tags` must be a list")
        );
        let src = "list_id = 99999999999999999999999\n";
        assert!(
            at(
                src,
                "999",
                "invalid type: integer `99999999999999999999999` as i128, expected i64"
            )
            .ends_with("not a number too large")
        );
    }

    #[test]
    fn unknown_keys_get_a_suggestion_and_the_allowed_list() {
        let (kind, m) = message(
            "unknown field `lst_id`, expected one of `connection`, `list_id`, `api_key`, `source`",
            "",
            0..0,
        );
        assert_eq!(kind, ErrorKind::UnknownKey);
        assert_eq!(
            m,
            "unknown key `lst_id` (did you mean `list_id`?); allowed here: connection, list_id, source"
        );
        let (_, m) = message(
            "unknown field `pth`, expected one of `kind`, `path`, `url_env`, `url`",
            "",
            0..0,
        );
        assert_eq!(
            m,
            "unknown key `pth` (did you mean `path`?); allowed here: kind, path, url_env"
        );
    }

    #[test]
    fn no_serde_internals_survive() {
        for (src, needle, msg) in [
            (
                "enabled = \"yes\"",
                "\"yes\"",
                "invalid type: string \"yes\", expected a boolean",
            ),
            (
                "source = 3",
                "3",
                "invalid type: integer `3`, expected struct RawSource",
            ),
            ("x = 3", "3", "invalid type: integer `3`, expected i64"),
        ] {
            let m = at(src, needle, msg);
            for internal in ["RawSource", "i64", "invalid type", "\"yes\""] {
                assert!(!m.contains(internal), "{m}");
            }
        }
    }
}
