//! `sluice secrets set NAME`: a secret kept in the run store (`{ store = "NAME" }` in
//! sluice.toml), its value read from standard input, never from the command line, encrypted at
//! rest; `keygen` prints a new key for `SLUICE_SECRET_KEY`, `rekey` re-encrypts after a
//! rotation.

use std::io::Read as _;

use crate::error::CliError;
use crate::exit::Exit;

/// Stores the value on standard input as secret `name`.
pub(crate) fn set(name: &str, store: Option<&str>) -> Result<Exit, CliError> {
    let mut value = String::new();
    std::io::stdin()
        .read_to_string(&mut value)
        .map_err(|e| CliError::msg(format!("cannot read the secret from standard input: {e}")))?;
    let value = value.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(CliError::msg("no value on standard input")
            .hint("pipe it in: `sluice secrets set NAME < file`"));
    }
    let url = sluice_project::store::store_url(store);
    if let Some(path) = url.strip_prefix("sqlite://")
        && let Some(dir) = std::path::Path::new(path).parent()
    {
        fs_err::create_dir_all(dir)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = sluice_project::store::open_store(Some(&url), None).await?;
        store.put_secret(name, value).await?;
        store.close().await;
        eprintln!("secret `{name}` stored");
        Ok(Exit::Success)
    })
}

/// A new random key (32 bytes, base64) for `SLUICE_SECRET_KEY`.
pub(crate) fn keygen() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Seals every stored secret and OAuth pair with the current key.
pub(crate) fn rekey(store: Option<&str>) -> Result<Exit, CliError> {
    let url = sluice_project::store::store_url(store);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = sluice_project::store::open_store(Some(&url), None).await?;
        let count = store.rekey().await?;
        store.close().await;
        eprintln!("{count} value(s) encrypted again with the current key");
        Ok(Exit::Success)
    })
}
