//! A flow's cron schedule: a cron line (5 fields, or 6 with seconds first) in an IANA time
//! zone, and its fire times — what the trigger loop fires and `sluice schedule` prints.

use std::str::FromStr as _;

use chrono::offset::LocalResult;
use chrono::{DateTime, NaiveDateTime, Offset as _, TimeZone as _, Timelike as _, Utc};
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
///
/// Daylight-saving changes: a line whose hour field is a wildcard or a step (`*/30 * * * *`,
/// `0 * * * *`) is an interval and keeps it through both changes — it fires in the repeated
/// hour of a fall-back too, and the hour a spring-forward skips simply does not exist. A line
/// with fixed hours (`30 2 * * *`) names wall-clock times: a time the spring-forward skips
/// fires once right after the gap (several skipped times of one gap fire once), and a time the
/// fall-back repeats fires once, the first time.
pub struct Schedule {
    cron: croner::Cron,
    tz: chrono_tz::Tz,
    /// The hour field is a wildcard or a step: fire by elapsed time through DST changes.
    interval: bool,
}

/// How far wall-clock time can jump at a DST change (with margin): candidates are looked for
/// this far around a time.
const DST_REACH: chrono::TimeDelta = chrono::TimeDelta::hours(3);

/// How far ahead a fire time is looked for before a line is taken never to fire.
const HORIZON_DAYS: i64 = 366 * 8;

impl Schedule {
    /// The schedule of a `schedule` trigger.
    ///
    /// # Errors
    /// The cron line or the time zone is invalid (validation reports these first).
    pub fn new(trigger: &ScheduleTrigger) -> Result<Schedule, ScheduleError> {
        let line = &trigger.cron.value;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() > 6 {
            return Err(ScheduleError::Cron {
                line: line.clone(),
                reason: "a seventh field (a year) is not supported".into(),
            });
        }
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(line)
            .map_err(|e| ScheduleError::Cron {
                line: line.clone(),
                reason: e.to_string(),
            })?;
        let tz = match &trigger.timezone {
            Some(z) => chrono_tz::Tz::from_str(&z.value)
                .map_err(|_| ScheduleError::Zone(z.value.clone()))?,
            None => chrono_tz::UTC,
        };
        let hour = if fields.len() == 6 {
            fields[2]
        } else {
            fields.get(1).copied().unwrap_or("*")
        };
        Ok(Schedule {
            cron,
            tz,
            interval: hour.contains('*'),
        })
    }

