//! The helpers through the public API: compiled, evaluated in a scope, and how they fail.

use serde_json::{Value, json};
use sluice_template::{Compiled, Scope, Templates};

fn eval(text: &str, inputs: Value) -> Result<Value, String> {
    let mut t = Templates::default();
    let c = Compiled::compile_str(text, &mut t).map_err(|e| e.to_string())?;
    let flow = json!({"name": "t"});
    let scope = Scope::new(&inputs, &flow, Vec::new());
    c.eval(&scope, &t).map_err(|e| e.to_string())
}

#[test]
fn helpers_return_typed_values() {
    let i = json!({"n": 3, "list": [1, 2, 3], "name": " Ada ", "missing": null, "due": "2026-01-02T10:00:00Z"});
    assert_eq!(eval("{{ len inputs.list }}", i.clone()), Ok(json!(3)));
    assert_eq!(eval("{{ gt inputs.n 2 }}", i.clone()), Ok(json!(true)));
    assert_eq!(eval("{{ eq inputs.n 3.0 }}", i.clone()), Ok(json!(true)));
    assert_eq!(
        eval("{{ and (gt inputs.n 1) (lt inputs.n 5) }}", i.clone()),
        Ok(json!(true))
    );
    assert_eq!(eval("{{ not inputs.missing }}", i.clone()), Ok(json!(true)));
    assert_eq!(
        eval("{{ default inputs.missing \"x\" }}", i.clone()),
        Ok(json!("x"))
    );
    assert_eq!(
        eval("{{ join inputs.list \"-\" }}", i.clone()),
        Ok(json!("1-2-3"))
    );
    assert_eq!(
        eval("{{ upper (trim inputs.name) }}", i.clone()),
        Ok(json!("ADA"))
    );
    assert_eq!(
        eval("{{ json inputs.list }}", i.clone()),
        Ok(json!("[1,2,3]"))
    );
    assert_eq!(eval("{{ first inputs.list }}", i.clone()), Ok(json!(1)));
    assert_eq!(
        eval("{{ contains inputs.list 2 }}", i.clone()),
        Ok(json!(true))
    );
    assert_eq!(
        eval("{{ jsonpath inputs.list \"$[?@ > 1]\" }}", i.clone()),
        Ok(json!([2, 3]))
    );
    assert_eq!(
        eval("{{ date_add inputs.due \"90m\" }}", i.clone()),
        Ok(json!("2026-01-02T11:30:00.000Z"))
    );
    assert_eq!(
        eval("{{ date_add inputs.due \"-1d\" }}", i.clone()),
        Ok(json!("2026-01-01T10:00:00.000Z"))
    );
    assert_eq!(
        eval(
            "{{ date_format inputs.due \"%Y-%m-%d %H:%M %Z\" \"Europe/Berlin\" }}",
            i.clone()
        ),
        Ok(json!("2026-01-02 11:00 CET"))
    );
    assert_eq!(
        eval("Due {{ date_format inputs.due \"%H:%M\" }}!", i.clone()),
        Ok(json!("Due 10:00!"))
    );
    let now = eval("{{ now }}", i.clone()).expect("now");
    assert!(
        now.as_str()
            .is_some_and(|s| s.ends_with('Z') && s.len() == 24),
        "{now}"
    );
}

#[test]
fn missing_values_read_as_null_and_bad_arguments_are_clear_errors() {
    let i = json!({"a": {"b": 1}, "list": [1]});
    // A value that is not there is null: as a value, in text, as a helper's argument.
    assert_eq!(eval("{{ inputs.a.c }}", i.clone()), Ok(json!(null)));
    assert_eq!(eval("{{ inputs.a.b.c }}", i.clone()), Ok(json!(null)));
    assert_eq!(eval("{{ inputs.list.[3] }}", i.clone()), Ok(json!(null)));
    assert_eq!(eval("x {{ inputs.a.c }}", i.clone()), Ok(json!("x ")));
    assert_eq!(eval("x {{ upper inputs.a.c }}", i.clone()), Ok(json!("x ")));
    assert_eq!(eval("{{ len inputs.a.c }}", i.clone()), Ok(json!(0)));
    assert_eq!(eval("{{ not inputs.a.c }}", i.clone()), Ok(json!(true)));
    assert_eq!(
        eval("{{ default inputs.a.c \"none\" }}", i.clone()),
        Ok(json!("none"))
    );
    let e = eval("{{ date_add inputs.a \"1h\" }}", i.clone()).expect_err("not a date");
    assert!(
        e.contains("`date_add`") && e.contains("is not a date"),
        "{e}"
    );
    let e = eval("{{ len 5 }}", i).expect_err("len of a number");
    assert!(e.contains("`len` needs a list"), "{e}");
}

