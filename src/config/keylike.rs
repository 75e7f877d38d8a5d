//! Telling an API key (or another random token) from a name: validation
//! refuses key-like values where a name belongs, and redaction hides them.
//! A leaf: both `key` and `redact` use it without depending on each other.

/// Whether a value looks like an API key (or another random token): 32 or
/// more characters of ASCII letters, digits and `-_+/=`, and one of
/// * only hex digits and `-`, with at least one digit (ActiveCampaign keys
///   are 72 hex digits; UUIDs);
/// * at least a quarter digits, as random tokens have;
/// * base64-like: two or more of upper case, lower case and digits, changing
///   class at least every 2.5 characters on average (random text changes
///   class about 2 times in 3; words and `CamelCase` names far less).
///
/// Variable names (`ACTIVECAMPAIGN_API_KEY_2`), paths (they have `.` or few
/// class changes) and names made of words (`activecampaign-production-key-2024`)
/// are not keys.
pub fn looks_like_key(s: &str) -> bool {
    let s = s.trim();
    let chars = s.chars().count();
    if chars < 32
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/' | '='))
    {
        return false;
    }
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let hex_digits = s.chars().filter(char::is_ascii_hexdigit).count();
    let hexish = s.chars().all(|c| c.is_ascii_hexdigit() || c == '-') && hex_digits >= 32;
    digits > 0 && (hexish || digits * 4 >= chars) || base64_like(s, chars)
}

/// See [`looks_like_key`]: mixed classes that change often.
fn base64_like(s: &str, chars: usize) -> bool {
    let class = |c: char| match c {
        'a'..='z' => 0u8,
        'A'..='Z' => 1,
        '0'..='9' => 2,
        _ => 3,
    };
    let classes = [0u8, 1, 2]
        .iter()
        .filter(|k| s.chars().any(|c| class(c) == **k))
        .count();
    let bytes: Vec<u8> = s.chars().map(class).collect();
    let changes = bytes.windows(2).filter(|w| w[0] != w[1]).count();
    classes >= 2 && changes * 5 >= chars * 2
}
