//! The account as JSON, for `acsync simulator --state-file`: every
//! contact, list, membership, field, tag and exclusion, in a versioned
//! envelope. Batches still queued and fault knobs are not account data and
//! are not saved.

use serde::{Deserialize, Serialize};

use super::account::Account;

/// The envelope's format version; a file of another version is refused.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct Out<'a> {
    acsync_simulator_state: u32,
    account: &'a Account,
}

#[derive(Deserialize)]
struct In {
    acsync_simulator_state: u32,
    account: Account,
}

/// The account as compact JSON (a million contacts stay a few hundred MB).
pub fn to_json(account: &Account) -> Result<String, serde_json::Error> {
    let out = Out {
        acsync_simulator_state: VERSION,
        account,
    };
    serde_json::to_string(&out)
}

/// An account read back from [`to_json`]'s output, indexes rebuilt. The
/// error says what is wrong (serde's line and column included).
pub fn from_json(text: &str) -> Result<Account, String> {
    let inp: In = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if inp.acsync_simulator_state != VERSION {
        return Err(format!(
            "state format {} (this acsync reads {VERSION})",
            inp.acsync_simulator_state
        ));
    }
    let mut account = inp.account;
    account.reindex()?;
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::super::records::{ChangedBy, ContactPatch};
    use super::*;

    #[test]
    fn an_account_survives_a_round_trip_with_its_indexes() {
        let mut a = Account::default();
        let l = a.add_list("Newsletter");
        let f = a.add_field("COMPANY", "Company", "text", &[]);
        let patch = ContactPatch {
            first_name: Some("Ann".into()),
            fields: vec![(f, "Acme".into())],
            tags: vec!["vip".into()],
            ..ContactPatch::default()
        };
        let (c, _) = a.upsert_contact("Ann@X.io", patch);
        let (gone, _) = a.upsert_contact("gone@x.io", ContactPatch::default());
        assert!(a.set_membership(c, l, 1, ChangedBy::Import).is_ok());
        assert!(a.delete_contact(gone));
        a.exclude("no@x.io");
        let json = to_json(&a).expect("serialise");
        let mut b = from_json(&json).expect("load");
        assert_eq!(b.active_emails(l), a.active_emails(l));
        assert_eq!(
            b.contact_by_email("ann@x.io").map(|c| c.data.clone()),
            a.contact_by_email("ann@x.io").map(|c| c.data.clone())
        );
        assert!(b.contact_by_email("gone@x.io").is_none());
        assert!(b.is_excluded("NO@x.io"));
        assert_eq!(b.tags.id_of("VIP"), Some(1));
        // Indexes work after a load: a new contact gets the next id and a
        // status change moves between the per-status sets.
        let (n, created) = b.upsert_contact("new@x.io", ContactPatch::default());
        assert!(created);
        assert_eq!(n, 3);
        assert!(b.set_membership(c, l, 2, ChangedBy::Contact).is_ok());
        assert!(b.active_emails(l).is_empty());
    }

    #[test]
    fn a_broken_or_foreign_state_is_refused_with_a_reason() {
        assert!(from_json("{").is_err());
        let other = r#"{"acsync_simulator_state": 9, "account": {}}"#;
        let err = from_json(other).err().unwrap_or_default();
        assert!(err.contains("state format 9"), "{err}");
    }
}