#[test]
fn text_list_and_pattern_helpers_through_templates() {
    let i = json!({
        "body": "Customer: please CALL BACK about order #4711",
        "phone": "+49 (30) 1234-56",
        "a": [1, 2], "b": [[3], 4],
        "tasks": [
            {"who": "ann", "h": 2, "due": "2026-03-02T10:00:00+02:00"},
            {"who": "bob", "h": 1, "due": "2026-03-02T09:00:00Z"},
            {"who": "ann", "h": 3, "due": "2026-03-01"}
        ]
    });
    let cases = [
        ("{{ contains inputs.body \"call back\" }}", json!(true)),
        ("{{ starts_with inputs.body \"customer\" }}", json!(true)),
        ("{{ ends_with inputs.body \"#4711\" }}", json!(true)),
        // Backslashes in a literal reach the pattern as written.
        (
            r#"{{ regex_match inputs.body "order #\d+\b" }}"#,
            json!(true),
        ),
        (
            r#"{{ regex_find inputs.body "order #(\d+)" "i" }}"#,
            json!("4711"),
        ),
        (
            r#"{{ regex_find inputs.body "refund #(\d+)" }}"#,
            json!(null),
        ),
        (
            r#"{{ regex_replace inputs.phone "[^\d+]" "" }}"#,
            json!("+4930123456"),
        ),
        ("{{ concat inputs.a inputs.b }}", json!([1, 2, [3], 4])),
        (
            "{{ flatten (concat inputs.a inputs.b) }}",
            json!([1, 2, 3, 4]),
        ),
        ("{{ len (unique inputs.tasks \"who\") }}", json!(2)),
        (
            "{{ len (lookup (group_by inputs.tasks \"who\") \"ann\") }}",
            json!(2),
        ),
        ("{{ sum inputs.tasks \"h\" }}", json!(6)),
        (
            "{{ max inputs.tasks \"due\" }}",
            json!("2026-03-02T09:00:00Z"),
        ),
        ("{{ min inputs.tasks \"h\" }}", json!(1)),
        ("{{ count_where inputs.tasks \"who\" \"ann\" }}", json!(2)),
        (
            "{{ lt \"2026-03-02T10:00:00+02:00\" \"2026-03-02T09:00:00Z\" }}",
            json!(true),
        ),
        ("{{ sum [1, 2.5] }}", json!(3.5)),
    ];
    for (template, expected) in cases {
        assert_eq!(eval(template, i.clone()), Ok(expected), "{template}");
    }
    assert_eq!(
        eval(
            "Tags: {{ join (concat inputs.a inputs.b) \"/\" }}",
            i.clone()
        ),
        Ok(json!("Tags: 1/2/[3]/4"))
    );
}

#[test]
fn helper_failures_name_the_helper() {
    let i = json!({"a": [1], "t": "x"});
    assert_eq!(
        eval("{{ concat inputs.a inputs.t }}", i.clone()),
        Err(
            "helper `concat`: argument 1 is a list but argument 2 is text (\"x\"): `concat` \
             joins lists into a list, or text into text, not both (`join` makes text of a list)"
                .into()
        )
    );
    assert_eq!(
        eval("{{ regex_match inputs.t \"(\" }}", i.clone()),
        Err("helper `regex_match`: `(` is not a valid pattern: unclosed group".into())
    );
    assert_eq!(
        eval("{{ regex_match inputs.t \"x\" \"g\" }}", i.clone()),
        Err(format!(
            "helper `regex_match`: {}",
            sluice_template::PatternError::Flag('g')
        ))
    );
    assert_eq!(
        eval("{{ sum inputs.t }}", i.clone()),
        Err("helper `sum`: expected a list, found \"x\"".into())
    );
    assert_eq!(
        eval("{{ date_add inputs.t \"1d\" }}", i),
        Err("helper `date_add`: `x` is not a date (use e.g. 2026-01-02T10:00:00Z)".into())
    );
}
