//! `--connection CONN.base_url=URL`: a connection's base URL set for one run or runner,
//! parsed once where the command line is read.

use std::str::FromStr;

/// A connection's base URL, overridden.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionOverride {
    /// The connection's name (or a connector's: a connection name wins).
    pub connection: String,
    /// Its base URL.
    pub base_url: String,
}

/// A `--connection` value that does not read as `CONN.base_url=URL`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConnectionOverrideError {
    /// No `=`.
    #[error("write CONNECTION.base_url=URL, e.g. `ghl.base_url=http://127.0.0.1:8080`")]
    Shape(String),
    /// A setting other than `base_url`.
    #[error("only `base_url` can be set here (write CONNECTION.base_url=URL)")]
    Setting(String),
}

impl FromStr for ConnectionOverride {
    type Err = ConnectionOverrideError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (key, url) = spec
            .split_once('=')
            .ok_or_else(|| ConnectionOverrideError::Shape(spec.to_string()))?;
        let connection = key
            .strip_suffix(".base_url")
            .ok_or_else(|| ConnectionOverrideError::Setting(spec.to_string()))?;
        Ok(Self {
            connection: connection.to_string(),
            base_url: url.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_one_setting_there_is() {
        assert_eq!(
            "ghl.base_url=http://127.0.0.1:1/x".parse(),
            Ok(ConnectionOverride {
                connection: "ghl".into(),
                base_url: "http://127.0.0.1:1/x".into()
            })
        );
        assert_eq!(
            "ghl".parse::<ConnectionOverride>(),
            Err(ConnectionOverrideError::Shape("ghl".into()))
        );
        assert_eq!(
            "ghl.token=x".parse::<ConnectionOverride>(),
            Err(ConnectionOverrideError::Setting("ghl.token=x".into()))
        );
    }
}
