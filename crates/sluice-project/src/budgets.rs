//! The run store as the fleet's rate budget: runners sharing a PostgreSQL store count every
//! rate limit there ([`StoreBudget`]), so together they stay within each API's limit instead
//! of each spending it in full, and a pause one runner is told of (a 429) holds them all.

use std::time::Duration;

use sluice_connectors::ratelimit::FleetBudget;
use sluice_store::{Permit, Store};

/// Rate limits counted in the run store (see [`Store::claim_permit`]).
#[derive(Clone, Debug)]
pub struct StoreBudget(pub Store);

impl FleetBudget for StoreBudget {
    fn claim<'a>(
        &'a self,
        budget: &'a str,
        requests: u64,
        per: Duration,
    ) -> sluice_connectors::ratelimit::Claim<'a> {
        Box::pin(async move {
            match self.0.claim_permit(budget, requests, per).await {
                Ok(Permit::Granted) => Ok(Ok(())),
                Ok(Permit::Wait(wait)) => Ok(Err(wait)),
                Err(e) => Err(e.to_string()),
            }
        })
    }

    fn pause<'a>(
        &'a self,
        budget: &'a str,
        pause: Duration,
    ) -> sluice_connectors::ratelimit::PauseFuture<'a> {
        Box::pin(async move {
            self.0
                .pause_budget(budget, pause)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
