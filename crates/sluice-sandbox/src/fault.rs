//! Fault injection per route (`GET /contacts/{contactId}` or `*`): latency (before the request
//! is handled, or after it: a slow answer), errors, 429 storms, hanging answers and dropped
//! connections, settable from Rust or over HTTP as JSON (`{"kind":"latency","ms":500}`, see
//! [`Fault`]'s serde form).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A fault injected into the answers of a route.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// No fault (removes one).
    None,
    /// Every answer waits this long first.
    Latency(Duration),
    /// Every request is handled at once and its answer then waits this long: a write is
    /// made, and a client that dies (or gives up) meanwhile never learns of it.
    SlowAnswer(Duration),
    /// A share of the requests (0.0–1.0) is answered with `status`. Deterministic: with rate
    /// 0.25, exactly every fourth request fails.
    ErrorRate {
        /// Share of requests that fail.
        rate: f64,
        /// The status they get (e.g. 500, 502, 503).
        status: u16,
    },
    /// The next `count` requests get 429 with `Retry-After: 1`; then the fault is gone.
    RateLimitStorm {
        /// How many requests are refused.
        count: u32,
    },
    /// Requests are never answered (the connection stays open).
    Hang,
    /// The connection is closed without an answer.
    DropConnection,
}

/// The JSON form of a fault, for `POST /__sandbox/faults`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum FaultSpec {
    None,
    Latency { ms: u64 },
    SlowAnswer { ms: u64 },
    ErrorRate { rate: f64, status: u16 },
    RateLimitStorm { count: u32 },
    Hang,
    DropConnection,
}

impl From<FaultSpec> for Fault {
    fn from(s: FaultSpec) -> Self {
        match s {
            FaultSpec::None => Fault::None,
            FaultSpec::Latency { ms } => Fault::Latency(Duration::from_millis(ms)),
            FaultSpec::SlowAnswer { ms } => Fault::SlowAnswer(Duration::from_millis(ms)),
            FaultSpec::ErrorRate { rate, status } => Fault::ErrorRate { rate, status },
            FaultSpec::RateLimitStorm { count } => Fault::RateLimitStorm { count },
            FaultSpec::Hang => Fault::Hang,
            FaultSpec::DropConnection => Fault::DropConnection,
        }
    }
}

impl From<&Fault> for FaultSpec {
    fn from(f: &Fault) -> Self {
        match f {
            Fault::None => FaultSpec::None,
            Fault::Latency(d) => FaultSpec::Latency {
                ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            Fault::SlowAnswer(d) => FaultSpec::SlowAnswer {
                ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            Fault::ErrorRate { rate, status } => FaultSpec::ErrorRate {
                rate: *rate,
                status: *status,
            },
            Fault::RateLimitStorm { count } => FaultSpec::RateLimitStorm { count: *count },
            Fault::Hang => FaultSpec::Hang,
            Fault::DropConnection => FaultSpec::DropConnection,
        }
    }
}

/// A fault with its progress (requests seen, for the deterministic error rate).
#[derive(Clone, Debug)]
pub(crate) struct ActiveFault {
    pub(crate) fault: Fault,
    seen: u64,
}

/// What to do with one request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Action {
    Pass,
    Delay(Duration),
    DelayAnswer(Duration),
    Fail(u16),
    TooMany,
    Hang,
    Drop,
}

impl ActiveFault {
    pub(crate) fn new(fault: Fault) -> Self {
        Self { fault, seen: 0 }
    }

    /// The action for the next request; `true` in the second place when the fault is used up.
    pub(crate) fn next(&mut self) -> (Action, bool) {
        match &mut self.fault {
            Fault::None => (Action::Pass, true),
            Fault::Latency(d) => (Action::Delay(*d), false),
            Fault::SlowAnswer(d) => (Action::DelayAnswer(*d), false),
            Fault::ErrorRate { rate, status } => {
                let rate = rate.clamp(0.0, 1.0);
                self.seen += 1;
                // Fail request n when floor(n·rate) grows: exactly `rate` of all requests.
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
                let fails = ((self.seen as f64) * rate).floor() as u64
                    > (((self.seen - 1) as f64) * rate).floor() as u64;
                (
                    if fails {
                        Action::Fail(*status)
                    } else {
                        Action::Pass
                    },
                    false,
                )
            }
            Fault::RateLimitStorm { count } => {
                if *count == 0 {
                    return (Action::Pass, true);
                }
                *count -= 1;
                (Action::TooMany, *count == 0)
            }
            Fault::Hang => (Action::Hang, false),
            Fault::DropConnection => (Action::Drop, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_rate_is_exact() {
        let mut f = ActiveFault::new(Fault::ErrorRate {
            rate: 0.25,
            status: 503,
        });
        let fails = (0..8).filter(|_| f.next().0 == Action::Fail(503)).count();
        assert_eq!(fails, 2);
    }

    #[test]
    fn storm_ends() {
        let mut f = ActiveFault::new(Fault::RateLimitStorm { count: 2 });
        assert_eq!(f.next(), (Action::TooMany, false));
        assert_eq!(f.next(), (Action::TooMany, true));
    }

    #[test]
    fn json_form() {
        let s: FaultSpec = serde_json::from_str(r#"{"kind":"error_rate","rate":0.5,"status":502}"#)
            .unwrap_or(FaultSpec::None);
        assert_eq!(
            Fault::from(s),
            Fault::ErrorRate {
                rate: 0.5,
                status: 502
            }
        );
    }
}
