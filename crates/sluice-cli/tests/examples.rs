//! Every example flow of `workflows/` runs through the `sluice` binary against the GHL sandbox
//! (`--sandbox`, or an in-process sandbox when its data must be inspected or seeded) and
//! prints the right output. Only 127.0.0.1 is contacted.

use std::process::Command;

use serde_json::{Value, json};
use sluice_sandbox::{Sandbox, SandboxConfig, Seed};
use sluice_test_support::{TempProject, output, repo_root};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// The flows of `workflows/` this file covers — and the recipes, covered by `recipes.rs`; a new
/// example must get a test.
const COVERED: &[&str] = &[
    "call-back-tags",
    "cleanup-old-tasks",
    "contact-360",
    "contact-brief",
    "emails-without-contact",
    "form-lead",
    "ipinfo-enrich",
    "leave-campaign",
    "nightly-sync",
    "notes-followups",
    "overdue-summary",
    "push-task-to-ghl",
    "push-tasks-to-ghl",
    "task-reminders",
];

/// `sluice` in the repository, its runs recorded in a store of this test process.
fn sluice() -> Command {
    let mut cmd = sluice_test_support::sluice(SLUICE);
    let home = std::env::temp_dir().join(format!("sluice-example-tests-{}", std::process::id()));
    cmd.current_dir(repo_root()).env("SLUICE_HOME", home);
    cmd
}

/// Runs `sluice ARGS`, expects success and returns stdout as JSON.
async fn run_json(cmd: Command) -> Value {
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn sandbox_run(flow: &str, args: &[&str]) -> Command {
    let mut cmd = sluice();
    cmd.args(["run", &format!("workflows/{flow}.yaml"), "--sandbox"])
        .args(args);
    cmd
}

/// A project folder with every example flow in `flows/`, a `sluice.toml` whose `ghl_main`
/// token comes from `$GHL_TOKEN`, and a store of its own — for runs against an in-process
/// sandbox.
struct Project {
    temp: TempProject,
    sandbox: Sandbox,
}

impl Project {
    async fn new(seed: Seed) -> Project {
        let config = SandboxConfig {
            seed,
            ..SandboxConfig::default()
        };
        let sandbox = Sandbox::start(config, ([127, 0, 0, 1], 0).into())
            .await
            .expect("sandbox starts");
        let mut temp = TempProject::new(
            "[credentials.ghl_main]\nkind = \"bearer\"\ntoken = { env = \"GHL_TOKEN\" }\n\
             location_id = \"loc_sandbox\"\n\n[credentials.ipinfo_main]\nkind = \"bearer\"\n\
             token = { env = \"GHL_TOKEN\" }\n",
        );
        for name in COVERED {
            temp = temp.with_example(name);
        }
        Project { temp, sandbox }
    }

    fn run(&self, flow: &str, args: &[&str]) -> Command {
        let mut cmd = self.temp.sluice(SLUICE);
        cmd.env("GHL_TOKEN", "sandbox-token")
            .args(["run", &format!("flows/{flow}.yaml"), "--connection"])
            .arg(format!("ghl.base_url={}", self.sandbox.base_url()))
            .args(args);
        cmd
    }
}

fn seed(json: &Value) -> Seed {
    sluice_sandbox::seed_from_json(&json.to_string()).expect("test seed")
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|a| a.iter().filter_map(|c| c["id"].as_str()).collect())
        .unwrap_or_default()
}

