//! What a configuration error may show of a value (see docs/configuration.md,
//! validation): never something that looks like an API key, never more than a
//! short prefix.
//!
//! Two layers. [`shown`] is used where a message quotes a value the user
//! wrote (a cron expression, a host, a key name): key-like values are
//! replaced by a placeholder, others cut to [`MAX_SHOWN`] characters. [`scrub`]
//! is the safety net every `Located` message goes through (parser
//! and serde messages quote values too): it hides key-like tokens anywhere in
//! the text, cuts long runs and caps the whole message. Pure; no IO.

use super::keylike::looks_like_key;

/// How many characters of a value a message shows.
pub const MAX_SHOWN: usize = 40;
/// Shown instead of a value that looks like an API key.
pub const HIDDEN: &str = "<hidden: looks like an API key>";
/// A run of non-space characters longer than this is cut by [`scrub`].
const MAX_RUN: usize = 120;
/// No message is longer than this (characters), whatever it quotes.
const MAX_MESSAGE: usize = 1000;

/// Whether any token of `s` looks like an API key. Tokens are runs of the
/// characters keys are made of (letters, digits, `-_+/=`), also split at `/`
/// and `=` so that a key at the end of a URL path or after `name=` is found.
pub fn has_key(s: &str) -> bool {
    tokens(s).any(|(_, t)| token_is_key(t))
}

fn token_is_key(t: &str) -> bool {
    part_is_key(t) || t.split(['/', '=']).any(part_is_key)
}

/// A key, or a run that starts with one (a key with text glued to it would
/// otherwise show its first [`MAX_SHOWN`] characters once cut). Runs of
/// thousands of characters are not keys themselves: only their start is
/// looked at, which keeps a 5 MB value cheap.
fn part_is_key(t: &str) -> bool {
    const KEY_LEN: usize = 72;
    let start = |n: usize| t.char_indices().nth(n).map(|(i, _)| &t[..i]);
    if t.len() > 4096 {
        return start(KEY_LEN).is_some_and(looks_like_key);
    }
    looks_like_key(t) || start(KEY_LEN).is_some_and(looks_like_key)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/' | '=')
}

/// The maximal runs of token characters of `s`, with their byte offsets.
fn tokens(s: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = s.char_indices().peekable();
    std::iter::from_fn(move || {
        while rest.peek().is_some_and(|&(_, c)| !is_token_char(c)) {
            rest.next();
        }
        let (start, _) = *rest.peek()?;
        let mut end = start;
        while let Some(&(i, c)) = rest.peek() {
            if !is_token_char(c) {
                break;
            }
            end = i + c.len_utf8();
            rest.next();
        }
        Some((start, &s[start..end]))
    })
}

/// `value` as an error message may quote it: [`HIDDEN`] if it holds
/// something key-like, else its first [`MAX_SHOWN`] characters (`…` marks a
/// cut), control characters escaped so the message stays on one line.
pub fn shown(value: &str) -> String {
    if has_key(value) {
        return HIDDEN.to_string();
    }
    let mut out = escape_controls(value.chars().take(MAX_SHOWN));
    if value.chars().nth(MAX_SHOWN).is_some() {
        out.push('…');
    }
    out
}

fn escape_controls(chars: impl Iterator<Item = char>) -> String {
    let mut out = String::new();
    for c in chars {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The safety net over a whole message: key-like tokens hidden, runs of
/// more than 120 non-space characters cut to [`MAX_SHOWN`], control
/// characters escaped, at most 1,000 characters in all.
pub fn scrub(message: &str) -> String {
    let mut hidden = String::with_capacity(message.len().min(4 * MAX_MESSAGE));
    let mut last = 0;
    for (start, t) in tokens(message) {
        if token_is_key(t) {
            hidden.push_str(&message[last..start]);
            hidden.push_str(HIDDEN);
            last = start + t.len();
        }
    }
    hidden.push_str(&message[last..]);
    let mut out = String::new();
    for (i, word) in hidden.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.chars().nth(MAX_RUN).is_some() {
            out.push_str(&escape_controls(word.chars().take(MAX_SHOWN)));
            out.push('…');
        } else {
            out.push_str(&escape_controls(word.chars()));
        }
        if out.len() > 4 * MAX_MESSAGE {
            break;
        }
    }
    if out.chars().nth(MAX_MESSAGE).is_some() {
        out = out.chars().take(MAX_MESSAGE).collect();
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "5f1c0a9e3b7d4c2a8e6f0b1d3c5a7e9f2b4d6c8a0e1f3b5d7c9a2e4f6b8d0c1a3e5f7b9d12345678";

    #[test]
    fn keys_are_hidden_wherever_they_sit() {
        for v in [
            KEY.to_string(),
            format!("https://{KEY}.api-us1.com"),
            format!("https://acme.api-us1.com/{KEY}"),
            format!("acme.api-us1.com?api_key={KEY}"),
            format!("the key is `{KEY}`, see"),
            format!("{KEY}{}", "x".repeat(10_000)),
            "dGhpcyBpcyBhIHNlY3JldCB0b2tlbiBmb3IgdGVzdGluZw==".to_string(),
        ] {
            assert_eq!(shown(&v), HIDDEN, "{v}");
            let s = scrub(&format!("bad value `{v}` here"));
            assert!(!s.contains(KEY) && s.contains(HIDDEN), "{s}");
        }
    }

    #[test]
    fn ordinary_values_are_kept_or_cut() {
        assert_eq!(shown("*/30 * * * *"), "*/30 * * * *");
        assert_eq!(shown("Europe/Madrid"), "Europe/Madrid");
        assert_eq!(shown("line\nbreak"), "line\\nbreak");
        let long = "x".repeat(5_000_000);
        let s = shown(&long);
        assert_eq!(s.chars().count(), MAX_SHOWN + 1);
        assert!(s.ends_with('…'));
        let m = scrub(&format!(
            "bad `{}` and `{}`",
            &long[..1_000_000],
            "a b ".repeat(250_000)
        ));
        assert!(m.chars().count() <= MAX_MESSAGE + 1, "{}", m.len());
        assert_eq!(
            scrub("unknown field `lst_id`, expected `list_id`"),
            "unknown field `lst_id`, expected `list_id`"
        );
    }
}
