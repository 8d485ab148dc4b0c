//! One fixture file: its flow loaded, each case run and reported (`ok`, `FAILED`, `updated`,
//! `recorded`), cassettes written, and `--update` written back into the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sluice_project::{LoadedFlow, ProjectError};

use crate::case::{Outcome, run_case};
use crate::cassette::Cassette;
use crate::expect::new_expect;
use crate::fixture::{self, Case, Fixture};
use crate::{TestConfig, Totals, yaml};

/// Runs the cases of the fixture file at `path`, adding to `totals`.
pub(crate) async fn test_file(path: &Path, args: &TestConfig, totals: &mut Totals) {
    let Some((fixture, loaded)) = load(path, args.color, totals) else {
        return;
    };
    println!("{} ({})", path.display(), loaded.target.name);
    let mut updates: Vec<(usize, Value)> = Vec::new();
    let mut cassettes: BTreeMap<PathBuf, Cassette> = BTreeMap::new();
    for (index, case) in fixture.cases.iter().enumerate() {
        if let Some(filter) = &args.case
            && !case.name.contains(filter.as_str())
        {
            continue;
        }
        let outcome = run_case(&loaded, case, args).await;
        if outcome.recorded.is_some() {
            record(&mut cassettes, &loaded, case, &outcome, totals);
        }
        if let Some(update) = report(case, &outcome, args, totals) {
            updates.push((index, update));
        }
    }
    for (file, cassette) in &cassettes {
        if let Err(e) = cassette.write(file) {
            eprintln!("error: {}: {e}", file.display());
            totals.usage += 1;
        }
    }
    if !updates.is_empty()
        && let Err(e) = write_updates(&fixture, &updates)
    {
        eprintln!("error: {}: cannot update: {e}", fixture.path.display());
        totals.usage += 1;
    }
}

/// The fixture and its flow; `None` (reported, counted) when either is invalid.
fn load(path: &Path, color: bool, totals: &mut Totals) -> Option<(Fixture, LoadedFlow)> {
    let fixture = match fixture::load(path, color) {
        Ok(f) => f,
        Err(text) => {
            eprint!("{text}");
            eprintln!("error: {}: the fixture file is invalid", path.display());
            totals.usage += 1;
            return None;
        }
    };
    match LoadedFlow::load(&fixture.flow) {
        Ok(loaded) => Some((fixture, loaded)),
        Err(ProjectError::InvalidFlow(report)) => {
            eprint!("{}", report.render(color));
            eprintln!("error: {}", ProjectError::InvalidFlow(report));
            totals.usage += 1;
            None
        }
        Err(e) => {
            eprintln!("error: {}: {e}", fixture.flow.display());
            totals.usage += 1;
            None
        }
    }
}

/// Adds a recorded case to its cassette (read from its file the first time).
fn record(
    cassettes: &mut BTreeMap<PathBuf, Cassette>,
    loaded: &LoadedFlow,
    case: &Case,
    outcome: &Outcome,
    totals: &mut Totals,
) {
    let Some((file, exchanges, redactor)) = &outcome.recorded else {
        return;
    };
    let entry = cassettes.entry(file.clone()).or_insert_with(|| {
        Cassette::read(file)
            .unwrap_or_else(|e| {
                eprintln!("warning: {e}; writing a new one");
                None
            })
            .unwrap_or_default()
    });
    entry.flow.clone_from(&loaded.target.name);
    entry.about = "Recorded by `sluice test --record` (secrets redacted; `@now±N` dates are relative to the replay). Replayed offline by `sluice test`.".into();
    match entry.store(&case.name, exchanges, redactor, &outcome.dates) {
        Ok(()) => {
            totals.recorded += 1;
            println!(
                "  recorded  {}: {} exchange{} → {}",
                case.name,
                exchanges.len(),
                if exchanges.len() == 1 { "" } else { "s" },
                file.display()
            );
        }
        Err(e) => eprintln!("error: cannot record `{}`: {e}", case.name),
    }
}

/// Prints how the case went and counts it; the new `expect:` when it is to be updated.
fn report(case: &Case, outcome: &Outcome, args: &TestConfig, totals: &mut Totals) -> Option<Value> {
    let ms = outcome.elapsed.as_millis();
    if outcome.problems.is_empty() {
        totals.passed += 1;
        println!("  ok      {} ({ms} ms)", case.name);
        return None;
    }
    let answered = outcome.actual.as_ref().filter(|a| a.unanswered.is_empty());
    if args.update
        && let Some(actual) = answered
    {
        totals.updated += 1;
        println!("  updated {} ({ms} ms)", case.name);
        for p in &outcome.problems {
            println!("          {p}");
        }
        return Some(new_expect(case.expect.as_ref(), actual, &outcome.dates));
    }
    totals.failed += 1;
    println!("  FAILED  {} ({ms} ms)", case.name);
    for p in &outcome.problems {
        println!("          {p}");
    }
    if args.update && outcome.actual.is_some() {
        println!("          (not updated: answer every request first)");
    }
    None
}

fn write_updates(fixture: &Fixture, updates: &[(usize, Value)]) -> Result<(), String> {
    let text = yaml::rewrite(&fixture.source, updates)?;
    // What is written must read back as a fixture.
    let check = tempfile_path(&fixture.path);
    fs_err::write(&check, &text).map_err(|e| e.to_string())?;
    let back = fixture::load(&check, false);
    let _ = fs_err::remove_file(&check);
    if let Err(e) = back {
        return Err(format!("the updated file would not read back:\n{e}"));
    }
    fs_err::write(&fixture.path, text).map_err(|e| e.to_string())?;
    println!("  wrote {}", fixture.path.display());
    Ok(())
}

/// A file next to `path` (same folder, so relative `seed:` paths still resolve).
fn tempfile_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("fixture.test.yaml");
    path.with_file_name(format!(".{name}.{}.check.test.yaml", std::process::id()))
}
