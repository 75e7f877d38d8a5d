//! Text from outside (segment values, ActiveCampaign's answers, addresses)
//! made safe to print on a terminal: `status`, `plan`, `history` and
//! `explain` show such text through [`printable`] only, so a value cannot
//! move the cursor, recolour the screen, fake a line of output or reorder
//! what follows it (see docs/commands.md, "Text from the data").

use std::borrow::Cow;

/// `s` with every character that acts on a terminal escaped as Rust writes
/// it (`\n`, `\t`, `\u{1b}`, `\u{202e}`): control characters (C0, DEL, C1)
/// and the invisible direction marks and overrides. A backslash is doubled,
/// so that an escape shown is never a backslash the data held. Everything
/// else, accents and emoji included, is kept as it is.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(acts_on_terminal) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if acts_on_terminal(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` [`printable`] in double quotes, a double quote inside escaped: how
/// `plan` and `explain` show a field value.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", printable(s).replace('"', "\\\""))
}

fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::{printable, quoted};

    #[test]
    fn controls_and_direction_overrides_are_escaped_the_rest_kept() {
        assert_eq!(printable("Zoë 🎉 José"), "Zoë 🎉 José");
        assert!(matches!(printable("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(printable("a\nb\tc\r"), "a\\nb\\tc\\r");
        assert_eq!(printable("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(printable("x\u{202e}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(printable("\u{9b}"), "\\u{9b}");
        assert_eq!(
            printable("a\\nb"),
            "a\\\\nb",
            "a backslash is not an escape"
        );
        assert_eq!(quoted("Ann \"the\"\nGreat"), r#""Ann \"the\"\nGreat""#);
    }
}
