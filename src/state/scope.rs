//! Where ownership lives (SPEC §4c): "A contact's ownership is recorded per
//! account (the connection's API host, normalised: scheme, case, trailing
//! `/` and `/api/3` removed) and list. It survives moving or renaming the
//! export file and changing `list_id` away and back."
//!
//! A scope is `ACCOUNT#list=ID`. Member rows and the batch journal are keyed
//! by it, not by export id, so an export file that moves (`emea/vip.toml`
//! to `vip.toml`) finds what it owns, a `list_id` changed away and back
//! resumes it, and `https://Acme.api-us1.com/api/3/` is the same account as
//! `acme.api-us1.com`. Loopback names (`localhost`, `127.x.x.x`, `::1`) are
//! one host: a simulator or a tunnel on this machine.

use crate::config::Export;

/// The normalised account of an API URL: host (and a non-default port, and
/// any path before `/api/3`), lowercased, without scheme or trailing `/`.
pub fn account_key(url: &str) -> String {
    let url = url.trim().to_lowercase();
    let rest = (url.strip_prefix("https://"))
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

/// The scope recorded in a stored export fingerprint, of this version
/// (`SCOPE|mapping`) or of 0.1 (`https://host/api/3#list=7|mapping`).
pub fn scope_of_fingerprint(fingerprint: &str) -> Option<String> {
    let target = fingerprint.split('|').next()?;
    let (account, list) = target.rsplit_once("#list=")?;
    let list: u64 = list.parse().ok()?;
    Some(format!("{}#list={list}", account_key(account)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosmetic_url_changes_are_one_account() {
        let same = [
            "acme.api-us1.com",
            "https://acme.api-us1.com",
            "https://Acme.API-us1.com/",
            "https://acme.api-us1.com/api/3",
            "HTTPS://acme.api-us1.com/api/3/",
            "https://acme.api-us1.com:443/api/3",
        ];
        for u in same {
            assert_eq!(account_key(u), "acme.api-us1.com", "{u}");
        }
        assert_eq!(account_key("http://127.0.0.1:9/api/3"), "loopback:9");
        assert_eq!(account_key("http://localhost:9"), "loopback:9");
        assert_eq!(account_key("http://[::1]:9/"), "loopback:9");
        assert_ne!(
            account_key("http://127.0.0.1:9"),
            account_key("http://127.0.0.1:10")
        );
        assert_ne!(
            account_key("acme.api-us1.com"),
            account_key("acme2.api-us1.com")
        );
    }

    #[test]
    fn scopes_of_old_and_new_fingerprints() {
        let old = "http://127.0.0.1:9/api/3#list=7|Mapping { email: \"e\" }";
        assert_eq!(
            scope_of_fingerprint(old).as_deref(),
            Some("loopback:9#list=7")
        );
        let new = "loopback:9#list=7|abc";
        assert_eq!(
            scope_of_fingerprint(new).as_deref(),
            Some("loopback:9#list=7")
        );
        assert_eq!(scope_of_fingerprint("garbage"), None);
    }
}
