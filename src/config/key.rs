//! Reading a connection's API key from where [`ApiKeySource`] says: an
//! environment variable, a file, or a systemd credential. The key goes
//! straight into a `SecretString`; errors name the source, never the value.

use secrecy::SecretString;

use super::{ApiKeySource, Connection};

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

impl Connection {
    /// Reads this connection's API key.
    pub fn read_api_key(&self) -> Result<SecretString, KeyError> {
        let raw = match &self.api_key {
            ApiKeySource::Env(var) => std::env::var(var).map_err(|_| KeyError::Env {
                connection: self.name.clone(),
                var: var.clone(),
            })?,
            ApiKeySource::File(path) => read_file(self, path)?,
            ApiKeySource::Credential(name) => {
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    KeyError::Credential {
                        connection: self.name.clone(),
                        name: name.clone(),
                    }
                })?;
                let path = std::path::Path::new(&dir).join(name);
                std::fs::read_to_string(&path).map_err(|_| KeyError::Credential {
                    connection: self.name.clone(),
                    name: name.clone(),
                })?
            }
        };
        let key = raw.trim();
        if key.is_empty() {
            return Err(KeyError::Empty {
                connection: self.name.clone(),
            });
        }
        Ok(SecretString::from(key.to_string()))
    }
}

fn read_file(conn: &Connection, path: &std::path::Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::File {
        connection: conn.name.clone(),
        path: path.to_path_buf(),
        source,
    })
}
