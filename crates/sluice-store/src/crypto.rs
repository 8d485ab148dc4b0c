//! Secrets at rest: values of the `secrets` and `oauth_tokens` tables are sealed with
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`) under a key the operator manages,
//! bound to their table and row, and tagged with the id of the key that sealed them.
//!
//! The key is 32 random bytes, written as base64 or hex, from `$SLUICE_SECRET_KEY` or the file
//! `$SLUICE_SECRET_KEY_FILE`; for a SQLite store without either, from a key file beside the
//! database (`secret.key`, mode 0600), made on first use. Previous keys stay readable through
//! `$SLUICE_SECRET_KEY_PREVIOUS` (comma-separated) until `sluice secrets rekey` has sealed
//! every value with the current one.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// The variable holding the current key (base64 or hex of 32 bytes).
pub const KEY_ENV: &str = "SLUICE_SECRET_KEY";
/// The variable naming a file that holds the current key.
pub const KEY_FILE_ENV: &str = "SLUICE_SECRET_KEY_FILE";
/// The variable holding previous keys, comma-separated, still accepted for reading.
pub const PREVIOUS_KEYS_ENV: &str = "SLUICE_SECRET_KEY_PREVIOUS";
/// The key file made beside a SQLite database when no key is configured.
pub const SQLITE_KEY_FILE: &str = "secret.key";

/// What a sealed value starts with (then the key id, then base64 of nonce and ciphertext).
const PREFIX: &str = "sluice:v1:";

/// One 256-bit key and its id (the first 8 hex digits of its SHA-256).
#[derive(Clone)]
pub(crate) struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A key from its text (base64, URL-safe base64 or hex of exactly 32 bytes).
    fn parse(text: &str, source: &str) -> Result<Key, StoreError> {
        let text = text.trim();
        let bytes = decode_key(text).ok_or_else(|| {
            StoreError::Key(format!(
                "{source}: not a key (expected 32 random bytes as base64 or hex; make one with `sluice secrets keygen`)"
            ))
        })?;
        let id = hex(&Sha256::digest(bytes)[..4]);
        let cipher = XChaCha20Poly1305::new((&bytes).into());
        Ok(Key { id, cipher })
    }

    /// A new random key's text (base64).
    pub(crate) fn generate_text() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

fn decode_key(text: &str) -> Option<[u8; 32]> {
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut out = [0u8; 32];
        for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(chunk).ok()?;
            out[i] = u8::from_str_radix(pair, 16).ok()?;
        }
        return Some(out);
    }
    engines
        .iter()
        .find_map(|e| e.decode(text).ok())
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Where the current key comes from.
#[derive(Clone, Debug)]
pub(crate) enum KeySource {
    /// Given (the variable or the file named by it), read at open.
    Given(Key),
    /// A key file beside the SQLite database, made when a secret is first sealed.
    SqliteFile(PathBuf),
    /// None: PostgreSQL without a key (sealing or opening a secret fails, saying how to set one).
    Missing,
}

/// The keys of a store: the current one (seals) and previous ones (still open old values).
#[derive(Clone, Debug)]
pub(crate) struct Keyring {
    source: KeySource,
    /// The current key once known (read from the SQLite key file on first use).
    current: std::sync::Arc<parking_lot::Mutex<Option<Key>>>,
    previous: Vec<Key>,
}

impl Keyring {
    /// The keys the environment gives; `sqlite_db` is the database file of a SQLite store
    /// (its folder keeps the generated key file when no key is given).
    pub(crate) fn from_env(sqlite_db: Option<&Path>) -> Result<Keyring, StoreError> {
        let source =
            if let Some(text) = std::env::var(KEY_ENV).ok().filter(|t| !t.trim().is_empty()) {
                KeySource::Given(Key::parse(&text, &format!("${KEY_ENV}"))?)
            } else if let Some(file) = std::env::var_os(KEY_FILE_ENV).filter(|f| !f.is_empty()) {
                let path = PathBuf::from(file);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    StoreError::Key(format!("${KEY_FILE_ENV} ({}): {e}", path.display()))
                })?;
                KeySource::Given(Key::parse(&text, &path.display().to_string())?)
            } else if let Some(db) = sqlite_db {
                let dir = db
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                KeySource::SqliteFile(dir.join(SQLITE_KEY_FILE))
            } else {
                KeySource::Missing
            };
        let mut previous = Vec::new();
        if let Ok(list) = std::env::var(PREVIOUS_KEYS_ENV) {
            for (i, text) in list
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .enumerate()
            {
                previous.push(Key::parse(
                    text,
                    &format!("${PREVIOUS_KEYS_ENV} (key {})", i + 1),
                )?);
            }
        }
        let current = match &source {
            KeySource::Given(key) => Some(key.clone()),
            _ => None,
        };
        Ok(Keyring {
            source,
            current: std::sync::Arc::new(parking_lot::Mutex::new(current)),
            previous,
        })
    }

    /// These keys with `text` as the current key.
    pub(crate) fn with_current(mut self, text: &str) -> Result<Keyring, StoreError> {
        let key = Key::parse(text, "the given key")?;
        self.source = KeySource::Given(key.clone());
        self.current = std::sync::Arc::new(parking_lot::Mutex::new(Some(key)));
        Ok(self)
    }

    /// The current key; a SQLite store's key file is read, or made when `create`.
    fn current(&self, create: bool) -> Result<Option<Key>, StoreError> {
        let mut current = self.current.lock();
        if let Some(key) = current.as_ref() {
            return Ok(Some(key.clone()));
        }
        let path = match &self.source {
            KeySource::Given(key) => return Ok(Some(key.clone())),
            KeySource::Missing => return Ok(None),
            KeySource::SqliteFile(path) => path,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => write_key_file(path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StoreError::Key(format!("{}: {e}", path.display())));
            }
        };
        let key = Key::parse(&text, &path.display().to_string())?;
        *current = Some(key.clone());
        Ok(Some(key))
    }

    fn missing_key() -> StoreError {
        StoreError::Key(format!(
            "secrets in this store are encrypted, and no key is set: set ${KEY_ENV} (or ${KEY_FILE_ENV}) to the same key on every runner; make one with `sluice secrets keygen`"
        ))
    }

    /// Seals `plain` for row `context` (e.g. `secrets/ghl_pit`) with the current key.
    pub(crate) fn seal(&self, context: &str, plain: &[u8]) -> Result<String, StoreError> {
        let key = self.current(true)?.ok_or_else(Self::missing_key)?;
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = key
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Key("the secret could not be encrypted".into()))?;
        let mut body = nonce.to_vec();
        body.extend_from_slice(&sealed);
        Ok(format!(
            "{PREFIX}{}:{}",
            key.id,
            base64::engine::general_purpose::STANDARD.encode(body)
        ))
    }

    /// Opens a value [`seal`](Self::seal)ed for `context`. `Ok(None)`: the value is not sealed
    /// (written before secrets were encrypted); the caller reads it as it is.
    pub(crate) fn open(&self, context: &str, stored: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(None);
        };
        let (id, body) = rest.split_once(':').ok_or_else(|| {
            StoreError::Corrupt(format!("the sealed value of `{context}` is cut"))
        })?;
        let current = self.current(false)?;
        let key = current
            .iter()
            .chain(self.previous.iter())
            .find(|k| k.id == id)
            .ok_or_else(|| {
                if current.is_none() && self.previous.is_empty() {
                    Self::missing_key()
                } else {
                    StoreError::Key(format!(
                        "`{context}` was encrypted with key {id}, which is neither ${KEY_ENV} nor one of ${PREVIOUS_KEYS_ENV}: give that key (see docs/operations.md, \"Rotating the key\")"
                    ))
                }
            })?;
        let body = base64::engine::general_purpose::STANDARD
            .decode(body)
            .ok()
            .filter(|b| b.len() > 24)
            .ok_or_else(|| {
                StoreError::Corrupt(format!("the sealed value of `{context}` is not base64"))
            })?;
        let (nonce, sealed) = body.split_at(24);
        key.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: context.as_bytes() })
            .map(Some)
            .map_err(|_| {
                StoreError::Corrupt(format!(
                    "the sealed value of `{context}` does not open with key {id}: it was altered or moved from another row"
                ))
            })
    }

    /// Whether `stored` is sealed with the current key (a rekey skips it).
    pub(crate) fn is_current(&self, stored: &str) -> Result<bool, StoreError> {
        let Some(key) = self.current(false)? else {
            return Ok(false);
        };
        Ok(stored
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(id, _)| id == key.id))
    }
}

/// Makes a new key file readable by its owner only, and returns its text.
fn write_key_file(path: &Path) -> Result<String, StoreError> {
    use std::io::Write as _;
    let text = Key::generate_text();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        // Another process made it a moment ago: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return std::fs::read_to_string(path)
                .map_err(|e| StoreError::Key(format!("{}: {e}", path.display())));
        }
        Err(e) => return Err(StoreError::Key(format!("{}: {e}", path.display()))),
    };
    file.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::Key(format!("{}: {e}", path.display())))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(key: &str, previous: &[&str]) -> Keyring {
        Keyring {
            source: KeySource::Given(Key::parse(key, "test").expect("key")),
            current: std::sync::Arc::new(parking_lot::Mutex::new(Some(
                Key::parse(key, "test").expect("key"),
            ))),
            previous: previous
                .iter()
                .map(|k| Key::parse(k, "test").expect("key"))
                .collect(),
        }
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_row() {
        let (a, b) = (Key::generate_text(), Key::generate_text());
        let sealed = ring(&a, &[]).seal("secrets/x", b"hunter2").expect("seal");
        assert!(sealed.starts_with(PREFIX), "{sealed}");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(
            ring(&a, &[]).open("secrets/x", &sealed).expect("open"),
            Some(b"hunter2".to_vec())
        );
        // Another row: refused (a value moved between rows is noticed).
        assert!(ring(&a, &[]).open("secrets/y", &sealed).is_err());
        // Another key: refused, naming the key it needs.
        let err = ring(&b, &[])
            .open("secrets/x", &sealed)
            .expect_err("wrong key");
        assert!(err.to_string().contains("was encrypted with key"), "{err}");
        // The old key as a previous one: opens (rotation).
        assert_eq!(
            ring(&b, &[&a]).open("secrets/x", &sealed).expect("open"),
            Some(b"hunter2".to_vec())
        );
        // A plain value is not sealed.
        assert_eq!(
            ring(&a, &[]).open("secrets/x", "plain").expect("plain"),
            None
        );
    }

    #[test]
    fn keys_are_read_as_base64_or_hex() {
        let hex_key = "00".repeat(32);
        assert!(Key::parse(&hex_key, "t").is_ok());
        assert!(Key::parse(&Key::generate_text(), "t").is_ok());
        let err = Key::parse("too-short", "t").expect_err("short");
        assert!(err.to_string().contains("sluice secrets keygen"), "{err}");
    }
}
