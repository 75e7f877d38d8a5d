//! The PostgreSQL connection string of a `postgres` source: read from the
//! environment variable the export names, parsed by sqlx, and kept out of
//! every message.
//!
//! docs/configuration.md, secrets: secrets never appear in logs, status files or error
//! messages. The string may hold a password (in the user-info part or as a
//! `password=` parameter), so errors name the variable, never its value, and
//! every server or driver message is passed through a [`Redactor`] that
//! blanks the whole string and the password (raw and percent-decoded) should
//! a driver ever echo them.

use std::borrow::Cow;
use std::str::FromStr;

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

use super::SourceError;

/// Where to connect, and what must never be shown.
pub(super) struct ConnTarget {
    options: PgConnectOptions,
    redactor: Redactor,
}

impl ConnTarget {
    /// Reads and parses `$var`. Errors say what is wrong with the variable,
    /// never what it holds.
    pub(super) fn from_env(var: &str) -> Result<ConnTarget, SourceError> {
        Self::from_value(var, std::env::var(var))
    }

    /// [`Self::from_env`] on what reading `$var` gave.
    fn from_value(
        var: &str,
        value: Result<String, std::env::VarError>,
    ) -> Result<ConnTarget, SourceError> {
        let problem = |problem: &str| SourceError::UrlEnv {
            var: var.to_owned(),
            problem: problem.to_owned(),
        };
        let value = match value {
            Ok(v) if v.trim().is_empty() => return Err(problem("is empty")),
            Ok(v) => v,
            Err(std::env::VarError::NotPresent) => return Err(problem("is not set")),
            Err(std::env::VarError::NotUnicode(_)) => return Err(problem("is not valid UTF-8")),
        };
        let redactor = Redactor::for_url(value.trim());
        let mut options = PgConnectOptions::from_str(value.trim()).map_err(|e| {
            problem(&format!(
                "does not hold a PostgreSQL connection URL (postgres://user:password@host:port/database?sslmode=...): {}",
                redactor.clean(&e.to_string())
            ))
        })?;
        // A segment query is routinely slower than sqlx's "slow statement"
        // threshold (1 s): that warning on every run would be noise.
        options = options.disable_statement_logging();
        // Lets a DBA see who runs it, unless the string names itself.
        if options.get_application_name().is_none() {
            options = options.application_name("acsync");
        }
        Ok(ConnTarget { options, redactor })
    }

    pub(super) fn options(&self) -> &PgConnectOptions {
        &self.options
    }

    pub(super) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// `host:port/database` or `socket/database`, for error messages: the
    /// parts that help find the server, without user or password.
    pub(super) fn describe(&self) -> String {
        let o = &self.options;
        let at = match o.get_socket() {
            Some(socket) => socket.display().to_string(),
            None => format!("{}:{}", o.get_host(), o.get_port()),
        };
        match o.get_database() {
            Some(db) => format!("{at}/{db}"),
            None => at,
        }
    }
}

/// Blanks secrets out of messages.
#[derive(Debug, Default)]
pub(super) struct Redactor {
    /// Longest first, so a password inside the whole string is not half-blanked.
    secrets: Vec<String>,
}

impl Redactor {
    /// The whole string and any password it holds.
    pub(super) fn for_url(value: &str) -> Redactor {
        let mut secrets = vec![value.to_owned()];
        if let Ok(url) = reqwest::Url::parse(value) {
            secrets.extend(url.password().map(str::to_owned));
            let params = url.query_pairs();
            secrets.extend(
                params
                    .filter(|(k, _)| k == "password")
                    .map(|(_, v)| v.into_owned()),
            );
        }
        // Percent-decoded forms too: a driver may show either.
        let decoded: Vec<String> = secrets
            .iter()
            .filter_map(|s| match percent_decode(s) {
                Cow::Owned(d) => Some(d),
                Cow::Borrowed(_) => None,
            })
            .collect();
        secrets.extend(decoded);
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    pub(super) fn clean(&self, message: &str) -> String {
        let mut out = message.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }
}

/// `%XX` sequences decoded (as UTF-8, lossily); borrowed when there are none.
fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) if b[i] == b'%' => {
                out.push(byte);
                i += 3;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_the_url_and_the_password_in_both_forms() {
        let r = Redactor::for_url("postgres://u:p%40ss-w0rd@db.example:5432/seg");
        assert_eq!(
            r.clean("failed for postgres://u:p%40ss-w0rd@db.example:5432/seg"),
            "failed for ***"
        );
        assert_eq!(r.clean("got p@ss-w0rd and p%40ss-w0rd"), "got *** and ***");
        let r = Redactor::for_url("postgres://db/seg?user=u&password=hunter22");
        assert_eq!(r.clean("password hunter22 refused"), "password *** refused");
    }

    #[test]
    fn unset_and_malformed_variables_never_show_the_value() {
        let refused = |value| {
            let e = ConnTarget::from_value("SEG_URL", value).err();
            e.expect("refused").to_string()
        };
        let e = refused(Ok("postgres://root:sekrit@h:port/db".into()));
        assert!(e.contains("SEG_URL") && !e.contains("sekrit"), "{e}");
        let e = refused(Err(std::env::VarError::NotPresent));
        assert!(e.contains("SEG_URL is not set"), "{e}");
    }
}
