//! Planner checks that need more than one file or a project file: scopes, credentials,
//! sub-flows and cycles between flows. (Single-file mistakes are covered by the broken-flow
//! corpus through the binary, in `crates/sluice-cli/tests`.)

use sluice_model::{Catalog, Limits, Project, Severity};
use sluice_plan::{Validated, codes, validate_files};

fn catalog() -> Catalog {
    sluice_connectors::builtin_catalog().expect("built-in connectors load")
}

fn project(toml: &str) -> Project {
    sluice_model::project::parse_project("sluice.toml", toml).expect("valid sluice.toml")
}

fn check(files: &[(&str, &str)], project: Option<&Project>) -> Vec<Validated> {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| ((*p).to_string(), (*t).to_string()))
        .collect();
    validate_files(&files, &catalog(), project, &Limits::default())
}

fn codes_of(v: &Validated) -> Vec<(&'static str, Severity)> {
    v.report
        .diagnostics
        .iter()
        .map(|d| (d.code, d.severity))
        .collect()
}

const WRITER: &str = r#"
name: writer
inputs:
  contactId: { type: string }
connections:
  ghl: { connector: ghl-contacts, credential: reader }
steps:
  tag:
    action: ghl.add_tags
    with: { contactId: "{{ inputs.contactId }}", tags: [vip] }
"#;

#[test]
fn a_credential_without_the_scope_fails_validation() {
    let p = project(
        "[credentials.reader]\nkind = \"bearer\"\nscopes = [\"contacts.readonly\"]\ntoken = { env = \"GHL_TOKEN\" }\n",
    );
    let out = check(&[("writer.yaml", WRITER)], Some(&p));
    assert_eq!(codes_of(&out[0]), [(codes::MISSING_SCOPE, Severity::Error)]);
    let d = &out[0].report.diagnostics[0];
    assert_eq!(
        d.message,
        "`ghl.add_tags` needs scope `contacts.write`, which credential `reader` does not grant"
    );
    assert!(out[0].plan.is_none());
}

#[test]
fn a_credential_with_the_scope_or_without_declared_scopes_passes() {
    let granted = project(
        "[credentials.reader]\nkind = \"bearer\"\nscopes = [\"contacts.readonly\", \"contacts.write\"]\n",
    );
    assert_eq!(
        codes_of(&check(&[("writer.yaml", WRITER)], Some(&granted))[0]),
        []
    );
    let undeclared = project("[credentials.reader]\nkind = \"bearer\"\n");
    assert_eq!(
        codes_of(&check(&[("writer.yaml", WRITER)], Some(&undeclared))[0]),
        []
    );
}

#[test]
fn an_unknown_credential_is_named_with_a_suggestion() {
    let p = project("[credentials.readers]\nkind = \"bearer\"\n");
    let out = check(&[("writer.yaml", WRITER)], Some(&p));
    assert_eq!(
        codes_of(&out[0]),
        [(codes::UNKNOWN_CREDENTIAL, Severity::Error)]
    );
    assert_eq!(
        out[0].report.diagnostics[0].help.as_deref(),
        Some("did you mean `readers`?")
    );
}

#[test]
fn sub_flows_resolve_and_their_inputs_are_checked() {
    let parent = r#"
name: parent
steps:
  run:
    flow: writer
    with: { contactID: abc }
output: "{{ steps.run }}"
"#;
    let out = check(&[("parent.yaml", parent), ("writer.yaml", WRITER)], None);
    let found = codes_of(&out[0]);
    assert!(
        found.contains(&(codes::UNKNOWN_PARAMETER, Severity::Error)),
        "{found:?}"
    );
    assert!(
        found.contains(&(codes::MISSING_PARAMETER, Severity::Error)),
        "{found:?}"
    );
    let missing = check(
        &[(
            "parent.yaml",
            &parent.replace("flow: writer", "flow: writr"),
        )],
        None,
    );
    assert_eq!(
        codes_of(&missing[0]),
        [(codes::UNKNOWN_FLOW, Severity::Error)]
    );
}

