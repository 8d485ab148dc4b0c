//! `validate` ⇔ `run` (issue 17): flows are generated — helper calls with too few or too many
//! arguments, literal JSONPaths, offsets and time zones good and bad, `for_each` over lists and
//! over what is not one, `as:` names, zero and non-zero timeouts, stray braces — and every flow
//! the checks accept is built and run: it never fails for a reason visible in the flow (a
//! template that does not compile, a helper's arity, a literal argument the helper refuses, a
//! `for_each` over an input or literal that is not a list).

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::Map;
use sluice_engine::{NoObserver, RunOptions, Runtime};
use sluice_project::load::LoadedFlow;

/// Run-time messages of failures `validate` must have caught.
const SHAPE_ERRORS: &[&str] = &[
    "needs a list",
    "is missing",
    "is not a JSONPath",
    "is not a duration",
    "is not a time zone",
    "internal error",
    "not a valid template",
    "cannot be compiled",
];

/// A value a template argument may be: a path of the flow's context or a literal.
fn argument() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("inputs.a".to_string()),
        Just("inputs.s".to_string()),
        Just("inputs.n".to_string()),
        Just("\"90m\"".to_string()),
        Just("\"-1d\"".to_string()),
        Just("\"soon\"".to_string()),
        Just("\"$[0]\"".to_string()),
        Just("\"$[?(\"".to_string()),
        Just("\"Europe/Berlin\"".to_string()),
        Just("\"Mars/Olympus\"".to_string()),
        Just("\"%Y-%m-%d\"".to_string()),
        Just("2".to_string()),
        Just("true".to_string()),
    ]
}

/// One `{{ … }}` expression: a path, or a helper with 0 to 4 arguments.
fn expression() -> impl Strategy<Value = String> {
    let helper = prop_oneof![
        Just("len"),
        Just("join"),
        Just("first"),
        Just("reverse"),
        Just("take"),
        Just("concat"),
        Just("date_add"),
        Just("date_format"),
        Just("jsonpath"),
        Just("default"),
        Just("eq"),
        Just("upper"),
        Just("json"),
        Just("contains"),
        Just("not"),
    ];
    prop_oneof![
        argument(),
        (helper, prop::collection::vec(argument(), 0..5))
            .prop_map(|(h, args)| format!("{h} {}", args.join(" "))),
    ]
}

/// A step: a `value:` template (maybe with stray braces), maybe a `for_each` with an `as`,
/// maybe a timeout.
fn step() -> impl Strategy<Value = String> {
    let for_each = prop_oneof![
        Just(None),
        Just(Some("\"{{ inputs.a }}\"")),
        Just(Some("\"{{ inputs.s }}\"")),
        Just(Some("\"{{ inputs.n }}\"")),
        Just(Some("[1, 2]")),
        Just(Some("\"x\"")),
        Just(Some("5")),
    ];
    let as_name = prop_oneof![
        Just(None),
        Just(Some("task")),
        Just(Some("inputs")),
        Just(Some("steps"))
    ];
    let timeout = prop_oneof![Just(None), Just(Some("0s")), Just(Some("5s"))];
    let tail = prop_oneof![Just(""), Just("}"), Just(" and text")];
    (expression(), for_each, as_name, timeout, tail).prop_map(
        |(expr, each, as_name, timeout, tail)| {
            let mut s = format!(
                "    value: \"{{{{ {} }}}}{tail}\"\n",
                expr.replace('"', "\\\"")
            );
            if let Some(list) = each {
                s.push_str(&format!("    for_each: {list}\n"));
                if let Some(name) = as_name {
                    s.push_str(&format!("    as: {name}\n"));
                }
            }
            if let Some(t) = timeout {
                s.push_str(&format!("    timeout: {t}\n"));
            }
            s
        },
    )
}

fn flow() -> impl Strategy<Value = String> {
    prop::collection::vec(step(), 1..4).prop_map(|steps| {
        let mut text = String::from(
            "name: generated\ninputs:\n  a: { type: array, default: [3, 1, 2] }\n  s: { type: string, default: \"2026-01-02T03:04:05Z\" }\n  n: { type: integer, default: 3 }\nsteps:\n",
        );
        for (i, body) in steps.iter().enumerate() {
            text.push_str(&format!("  s{i}:\n{body}"));
        }
        let last = steps.len() - 1;
        text.push_str(&format!(
            "output: {{ all: \"{{{{ steps.s{last} }}}}\", first: \"{{{{ steps.s0 }}}}\" }}\n"
        ));
        text
    })
}

/// Loads (validates) and, when valid, runs the flow; the run's failure, if any.
fn validate_and_run(text: &str) -> Option<Result<(), String>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("generated.yaml");
    std::fs::write(&path, text).expect("write");
    let loaded = LoadedFlow::load(&path).ok()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(async {
        let rt = Runtime::builder(Arc::new(NoObserver), RunOptions::default())
            .build()
            .expect("a runtime");
        let inputs = sluice_engine::prepare_inputs(&loaded.target, Map::new())
            .expect("the defaults are valid");
        sluice_engine::run(loaded.target.clone(), Arc::new(rt), inputs).await
    });
    Some(match report.error {
        None => Ok(()),
        Some(e) => Err(e),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn a_flow_validate_accepts_never_fails_at_run_time_for_its_shape(text in flow()) {
        if let Some(Err(error)) = validate_and_run(&text) {
            for shape in SHAPE_ERRORS {
                prop_assert!(
                    !error.contains(shape),
                    "validate accepted this flow, and its run failed for a reason visible in it:\n{error}\n---\n{text}"
                );
            }
        }
    }
}

/// The generator is not vacuous: it makes flows that `validate` refuses for each reason, and
/// flows it accepts that run.
#[test]
fn the_generated_cases_cover_both_sides() {
    let refused = [
        "    value: \"{{ date_add inputs.s }}\"\n",
        "    value: \"{{ jsonpath inputs.a \\\"$[?(\\\" }}\"\n",
        "    value: \"{{ date_add inputs.s \\\"soon\\\" }}\"\n",
        "    value: \"{{ date_format inputs.s \\\"%Y\\\" \\\"Mars/Olympus\\\" }}\"\n",
        "    value: \"{{ inputs.n }}\"\n    for_each: \"{{ inputs.s }}\"\n",
        "    value: \"{{ item }}\"\n    for_each: 5\n",
        "    value: \"{{ inputs.n }}\"\n    for_each: \"{{ inputs.a }}\"\n    as: inputs\n",
        "    value: \"{{ inputs.n }}\"\n    timeout: 0s\n",
    ];
    let head = "name: generated\ninputs:\n  a: { type: array, default: [3, 1, 2] }\n  s: { type: string, default: \"2026-01-02T03:04:05Z\" }\n  n: { type: integer, default: 3 }\nsteps:\n  s0:\n";
    for body in refused {
        let text = format!("{head}{body}output: \"{{{{ steps.s0 }}}}\"\n");
        assert!(
            validate_and_run(&text).is_none(),
            "validate accepted:\n{text}"
        );
    }
    let accepted = format!(
        "{head}    value: \"{{{{ date_add inputs.s \\\"-1d\\\" }}}}}}\"\n  s1:\n    for_each: \"{{{{ inputs.a }}}}\"\n    as: task\n    value: \"{{{{ task }}}}\"\noutput: \"{{{{ steps.s0 }}}} {{{{ steps.s1 }}}}\"\n"
    );
    assert_eq!(validate_and_run(&accepted), Some(Ok(())), "{accepted}");
}
