//! Reading a connection's API key from where [`ApiKeySource`] says: an
//! environment variable, a file, or a systemd credential. The key goes
//! straight into a `SecretString`; errors name the source, never the value.
//!
//! A common slip is pasting the key itself where its *name* belongs
//! (`api_key_env = "<the key>"`). Validation refuses such values (see
//! [`looks_like_key`]); should one reach here anyway, errors show a
//! placeholder instead of it, so the key cannot leak through a "variable not
//! set" message into logs or a status file.

use secrecy::SecretString;

use super::error::{ErrorKind, Located};
pub use super::keylike::looks_like_key;
use super::raw::RawSettings;
use super::types::{ApiKeySource, Connection};

/// Why a connection's key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("connection `{connection}`: environment variable `{var}` is not set or empty")]
    Env { connection: String, var: String },
    #[error("connection `{connection}`: cannot read key file {}: {source}", path.display())]
    File {
        connection: String,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "connection `{connection}`: credential `{name}` not found (is $CREDENTIALS_DIRECTORY set by LoadCredential=?)"
    )]
    Credential { connection: String, name: String },
    #[error("connection `{connection}`: the API key is empty")]
    Empty { connection: String },
}

/// Shown instead of a key source name that looks like a key itself.
const REDACTED: &str = "<redacted: this looks like an API key, not a name>";

fn shown(name: &str) -> String {
    if looks_like_key(name) {
        REDACTED.to_string()
    } else {
        name.to_string()
    }
}

fn shown_path(path: &std::path::Path) -> std::path::PathBuf {
    if path
        .components()
        .any(|c| looks_like_key(&c.as_os_str().to_string_lossy()))
    {
        std::path::PathBuf::from(REDACTED)
    } else {
        path.to_path_buf()
    }
}

impl Connection {
    /// Reads this connection's API key. A key file readable by other users
    /// is read all the same, with a warning.
    pub fn read_api_key(&self) -> Result<SecretString, KeyError> {
        self.key_source().read()
    }

    /// Where this connection's key is read from.
    pub fn key_source(&self) -> KeySource {
        KeySource {
            connection: self.name.clone(),
            source: self.api_key.clone(),
        }
    }
}

/// A connection's key source, kept by a client so it can read the key again
/// (after a rotation: see docs/configuration.md, secrets). Its `Display`
/// names the source (`key file PATH`, `environment variable NAME`,
/// `systemd credential NAME`), never the key (nor a name that looks like one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySource {
    pub connection: String,
    pub source: ApiKeySource,
}

impl KeySource {
    /// Reads the key now.
    pub fn read(&self) -> Result<SecretString, KeyError> {
        let raw = match &self.source {
            ApiKeySource::Env(var) => std::env::var(var).map_err(|_| KeyError::Env {
                connection: self.connection.clone(),
                var: shown(var),
            })?,
            ApiKeySource::File(path) => self.read_file(path)?,
            ApiKeySource::Credential(name) => {
                let missing = || KeyError::Credential {
                    connection: self.connection.clone(),
                    name: shown(name),
                };
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(missing)?;
                let path = std::path::Path::new(&dir).join(name);
                std::fs::read_to_string(&path).map_err(|_| missing())?
            }
        };
        let key = raw.trim();
        if key.is_empty() {
            return Err(KeyError::Empty {
                connection: self.connection.clone(),
            });
        }
        Ok(SecretString::from(key.to_string()))
    }

    fn read_file(&self, path: &std::path::Path) -> Result<String, KeyError> {
        let raw = std::fs::read_to_string(path).map_err(|source| KeyError::File {
            connection: self.connection.clone(),
            path: shown_path(path),
            source,
        })?;
        if let Some(w) = super::perms::key_file_warning(path) {
            super::perms::warn_once(path, &format!("connection `{}`: {w}", self.connection));
        }
        Ok(raw)
    }
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            ApiKeySource::Env(var) => write!(f, "environment variable `{}`", shown(var)),
            ApiKeySource::File(path) => write!(f, "key file {}", shown_path(path).display()),
            ApiKeySource::Credential(name) => write!(f, "systemd credential `{}`", shown(name)),
        }
    }
}

/// A digest of a key, to notice that it changed without keeping a second
/// copy of it.
pub fn key_digest(key: &SecretString) -> [u8; 32] {
    use secrecy::ExposeSecret;
    use sha2::Digest;
    sha2::Sha256::digest(key.expose_secret().as_bytes()).into()
}

