//! Flows written for tests rather than as examples, run by the tests of more than one crate
//! (the runner service in-process and `sluice serve` through the binary).

/// A schedule that fires every second (overlaps allowed); its output is the tick it was
/// fired for.
pub const TICK: &str = r#"
name: tick
on:
  - schedule: { cron: "* * * * * *", overlap: allow }
inputs:
  fireTime: { type: string, required: false }
steps:
  at:
    value: "{{ inputs.fireTime }}"
output: "{{ steps.at }}"
"#;
