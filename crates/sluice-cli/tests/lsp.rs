//! `sluice lsp` driven as an editor drives it — JSON-RPC over stdio: initialize, didOpen,
//! didChange, completion, hover, definition, codeAction, shutdown — on the example flows of
//! `workflows/` in a temporary project.

use std::path::PathBuf;

use serde_json::{Value, json};
use sluice_test_support::{GHL_MAIN_FROM_ENV, LspClient, TempProject, file_uri, workflow};

/// A project with contact-360 and its fixture in `flows/`, and a language server on it.
fn start() -> (TempProject, LspClient) {
    let project = TempProject::new(GHL_MAIN_FROM_ENV).with_example("contact-360");
    let fixture = std::fs::read_to_string(
        sluice_test_support::repo_root().join("workflows/contact-360.test.yaml"),
    )
    .expect("the fixture");
    project.write("flows/contact-360.test.yaml", fixture);
    let cassette = "contact-360.cassette.json";
    let text = std::fs::read_to_string(
        sluice_test_support::repo_root()
            .join("workflows")
            .join(cassette),
    )
    .expect("the cassette");
    project.write(&format!("flows/{cassette}"), text);
    let mut cmd = sluice_test_support::sluice(env!("CARGO_BIN_EXE_sluice"));
    cmd.arg("lsp").current_dir(project.path());
    let client = LspClient::start(cmd, project.path());
    (project, client)
}

fn flow_path(project: &TempProject) -> PathBuf {
    project.flows().join("contact-360.yaml")
}

