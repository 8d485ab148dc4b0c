//! What the planner says about values that may not be there — a skipped step, an optional field
//! — and about `for_each` items: per-item `if:`, `where:`, `loop.index`, and item fields checked
//! against the list's element schema.

use sluice_model::{Catalog, Limits, Severity};
use sluice_plan::{Validated, codes, validate_files};

/// A connector whose answers say which fields they always have.
const PEOPLE: &str = r#"
name: people
description: A test API of people.
base_url: "http://127.0.0.1:1"
operations:
  get_person:
    description: One person.
    method: GET
    path: "/people/{id}"
    params:
      id: { in: path, type: string, required: true }
    response:
      type: object
      required: [person]
      properties:
        person:
          type: object
          required: [id, name]
          properties:
            id: { type: string }
            name: { type: string }
            email: { type: string }
  list_people:
    description: Everyone.
    method: GET
    path: "/people"
    response:
      type: object
      properties:
        people:
          type: array
          items:
            type: object
            properties:
              id: { type: string }
              lastName: { type: string }
              done: { type: boolean }
"#;

fn check(flow: &str) -> Validated {
    let catalog = Catalog::from_sources([("people.yaml", PEOPLE)]).expect("connector loads");
    let files = vec![("flow.yaml".to_string(), flow.to_string())];
    validate_files(&files, &catalog, None, &Limits::default())
        .into_iter()
        .next()
        .expect("one result")
}

/// What was found, but unused inputs (the flows here do not all read `inputs.id`).
fn found(v: &Validated) -> Vec<(&'static str, Severity, String)> {
    v.report
        .diagnostics
        .iter()
        .filter(|d| d.code != codes::UNUSED_INPUT)
        .map(|d| (d.code, d.severity, d.message.clone()))
        .collect()
}

fn flow(steps: &str, output: &str) -> String {
    format!(
        "name: f\ninputs:\n  id: {{ type: string }}\nconnections:\n  p: {{ connector: people }}\nsteps:\n{steps}output:\n{output}"
    )
}

#[test]
fn an_optional_field_read_without_a_guard_is_a_warning() {
    let steps = "  who:\n    action: p.get_person\n    with: { id: \"{{ inputs.id }}\" }\n";
    let v = check(&flow(steps, "  mail: \"{{ steps.who.person.email }}\"\n"));
    assert_eq!(
        found(&v),
        [(
            codes::MAYBE_MISSING,
            Severity::Warning,
            "the API may leave `email` out of `person` (it is not required), and then `steps.who.person.email` is null".to_string()
        )]
    );
    assert!(v.plan.is_some(), "a warning does not stop the plan");
    // Required fields, and guarded reads, are fine.
    for output in [
        "  name: \"{{ steps.who.person.name }}\"\n",
        "  mail: \"{{ default steps.who.person.email \\\"none\\\" }}\"\n",
        "  mail: \"{{#if steps.who.person.email}}{{ steps.who.person.email }}{{/if}}\"\n",
    ] {
        assert_eq!(found(&check(&flow(steps, output))), [], "{output}");
    }
}

#[test]
fn reading_a_step_that_may_be_skipped_names_its_condition() {
    let steps = "  who:\n    if: \"{{ inputs.id }}\"\n    action: p.get_person\n    with: { id: \"{{ inputs.id }}\" }\n";
    let v = check(&flow(steps, "  name: \"{{ steps.who.person.name }}\"\n"));
    assert_eq!(
        found(&v),
        [(
            codes::MAYBE_SKIPPED,
            Severity::Warning,
            "step `who` is skipped when its `if:` ({{ inputs.id }}) is false, and then `steps.who.person.name` is null".to_string()
        )]
    );
    // A reader with a condition computed from the step is guarded, even through another step.
    let guarded = format!(
        "{steps}  known:\n    value: \"{{{{ steps.who.person.name }}}}\"\n    if: \"{{{{ steps.who }}}}\"\n  shout:\n    if: \"{{{{ steps.known }}}}\"\n    value: \"{{{{ upper steps.who.person.name }}}}\"\n"
    );
    let v = check(&flow(
        &guarded,
        "  s: \"{{ default steps.shout \\\"-\\\" }}\"\n",
    ));
    assert_eq!(found(&v), []);
}

#[test]
fn for_each_items_are_typed_and_conditions_see_them() {
    let steps = "  all:\n    action: p.list_people\n  names:\n    for_each: \"{{ steps.all.people }}\"\n    as: c\n    where: \"{{ not c.done }}\"\n    if: \"{{ gt loop.index 0 }}\"\n    value: \"{{ c.lastNme }}\"\n";
    let v = check(&flow(steps, "  n: \"{{ steps.names }}\"\n"));
    let d = found(&v);
    assert_eq!(
        d,
        [(
            codes::UNKNOWN_FIELD,
            Severity::Error,
            "`c` has no field `lastNme`".to_string()
        )]
    );
    let help = v
        .report
        .diagnostics
        .iter()
        .find(|d| d.code == codes::UNKNOWN_FIELD)
        .and_then(|d| d.help.clone());
    assert_eq!(help.as_deref(), Some("did you mean `lastName`?"));
    let fixed = steps.replace("lastNme", "lastName");
    assert_eq!(
        found(&check(&flow(&fixed, "  n: \"{{ steps.names }}\"\n"))),
        []
    );
}

#[test]
fn where_and_loop_belong_to_for_each() {
    let steps = "  who:\n    action: p.get_person\n    with: { id: \"{{ inputs.id }}\" }\n    where: \"{{ inputs.id }}\"\n";
    let v = check(&flow(steps, "  n: \"{{ steps.who.person.name }}\"\n"));
    assert_eq!(
        found(&v)
            .into_iter()
            .map(|(c, s, _)| (c, s))
            .collect::<Vec<_>>(),
        [(codes::MISPLACED_SETTING, Severity::Error)]
    );
    let steps = "  all:\n    action: p.list_people\n  ids:\n    for_each: \"{{ steps.all.people }}\"\n    value: \"{{ loop.number }}\"\n";
    let v = check(&flow(steps, "  n: \"{{ steps.ids }}\"\n"));
    assert_eq!(
        found(&v),
        [(
            codes::UNKNOWN_FIELD,
            Severity::Error,
            "`loop` has no field `number`".to_string()
        )]
    );
}
