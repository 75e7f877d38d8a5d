//! The account and list an export writes to, as ownership is keyed (see
//! docs/ownership.md): the connection's API host, normalised (scheme, case,
//! trailing `/` and `/api/3` removed; loopback names are one host), and the
//! list id. A configuration fact, used by the folder-level check of shared
//! lists and by the state database (`state::scope_of` re-exports it).

use super::types::Export;

/// The normalised account of an API URL: host (and a non-default port, and
/// any path before `/api/3`), lowercased, without scheme or trailing `/`.
pub fn account_key(url: &str) -> String {
    let url = url.trim().to_lowercase();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(&url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut path = path.trim_end_matches('/');
    path = path.strip_suffix("api/3").unwrap_or(path);
    let path = path.trim_matches('/');
    let host = host
        .strip_suffix(":443")
        .or_else(|| host.strip_suffix(":80"))
        .unwrap_or(host);
    let (name, port) = split_port(host);
    let name = if is_loopback(name) { "loopback" } else { name };
    let mut key = format!("{name}{port}");
    if !path.is_empty() {
        key.push('/');
        key.push_str(path);
    }
    key
}

/// `host:port` into (`host`, `:port`); IPv6 literals keep their brackets.
fn split_port(host: &str) -> (&str, &str) {
    match host.rfind(':') {
        Some(i)
            if !host[i..].contains(']') && host[i + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            host.split_at(i)
        }
        _ => (host, ""),
    }
}

fn is_loopback(name: &str) -> bool {
    name == "localhost"
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The scope of an export: its account and list.
pub fn scope_of(export: &Export) -> String {
    format!(
        "{}#list={}",
        account_key(export.connection.base_url.as_str()),
        export.list_id
    )
}