/// `check`'s warnings for the valid connections of `settings` whose key
/// names an environment variable this process does not have (the run's
/// own message), each located at `api_key_env` in `acsync.toml` (see
/// docs/configuration.md, validation). Key files and credentials are not
/// tried: they are mounted where the service runs (a Kubernetes secret,
/// `LoadCredential=`), not where a configuration is checked. The key
/// itself is never shown.
pub fn key_warnings(settings: &super::Settings) -> Vec<Located> {
    let src = std::fs::read_to_string(&settings.file).unwrap_or_default();
    let raw: Option<RawSettings> = toml::from_str(&src).ok();
    settings
        .connections
        .values()
        .filter(|c| matches!(c.api_key, ApiKeySource::Env(_)))
        .filter_map(|c| {
            let e = c.read_api_key().err()?;
            let span = raw
                .as_ref()
                .and_then(|r| r.connections.get(&c.name))
                .and_then(|t| t.get_ref().api_key_env.as_ref())
                .map(|v| v.span().start);
            Some(match span {
                Some(at) => Located::at(
                    ErrorKind::UnreadableApiKey,
                    &settings.file,
                    &src,
                    at,
                    e.to_string(),
                ),
                None => {
                    Located::whole_file(ErrorKind::UnreadableApiKey, &settings.file, e.to_string())
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "5f1c0a9e3b7d4c2a8e6f0b1d3c5a7e9f2b4d6c8a0e1f3b5d7c9a2e4f6b8d0c1a3e5f7b9d";

    fn conn(src: ApiKeySource) -> Connection {
        Connection {
            name: "prod".into(),
            base_url: "https://acme.api-us1.com".parse().expect("url"),
            api_key: src,
            requests_per_second: 5,
            allowed_exports: vec![],
        }
    }

    #[test]
    fn key_like_names() {
        assert!(looks_like_key(KEY));
        assert!(looks_like_key("sk-0123456789abcdef0123456789abcdef"));
        assert!(looks_like_key("5f1c0a9e-3b7d-4c2a-8e6f-0b1d3c5a7e9f"));
        assert!(looks_like_key("Zq7Lm2Xp9Rt4Vb8Nc3Kd6Wf1Hg5Js0Ya"));
        assert!(looks_like_key(
            "dGhpcyBpcyBhIHNlY3JldCB0b2tlbiBmb3IgdGVzdGluZw=="
        ));
        assert!(looks_like_key("xoxb-AbCdEfGhIjKlMnOpQrStUvWxYzaBcDeF"));
        for name in [
            "AC_PROD_KEY",
            "ACTIVECAMPAIGN_API_KEY_FOR_THE_PRODUCTION_ACCOUNT_2",
            "ac-prod",
            "activecampaign-production-key-2024",
            "/etc/acsync/secrets/prod.key",
            "abcdefghijklmnopqrstuvwxyzabcdefgh",
            "ActiveCampaignProductionKeyForBackups2024",
            "/var/lib/acsync/keys/ProductionAccount2024Key",
            "ACTIVECAMPAIGN_API_KEY_FOR_THE_PRODUCTION_ACCOUNT_2",
        ] {
            assert!(!looks_like_key(name), "{name}");
        }
    }

    #[test]
    fn a_key_pasted_as_a_name_never_shows_in_errors() {
        let sources = [
            ApiKeySource::Env(KEY.into()),
            ApiKeySource::Credential(KEY.into()),
            ApiKeySource::File(std::path::Path::new("/nonexistent/acsync").join(KEY)),
        ];
        for src in sources {
            let e = conn(src).read_api_key().expect_err("missing");
            let (display, debug) = (e.to_string(), format!("{e:?}"));
            assert!(
                !display.contains(KEY) && !debug.contains(KEY),
                "{display} / {debug}"
            );
            assert!(display.contains("redacted"), "{display}");
        }
        let e = conn(ApiKeySource::Env("AC_SURELY_UNSET_VAR".into()))
            .read_api_key()
            .expect_err("unset");
        assert!(e.to_string().contains("AC_SURELY_UNSET_VAR"), "names stay");
    }

    #[test]
    fn a_key_source_names_where_the_key_is_never_the_key() {
        let shown = |src| conn(src).key_source().to_string();
        assert_eq!(
            shown(ApiKeySource::Env("AC_KEY".into())),
            "environment variable `AC_KEY`"
        );
        assert_eq!(
            shown(ApiKeySource::File("/etc/acsync/prod.key".into())),
            "key file /etc/acsync/prod.key"
        );
        assert_eq!(
            shown(ApiKeySource::Credential("ac-prod".into())),
            "systemd credential `ac-prod`"
        );
        assert!(!shown(ApiKeySource::Env(KEY.into())).contains(KEY));
    }
}
