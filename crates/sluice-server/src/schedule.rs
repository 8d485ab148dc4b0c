//! A flow's cron schedule: a cron line (5 fields, or 6 with seconds first) in an IANA time
//! zone, and its fire times — what the trigger loop fires and `sluice schedule` prints.

use std::str::FromStr as _;

use chrono::{DateTime, Utc};
use sluice_model::flow::ScheduleTrigger;

/// A schedule that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The cron line does not parse.
    #[error("`{line}` is not a cron line: {reason}")]
    Cron {
        /// The line as written.
        line: String,
        /// croner's reason.
        reason: String,
    },
    /// The time zone is unknown.
    #[error("`{0}` is not an IANA time zone")]
    Zone(String),
}

/// A cron line (5 fields, or 6 with seconds first) and its time zone.
pub struct Schedule {
    cron: croner::Cron,
    tz: chrono_tz::Tz,
}

impl Schedule {
    /// The schedule of a `schedule` trigger.
    ///
    /// # Errors
    /// The cron line or the time zone is invalid (validation reports these first).
    pub fn new(trigger: &ScheduleTrigger) -> Result<Schedule, ScheduleError> {
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(&trigger.cron.value)
            .map_err(|e| ScheduleError::Cron {
                line: trigger.cron.value.clone(),
                reason: e.to_string(),
            })?;
        let tz = match &trigger.timezone {
            Some(z) => chrono_tz::Tz::from_str(&z.value)
                .map_err(|_| ScheduleError::Zone(z.value.clone()))?,
            None => chrono_tz::UTC,
        };
        Ok(Schedule { cron, tz })
    }

    /// The fire times after `after`, in the schedule's zone (whole seconds: the same on
    /// every runner).
    pub fn after(
        &self,
        after: DateTime<Utc>,
    ) -> impl Iterator<Item = DateTime<chrono_tz::Tz>> + '_ {
        use chrono::SubsecRound as _;
        // (croner's own iterator skips every other match of a per-second line; asking for the
        // next occurrence after each one does not.)
        let mut at = after.trunc_subsecs(0).with_timezone(&self.tz);
        std::iter::from_fn(move || {
            let next = self.cron.find_next_occurrence(&at, false).ok()?;
            at = next;
            Some(next)
        })
    }

    /// The next fire time after `now`.
    pub fn next(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.after(now).next().map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schedule(cron: &str, tz: &str) -> Schedule {
        let t: ScheduleTrigger =
            serde_json::from_value(json!({"cron": cron, "timezone": tz})).expect("trigger");
        Schedule::new(&t).expect("schedule")
    }

    #[test]
    fn every_second_of_a_per_second_line() {
        let s = schedule("* * * * * *", "UTC");
        let from: DateTime<Utc> = "2026-01-01T00:00:00.500Z".parse().expect("time");
        let secs: Vec<u32> = s
            .after(from)
            .take(4)
            .map(|t| chrono::Timelike::second(&t))
            .collect();
        assert_eq!(secs, vec![1, 2, 3, 4]);
    }

    #[test]
    fn daylight_saving_gaps_and_overlaps() {
        // 02:30 does not exist in Berlin on 2026-03-29 (clocks jump 02:00 → 03:00): that day's
        // tick comes right after the gap, once.
        let s = schedule("30 2 * * *", "Europe/Berlin");
        let from: DateTime<Utc> = "2026-03-28T12:00:00Z".parse().expect("time");
        let times: Vec<String> = s.after(from).take(2).map(|t| t.to_rfc3339()).collect();
        assert_eq!(times[0], "2026-03-29T03:00:00+02:00", "{times:?}");
        assert_eq!(times[1], "2026-03-30T02:30:00+02:00", "{times:?}");
        // 02:30 happens twice on 2026-10-25 (03:00 → 02:00): it fires once.
        let from: DateTime<Utc> = "2026-10-24T12:00:00Z".parse().expect("time");
        let times: Vec<String> = s.after(from).take(2).map(|t| t.to_rfc3339()).collect();
        assert_eq!(
            times,
            vec!["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
        );
    }
}
