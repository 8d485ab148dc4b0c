//! Secret redaction: every known secret (and its common encodings: base64 with and without
//! padding, URL-safe base64, URL-encoding, hex in either case, a `Bearer`/`Basic` header) is
//! replaced by `[REDACTED]` in anything that leaves the engine — and, through
//! [`redact_process`], in what the process writes outside a run (a panic's message).

use base64::Engine as _;

/// Percent-encoding that keeps RFC 3986's unreserved characters (`-_.~`), as in URLs.
const UNRESERVED_KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The bytes in hex.
fn hex(bytes: &[u8], upper: bool) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = if upper {
                write!(out, "{b:02X}")
            } else {
                write!(out, "{b:02x}")
            };
            out
        })
}

/// What replaces a secret.
pub const MASK: &str = "[REDACTED]";

/// The secrets to hide.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    needles: Vec<String>,
    /// All needles in one automaton (longest match first): one pass over a text.
    matcher: Option<aho_corasick::AhoCorasick>,
}

impl Redactor {
    /// A redactor that hides nothing yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret and its encodings. Secrets shorter than 4 characters are ignored
    /// (they would mask ordinary text).
    pub fn add(&mut self, secret: &str) {
        if secret.len() < 4 {
            return;
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut forms = vec![
            secret.to_string(),
            b64.encode(secret),
            b64.encode(format!("{secret}:")),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
            // As URLs carry it: RFC 3986's unreserved characters left as they are.
            percent_encoding::utf8_percent_encode(secret, UNRESERVED_KEPT).to_string(),
            // Base64 without padding, and URL-safe with it.
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret),
            base64::engine::general_purpose::URL_SAFE.encode(secret),
            // Hex, as an API may echo a value back (lower and upper case).
            hex(secret.as_bytes(), false),
            hex(secret.as_bytes(), true),
        ];
        forms.retain(|f| f.len() >= 4);
        for f in forms {
            if !self.needles.contains(&f) {
                self.needles.push(f);
            }
        }
        // Longest first, so a secret inside a longer encoding is masked whole.
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        self.matcher = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(&self.needles)
            .ok();
    }

    /// Whether there is anything to hide.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The text with every secret masked.
    #[must_use]
    pub fn redact(&self, text: &str) -> String {
        match &self.matcher {
            Some(m) if m.is_match(text) => m.replace_all(text, &vec![MASK; self.needles.len()]),
            _ => text.to_string(),
        }
    }

    /// A JSON value with every secret masked in every string (keys included).
    #[must_use]
    pub fn redact_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        if self.needles.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(s) => Value::String(self.redact(s)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.redact_json(v)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (self.redact(k), self.redact_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// The secrets of every runtime built in this process ([`remember`]).
static PROCESS: std::sync::Mutex<Option<Redactor>> = std::sync::Mutex::new(None);

/// Adds the secrets of `redactor` (a runtime's) to those [`redact_process`] masks.
pub(crate) fn remember(redactor: &Redactor) {
    if redactor.is_empty() {
        return;
    }
    let mut process = PROCESS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let all = process.get_or_insert_with(Redactor::new);
    let before = all.needles.len();
    for n in &redactor.needles {
        if !all.needles.contains(n) {
            all.needles.push(n.clone());
        }
    }
    if all.needles.len() != before {
        all.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        all.matcher = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(&all.needles)
            .ok();
    }
}

/// `text` with the secrets of every runtime this process has built masked: for what is
/// written outside a run, such as a panic's message (the `sluice` binary's panic hook). `None`
/// when they cannot be read right now (the panic came while they were being added): write
/// nothing of `text` then.
#[must_use]
pub fn redact_process(text: &str) -> Option<String> {
    let process = PROCESS.try_lock().ok()?;
    Some(
        process
            .as_ref()
            .map_or_else(|| text.to_string(), |r| r.redact(text)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secrets_and_their_encodings() {
        let mut r = Redactor::new();
        r.add("pit-secret/token+1");
        let b64 = base64::engine::general_purpose::STANDARD.encode("pit-secret/token+1");
        let text = format!("Bearer pit-secret/token+1 q=pit%2Dsecret%2Ftoken%2B1 basic {b64}");
        let out = r.redact(&text);
        assert!(!out.contains("pit-secret"), "{out}");
        assert!(!out.contains(&b64), "{out}");
        assert_eq!(out.matches(MASK).count(), 3, "{out}");
    }

    #[test]
    fn masks_hex_and_unpadded_base64() {
        let mut r = Redactor::new();
        r.add("pit-secret/token+1");
        let lower = hex(b"pit-secret/token+1", false);
        let upper = hex(b"pit-secret/token+1", true);
        let nopad = base64::engine::general_purpose::STANDARD_NO_PAD.encode("pit-secret/token+1");
        let url = base64::engine::general_purpose::URL_SAFE.encode("pit-secret/token+1");
        let out = r.redact(&format!("a={lower} b={upper} c={nopad} d={url}"));
        for form in [&lower, &upper, &nopad, &url] {
            assert!(!out.contains(form.as_str()), "{form}: {out}");
        }
        assert_eq!(out, format!("a={MASK} b={MASK} c={MASK} d={MASK}"));
    }

    #[test]
    fn the_process_masks_the_secrets_of_every_runtime() {
        let (mut a, mut b) = (Redactor::new(), Redactor::new());
        a.add("first-process-secret");
        b.add("second-process-secret");
        remember(&a);
        remember(&b);
        remember(&a);
        assert_eq!(
            redact_process("first-process-secret, second-process-secret").as_deref(),
            Some("[REDACTED], [REDACTED]")
        );
    }
}