#[test]
fn flows_that_run_each_other_form_a_reported_cycle() {
    let a = "name: a\nsteps:\n  call_b: { flow: b }\n";
    let b = "name: b\nsteps:\n  call_a: { flow: a }\n";
    let out = check(&[("a.yaml", a), ("b.yaml", b)], None);
    for v in &out {
        assert_eq!(
            codes_of(v),
            [(codes::FLOW_CYCLE, Severity::Error)],
            "{}",
            v.report.path
        );
        assert!(v.plan.is_none());
    }
    assert_eq!(
        out[0].report.diagnostics[0].message,
        "flows run each other in a circle: `a` → `b` → `a`"
    );
}

#[test]
fn independent_steps_share_a_level_and_levels_follow_needs() {
    let flow = r#"
name: levels
inputs:
  id: { type: string }
connections:
  ghl: { connector: ghl-contacts }
steps:
  contact: { action: ghl.get_contact, with: { contactId: "{{ inputs.id }}" } }
  notes: { action: ghl.list_notes, with: { contactId: "{{ steps.contact.contact.id }}" } }
  tasks: { action: ghl.list_tasks, with: { contactId: "{{ steps.contact.contact.id }}" } }
  merged: { value: { n: "{{ steps.notes.notes }}", t: "{{ steps.tasks.tasks }}" } }
  last: { value: 1, after: [merged] }
output: "{{ steps.merged }}"
"#;
    let out = check(&[("levels.yaml", flow)], None);
    let plan = out[0].plan.as_ref().expect("valid flow has a plan");
    let names: Vec<Vec<&str>> = plan
        .levels
        .iter()
        .map(|l| {
            l.iter()
                .map(|&i| plan.steps[i].name.value.as_str())
                .collect()
        })
        .collect();
    assert_eq!(
        names,
        [
            vec!["contact"],
            vec!["notes", "tasks"],
            vec!["merged"],
            vec!["last"]
        ]
    );
}

#[test]
fn a_select_names_the_step_it_reads_and_depends_on_it() {
    let flow = r#"
name: sel
inputs:
  id: { type: string }
connections:
  ghl: { connector: ghl-contacts }
steps:
  tasks: { action: ghl.list_tasks, with: { contactId: "{{ inputs.id }}" } }
  open: { select: "$['steps']['tasks'].tasks[?@.completed == false]" }
output: "{{ steps.open }}"
"#;
    let out = check(&[("sel.yaml", flow)], None);
    let plan = out[0].plan.as_ref().expect("plan");
    assert_eq!(plan.needs(1), [0]);
}

#[test]
fn response_schema_catches_a_misspelled_field_but_not_a_real_one() {
    let flow = |field: &str| {
        format!(
            "name: f\ninputs:\n  id: {{ type: string }}\nconnections:\n  ghl: {{ connector: ghl-contacts }}\nsteps:\n  contact: {{ action: ghl.get_contact, with: {{ contactId: \"{{{{ inputs.id }}}}\" }} }}\noutput: \"{{{{ steps.contact.contact.{field} }}}}\"\n"
        )
    };
    let good = check(&[("f.yaml", &flow("email"))], None);
    assert_eq!(codes_of(&good[0]), []);
    let bad = check(&[("f.yaml", &flow("emial"))], None);
    assert_eq!(codes_of(&bad[0]), [(codes::UNKNOWN_FIELD, Severity::Error)]);
    assert_eq!(
        bad[0].report.diagnostics[0].message,
        "`contact` has no field `emial`"
    );
    assert_eq!(
        bad[0].report.diagnostics[0].help.as_deref(),
        Some("did you mean `email`?")
    );
    let list = check(&[("f.yaml", &flow("tags.name"))], None);
    assert_eq!(
        list[0].report.diagnostics[0].message,
        "`tags` is a list, so it has no field `name`"
    );
}
