//! The eight recipes of docs/flow-language.md ("Recipes") run through the `sluice` binary on
//! `workflows/recipes.seed.json` (110 contacts: two pages): with `--sandbox --seed`, and
//! against an in-process sandbox with that seed when what they changed must be looked at.
//! Only 127.0.0.1 is contacted.

use std::collections::BTreeSet;
use std::process::Command;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sluice_sandbox::{Sandbox, SandboxConfig, Seed};
use sluice_test_support::{TempProject, output, repo_root};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");
const SEED: &str = "workflows/recipes.seed.json";
const RECIPES: &[&str] = &[
    "call-back-tags",
    "ipinfo-enrich",
    "form-lead",
    "overdue-summary",
    "cleanup-old-tasks",
    "leave-campaign",
    "contact-brief",
    "emails-without-contact",
];

/// `sluice` in the repository, its runs recorded in a store of this test process.
fn sluice() -> Command {
    let mut cmd = sluice_test_support::sluice(SLUICE);
    let home = std::env::temp_dir().join(format!("sluice-recipe-tests-{}", std::process::id()));
    cmd.current_dir(repo_root()).env("SLUICE_HOME", home);
    cmd
}

/// `sluice run workflows/FLOW.yaml --sandbox --seed workflows/recipes.seed.json ARGS`.
fn seeded(flow: &str, args: &[&str]) -> Command {
    let mut cmd = sluice();
    cmd.args([
        "run",
        &format!("workflows/{flow}.yaml"),
        "--sandbox",
        "--seed",
        SEED,
    ])
    .args(args);
    cmd
}

/// Runs `cmd`, expects success and returns stdout as JSON.
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

/// The recipes seed, read as the sandbox reads it.
fn recipes_seed() -> Seed {
    let text = std::fs::read_to_string(repo_root().join(SEED)).expect("recipes seed");
    sluice_sandbox::seed_from_json(&text).expect("the recipes seed is valid")
}

/// An in-process sandbox with the recipes seed and a project folder with the recipes in
/// `flows/`, whose credentials' token is the sandbox's.
struct Project {
    temp: TempProject,
    sandbox: Sandbox,
}

