//! Hostile inputs, generated at run time into a temporary folder: each is rejected with exit
//! code 1 and exactly one clear error, quickly, without a panic. Wall time and peak memory of
//! each run are printed (`cargo test -p sluice-cli --test cli hostile -- --nocapture`).

use crate::common::{Run, TIMEOUT, sluice};
use std::fmt::Write as _;

/// Writes `bytes` as `NAME.yaml` in a fresh temporary folder and validates it from there.
fn validate_hostile(name: &str, bytes: &[u8]) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = format!("{name}.yaml");
    std::fs::write(dir.path().join(&file), bytes).expect("the hostile file is written");
    let run = sluice(&["validate", &file], dir.path(), TIMEOUT);
    eprintln!(
        "hostile {name}: {} bytes in, {} bytes of stderr, exit {}, wall {:.3} s, peak RSS {}",
        bytes.len(),
        run.stderr.len(),
        run.describe_exit(),
        run.wall.as_secs_f64(),
        run.peak_rss_kb
            .map_or_else(|| "unknown".to_string(), |kb| format!("{kb} kB")),
    );
    (run, dir)
}

/// The checks every hostile input must pass, then a snapshot of what the user sees.
fn check_rejected(name: &str, bytes: &[u8], extra_filters: &[(&str, &str)]) {
    let (run, dir) = validate_hostile(name, bytes);
    assert!(
        !run.timed_out,
        "{name}: still running after {TIMEOUT:?}; killed"
    );
    assert_eq!(run.signal, None, "{name}: ended by a signal");
    assert!(
        !run.stderr.contains("panicked"),
        "{name}: panicked:\n{}",
        head(&run.stderr)
    );
    assert_eq!(
        run.code,
        Some(1),
        "{name}: exit {} (expected 1):\n{}",
        run.describe_exit(),
        head(&run.stderr)
    );
    assert_eq!(
        run.error_markers(),
        1,
        "{name}: expected exactly one error:\n{}",
        head(&run.stderr)
    );
    assert!(
        run.stderr.contains(&format!("{name}.yaml")),
        "{name}: the error does not name the file:\n{}",
        head(&run.stderr)
    );
    let tmp = dir.path().display().to_string();
    let tmp_re = regex_escape(&tmp);
    // The snippet of a binary file shows its NUL byte: keep the snapshot a text file.
    let mut filters: Vec<(&str, &str)> = vec![(tmp_re.as_str(), "[TMP]"), (r"\x00", "␀")];
    filters.extend_from_slice(extra_filters);
    insta::with_settings!({
        filters => filters,
        description => format!("sluice validate {name}.yaml (generated: see hostile.rs)"),
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, run.code_and_stderr());
    });
}

/// The first 4,000 characters, for failure messages.
fn head(text: &str) -> String {
    match text.char_indices().nth(4_000) {
        Some((i, _)) => format!("{}\n[... {} bytes in all]", &text[..i], text.len()),
        None => text.to_string(),
    }
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Deterministic bytes that look random (xorshift64).
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// A valid flow to wrap hostile content in (a fixed copy, so that changes to the examples in
/// `workflows/` do not change these snapshots).
const VALID_FLOW: &str = r#"# A valid flow, like workflows/contact-360.yaml.
name: contact-360
description: "One view of a contact: core fields, notes and open tasks."
on:
  - manual: {}
  - webhook: { event: ContactUpdate }
inputs:
  contactId: { type: string, description: GHL contact id }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main, read_only: true }
steps:
  contact:
    action: ghl.get_contact
    with: { contactId: "{{ inputs.contactId }}" }
  notes:
    action: ghl.list_notes
    with: { contactId: "{{ steps.contact.contact.id }}" }
  tasks:
    action: ghl.list_tasks
    with: { contactId: "{{ steps.contact.contact.id }}" }
    retry: { attempts: 5, backoff: exponential }
  open_tasks:
    select: "$.steps.tasks.tasks[?@.completed == false]"
output:
  id: "{{ steps.contact.contact.id }}"
  name: "{{ steps.contact.contact.firstName }} {{ steps.contact.contact.lastName }}"
  notes: "{{ steps.notes.notes }}"
  openTasks: "{{ steps.open_tasks }}"
"#;

#[test]
fn billion_laughs_alias_bomb() {
    // 9 levels of 10 aliases each: 10^9 strings if every alias were expanded.
    let mut yaml = String::from("name: laughs\nsteps:\n  bomb:\n    value:\n");
    yaml.push_str("      a0: &a0 \"lol\"\n");
    for level in 1..=9 {
        let refs = vec![format!("*a{}", level - 1); 10].join(", ");
        let _ = writeln!(yaml, "      a{level}: &a{level} [{refs}]");
    }
    yaml.push_str("output: \"{{ steps.bomb }}\"\n");
    check_rejected("billion-laughs", yaml.as_bytes(), &[]);
}

