//! `sluice validate` checks every helper call against the one helper table: for each helper,
//! calls with the fewest and the most arguments pass, one fewer or one more is an error at the
//! call whose help shows the signature; `and`, `or` and `default` keep accepting the one
//! argument flows already give them; literal patterns and JSONPath paths are checked.

use std::sync::LazyLock;

use sluice_model::{Catalog, Diagnostic, Limits, Severity};
use sluice_plan::{codes, validate_files};
use sluice_template::{HELPERS, HelperKind};

static CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| sluice_connectors::builtin_catalog().expect("built-in connectors"));

/// The start of the flow around a template (which follows right after it).
const PREFIX: &str = "name: h\ninputs:\n  a: { type: string }\nsteps:\n  s:\n    value: '";

/// The errors of a flow whose one step's value is `template`.
fn diagnostics(template: &str) -> Vec<Diagnostic> {
    let flow = format!(
        "{PREFIX}{}'\noutput: \"{{{{ steps.s }}}}\"\n",
        template.replace('\'', "''")
    );
    let out = validate_files(
        &[("h.yaml".to_string(), flow)],
        &CATALOG,
        None,
        &Limits::default(),
    );
    out.into_iter()
        .flat_map(|v| v.report.diagnostics)
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

/// A call of `name` with `n` arguments, all `inputs.a`.
fn call(name: &str, n: usize, block: bool) -> String {
    let args = vec!["inputs.a"; n].join(" ");
    if block {
        format!("{{{{#{name} {args}}}}}x{{{{/{name}}}}}")
    } else {
        format!("{{{{ {name} {args} }}}}")
    }
}

#[test]
fn every_helper_is_checked_against_its_arity() {
    let mut failures = Vec::new();
    for h in HELPERS {
        let block = matches!(h.kind, HelperKind::Builtin) && h.name != "lookup";
        let most = h.arity.max.unwrap_or(h.arity.min + 3);
        for n in [h.arity.min, most] {
            let d = diagnostics(&call(h.name, n, block));
            if !d.is_empty() {
                failures.push(format!("`{}` with {n}: {:?}", h.name, d[0].message));
            }
        }
        let mut wrong = vec![most + 1];
        if h.arity.min > 0 {
            wrong.push(h.arity.min - 1);
        }
        if h.arity.max.is_none() {
            wrong.clear();
            if h.arity.min > 0 {
                wrong.push(h.arity.min - 1);
            }
        }
        for n in wrong {
            let d = diagnostics(&call(h.name, n, block));
            let found = d.iter().find(|d| d.code == codes::HELPER_ARGUMENTS);
            match found {
                None => failures.push(format!("`{}` with {n} arguments passes: {d:?}", h.name)),
                Some(d) => {
                    let expected = format!("`{}` takes {}, found {n}", h.name, h.arity.describe());
                    if d.message != expected {
                        failures.push(format!("{} (expected {expected})", d.message));
                    }
                    if !d
                        .help
                        .as_deref()
                        .is_some_and(|help| help.contains(h.signature))
                    {
                        failures.push(format!(
                            "`{}`: the help lacks the signature: {:?}",
                            h.name, d.help
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn and_or_default_accept_one_argument_as_they_always_did() {
    for template in [
        "{{ and inputs.a }}",
        "{{ or inputs.a }}",
        "{{ default inputs.a }}",
        "{{ default inputs.a \"x\" \"y\" \"z\" }}",
        "{{#if (and inputs.a)}}x{{/if}}",
    ] {
        assert_eq!(diagnostics(template).len(), 0, "{template}");
    }
    let d = diagnostics("{{ and }}");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].message, "`and` takes at least 1 argument, found 0");
}

#[test]
fn a_call_is_located_at_its_name() {
    let d = diagnostics("{{ upper (date_add inputs.a) }}");
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, codes::HELPER_ARGUMENTS);
    let label = d[0].labels.first().map(|l| (l.span.offset, l.span.len));
    let before = format!("{PREFIX}{{{{ upper (");
    assert_eq!(label, Some((before.len(), "date_add".len())));
}

#[test]
fn literal_patterns_and_paths_are_checked_dynamic_ones_are_not() {
    let codes_of =
        |t: &str| -> Vec<&'static str> { diagnostics(t).iter().map(|d| d.code).collect() };
    assert_eq!(
        codes_of(r#"{{ regex_match inputs.a "(\d+" }}"#),
        [codes::INVALID_PATTERN]
    );
    assert_eq!(
        codes_of(r#"{{ regex_find inputs.a "\d+" "gi" }}"#),
        [codes::INVALID_PATTERN]
    );
    assert_eq!(
        codes_of(r#"{{ regex_replace inputs.a "(?<=a)b" "c" }}"#),
        [codes::INVALID_PATTERN]
    );
    assert_eq!(
        codes_of(r#"{{ regex_match inputs.a "\d+\b" "ims x" }}"#),
        Vec::<&str>::new()
    );
    // A pattern or flags only known at run time are checked then.
    assert_eq!(
        codes_of("{{ regex_match inputs.a inputs.a inputs.a }}"),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes_of(r#"{{ regex_match inputs.a "x" inputs.a }}"#),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes_of(r#"{{ jsonpath inputs.a "$[?@.d < now()]" }}"#),
        [codes::INVALID_JSONPATH]
    );
    assert_eq!(
        codes_of(r#"{{ jsonpath inputs.a "$[" }}"#),
        [codes::INVALID_JSONPATH]
    );
    assert_eq!(
        codes_of(r#"{{ jsonpath inputs.a "$[?length(@.t) > 1]" }}"#),
        Vec::<&str>::new()
    );
    let d = diagnostics(r#"{{ jsonpath inputs.a "$[?@.d < now()]" }}"#);
    assert_eq!(
        d[0].message,
        "JSONPath has no function `now()`: its functions are `length`, `count`, `match`, \
         `search` and `value`"
    );
}

#[test]
fn literal_offsets_and_time_zones_are_checked_dynamic_ones_are_not() {
    let codes_of =
        |t: &str| -> Vec<&'static str> { diagnostics(t).iter().map(|d| d.code).collect() };
    assert_eq!(
        codes_of(r#"{{ date_add inputs.a "soon" }}"#),
        [codes::INVALID_ARGUMENT]
    );
    assert_eq!(
        codes_of(r#"{{ date_format inputs.a "%H" "Mars/Olympus" }}"#),
        [codes::INVALID_ARGUMENT]
    );
    for fine in [
        r#"{{ date_add inputs.a "-1d" }}"#,
        r#"{{ date_add inputs.a "+2h 30m" }}"#,
        r#"{{ date_add inputs.a inputs.a }}"#,
        r#"{{ date_format inputs.a "%H" "Europe/Berlin" }}"#,
        r#"{{ date_format inputs.a "%H" "UTC" }}"#,
    ] {
        assert_eq!(codes_of(fine), Vec::<&str>::new(), "{fine}");
    }
}