#[test]
fn every_example_flow_has_a_test_and_validates_cleanly() {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("workflows"))
        .expect("workflows/")
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".yaml"))
                .filter(|n| !n.contains('.'))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    assert_eq!(names, COVERED, "add a test for each new example flow");
    let out = sluice()
        .args(["validate", "workflows/", "--deny-warnings"])
        .output()
        .expect("sluice validate");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "checked {} flows: 0 errors, 0 warnings",
            COVERED.len()
        )),
        "{stderr}"
    );
    for name in COVERED {
        let text = sluice_test_support::workflow(name);
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schemas/flow.schema.json\n#\n# "),
            "{name}: starts with the schema line and a comment saying what it does"
        );
        assert!(text.contains("# Try it"), "{name}: says how to try it");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_360_merges_profile_notes_and_open_tasks() {
    let out = run_json(sandbox_run("contact-360", &["-i", "contactId=ct_ada"])).await;
    assert_eq!(out["id"], "ct_ada");
    assert_eq!(out["name"], "Ada Lovelace");
    assert_eq!(out["email"], "ada@example.com");
    assert_eq!(out["company"], "Analytical Engines Ltd");
    assert_eq!(out["tags"], json!(["vip", "newsletter"]));
    let mut open = ids(&out["openTasks"]);
    open.sort_unstable();
    assert_eq!(open, ["tk_ada_call", "tk_ada_contract"]);
    // tk_ada_call was due yesterday, tk_ada_contract is due in two hours.
    assert_eq!(out["overdueCount"], 1);
    let mut notes = ids(&out["latestNotes"]);
    notes.sort_unstable();
    assert_eq!(notes, ["nt_ada_budget", "nt_ada_fair"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_reminders_sends_the_reminder_to_the_owner_through_conversations() {
    let task = json!({
        "id": "tk_grace_invoice", "title": "Check the invoice", "dueDate": "2026-07-01T14:30:00.000Z",
        "assignedTo": "usr_owner", "contactId": "ct_grace"
    });
    let task_arg = format!("task={task}");
    let out = run_json(sandbox_run(
        "task-reminders",
        &[
            "-i",
            &task_arg,
            "-i",
            "timezone=Europe/Berlin",
            "-i",
            "channel=SMS",
        ],
    ))
    .await;
    let expected = json!({
        "taskId": "tk_grace_invoice",
        "owner": "Olivia Owner",
        "contactId": "ct_grace",
        "contactName": "Grace Hopper",
        "task": "Check the invoice",
        "dueDate": "2026-07-01T14:30:00.000Z",
        "dueLocal": "Wed 01 Jul 2026 16:30 CEST",
        "text": "Olivia, due 16:30 CEST: Check the invoice (Grace Hopper)"
    });
    assert_eq!(out["reminder"], expected);
    assert_eq!(out["conversationId"], "cv_ct_grace");
    assert!(
        out["messageId"].as_str().is_some_and(|id| !id.is_empty()),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_reminders_fails_when_the_owner_is_unknown() {
    let task = json!({"id": "t1", "title": "Call", "dueDate": "2026-01-15T15:00:00Z", "assignedTo": "usr_nobody", "contactId": "ct_ada"});
    let cmd = sandbox_run("task-reminders", &["-i", &format!("task={task}")]);
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("step `owner` failed"), "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_tasks_creates_updates_completes_tags_and_a_second_run_changes_nothing() {
    let project = Project::new(Seed::demo()).await;
    let tasks = json!([
        // New: created, not completed.
        {"contactId": "ct_ada", "externalId": "crm-1", "title": "Send the offer",
         "dueDate": "2026-12-01T10:00:00Z", "completed": false},
        // New and finished: created, then marked completed.
        {"contactId": "ct_ada", "externalId": "crm-2", "title": "Sign the NDA",
         "dueDate": "2026-11-01T10:00:00Z", "completed": true},
        // Same title as a GHL task: updated (new due date) and completed.
        {"contactId": "ct_grace", "externalId": "crm-3", "title": "Check the invoice",
         "dueDate": "2026-12-02T09:00:00Z", "completed": true},
        // Known GHL id: updated in place although the title changed.
        {"contactId": "ct_katherine", "externalId": "crm-4", "title": "Quarterly review (Q4)",
         "dueDate": "2026-12-10T15:00:00Z", "completed": false, "ghlTaskId": "tk_katherine_review"}
    ]);
    let arg = format!("tasks={tasks}");
    let before = project.sandbox.state().tasks().len();
    let first = run_json(project.run("push-tasks-to-ghl", &["-i", &arg])).await;
    assert_eq!(
        (&first["created"], &first["updated"], &first["unchanged"]),
        (&json!(2), &json!(2), &json!(0)),
        "{first:#}"
    );
    let actions: Vec<&str> = first["tasks"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|t| t["action"].as_str())
        .collect();
    assert_eq!(actions, ["created", "created", "updated", "updated"]);
    let state = project.sandbox.state();
    let tasks_after = state.tasks();
    assert_eq!(tasks_after.len(), before + 2, "two tasks created");
    let find = |contact: &str, title: &str| {
        tasks_after
            .iter()
            .find(|t| t.contact_id == contact && t.title == title)
            .unwrap_or_else(|| panic!("task `{title}` of {contact}"))
            .clone()
    };
    let offer = find("ct_ada", "Send the offer");
    assert!(!offer.completed);
    assert_eq!(offer.due_date, "2026-12-01T10:00:00.000Z");
    assert_eq!(offer.body.as_deref(), Some("External id: crm-1"));
    assert_eq!(first["tasks"][0]["ghlTaskId"], json!(offer.id));
    assert!(find("ct_ada", "Sign the NDA").completed);
    let invoice = find("ct_grace", "Check the invoice");
    assert_eq!(invoice.id, "tk_grace_invoice");
    assert_eq!(invoice.due_date, "2026-12-02T09:00:00.000Z");
    assert!(invoice.completed);
    let review = find("ct_katherine", "Quarterly review (Q4)");
    assert_eq!(review.id, "tk_katherine_review");
    assert_eq!(review.due_date, "2026-12-10T15:00:00.000Z");
    for contact in state.contacts() {
        if ["ct_ada", "ct_grace", "ct_katherine"].contains(&contact.id.as_str()) {
            assert!(
                contact.tags().contains(&"synced".to_string()),
                "{}",
                contact.id
            );
        } else {
            assert!(
                !contact.tags().contains(&"synced".to_string()),
                "{}",
                contact.id
            );
        }
    }

    // The same list again: nothing is created, updated or completed, no tag is added.
    // (Adding a tag the contact has is sent again; it moves only `dateUpdated`.)
    let contacts = |s: &sluice_sandbox::SandboxState| {
        let mut all = s.contacts();
        for c in &mut all {
            c.fields.remove("dateUpdated");
        }
        all
    };
    let snapshot = (state.tasks(), contacts(state));
    let events = state.webhook_events().len();
    let writes = |s: &sluice_sandbox::SandboxState| {
        s.requests()
            .iter()
            .filter(|r| {
                r.route == "POST /contacts/{contactId}/tasks" || r.route.starts_with("PUT ")
            })
            .count()
    };
    let writes_before = writes(state);
    let second = run_json(project.run("push-tasks-to-ghl", &["-i", &arg])).await;
    assert_eq!(
        (&second["created"], &second["updated"], &second["unchanged"]),
        (&json!(0), &json!(0), &json!(4)),
        "{second:#}"
    );
    let ids_first: Vec<&Value> = first["tasks"]
        .as_array()
        .expect("list")
        .iter()
        .map(|t| &t["ghlTaskId"])
        .collect();
    let ids_second: Vec<&Value> = second["tasks"]
        .as_array()
        .expect("list")
        .iter()
        .map(|t| &t["ghlTaskId"])
        .collect();
    assert_eq!(ids_first, ids_second, "the second run found the same tasks");
    assert!(
        second["tasks"]
            .as_array()
            .expect("list")
            .iter()
            .all(|t| t["markedCompleted"] == json!(false))
    );
    assert_eq!(state.tasks(), snapshot.0, "tasks unchanged");
    assert_eq!(contacts(state), snapshot.1, "contacts unchanged");
    assert_eq!(
        state.webhook_events().len(),
        events,
        "no change event (TaskCreate, TaskComplete, ContactTagUpdate, …)"
    );
    assert_eq!(
        writes(state),
        writes_before,
        "no task was created, updated or completed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_task_to_ghl_runs_on_its_own() {
    let task = json!({"contactId": "ct_linus", "externalId": "x-1", "title": "Ship 1.0",
                      "dueDate": "2026-12-24T12:00:00Z", "completed": false});
    let out = run_json(sandbox_run(
        "push-task-to-ghl",
        &["-i", &format!("task={task}"), "-i", "tag=from-jira"],
    ))
    .await;
    assert_eq!(out["action"], "created");
    assert_eq!(out["externalId"], "x-1");
    assert_eq!(out["markedCompleted"], false);
    assert_eq!(out["tagged"], json!(["from-jira"]));
    assert!(out["ghlTaskId"].as_str().is_some_and(|s| !s.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_followups_creates_a_task_per_follow_up_note_once() {
    // The demo: Alan's note, written two days ago, says "Follow up in 3 days".
    let out = run_json(sandbox_run("notes-followups", &["-i", "contactId=ct_alan"])).await;
    assert_eq!(out["followUpNotes"], 1);
    let created = out["created"].as_array().expect("list");
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0]["title"],
        "Follow up: Trial started; asked about the API. Follow up in 3 days."
    );
    assert_eq!(created[0]["body"], "From note nt_alan_trial");
    let due = chrono::DateTime::parse_from_rfc3339(created[0]["dueDate"].as_str().expect("due"))
        .expect("a date");
    let in_one_day = chrono::Utc::now() + chrono::Duration::days(1);
    assert!(
        (due.with_timezone(&chrono::Utc) - in_one_day)
            .num_seconds()
            .abs()
            < 120,
        "written 2 days ago + 3 days: {due}"
    );

    // Every rule, against seeded notes.
    let date = (chrono::Utc::now() + chrono::Duration::days(10))
        .format("%Y-%m-%d")
        .to_string();
    let written = "2026-11-02T08:00:00.000Z";
    let project = Project::new(seed(&json!({
        "locations": [{"id": "loc_sandbox", "name": "Shop"}],
        "contacts": [{"id": "c1", "locationId": "loc_sandbox", "firstName": "Ada"}],
        "notes": [
            {"id": "n_date", "contactId": "c1", "body": format!("Please call back on {date} about pricing"), "dateAdded": written},
            {"id": "n_week", "contactId": "c1", "body": "Follow-up next week", "dateAdded": written},
            {"id": "n_words", "contactId": "c1", "body": "follow up in two days", "dateAdded": written},
            {"id": "n_none", "contactId": "c1", "body": "FOLLOWUP: a \"quoted\" offer", "dateAdded": written},
            {"id": "n_other", "contactId": "c1", "body": "Likes the blue plan; call her Tuesday", "dateAdded": written}
        ]
    })))
    .await;
    let out = run_json(project.run("notes-followups", &["-i", "contactId=c1"])).await;
    assert_eq!(out["followUpNotes"], 4, "{out:#}");
    let due: std::collections::BTreeMap<String, String> = out["created"]
        .as_array()
        .expect("list")
        .iter()
        .map(|t| {
            (
                t["body"].as_str().unwrap_or_default().to_string(),
                t["dueDate"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: std::collections::BTreeMap<String, String> = [
        ("From note n_date", format!("{date}T09:00:00.000Z")),
        ("From note n_week", "2026-11-09T08:00:00.000Z".to_string()),
        ("From note n_words", "2026-11-04T08:00:00.000Z".to_string()),
        ("From note n_none", "2026-11-05T08:00:00.000Z".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(due, expected);
    assert!(
        project
            .sandbox
            .state()
            .tasks()
            .iter()
            .any(|t| t.title == "Follow up: FOLLOWUP: a \"quoted\" offer"),
        "quotes in a note are kept"
    );

    // Again: every follow-up has its task already.
    let again = run_json(project.run("notes-followups", &["-i", "contactId=c1"])).await;
    assert_eq!(again["created"], json!([]));
    assert_eq!(again["alreadyThere"], 4);
    assert_eq!(project.sandbox.state().tasks().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipinfo_enrich_writes_country_city_time_zone_and_a_tag() {
    let out = run_json(sandbox_run("ipinfo-enrich", &["-i", "contactId=ct_ada"])).await;
    assert_eq!(
        out["ip"], "81.2.69.142",
        "from the custom field `ip_address`"
    );
    assert_eq!(out["enriched"], true);
    // The sandbox's IPinfo answers fixed made-up places per address.
    assert_eq!(out["country"], "BR");
    assert_eq!(out["city"], "São Paulo");
    assert_eq!(out["timezone"], "America/Sao_Paulo");
    assert_eq!(out["tags"], json!(["vip", "newsletter", "country-br"]));
    assert_eq!(out["reason"], "updated");

    let out = run_json(sandbox_run("ipinfo-enrich", &["-i", "contactId=ct_grace"])).await;
    assert_eq!(out["enriched"], false);
    assert_eq!(out["ip"], Value::Null);
    assert_eq!(out["reason"], "no IP address known");

    let out = run_json(sandbox_run(
        "ipinfo-enrich",
        &["-i", "contactId=ct_grace", "-i", "ip=10.1.2.3"],
    ))
    .await;
    assert_eq!(out["enriched"], false);
    assert_eq!(out["reason"], "IPinfo does not locate 10.1.2.3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipinfo_enrich_changes_the_stored_contact() {
    let project = Project::new(Seed::demo()).await;
    let mut cmd = project.run("ipinfo-enrich", &["-i", "contactId=ct_ada", "--connection"]);
    cmd.arg(format!(
        "geo.base_url={}/ipinfo",
        project.sandbox.base_url()
    ));
    let out = run_json(cmd).await;
    assert_eq!(out["enriched"], true);
    let ada = project
        .sandbox
        .state()
        .contacts()
        .into_iter()
        .find(|c| c.id == "ct_ada")
        .expect("ct_ada");
    assert_eq!(ada.str_field("country"), out["country"].as_str());
    assert_eq!(ada.str_field("city"), out["city"].as_str());
    assert_eq!(ada.str_field("timezone"), out["timezone"].as_str());
    assert!(ada.tags().contains(&"country-br".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nightly_sync_pages_through_every_contact() {
    let all = ["ct_ada", "ct_grace", "ct_alan", "ct_katherine", "ct_linus"];
    let out = run_json(sandbox_run(
        "nightly-sync",
        &["-i", "locationId=loc_sandbox"],
    ))
    .await;
    assert_eq!(out["count"], 5);
    assert_eq!(out["locationId"], "loc_sandbox");
    assert_eq!(ids(&out["contacts"]), all, "oldest first");

    // Two a page: three pages, the same contacts.
    let project = Project::new(Seed::demo()).await;
    let out = run_json(project.run(
        "nightly-sync",
        &["-i", "locationId=loc_sandbox", "-i", "pageSize=2"],
    ))
    .await;
    assert_eq!(ids(&out["contacts"]), all);
    let searches = |s: &sluice_sandbox::SandboxState| s.request_count("POST /contacts/search");
    assert_eq!(searches(project.sandbox.state()), 3);

    // Twelve pages of one contact: every page is read (no page copies, nothing dropped).
    let contacts: Vec<Value> = (0..12)
        .map(|i| json!({"id": format!("c{i:02}"), "locationId": "loc_sandbox", "dateAdded": format!("@now-{}d", 20 - i)}))
        .collect();
    let project = Project::new(seed(&json!({
        "locations": [{"id": "loc_sandbox"}],
        "contacts": contacts
    })))
    .await;
    let out = run_json(project.run(
        "nightly-sync",
        &["-i", "locationId=loc_sandbox", "-i", "pageSize=1"],
    ))
    .await;
    assert_eq!(out["count"], 12);
    assert_eq!(
        ids(&out["contacts"]),
        [
            "c00", "c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09", "c10", "c11"
        ]
    );
    assert_eq!(searches(project.sandbox.state()), 12);
}