#[test]
fn deep_flow_sequences() {
    let depth = 10_000;
    let yaml = format!(
        "name: deep\nsteps:\n  s:\n    value: {}{}\noutput: \"{{{{ steps.s }}}}\"\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    // The snippet shows the long line: keep the snapshot short.
    check_rejected(
        "deep-flow-sequences",
        yaml.as_bytes(),
        &[
            (r"\[{20,}", "[[[…"),
            (r"\]{20,}", "…]]]"),
            (r" {20,}▲", "       …▲"),
        ],
    );
}

#[test]
fn deep_flow_maps() {
    let depth = 10_000;
    let yaml = format!(
        "name: deep\nsteps:\n  s:\n    value: {}1{}\noutput: \"{{{{ steps.s }}}}\"\n",
        "{a: ".repeat(depth),
        "}".repeat(depth)
    );
    check_rejected(
        "deep-flow-maps",
        yaml.as_bytes(),
        &[
            (r"(\{a: ){5,}", "{a: {a: …"),
            (r"\}{20,}", "…}}}"),
            (r" {20,}(─|▲)", "       …$1"),
        ],
    );
}

#[test]
fn deep_block_sequences() {
    // `- - - x` nests block sequences on one line.
    let depth = 10_000;
    let yaml = format!(
        "name: deep\nsteps:\n  s:\n    value:\n      {}x\noutput: \"{{{{ steps.s }}}}\"\n",
        "- ".repeat(depth)
    );
    check_rejected(
        "deep-block-sequences",
        yaml.as_bytes(),
        &[(r"(- ){10,}-?", "- - - …"), (r" {20,}▲", "       …▲")],
    );
}

fn block_maps(depth: usize) -> String {
    let mut yaml = String::from("name: deep\nsteps:\n  s:\n    value:\n");
    for level in 0..depth {
        yaml.push_str(&" ".repeat(6 + level));
        yaml.push_str("k:\n");
    }
    yaml.push_str("output: \"{{ steps.s }}\"\n");
    yaml
}

#[test]
fn deep_block_maps_10000() {
    // Each level is indented one more space: about 50 MB, over the size limit.
    check_rejected("deep-block-maps-10000", block_maps(10_000).as_bytes(), &[]);
}

#[test]
fn deep_block_maps_3000() {
    // About 4.5 MB: within the size limit, so the depth limit answers.
    check_rejected(
        "deep-block-maps-3000",
        block_maps(3_000).as_bytes(),
        &[(r" {20,}", "       … ")],
    );
}

#[test]
fn file_of_20_mb() {
    let mut yaml = VALID_FLOW.to_string();
    let pad = format!("# {}\n", "x".repeat(78));
    while yaml.len() < 20 * 1024 * 1024 {
        yaml.push_str(&pad);
    }
    yaml.truncate(20 * 1024 * 1024);
    check_rejected("twenty-mb", yaml.as_bytes(), &[]);
}

#[test]
fn invalid_utf8_in_a_valid_flow() {
    let text = VALID_FLOW;
    let bytes = text.as_bytes();
    // Just before `get_contact` on the first step's `action:` line.
    let at = text
        .find("get_contact")
        .expect("contact-360 calls get_contact");
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(b"\xff\xfe\xc3\x28");
    out.extend_from_slice(&bytes[at..]);
    check_rejected("invalid-utf8", &out, &[]);
}

#[test]
fn empty_file() {
    check_rejected("empty", b"", &[]);
}

#[test]
fn whitespace_only_file() {
    check_rejected("whitespace", b"\n\n   \n\t\n", &[]);
}

#[test]
fn binary_file() {
    // A PNG signature and IHDR start, zeros, then noise.
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend(std::iter::repeat_n(0u8, 1024));
    bytes.extend(noise(8 * 1024, 0x5eed_cafe_f00d_d00d));
    check_rejected("binary", &bytes, &[]);
}

#[test]
fn nul_byte_inside_text() {
    // Valid UTF-8 text, then a NUL: the NUL is what gives it away.
    let mut bytes = b"name: looks-fine\nsteps:\n".to_vec();
    bytes.extend_from_slice(b"  s:\n    value: \"a\0b\"\n");
    check_rejected("nul-in-text", &bytes, &[]);
}

#[test]
fn map_of_100000_keys_with_one_repeated() {
    // 100,000 keys in one map (a step's value), one of them given twice: one error.
    let mut yaml = String::from("name: many-keys\nsteps:\n  s:\n    value:\n");
    for i in 0..100_000 {
        let _ = writeln!(yaml, "      k{i}: {i}");
    }
    yaml.push_str("      k0: again\n");
    yaml.push_str("output: \"{{ steps.s }}\"\n");
    check_rejected("hundred-thousand-keys", yaml.as_bytes(), &[]);
}

#[test]
fn single_line_of_5_mb() {
    // A 5 MB flow name on one line: invalid, and echoed in the message.
    let long = "x".repeat(5 * 1024 * 1024);
    let yaml =
        format!("name: \"{long}\"\nsteps:\n  s:\n    value: 1\noutput: \"{{{{ steps.s }}}}\"\n");
    check_rejected(
        "five-mb-line",
        yaml.as_bytes(),
        &[
            // The message wraps the name over ~55,000 lines: keep one.
            (r"x{20,}", "xxx…"),
            (r"(\n  │ xxx…)+", "\n  │ xxx…"),
            (r"─{20,}", "───…"),
        ],
    );
}

/// 100,000 unknown top-level keys: at most 100 diagnostics are reported (plus a count of the
/// rest), and locating them is O(log n) each — this once took many minutes.
#[test]
fn top_level_map_of_100000_unknown_keys() {
    let mut yaml = String::new();
    for i in 0..100_000 {
        let _ = writeln!(yaml, "k{i}: {i}");
    }
    let (run, _dir) = validate_hostile("top-level-keys", yaml.as_bytes());
    assert!(!run.timed_out, "still running after {TIMEOUT:?}; killed");
    assert_eq!(run.code, Some(1), "{}", head(&run.stderr));
    assert!(
        run.stderr.contains(" more problems"),
        "{}",
        head(&run.stderr)
    );
    assert!(
        run.error_markers() <= 101,
        "{} errors printed",
        run.error_markers()
    );
}