impl Project {
    async fn new() -> Project {
        let config = SandboxConfig {
            seed: recipes_seed(),
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
        for name in RECIPES {
            temp = temp.with_example(name);
        }
        Project { temp, sandbox }
    }

    /// `sluice run flows/FLOW.yaml`, every connection of the recipes pointed at the sandbox
    /// (the webhook at its inbox).
    fn run(&self, flow: &str, args: &[&str]) -> Command {
        let base = self.sandbox.base_url();
        let mut cmd = self.temp.sluice(SLUICE);
        cmd.env("GHL_TOKEN", "sandbox-token")
            .args(["run", &format!("flows/{flow}.yaml")]);
        for (conn, url) in [
            ("ghl", base.clone()),
            ("tasks", base.clone()),
            ("biz", base.clone()),
            ("geo", format!("{base}/ipinfo")),
            ("chat", format!("{base}/__sandbox/inbox")),
        ] {
            cmd.arg("--connection")
                .arg(format!("{conn}.base_url={url}"));
        }
        cmd.args(args);
        cmd
    }

    fn contact(&self, id: &str) -> sluice_sandbox::Contact {
        self.sandbox
            .state()
            .contacts()
            .into_iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("contact {id}"))
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn date(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

#[test]
fn the_seed_has_two_pages_of_contacts_and_what_each_recipe_needs() {
    let seed = recipes_seed();
    assert_eq!(seed.contacts.len(), 110, "more than one page of 100");
    assert!(seed.notes.iter().any(|n| n.body.contains("CALL BACK")));
    assert!(seed.tasks.iter().any(|t| t.completed));
    assert!(
        seed.tasks
            .iter()
            .any(|t| !t.completed && date(&t.due_date) < Utc::now())
    );
    // Valid against the seed schema `sluice schema seed` prints.
    let out = sluice().args(["schema", "seed"]).output().expect("schema");
    let schema: Value = serde_json::from_slice(&out.stdout).expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("seed schema compiles");
    let text = std::fs::read_to_string(repo_root().join(SEED)).expect("seed");
    let instance: Value = serde_json::from_str(&text).expect("seed JSON");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_needs_sandbox_and_a_bad_seed_is_named() {
    let mut cmd = sluice();
    cmd.args(["run", "workflows/contact-brief.yaml", "--seed", SEED]);
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--sandbox"), "{stderr}");

    let project = TempProject::new("");
    project.write(
        "bad.seed.json",
        r#"{"contacts": [{"id": "c1", "locationId": "nowhere"}]}"#,
    );
    let mut cmd = project.sluice(SLUICE);
    cmd.arg("run")
        .arg(repo_root().join("workflows/contact-brief.yaml"))
        .args(["--sandbox", "--seed", "bad.seed.json", "-i", "contactId=c1"]);
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("bad.seed.json"), "{stderr}");
    assert!(stderr.contains("locationId `nowhere`"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_back_tags_tags_exactly_the_call_back_contacts_of_both_pages() {
    // Who should be tagged, read from the seed: a note containing "call back", any capitals.
    let seed = recipes_seed();
    let expected: BTreeSet<String> = seed
        .notes
        .iter()
        .filter(|n| n.body.to_lowercase().contains("call back"))
        .map(|n| n.contact_id.clone())
        .collect();
    assert_eq!(expected.len(), 6, "{expected:?}");

    // With --sandbox --seed: the output names them.
    let out = run_json(seeded(
        "call-back-tags",
        &["-i", "locationId=loc_sandbox", "--no-record"],
    ))
    .await;
    assert_eq!(out["contacts"], 110);
    let tagged: BTreeSet<String> = strings(&out["tagged"]).into_iter().collect();
    assert_eq!(tagged, expected);

    // Against a sandbox we can look into: exactly they carry the tag, and both pages were read.
    let project = Project::new().await;
    let out = run_json(project.run("call-back-tags", &["-i", "locationId=loc_sandbox"])).await;
    assert_eq!(out["contacts"], 110);
    let state = project.sandbox.state();
    let with_tag: BTreeSet<String> = state
        .contacts()
        .into_iter()
        .filter(|c| c.tags().contains(&"call-back".to_string()))
        .map(|c| c.id)
        .collect();
    assert_eq!(with_tag, expected);
    assert_eq!(state.request_count("POST /contacts/search"), 2, "two pages");
    assert_eq!(state.request_count("GET /contacts/{contactId}/notes"), 110);
    assert_eq!(state.request_count("POST /contacts/{contactId}/tags"), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipinfo_enrich_writes_city_and_country_back() {
    let project = Project::new().await;
    let before = project.contact("ct_001");
    assert_eq!(before.str_field("city"), None);
    let out = run_json(project.run("ipinfo-enrich", &["-i", "contactId=ct_001"])).await;
    assert_eq!(out["ip"], "81.2.69.142", "from the custom field");
    assert_eq!(out["enriched"], true);
    let after = project.contact("ct_001");
    assert!(out["city"].as_str().is_some_and(|c| !c.is_empty()), "{out}");
    assert_eq!(after.str_field("city"), out["city"].as_str());
    assert_eq!(after.str_field("country"), out["country"].as_str());
    let tag = format!(
        "country-{}",
        out["country"].as_str().unwrap_or_default().to_lowercase()
    );
    assert!(after.tags().contains(&tag), "{:?}", after.tags());

    // A contact without an IP is left alone.
    let out = run_json(project.run("ipinfo-enrich", &["-i", "contactId=ct_005"])).await;
    assert_eq!(out["enriched"], false);
    assert_eq!(out["reason"], "no IP address known");
    assert_eq!(project.contact("ct_005").str_field("city"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_lead_upserts_the_contact_with_a_note_and_a_task_due_in_two_days() {
    let project = Project::new().await;
    let args = [
        "-i",
        "locationId=loc_sandbox",
        "-i",
        "firstName=Mary",
        "-i",
        "lastName=Jackson",
        "-i",
        "email=mary@example.com",
        "-i",
        "message=Interested in the premium plan.",
    ];
    let started = Utc::now();
    let out = run_json(project.run("form-lead", &args)).await;
    assert_eq!(out["newContact"], true);
    let id = out["contactId"].as_str().expect("contact id").to_string();
    let state = project.sandbox.state();
    let mary = project.contact(&id);
    assert_eq!(mary.str_field("email"), Some("mary@example.com"));
    assert_eq!(mary.str_field("lastName"), Some("Jackson"));
    let notes: Vec<_> = state
        .notes()
        .into_iter()
        .filter(|n| n.contact_id == id)
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].body, "Web form: Interested in the premium plan.");
    let tasks: Vec<_> = state
        .tasks()
        .into_iter()
        .filter(|t| t.contact_id == id)
        .collect();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].title, "Call Mary back");
    assert!(!tasks[0].completed);
    let in_two_days = started + chrono::Duration::days(2);
    let off = (date(&tasks[0].due_date) - in_two_days).num_seconds().abs();
    assert!(off < 120, "due in two days: {}", tasks[0].due_date);

    // The same email again: the same contact, its last name kept (not sent when left out).
    let contacts = state.contacts().len();
    let again = run_json(project.run(
        "form-lead",
        &[
            "-i",
            "locationId=loc_sandbox",
            "-i",
            "firstName=Mary",
            "-i",
            "email=mary@example.com",
            "-i",
            "message=Me again.",
        ],
    ))
    .await;
    assert_eq!(again["contactId"], json!(id));
    assert_eq!(again["newContact"], false);
    assert_eq!(state.contacts().len(), contacts);
    assert_eq!(project.contact(&id).str_field("lastName"), Some("Jackson"));
    assert_eq!(
        state.tasks().iter().filter(|t| t.contact_id == id).count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_summary_posts_the_overdue_open_tasks_oldest_first() {
    // Overdue: open and due before now, read from the seed.
    let seed = recipes_seed();
    let mut overdue: Vec<_> = seed
        .tasks
        .iter()
        .filter(|t| !t.completed && date(&t.due_date) < Utc::now())
        .collect();
    overdue.sort_by_key(|t| date(&t.due_date));
    assert_eq!(overdue.len(), 3);

    let project = Project::new().await;
    let out = run_json(project.run(
        "overdue-summary",
        &[
            "-i",
            "locationId=loc_sandbox",
            "-i",
            "hookUrl=https://hooks.example.com/T000/B000",
        ],
    ))
    .await;
    assert_eq!(out["overdue"], 3);
    let inbox = project.sandbox.state().inbox();
    assert_eq!(inbox.len(), 1, "one message: {inbox:?}");
    let text = inbox[0]["text"].as_str().expect("text");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("3 overdue tasks on "), "{text}");
    assert_eq!(lines.len(), 4, "{text}");
    for (line, task) in lines[1..].iter().zip(&overdue) {
        assert!(
            line.starts_with(&format!("- {} (due ", task.title)),
            "{text}"
        );
    }

    // With --sandbox the post goes to the sandbox's inbox: the URL given is never contacted.
    let out = run_json(seeded(
        "overdue-summary",
        &[
            "-i",
            "locationId=loc_sandbox",
            "-i",
            "hookUrl=https://hooks.invalid/never",
            "--no-record",
        ],
    ))
    .await;
    assert_eq!(out["overdue"], 3);

    // The schedule: Mondays, 09:00 in Berlin.
    let out = sluice()
        .args(["schedule", "workflows/overdue-summary.yaml", "--next", "3"])
        .output()
        .expect("schedule");
    let text = String::from_utf8_lossy(&out.stdout);
    let fires: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("Mon "))
        .collect();
    assert_eq!(fires.len(), 3, "{text}");
    assert!(fires.iter().all(|l| l.contains(" 09:00:00 CE")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_old_tasks_dry_run_deletes_nothing_then_the_run_deletes_the_old_completed() {
    let seed = recipes_seed();
    let cutoff = Utc::now() - chrono::Duration::days(30);
    let old: BTreeSet<String> = seed
        .tasks
        .iter()
        .filter(|t| t.completed && date(&t.due_date) < cutoff)
        .map(|t| t.id.clone())
        .collect();
    assert_eq!(old.len(), 3);

    // The dry run prints each DELETE it would send.
    let out = output(seeded(
        "cleanup-old-tasks",
        &["-i", "locationId=loc_sandbox", "--dry-run"],
    ))
    .await;
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{printed}");
    let deletes: BTreeSet<String> = printed
        .lines()
        .filter(|l| l.contains(": DELETE http://127.0.0.1:"))
        .filter_map(|l| l.split("/tasks/").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert_eq!(deletes, old, "{printed}");
    assert!(printed.contains("not sent in a dry run"), "{printed}");

    // Against a sandbox we can look into: the dry run deletes nothing, the run the three.
    let project = Project::new().await;
    let state = project.sandbox.state();
    let all = state.tasks().len();
    let out = output(project.run(
        "cleanup-old-tasks",
        &["-i", "locationId=loc_sandbox", "--dry-run"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(state.tasks().len(), all);
    assert_eq!(
        state.request_count("DELETE /contacts/{contactId}/tasks/{taskId}"),
        0
    );
    let out = run_json(project.run("cleanup-old-tasks", &["-i", "locationId=loc_sandbox"])).await;
    assert_eq!(out["deleted"], 3);
    let left: BTreeSet<String> = state.tasks().into_iter().map(|t| t.id).collect();
    assert_eq!(left.len(), all - 3);
    assert!(left.is_disjoint(&old), "{left:?}");
    assert!(
        left.contains("tk_overdue_3"),
        "an open task due long ago stays"
    );
    assert!(
        left.contains("tk_done_new_2"),
        "completed, due 29 days ago: stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_campaign_takes_the_contact_out_of_campaign_and_workflow_and_removes_the_tag() {
    let project = Project::new().await;
    let base = project.sandbox.base_url();
    let http = reqwest::Client::new();
    for path in [
        "/contacts/ct_001/campaigns/cmp_spring",
        "/contacts/ct_001/campaigns/cmp_autumn",
        "/contacts/ct_001/workflow/wf_nurture",
    ] {
        let res = http
            .post(format!("{base}{path}"))
            .bearer_auth("sandbox-token")
            .header("Version", "2021-07-28")
            .json(&json!({}))
            .send()
            .await
            .expect("enrol");
        assert!(res.status().is_success(), "{path}: {}", res.status());
    }
    let out = run_json(project.run(
        "leave-campaign",
        &[
            "-i",
            "contactId=ct_001",
            "-i",
            "campaignId=cmp_spring",
            "-i",
            "workflowId=wf_nurture",
            "-i",
            "tag=vip",
        ],
    ))
    .await;
    assert_eq!(out["leftCampaign"], true);
    assert_eq!(out["leftWorkflow"], true);
    let dump = project.sandbox.state().dump();
    assert_eq!(dump["campaigns"]["ct_001"], json!(["cmp_autumn"]));
    assert_eq!(dump["workflows"]["ct_001"], json!([]));
    assert!(project.contact("ct_001").tags().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_brief_is_one_line_with_business_and_appointments() {
    let out = run_json(seeded(
        "contact-brief",
        &[
            "-i",
            "contactId=ct_001",
            "-i",
            "timezone=UTC",
            "--no-record",
        ],
    ))
    .await;
    let brief = out["brief"].as_str().expect("brief");
    assert!(!brief.contains('\n'), "{brief}");
    assert!(
        brief.starts_with(
            "Ada Lovelace (Analytical Engines Ltd, London): 3 appointments; next: Product demo on "
        ),
        "{brief}"
    );
    assert!(brief.contains("; last: Kick-off on "), "{brief}");
    assert_eq!(out["upcoming"], 2);

    let out = run_json(seeded(
        "contact-brief",
        &["-i", "contactId=ct_007", "--no-record"],
    ))
    .await;
    let brief = out["brief"].as_str().expect("brief");
    assert!(brief.ends_with(": 0 appointments; none ahead."), "{brief}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_without_contact_returns_exactly_the_unknown_of_fifty() {
    let seed = recipes_seed();
    // 40 addresses of seed contacts (every fourth in capitals) and 10 unknown, interleaved.
    let mut emails = Vec::new();
    let mut unknown = Vec::new();
    for (i, c) in seed.contacts.iter().take(40).enumerate() {
        let email = c.str_field("email").expect("seed contacts have an email");
        emails.push(if i % 4 == 0 {
            email.to_uppercase()
        } else {
            email.to_string()
        });
        if i % 4 == 3 {
            let new = format!("new.lead{i}@example.org");
            emails.push(new.clone());
            unknown.push(new);
        }
    }
    assert_eq!(emails.len(), 50);
    let inputs = json!({"locationId": "loc_sandbox", "emails": emails});
    let project = TempProject::new("");
    project.write("emails.json", inputs.to_string());
    let mut cmd = project.sluice(SLUICE);
    cmd.arg("run")
        .arg(repo_root().join("workflows/emails-without-contact.yaml"))
        .args(["--sandbox", "--seed"])
        .arg(repo_root().join(SEED))
        .args(["--inputs", "emails.json", "--no-record"]);
    let out = run_json(cmd).await;
    assert_eq!(out["checked"], 50);
    assert_eq!(strings(&out["withoutContact"]), unknown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_and_serve_take_the_seed_too() {
    // A run that failed against the demo data (it has no ct_001) is resumed against the seed.
    let project = TempProject::new("");
    let flow = repo_root().join("workflows/contact-brief.yaml");
    let seed = repo_root().join(SEED);
    let mut cmd = project.sluice(SLUICE);
    cmd.arg("run")
        .arg(&flow)
        .args(["--sandbox", "-i", "contactId=ct_001"]);
    let out = output(cmd).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = project.sluice(SLUICE);
    cmd.args(["runs", "list", "--format", "json"]);
    let out = output(cmd).await;
    let runs: Value = serde_json::from_slice(&out.stdout).expect("runs as JSON");
    let run = runs[0]["id"]
        .as_str()
        .expect("the failed run's id")
        .to_string();
    let mut cmd = project.sluice(SLUICE);
    cmd.args(["runs", "resume", &run, "--sandbox", "--seed"])
        .arg(&seed);
    let out = run_json(cmd).await;
    assert_eq!(out["contactId"], "ct_001");
    assert_eq!(out["appointments"], 3);

    // `sluice serve --sandbox --seed`: a run through the API sees the seed's contacts.
    let project = TempProject::new(&format!(
        "[serve]\ntoken = {{ env = \"SERVE_TOKEN\" }}\n\n{}",
        sluice_test_support::GHL_MAIN_FROM_ENV
    ))
    .with_example("contact-brief");
    let mut cmd = project.sluice(SLUICE);
    cmd.env("SERVE_TOKEN", "recipes-serve-token-0123456789")
        .env("GHL_TOKEN", "sandbox-token")
        .args([
            "serve",
            "flows",
            "--listen",
            "127.0.0.1:0",
            "--sandbox",
            "--seed",
        ])
        .arg(&seed);
    let serve = sluice_test_support::ServeProcess::start(cmd, std::time::Duration::from_secs(30));
    let api = sluice_test_support::ApiClient::new(serve.base(), "recipes-serve-token-0123456789");
    let (status, body) = api
        .call(
            reqwest::Method::POST,
            "/api/flows/contact-brief/runs?wait=20s",
            Some(json!({"contactId": "ct_001"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"]["appointments"], 3, "{body}");
    let (code, _, log) = serve.stop(std::time::Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
}

/// Splits a command line of the docs into words: spaces separate, single quotes group.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for ch in line.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    out.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(word);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_of_the_recipes_section_runs() {
    let doc = std::fs::read_to_string(repo_root().join("docs/flow-language.md")).expect("doc");
    let section = doc
        .split("\n## Recipes\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a Recipes section");
    let commands: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("sluice "))
        .collect();
    let mut covered = BTreeSet::new();
    for line in &commands {
        let args = words(line);
        if let Some(flow) = args
            .iter()
            .find_map(|a| a.strip_prefix("workflows/")?.strip_suffix(".yaml"))
        {
            covered.insert(flow.to_string());
        }
        let mut cmd = sluice();
        cmd.args(&args[1..]);
        if args[1] == "run" {
            cmd.arg("--no-record");
            assert!(line.contains(&format!("--seed {SEED}")), "{line}");
        }
        let out = output(cmd).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let expected: BTreeSet<String> = RECIPES.iter().map(|r| (*r).to_string()).collect();
    assert_eq!(covered, expected, "one command per recipe");
}
