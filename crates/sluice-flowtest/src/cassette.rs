//! Cassettes: the HTTP exchanges of `sluice test --record` (secrets redacted, dates written as
//! `@now±N` where they came from the seed), kept next to the flow as JSON and replayed offline.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::exchange::{Entry, Exchange};
use crate::fixture::Dates;

/// The file: recorded exchanges per case name.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cassette {
    /// Plain words for a reader of the file.
    #[serde(default)]
    pub(crate) about: String,
    /// The flow recorded.
    #[serde(default)]
    pub(crate) flow: String,
    /// Exchanges per case, in a stable order (sorted by request; same requests in call order).
    #[serde(default)]
    pub(crate) cases: serde_json::Map<String, Value>,
}

impl Cassette {
    /// Reads a cassette; `Ok(None)` when the file does not exist.
    pub(crate) fn read(path: &Path) -> Result<Option<Cassette>, String> {
        if !path.exists() {
            return Ok(None);
        }
        let text = fs_err::read_to_string(path).map_err(|e| e.to_string())?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: not a cassette: {e}", path.display()))
    }

    /// The exchanges of one case, their `@now` dates resolved for this run.
    pub(crate) fn entries(
        &self,
        case: &str,
        dates: &mut Dates,
    ) -> Result<Option<Vec<Entry>>, String> {
        let Some(v) = self.cases.get(case) else {
            return Ok(None);
        };
        let list: Vec<Entry> = serde_json::from_value(v.clone())
            .map_err(|e| format!("the cassette's case `{case}` is not readable: {e}"))?;
        Ok(Some(
            list.into_iter()
                .map(|e| Entry {
                    body: e.body.map(|b| dates.resolve(&b, false)),
                    response: dates.resolve(&e.response, false),
                    ..e
                })
                .collect(),
        ))
    }

    /// Stores the exchanges of one case: secrets masked, seed dates made relative.
    pub(crate) fn store(
        &mut self,
        case: &str,
        exchanges: &[Exchange],
        redactor: &sluice_engine::Redactor,
        dates: &Dates,
    ) -> Result<(), String> {
        let mut entries: Vec<Entry> = exchanges
            .iter()
            .map(|x| Entry {
                connection: x.connection.clone(),
                request: redactor.redact(&x.line),
                body: x
                    .body
                    .as_ref()
                    .map(|b| dates.relativize(&redactor.redact_json(b))),
                status: x.status,
                response: dates.relativize(&redactor.redact_json(&x.response)),
            })
            .collect();
        // Steps that run at the same time answer in any order: a stable file needs a stable order.
        entries.sort_by(|a, b| {
            (a.connection.as_str(), a.request.as_str())
                .cmp(&(b.connection.as_str(), b.request.as_str()))
        });
        let value = serde_json::to_value(entries).map_err(|e| e.to_string())?;
        self.cases.insert(case.to_string(), value);
        Ok(())
    }

    pub(crate) fn write(&self, path: &Path) -> Result<(), String> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        text.push('\n');
        fs_err::write(path, text).map_err(|e| e.to_string())
    }
}
