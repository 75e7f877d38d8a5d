//! What each export of a shared list wants there (docs/ownership.md): its segment's
//! emails with the hash of the values it sends. Written only while another
//! export of this configuration targets the same list; read by the others
//! so that none unsubscribes a contact another still has in its segment,
//! and conflicting values are resolved the same way every time.

use rusqlite::{TransactionBehavior, params};

use super::{At, StateDb, StateError};

/// One row of another export's wanted set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub export: String,
    pub email: String,
    pub hash: u64,
}

impl StateDb {
    /// Makes `export`'s wanted set on `scope` exactly `rows` (email, hash),
    /// and forgets what it wanted on any other scope (it left that list).
    /// `rows` empty: the list is not shared (any more); nothing is kept.
    pub fn replace_wanted<'a>(
        &mut self,
        scope: &str,
        export: &str,
        rows: impl Iterator<Item = (&'a str, u64)>,
    ) -> Result<(), StateError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&self.path)?;
        tx.execute("DELETE FROM wanted WHERE export = ?1", [export])
            .at(&self.path)?;
        {
            let mut stmt = tx
                .prepare_cached("INSERT OR REPLACE INTO wanted (scope, export, email, hash) VALUES (?1, ?2, ?3, ?4)")
                .at(&self.path)?;
            for (email, hash) in rows {
                stmt.execute(params![scope, export, email, hash as i64])
                    .at(&self.path)?;
            }
        }
        tx.commit().at(&self.path)
    }

    /// Every row other exports wrote for `scope`.
    pub fn wanted_by_others(&self, scope: &str, export: &str) -> Result<Vec<Wanted>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT export, email, hash FROM wanted WHERE scope = ?1 AND export <> ?2",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map(params![scope, export], |r| {
                Ok(Wanted {
                    export: r.get(0)?,
                    email: r.get(1)?,
                    hash: r.get::<_, i64>(2)? as u64,
                })
            })
            .at(&self.path)?
            .collect::<Result<_, _>>()
            .at(&self.path)?;
        Ok(rows)
    }
}