    /// The fire times after `after`, in the schedule's zone (whole seconds: the same on
    /// every runner).
    pub fn after(
        &self,
        after: DateTime<Utc>,
    ) -> impl Iterator<Item = DateTime<chrono_tz::Tz>> + '_ {
        use chrono::SubsecRound as _;
        let mut at = after.trunc_subsecs(0);
        std::iter::from_fn(move || {
            let next = self.next_instant(at)?;
            at = next;
            Some(next.with_timezone(&self.tz))
        })
    }

    /// The next fire time after `now`.
    pub fn next(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.after(now).next().map(|t| t.with_timezone(&Utc))
    }

    /// The wall-clock times the line matches, after `from` (wall time read as UTC: croner
    /// then knows no DST).
    fn wall_matches(&self, from: NaiveDateTime) -> impl Iterator<Item = NaiveDateTime> + '_ {
        let mut at = from.and_utc();
        std::iter::from_fn(move || {
            let next = self.cron.find_next_occurrence(&at, false).ok()?;
            at = next;
            Some(next.naive_utc())
        })
    }

    /// The instants a wall-clock match fires at: one, both of a repeated time (intervals), or,
    /// for a time a gap skips, the end of the gap (fixed times only).
    fn instants(&self, wall: NaiveDateTime) -> Vec<DateTime<Utc>> {
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
            LocalResult::Ambiguous(a, b) if self.interval => {
                vec![a.with_timezone(&Utc), b.with_timezone(&Utc)]
            }
            LocalResult::Ambiguous(a, b) => vec![a.min(b).with_timezone(&Utc)],
            LocalResult::None if self.interval => Vec::new(),
            LocalResult::None => {
                // Right after the gap: the first wall minute after it that exists.
                let mut probe = wall;
                for _ in 0..(4 * 60) {
                    probe += chrono::TimeDelta::minutes(1);
                    let start = probe.with_second(0).unwrap_or(probe);
                    if let Some(t) = self.tz.from_local_datetime(&start).earliest() {
                        return vec![t.with_timezone(&Utc)];
                    }
                }
                Vec::new()
            }
        }
    }

    /// Whether the zone's offset changes within [`DST_REACH`] of `t` (only then can wall
    /// time run backwards, or jump, near it).
    fn near_change(&self, t: DateTime<Utc>) -> bool {
        let offset = |x: DateTime<Utc>| x.with_timezone(&self.tz).offset().fix();
        match (
            t.checked_sub_signed(DST_REACH),
            t.checked_add_signed(DST_REACH),
        ) {
            (Some(a), Some(b)) => offset(a) != offset(b),
            _ => false,
        }
    }

    /// The first fire instant after `t`.
    fn next_instant(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let wall_now = t.with_timezone(&self.tz).naive_local();
        let horizon = wall_now.checked_add_signed(chrono::TimeDelta::days(HORIZON_DAYS))?;
        // Wall time runs backwards at a fall-back: near one, start looking a little before now.
        let start = if self.near_change(t) {
            wall_now.checked_sub_signed(DST_REACH)?
        } else {
            wall_now
        };
        let mut best: Option<(DateTime<Utc>, NaiveDateTime)> = None;
        for wall in self.wall_matches(start) {
            if let Some((_, stop)) = best
                && wall > stop
            {
                break;
            }
            if wall > horizon {
                break;
            }
            for instant in self.instants(wall) {
                if instant > t && best.is_none_or(|(b, _)| instant < b) {
                    // Later wall times can still fire earlier only around an offset change.
                    let b_wall = instant.with_timezone(&self.tz).naive_local();
                    let stop = if self.near_change(instant) {
                        b_wall.checked_add_signed(DST_REACH)?
                    } else {
                        b_wall
                    };
                    best = Some((instant, stop));
                }
            }
        }
        best.map(|(b, _)| b)
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

    /// A second implementation, by brute force, of the documented rule: every minute of the
    /// window in UTC for intervals; every wall-clock minute for fixed times (a repeated one
    /// fires the first time, skipped ones right after their gap). Five-field lines of `*`,
    /// `*/n`, numbers, lists and ranges.
    fn oracle(
        line: &str,
        tz: chrono_tz::Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        use chrono::{Datelike as _, TimeZone as _, Timelike as _};
        let fields: Vec<&str> = line.split_whitespace().collect();
        let matches = |field: &str, v: u32| -> bool {
            field.split(',').any(|part| {
                if part == "*" {
                    return true;
                }
                if let Some(step) = part.strip_prefix("*/") {
                    return step.parse::<u32>().is_ok_and(|n| v.is_multiple_of(n));
                }
                if let Some((a, b)) = part.split_once('-') {
                    return a.parse::<u32>().is_ok_and(|a| v >= a)
                        && b.parse::<u32>().is_ok_and(|b| v <= b);
                }
                part.parse::<u32>() == Ok(v)
            })
        };
        let wall_matches = |w: &chrono::NaiveDateTime| {
            matches(fields[0], w.minute())
                && matches(fields[1], w.hour())
                && matches(fields[2], w.day())
                && matches(fields[3], w.month())
                && matches(fields[4], w.weekday().num_days_from_sunday())
        };
        let mut out = Vec::new();
        if fields[1].contains('*') {
            let mut t = from;
            while t <= to {
                if wall_matches(&t.with_timezone(&tz).naive_local()) && t > from {
                    out.push(t);
                }
                t += chrono::TimeDelta::minutes(1);
            }
            return out;
        }
        let mut w = from.with_timezone(&tz).naive_local() - chrono::TimeDelta::hours(3);
        let end = to.with_timezone(&tz).naive_local() + chrono::TimeDelta::hours(3);
        while w <= end {
            if wall_matches(&w) {
                let at = match tz.from_local_datetime(&w) {
                    chrono::LocalResult::Single(t) => Some(t),
                    chrono::LocalResult::Ambiguous(a, _) => Some(a),
                    chrono::LocalResult::None => {
                        let mut after = w;
                        loop {
                            after += chrono::TimeDelta::minutes(1);
                            if let Some(t) = tz.from_local_datetime(&after).earliest() {
                                break Some(t);
                            }
                        }
                    }
                };
                if let Some(t) = at.map(|t| t.with_timezone(&Utc))
                    && t > from
                    && t <= to
                    && !out.contains(&t)
                {
                    out.push(t);
                }
            }
            w += chrono::TimeDelta::minutes(1);
        }
        out.sort();
        out
    }

    /// Issue 17: at the 2026 daylight-saving changes in New York and Berlin, every line's fire
    /// times are those of the brute-force second implementation: intervals keep their interval
    /// (no 90-minute or 2-hour hole at fall-back), fixed times follow the documented rule.
    #[test]
    fn dst_changes_of_2026_match_a_second_implementation() {
        let lines = [
            "*/30 * * * *",
            "0 * * * *",
            "45 * * * *",
            "0 */2 * * *",
            "*/20 2 * * *",
            "30 2 * * *",
            "15 1 * * *",
            "0 1,2,3 * * *",
        ];
        let days = [
            ("America/New_York", "2026-03-08"),
            ("America/New_York", "2026-11-01"),
            ("Europe/Berlin", "2026-03-29"),
            ("Europe/Berlin", "2026-10-25"),
        ];
        for (zone, day) in days {
            let tz: chrono_tz::Tz = zone.parse().expect("zone");
            let from: DateTime<Utc> = format!("{day}T00:00:00Z").parse().expect("time");
            let from = from - chrono::TimeDelta::hours(12);
            let to = from + chrono::TimeDelta::hours(48);
            for line in lines {
                let ours: Vec<DateTime<Utc>> = schedule(line, zone)
                    .after(from)
                    .map(|t| t.with_timezone(&Utc))
                    .take_while(|t| *t <= to)
                    .collect();
                let expected = oracle(line, tz, from, to);
                assert_eq!(ours, expected, "`{line}` in {zone} around {day}");
            }
        }
        // The holes of the issue are gone: every 30 minutes stays every 30 minutes.
        let s = schedule("*/30 * * * *", "America/New_York");
        let from: DateTime<Utc> = "2026-11-01T04:00:00Z".parse().expect("time");
        let times: Vec<DateTime<Utc>> = s
            .after(from)
            .take(8)
            .map(|t| t.with_timezone(&Utc))
            .collect();
        for pair in times.windows(2) {
            assert_eq!(
                pair[1] - pair[0],
                chrono::TimeDelta::minutes(30),
                "{times:?}"
            );
        }
        // `*/20 2 * * *` fires on the day the 02:00 hour does not exist: once, at 03:00.
        let s = schedule("*/20 2 * * *", "America/New_York");
        let from: DateTime<Utc> = "2026-03-08T00:00:00Z".parse().expect("time");
        let first = s.after(from).next().expect("a fire time");
        assert_eq!(first.to_rfc3339(), "2026-03-08T03:00:00-04:00");
    }

    #[test]
    fn a_year_field_is_refused() {
        let t: ScheduleTrigger =
            serde_json::from_value(json!({"cron": "0 0 0 * * * 2020", "timezone": "UTC"}))
                .expect("trigger");
        let err = Schedule::new(&t).err().expect("refused");
        assert!(err.to_string().contains("year"), "{err}");
    }
}
