//! Where ownership lives (docs/ownership.md): "A contact's ownership is recorded per
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

// The account and scope of an export are configuration facts (a folder-level
// check of `config` needs them too): they live in `config::account`.
pub use crate::config::account::{account_key, scope_of};

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