/// `(line, character)` of the `nth` occurrence of `needle` in `text`, moved `shift` characters
/// into it (the texts here are ASCII).
fn pos(text: &str, needle: &str, shift: usize) -> (u32, u32) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` in the text"));
    let at = at + shift;
    let line = text[..at].matches('\n').count();
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1);
    (
        u32::try_from(line).expect("line"),
        u32::try_from(col).expect("col"),
    )
}

/// The text a range of `text` covers.
fn covered<'a>(text: &'a str, range: &Value) -> &'a str {
    let offset = |p: &Value| {
        let line = p["line"].as_u64().expect("line") as usize;
        let col = p["character"].as_u64().expect("character") as usize;
        let start: usize = text.split('\n').take(line).map(|l| l.len() + 1).sum();
        start + col
    };
    &text[offset(&range["start"])..offset(&range["end"])]
}

/// Diagnostics as `code @ covered text: message` lines, for snapshots.
fn summary(text: &str, diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| {
            format!(
                "{} [{}] @ `{}`: {}",
                d["code"].as_str().unwrap_or_default(),
                match d["severity"].as_u64() {
                    Some(1) => "error",
                    Some(2) => "warning",
                    _ => "?",
                },
                covered(text, &d["range"]),
                d["message"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

fn labels(items: &Value) -> Vec<String> {
    let list = items.get("items").unwrap_or(items);
    list.as_array()
        .expect("a list of completions")
        .iter()
        .map(|i| i["label"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn item<'a>(items: &'a Value, label: &str) -> &'a Value {
    let list = items.get("items").unwrap_or(items);
    list.as_array()
        .expect("a list of completions")
        .iter()
        .find(|i| i["label"] == label)
        .unwrap_or_else(|| panic!("no completion `{label}` in {:?}", labels(items)))
}

#[test]
fn diagnostics_follow_every_change_with_range_code_and_hint() {
    let (project, mut lsp) = start();
    let path = flow_path(&project);
    let good = workflow("contact-360");
    assert_eq!(
        lsp.open(&path, &good),
        Vec::<Value>::new(),
        "contact-360 as committed"
    );

    // The cases of the table, one change each.
    let cases = [
        ("action: ghl.get_contact", "action: ghl.get_contcat"),
        (
            "\"{{ steps.contact.contact.email }}\"",
            "\"{{ steps.contact.contact.emial }}\"",
        ),
        (
            "retry: { attempts: 5",
            "timeout: 30x\n    retry: { attempts: 5",
        ),
        ("steps:\n", "stpes:\n"),
        (
            "    retry: { attempts: 5, backoff: exponential }",
            "    retry: { attempts: 5, backoff: linear }",
        ),
        (
            "with: { contactId: \"{{ inputs.contactId }}\" }",
            "with: { contactId: \"{{ inputs.contactid }}\", limit: 3 }",
        ),
    ];
    let mut seen = Vec::new();
    for (version, (from, to)) in cases.iter().enumerate() {
        let text = good.replacen(from, to, 1);
        let diagnostics = lsp.change(&path, i32::try_from(version).expect("version") + 2, &text);
        seen.push(format!("--- {to}"));
        seen.extend(summary(&text, &diagnostics));
        for d in &diagnostics {
            assert_eq!(d["source"], "sluice");
        }
    }
    insta::assert_snapshot!(seen.join("\n"));

    // Back to the committed text: no diagnostics again.
    assert_eq!(lsp.change(&path, 20, &good), Vec::<Value>::new());
    let (code, stderr) = lsp.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_quick_fix_replaces_the_misspelled_name() {
    let (project, mut lsp) = start();
    let path = flow_path(&project);
    let good = workflow("contact-360");
    let bad = good.replacen("action: ghl.get_contact", "action: ghl.get_contcat", 1);
    let diagnostics = lsp.open(&path, &bad);
    let [d] = diagnostics.as_slice() else {
        panic!("one diagnostic: {diagnostics:?}")
    };
    assert_eq!(covered(&bad, &d["range"]), "get_contcat");
    let actions = lsp.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": file_uri(&path) },
            "range": d["range"],
            "context": { "diagnostics": [d] }
        }),
    );
    let action = &actions[0];
    assert_eq!(action["kind"], "quickfix");
    assert_eq!(action["title"], "Replace with `get_contact`");
    let edits = &action["edit"]["changes"][file_uri(&path)];
    assert_eq!(edits[0]["newText"], "get_contact");
    assert_eq!(covered(&bad, &edits[0]["range"]), "get_contcat");
    // Applied, the flow is clean.
    let start = bad.find("get_contcat").expect("the typo");
    let fixed = format!(
        "{}get_contact{}",
        &bad[..start],
        &bad[start + "get_contcat".len()..]
    );
    assert_eq!(fixed, good);
    assert_eq!(lsp.change(&path, 2, &fixed), Vec::<Value>::new());

    // A diagnostic without a suggestion has no fix.
    let unknown = good.replacen(
        "\"{{ steps.contact.contact.email }}\"",
        "\"{{ steps.nothing.x }}\"",
        1,
    );
    let diagnostics = lsp.change(&path, 3, &unknown);
    let actions = lsp.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": file_uri(&path) },
            "range": diagnostics[0]["range"],
            "context": { "diagnostics": diagnostics }
        }),
    );
    assert_eq!(actions, json!([]), "{diagnostics:?}");
}

#[test]
fn completion_inside_templates_knows_steps_inputs_items_helpers_and_response_fields() {
    let (project, mut lsp) = start();
    let path = flow_path(&project);
    let good = workflow("contact-360");
    lsp.open(&path, &good);

    // `steps.` in the notes step: the other steps, not itself.
    let (l, c) = pos(
        &good,
        "contactId: \"{{ steps.contact.contact.id }}\" }\n  tasks",
        21,
    );
    let steps = lsp.at("textDocument/completion", &path, l, c);
    assert_eq!(
        labels(&steps),
        ["contact", "tasks", "open_tasks", "overdue"],
        "steps seen from `notes`"
    );
    assert_eq!(item(&steps, "contact")["detail"], "ghl.get_contact");

    // `steps.contact.` and `steps.contact.contact.`: fields of get_contact's response schema.
    let (l, c) = pos(&good, "steps.contact.contact.email", 14);
    let top = lsp.at("textDocument/completion", &path, l, c);
    assert_eq!(labels(&top), ["contact"]);
    assert_eq!(item(&top, "contact")["detail"], "an object");
    let (l, c) = pos(&good, "steps.contact.contact.email", 22);
    let fields = lsp.at("textDocument/completion", &path, l, c);
    let names = labels(&fields);
    for f in [
        "id",
        "firstName",
        "email",
        "tags",
        "customFields",
        "dateAdded",
    ] {
        assert!(names.iter().any(|n| n == f), "{f} in {names:?}");
    }
    assert_eq!(item(&fields, "tags")["detail"], "a list of texts");
    assert_eq!(item(&fields, "email")["detail"], "text");
    // The edit replaces the segment being typed.
    let edit = &item(&fields, "email")["textEdit"];
    assert_eq!(covered(&good, &edit["range"]), "email");

    // Nested: a list's item, then its fields.
    let text = good.replacen(
        "tags: \"{{ steps.contact.contact.tags }}\"",
        "tags: \"{{ steps.tasks.tasks.[0].ti }}\"",
        1,
    );
    lsp.change(&path, 2, &text);
    let (l, c) = pos(&text, "steps.tasks.tasks.[0].ti", 18);
    assert_eq!(
        labels(&lsp.at("textDocument/completion", &path, l, c)),
        ["[0]"]
    );
    let (l, c) = pos(&text, "steps.tasks.tasks.[0].ti", 22);
    let task = lsp.at("textDocument/completion", &path, l, c);
    for f in ["id", "title", "dueDate", "completed"] {
        assert!(
            labels(&task).iter().any(|n| n == f),
            "{f} in {:?}",
            labels(&task)
        );
    }
    assert_eq!(item(&task, "completed")["detail"], "true or false");

    // `inputs.` and the `for_each` item (`task`, over a select of the tasks' list).
    let (l, c) = pos(&text, "inputs.contactId", 7);
    let inputs = lsp.at("textDocument/completion", &path, l, c);
    assert_eq!(labels(&inputs), ["contactId"]);
    assert_eq!(item(&inputs, "contactId")["detail"], "string");
    let (l, c) = pos(&text, "task.dueDate", 5);
    let items = lsp.at("textDocument/completion", &path, l, c);
    assert!(
        labels(&items).contains(&"dueDate".to_string()),
        "{:?}",
        labels(&items)
    );
    let (l, c) = pos(&text, "lt task.dueDate", 3);
    let roots = labels(&lsp.at("textDocument/completion", &path, l, c));
    assert!(roots.contains(&"task".to_string()), "the item in {roots:?}");

    // Helpers at the head of an expression, with their signatures (from the helper table).
    let (l, c) = pos(&text, "{{ len (jsonpath", 3);
    let heads = lsp.at("textDocument/completion", &path, l, c);
    let len = item(&heads, "len");
    assert_eq!(len["detail"], "len VALUE");
    assert!(
        len["documentation"]["value"]
            .as_str()
            .unwrap_or_default()
            .contains("{{ len steps.tasks.tasks }}"),
        "{len}"
    );
    for root in ["steps", "inputs"] {
        assert!(labels(&heads).iter().any(|l| l == root), "{root}");
    }
    assert!(
        !labels(&heads).contains(&"task".to_string()),
        "no item outside for_each"
    );
    assert_eq!(
        labels(&heads).len(),
        2 + sluice_template::HELPERS.len(),
        "the roots and every helper"
    );
}

#[test]
fn completion_of_actions_parameters_and_after() {
    let (project, mut lsp) = start();
    let path = flow_path(&project);
    let good = workflow("contact-360");
    lsp.open(&path, &good);

    let (l, c) = pos(&good, "action: ghl.list_notes", 12);
    let actions = lsp.at("textDocument/completion", &path, l, c);
    let names = labels(&actions);
    assert!(
        names.iter().all(|n| n.starts_with("ghl.")),
        "the flow's only connection: {names:?}"
    );
    assert!(names.contains(&"ghl.create_task".to_string()));
    let get = item(&actions, "ghl.get_contact");
    assert_eq!(get["detail"], "GET /contacts/{contactId}");
    assert_eq!(covered(&good, &get["textEdit"]["range"]), "ghl.list_notes");

    // A new key under `with:` of a get_contacts step: its parameters, required first.
    let text = good.replacen(
        "  open_tasks:",
        "  everyone:\n    action: ghl.get_contacts\n    with:\n      locationId: loc_1\n      \n  open_tasks:",
        1,
    );
    lsp.change(&path, 2, &text);
    let (l, _) = pos(&text, "      locationId: loc_1\n      \n", 24);
    let params = lsp.at("textDocument/completion", &path, l, 6);
    let names = labels(&params);
    assert!(
        !names.contains(&"locationId".to_string()),
        "given already: {names:?}"
    );
    for p in ["limit", "query", "startAfter", "startAfterId"] {
        assert!(names.contains(&p.to_string()), "{p} in {names:?}");
    }
    assert_eq!(item(&params, "limit")["textEdit"]["newText"], "limit: ");
    assert!(
        item(&params, "limit")["documentation"]["value"]
            .as_str()
            .unwrap_or_default()
            .contains("limit"),
        "{params}"
    );

    // `after:` entries: step names.
    let text = good.replacen("    as: task\n", "    as: task\n    after: [con]\n", 1);
    lsp.change(&path, 3, &text);
    let (l, c) = pos(&text, "after: [con]", 11);
    let names = labels(&lsp.at("textDocument/completion", &path, l, c));
    assert_eq!(names, ["contact", "notes", "tasks", "open_tasks"]);
}

#[test]
fn hover_shows_actions_fields_inputs_and_helpers() {
    let (project, mut lsp) = start();
    let path = flow_path(&project);
    let good = workflow("contact-360");
    lsp.open(&path, &good);
    let hover = |lsp: &mut LspClient, needle: &str, shift: usize| -> String {
        let (l, c) = pos(&good, needle, shift);
        let h = lsp.at("textDocument/hover", &path, l, c);
        h["contents"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let action = hover(&mut lsp, "ghl.list_notes", 5);
    assert!(action.starts_with("**ghl.list_notes** — "), "{action}");
    assert!(
        action.contains("`GET /contacts/{contactId}/notes` (ghl-contacts)"),
        "{action}"
    );
    assert!(action.contains("Scopes: `contacts.readonly`"), "{action}");
    assert!(
        action.contains("| `contactId` (required) | string |"),
        "{action}"
    );
    assert!(action.len() < 2_000, "short: {} characters", action.len());

    let field = hover(&mut lsp, "steps.contact.contact.email", 24);
    assert_eq!(field, "`steps.contact.contact.email`: text");
    let tags = hover(&mut lsp, "steps.contact.contact.tags", 23);
    assert_eq!(tags, "`steps.contact.contact.tags`: a list of texts");
    let step = hover(&mut lsp, "steps.contact.contact.email", 8);
    assert!(
        step.starts_with("step `contact`: calls `ghl.get_contact` (GET /contacts/{contactId})"),
        "{step}"
    );
    let input = hover(&mut lsp, "inputs.contactId", 9);
    assert_eq!(
        input,
        "`inputs.contactId`: string — GHL contact id\n\nrequired"
    );
    let helper = hover(&mut lsp, "{{ len (jsonpath", 4);
    assert!(helper.starts_with("`len VALUE` — "), "{helper}");
    assert!(
        helper.contains("{{ len steps.tasks.tasks }}"),
        "an example: {helper}"
    );
    let item = hover(&mut lsp, "lt task.dueDate", 4);
    assert!(
        item.starts_with("`task` — the current item of `for_each: {{ steps.open_tasks }}`"),
        "{item}"
    );
    let due = hover(&mut lsp, "lt task.dueDate", 9);
    assert_eq!(due, "`task.dueDate`: text");
    let param = hover(&mut lsp, "with: { contactId: \"{{ inputs", 10);
    assert!(
        param.starts_with("`contactId`: string, required"),
        "{param}"
    );
}

#[test]
fn definition_goes_to_steps_inputs_connections_and_connector_operations() {
    let (project, mut lsp) = start();
    let path = flow_path(&project);
    let good = workflow("contact-360");
    lsp.open(&path, &good);
    let uri = file_uri(&path);
    let go = |lsp: &mut LspClient, needle: &str, shift: usize| -> Value {
        let (l, c) = pos(&good, needle, shift);
        lsp.at("textDocument/definition", &path, l, c)
    };

    let step = go(&mut lsp, "steps.contact.contact.id }}\" }\n  tasks", 9);
    assert_eq!(step["uri"], uri);
    assert_eq!(covered(&good, &step["range"]), "contact");
    assert_eq!(
        step["range"]["start"]["line"],
        pos(&good, "  contact:\n", 2).0
    );

    let input = go(&mut lsp, "inputs.contactId", 8);
    assert_eq!(covered(&good, &input["range"]), "contactId");
    assert_eq!(
        input["range"]["start"]["line"],
        pos(&good, "  contactId: {", 2).0
    );

    let connection = go(&mut lsp, "action: ghl.list_tasks", 9);
    assert_eq!(covered(&good, &connection["range"]), "ghl");
    assert_eq!(
        connection["range"]["start"]["line"],
        pos(&good, "  ghl: {", 2).0
    );

    // The operation, in the (built-in) connector's file.
    let op = go(&mut lsp, "action: ghl.list_tasks", 15);
    let target = op["uri"].as_str().expect("a URI");
    assert!(target.ends_with("/ghl-contacts.yaml"), "{target}");
    let file = PathBuf::from(target.trim_start_matches("file://"));
    let connector = std::fs::read_to_string(&file).expect("the connector file");
    assert_eq!(covered(&connector, &op["range"]), "list_tasks");
    assert_eq!(
        connector,
        sluice_connectors_ghl(),
        "a copy of the built-in connector"
    );

    // A project connector of the same name wins.
    project.write("connectors/ghl-contacts.yaml", sluice_connectors_ghl());
    let before = lsp.published(&uri);
    lsp.notify(
        "textDocument/didSave",
        json!({ "textDocument": { "uri": file_uri(&project.path().join("connectors/ghl-contacts.yaml")) } }),
    );
    lsp.diagnostics_after(&uri, before);
    let op = go(&mut lsp, "action: ghl.list_tasks", 15);
    assert_eq!(
        op["uri"],
        file_uri(&project.path().join("connectors/ghl-contacts.yaml"))
    );
}

fn sluice_connectors_ghl() -> String {
    std::fs::read_to_string(sluice_test_support::repo_root().join("connectors/ghl-contacts.yaml"))
        .expect("connectors/ghl-contacts.yaml")
}

#[test]
fn fixtures_get_their_own_checks_and_no_false_errors() {
    let (project, mut lsp) = start();
    let path = project.flows().join("contact-360.test.yaml");
    let good = std::fs::read_to_string(&path).expect("the fixture");
    assert_eq!(lsp.open(&path, &good), Vec::<Value>::new());
    let bad = good
        .replacen("status: succeeded", "status: done", 1)
        .replacen(
            "    inputs: { contactId: ct_ada }\n    sandbox: true",
            "    inputs: { contactId: ct_ada }\n    sandbox: true\n    cassette: nowhere.json",
            1,
        );
    let diagnostics = lsp.change(&path, 2, &bad);
    insta::assert_snapshot!(summary(&bad, &diagnostics).join("\n"));
}

#[test]
fn a_flow_being_typed_keeps_its_completions_and_bad_requests_get_errors() {
    let (project, mut lsp) = start();
    let path = flow_path(&project);
    let good = workflow("contact-360");
    lsp.open(&path, &good);
    // An unclosed quote: not YAML any more. The diagnostic says so; completion still knows the
    // steps from the last readable version.
    let cut = good
        .find("  email: \"{{ steps.contact.contact.email")
        .expect("the email line");
    let text = format!("{}  email: \"{{{{ steps.contact.contact.", &good[..cut]);
    let diagnostics = lsp.change(&path, 2, &text);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert!(
        diagnostics[0]["code"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sluice::yaml::"),
        "{diagnostics:?}"
    );
    let (l, c) = pos(&text, "email: \"{{ steps.contact.contact.", 33);
    let names = labels(&lsp.at("textDocument/completion", &path, l, c));
    assert!(names.contains(&"email".to_string()), "{names:?}");

    // Unknown methods and bad parameters are errors, not crashes.
    let r = lsp.request_raw("textDocument/rename", json!({}));
    assert_eq!(r["error"]["code"], -32601, "{r}");
    let r = lsp.request_raw("textDocument/hover", json!({ "position": 3 }));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    // A document the server never saw, and a position past its end.
    let nowhere = project.flows().join("nowhere.yaml");
    assert_eq!(lsp.at("textDocument/hover", &nowhere, 0, 0), Value::Null);
    assert_eq!(
        lsp.at("textDocument/hover", &path, 9_999, 9_999),
        Value::Null
    );
    let (code, stderr) = lsp.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn flows_of_a_folder_are_checked_together() {
    let (project, mut lsp) = start();
    let caller = project.flows().join("caller.yaml");
    let text = "name: caller\non:\n  - manual: {}\nsteps:\n  run:\n    flow: contact-360\n    with: { contactId: ct_ada }\noutput: \"{{ steps.run }}\"\n";
    assert_eq!(lsp.open(&caller, text), Vec::<Value>::new());
    // contact-360 (on disk) takes `contactId` only.
    let wrong = text.replace("contactId: ct_ada", "contact: ct_ada");
    let diagnostics = lsp.change(&caller, 2, &wrong);
    let messages: Vec<&str> = diagnostics
        .iter()
        .filter_map(|d| d["message"].as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("flow `contact-360` has no input `contact`")),
        "{messages:?}"
    );
    // Open contact-360 and rename its input: the caller is checked against the typed text.
    let callee = flow_path(&project);
    let renamed = workflow("contact-360").replace("contactId", "contact");
    lsp.open(&callee, &renamed);
    let uri = file_uri(&caller);
    let before = lsp.published(&uri);
    lsp.change_only(&callee, 2, &renamed);
    let diagnostics = lsp.diagnostics_after(&uri, before);
    assert_eq!(
        diagnostics,
        Vec::<Value>::new(),
        "`contact` is its input now"
    );

    // `flow: contact-360` goes to that flow's file.
    let (l, c) = pos(&wrong, "flow: contact-360", 8);
    let target = lsp.at("textDocument/definition", &caller, l, c);
    assert_eq!(target["uri"], file_uri(&callee));
}

#[test]
fn no_secret_reaches_the_editor() {
    let project = TempProject::new(GHL_MAIN_FROM_ENV).with_example("contact-360");
    let secret = "pit-5ecret-token-value";
    let mut cmd = sluice_test_support::sluice(env!("CARGO_BIN_EXE_sluice"));
    cmd.arg("lsp")
        .current_dir(project.path())
        .env("GHL_TOKEN", secret);
    let mut lsp = LspClient::start(cmd, project.path());
    let path = flow_path(&project);
    let text = workflow("contact-360").replace("credential: ghl_main", "credential: ghl_mian");
    let diagnostics = lsp.open(&path, &text);
    assert!(!diagnostics.is_empty());
    let (l, c) = pos(&text, "ghl_mian", 3);
    lsp.at("textDocument/completion", &path, l, c);
    lsp.at("textDocument/hover", &path, l, c);
    let transcript = lsp.transcript().join("\n");
    assert!(
        transcript.contains("ghl_main"),
        "the credential's name is fine: {transcript}"
    );
    let (_, stderr) = lsp.stop();
    assert!(!transcript.contains(secret) && !stderr.contains(secret));
}

#[test]
fn saving_the_project_file_or_a_connector_checks_everything_again() {
    // No credential `ghl_main` yet: contact-360's connection names an unknown credential.
    let project = TempProject::new("").with_example("contact-360");
    let mut cmd = sluice_test_support::sluice(env!("CARGO_BIN_EXE_sluice"));
    cmd.args(["lsp", "--stdio"]).current_dir(project.path());
    let mut lsp = LspClient::start(cmd, project.path());
    let path = flow_path(&project);
    let text = workflow("contact-360");
    let diagnostics = lsp.open(&path, &text);
    let codes: Vec<&str> = diagnostics
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert_eq!(codes, ["sluice::plan::unknown_credential"]);
    // Completion of credentials and connectors reads the project and the catalog.
    let (l, c) = pos(&text, "credential: ghl_main", 14);
    assert_eq!(
        labels(&lsp.at("textDocument/completion", &path, l, c)),
        Vec::<String>::new()
    );
    let (l, c) = pos(&text, "connector: ghl-contacts", 12);
    let connectors = labels(&lsp.at("textDocument/completion", &path, l, c));
    let catalog: Vec<String> = sluice_connectors::builtin_catalog()
        .expect("catalog")
        .iter()
        .map(|c| c.name.value.clone())
        .collect();
    assert_eq!(connectors, catalog);
    assert!(
        connectors.iter().any(|c| c == "ghl-contacts"),
        "{connectors:?}"
    );

    // The credential is added and sluice.toml saved: the flow is checked again, clean.
    project.write("sluice.toml", GHL_MAIN_FROM_ENV);
    let uri = file_uri(&path);
    let before = lsp.published(&uri);
    lsp.notify(
        "textDocument/didSave",
        json!({ "textDocument": { "uri": file_uri(&project.path().join("sluice.toml")) } }),
    );
    assert_eq!(lsp.diagnostics_after(&uri, before), Vec::<Value>::new());
    assert_eq!(
        labels(&lsp.at("textDocument/completion", &path, l, c)),
        catalog
    );
    let (l, c) = pos(&text, "credential: ghl_main", 14);
    assert_eq!(
        labels(&lsp.at("textDocument/completion", &path, l, c)),
        ["ghl_main"]
    );

    // A project connector file is checked as the catalog reads it; saved, it joins the catalog.
    let connector = project.path().join("connectors/crm.yaml");
    project.write(
        "connectors/crm.yaml",
        "name: crm\nbase_url: http://127.0.0.1:1\noperations: {}\n",
    );
    let broken = "name: crm\nbase_url: http://127.0.0.1:1\noperatoins: {}\n";
    let diagnostics = lsp.open(&connector, broken);
    assert!(
        diagnostics.iter().any(|d| d["message"]
            .as_str()
            .unwrap_or_default()
            .contains("operatoins")),
        "{diagnostics:?}"
    );
    let fixed = "name: crm\nbase_url: http://127.0.0.1:1\noperations:\n  ping: { description: Ping., method: GET, path: /ping }\n";
    project.write("connectors/crm.yaml", fixed);
    lsp.change(&connector, 2, fixed);
    let before = lsp.published(&uri);
    lsp.notify(
        "textDocument/didSave",
        json!({ "textDocument": { "uri": file_uri(&connector) } }),
    );
    lsp.diagnostics_after(&uri, before);
    let (l, c) = pos(&text, "connector: ghl-contacts", 12);
    let connectors = labels(&lsp.at("textDocument/completion", &path, l, c));
    let mut with_crm = catalog.clone();
    with_crm.push("crm".to_string());
    assert_eq!(connectors, with_crm);
}

#[test]
fn the_last_of_a_burst_of_changes_is_what_is_checked() {
    let (project, mut lsp) = start();
    let path = flow_path(&project);
    let good = workflow("contact-360");
    lsp.open(&path, &good);
    let uri = file_uri(&path);
    let before = lsp.published(&uri);
    for version in 2..7 {
        let typo = good.replacen("ghl.get_contact", &format!("ghl.get_contact{version}"), 1);
        lsp.change_only(&path, version, &typo);
    }
    lsp.change_only(&path, 7, &good);
    // Whatever was coalesced, the diagnostics that end up published are the last text's.
    let mut last = lsp.diagnostics_after(&uri, before);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !last.is_empty() && std::time::Instant::now() < deadline {
        let n = lsp.published(&uri);
        last = lsp.diagnostics_after(&uri, n);
    }
    assert_eq!(last, Vec::<Value>::new());
    // And a request after the burst sees the last text.
    let (l, c) = pos(&good, "action: ghl.get_contact", 12);
    let hover = lsp.at("textDocument/hover", &path, l, c);
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap_or_default()
            .starts_with("**ghl.get_contact**")
    );
}

#[test]
fn input_that_is_not_an_editor_gets_a_clear_error() {
    use std::io::Write as _;
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("tempdir");
    for (input, expected) in [
        ("", "`sluice lsp` is started by an editor"),
        ("hello\n", "malformed header"),
    ] {
        let mut child = sluice_test_support::sluice(env!("CARGO_BIN_EXE_sluice"))
            .arg("lsp")
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sluice lsp");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("write");
        drop(stdin);
        let out = child.wait_with_output().expect("ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{input:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{input:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.stdout.is_empty(), "nothing on stdout: {:?}", out.stdout);
    }
}

#[test]
fn a_fixture_names_only_steps_and_inputs_its_flow_has() {
    let (project, mut lsp) = start();
    let path = project.flows().join("contact-360.test.yaml");
    let good = std::fs::read_to_string(&path).expect("the fixture");
    let bad = good
        .replacen(
            "      contact:                          # by step name",
            "      contcat:",
            1,
        )
        .replacen(
            "inputs: { contactId: ct_ada }",
            "inputs: { contactid: ct_ada }",
            1,
        )
        .replacen(
            "steps: { contact: failed }",
            "steps: { contacts: failed }",
            1,
        );
    let diagnostics = lsp.open(&path, &bad);
    insta::assert_snapshot!(summary(&bad, &diagnostics).join("\n"));
    // Each has its quick fix.
    let actions = lsp.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": file_uri(&path) },
            "range": diagnostics[1]["range"],
            "context": { "diagnostics": [diagnostics[1].clone()] }
        }),
    );
    assert_eq!(actions[0]["title"], "Replace with `contact`", "{actions}");

    // Completion: the flow's steps under `responses:`, its inputs under `inputs:`.
    let text = good.replacen(
        "    responses:\n      contact:",
        "    responses:\n      \n      contact:",
        1,
    );
    lsp.change(&path, 2, &text);
    let (l, _) = pos(&text, "    responses:\n      \n", 15);
    let steps = labels(&lsp.at("textDocument/completion", &path, l, 6));
    assert_eq!(
        steps,
        ["contact", "notes", "tasks", "open_tasks", "overdue"]
    );
    let text = good.replacen("inputs: { contactId: ct_ada }", "inputs: { c }", 1);
    lsp.change(&path, 3, &text);
    let (l, c) = pos(&text, "inputs: { c }", 11);
    assert_eq!(
        labels(&lsp.at("textDocument/completion", &path, l, c)),
        ["contactId"]
    );

    // Renaming a step in the (open) flow re-checks the fixture.
    lsp.change(&path, 4, &good);
    let flow = flow_path(&project);
    let renamed = workflow("contact-360")
        .replace("  notes:\n", "  latest_notes:\n")
        .replace("steps.notes.", "steps.latest_notes.");
    let uri = file_uri(&path);
    let before = lsp.published(&uri);
    lsp.open(&flow, &renamed);
    let diagnostics = lsp.diagnostics_after(&uri, before);
    let messages: Vec<&str> = diagnostics
        .iter()
        .filter_map(|d| d["message"].as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("the flow has no step `notes`")),
        "{messages:?}"
    );
}
