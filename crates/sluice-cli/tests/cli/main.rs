//! End-to-end tests of the `sluice` binary: the corpus of broken flows in `tests/broken/`,
//! the example flows in `workflows/`, several mistakes in one run, hostile inputs, and exit
//! codes. Every test runs the real binary (`NO_COLOR=1`) and snapshots what a user sees.

mod broken;
mod common;
mod exit_codes;
mod hostile;
mod several;
mod valid;
