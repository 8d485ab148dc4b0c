//! The built-in GHL sandbox for the cases that run against it (`sandbox:`, or recording a
//! `cassette:`), seeded with the case's data and its `@now` dates learnt. It is there when the
//! crate is built with the cargo feature `sandbox` (the `sluice` binary is).

use std::path::Path;

use crate::fixture::Dates;

/// The sandbox's token (read and write).
pub(crate) const SANDBOX_TOKEN: &str = "sandbox-token";

/// A sandbox started for one case.
pub(crate) struct CaseSandbox {
    #[cfg(feature = "sandbox")]
    inner: sluice_sandbox::Sandbox,
    #[cfg(not(feature = "sandbox"))]
    never: std::convert::Infallible,
}

impl CaseSandbox {
    /// Where connections of `connector` go, when the sandbox stands in for it.
    pub(crate) fn url_for(&self, connector: &str) -> Option<String> {
        #[cfg(feature = "sandbox")]
        {
            self.inner
                .connector_urls()
                .into_iter()
                .find(|(name, _)| *name == connector)
                .map(|(_, url)| url)
        }
        #[cfg(not(feature = "sandbox"))]
        {
            let _ = connector;
            match self.never {}
        }
    }

    /// Stops the server.
    pub(crate) async fn stop(self) {
        #[cfg(feature = "sandbox")]
        self.inner.shutdown().await;
        #[cfg(not(feature = "sandbox"))]
        match self.never {}
    }
}

/// Starts a sandbox with the case's seed (the demo data when none).
pub(crate) async fn start_sandbox(
    seed: Option<&Path>,
    dates: &mut Dates,
) -> Result<CaseSandbox, String> {
    #[cfg(feature = "sandbox")]
    {
        with_sandbox::start_inner(seed, dates)
            .await
            .map(|inner| CaseSandbox { inner })
    }
    #[cfg(not(feature = "sandbox"))]
    {
        let _ = (seed, dates);
        Err("this build of Sluice has no sandbox (cargo feature `sandbox`)".into())
    }
}

#[cfg(feature = "sandbox")]
mod with_sandbox {
    use std::net::SocketAddr;
    use std::path::Path;

    use chrono::{DateTime, Utc};
    use serde_json::Value;

    use crate::fixture::Dates;

    /// The sandbox data of a case, its `@now` dates learnt and resolved.
    fn seed_of(seed: Option<&Path>, dates: &mut Dates) -> Result<sluice_sandbox::Seed, String> {
        let value = match seed {
            Some(p) => {
                let text = fs_err::read_to_string(p).map_err(|e| e.to_string())?;
                serde_json::from_str::<Value>(&text)
                    .map_err(|e| format!("{}: not JSON: {e}", p.display()))?
            }
            None => {
                // The demo resolves its `@now` dates itself: written back as offsets from that
                // moment, they resolve against this run's like a seed file's.
                let before = chrono::Utc::now();
                let demo = sluice_sandbox::Seed::demo();
                let after = chrono::Utc::now();
                let value = serde_json::to_value(demo).map_err(|e| e.to_string())?;
                rebase(&value, before, after)
            }
        };
        dates.learn(&value);
        let mut seed: sluice_sandbox::Seed = serde_json::from_value(value).map_err(|e| {
            format!(
                "{}: not a sandbox seed: {e}",
                seed.map(|p| p.display().to_string()).unwrap_or_default()
            )
        })?;
        seed.resolve(dates.now())
            .map_err(|e| format!("seed: {e}"))?;
        Ok(seed)
    }

    /// Dates within a year of `before`..`after` as `@now±N` tokens (to the nearest second).
    fn rebase(v: &Value, before: DateTime<Utc>, after: DateTime<Utc>) -> Value {
        match v {
            Value::String(s) => {
                let Ok(t) = DateTime::parse_from_rfc3339(s) else {
                    return v.clone();
                };
                let t = t.with_timezone(&Utc);
                if (after - before).num_milliseconds() > 400 || (t - before).num_days().abs() > 366
                {
                    return v.clone();
                }
                let secs = ((t - before).num_milliseconds() as f64 / 1000.0).round() as i64;
                Value::String(token(secs))
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|i| rebase(i, before, after)).collect())
            }
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), rebase(x, before, after)))
                    .collect(),
            ),
            _ => v.clone(),
        }
    }

    /// `@now`, `@now+1d2h`, `@now-30m`.
    fn token(secs: i64) -> String {
        if secs == 0 {
            return "@now".into();
        }
        let sign = if secs < 0 { '-' } else { '+' };
        let mut rest = secs.unsigned_abs();
        let mut out = format!("@now{sign}");
        for (unit, size) in [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)] {
            if rest >= size {
                out.push_str(&format!("{}{unit}", rest / size));
                rest %= size;
            }
        }
        out
    }

    pub(super) async fn start_inner(
        seed: Option<&Path>,
        dates: &mut Dates,
    ) -> Result<sluice_sandbox::Sandbox, String> {
        let config = sluice_sandbox::SandboxConfig {
            seed: seed_of(seed, dates)?,
            ..sluice_sandbox::SandboxConfig::default()
        };
        let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
        sluice_sandbox::Sandbox::start(config, addr)
            .await
            .map_err(|e| format!("cannot start the sandbox: {e}"))
    }
}
