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
