//! Durable runs through the binary: every `sluice run` is recorded; a run killed with SIGKILL
//! at random points, again and again, is resumed by `sluice runs resume` until it ends — and
//! the sandbox holds exactly one copy of every write. Also `runs list/show/export/verify/prune`
//! and the secrets scan of the store file, the logs and the export.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use sluice_sandbox::{Sandbox, SandboxConfig};

/// A project folder: sluice.toml with a bearer credential from `$GHL_TOKEN`, one flow, and a
/// store of its own.
struct Project {
    dir: tempfile::TempDir,
    base_url: String,
}

impl Project {
    fn new(flow_name: &str, flow: &str, base_url: String) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("sluice.toml"),
            "[credentials.ghl_main]\nkind = \"bearer\"\ntoken = { env = \"GHL_TOKEN\" }\n\
             location_id = \"loc_sandbox\"\n",
        )
        .expect("sluice.toml");
        std::fs::create_dir_all(dir.path().join("flows")).expect("mkdir");
        std::fs::write(dir.path().join(format!("flows/{flow_name}.yaml")), flow).expect("flow");
        Project { dir, base_url }
    }

    fn store(&self) -> String {
        format!(
            "sqlite://{}",
            self.dir.path().join("state/sluice.db").display()
        )
    }

    fn sluice(&self, token: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
        cmd.current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("GHL_TOKEN", token)
            .env("SLUICE_STORE", self.store())
            .env_remove("SLUICE_HOME")
            .env_remove("SLUICE_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn connection(&self) -> String {
        format!("ghl.base_url={}", self.base_url)
    }
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("sluice runs"))
        .await
        .expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const PUSH_FLOW: &str = r#"
name: push-durable
inputs:
  contactId: { type: string }
  tasks: { type: array }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main }
steps:
  create:
    action: ghl.create_task
    for_each: "{{ inputs.tasks }}"
    as: task
    with:
      contactId: "{{ inputs.contactId }}"
      title: "{{ task.title }}"
      dueDate: "{{ task.due }}"
      completed: false
  note:
    action: ghl.create_note
    for_each: "{{ steps.create }}"
    as: made
    with:
      contactId: "{{ inputs.contactId }}"
      body: "Pushed task {{ made.task.id }}"
  tag:
    action: ghl.add_tags
    after: [note]
    with:
      contactId: "{{ inputs.contactId }}"
      tags: [pushed]
output:
  tasks: "{{ steps.create }}"
  notes: "{{ steps.note }}"
  tags: "{{ steps.tag.tags }}"
"#;

/// The id of the run recorded most recently, if any.
async fn latest_run(project: &Project) -> Option<(String, String)> {
    let mut cmd = project.sluice("sandbox-token");
    cmd.args(["runs", "list", "--format", "json", "--limit", "1"]);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let runs: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let run = runs.as_array()?.first()?;
    Some((
        run["id"].as_str()?.to_string(),
        run["status"].as_str()?.to_string(),
    ))
}

/// Starts `cmd` and kills it (SIGKILL) after `after`, unless it ended first. Returns whether it
/// was killed.
async fn kill_after(mut cmd: Command, after: Duration) -> bool {
    let mut child = cmd.spawn().expect("spawn");
    tokio::time::sleep(after).await;
    match child.try_wait().expect("try_wait") {
        Some(_) => false,
        None => {
            child.kill().expect("kill");
            let _ = child.wait();
            true
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_resume_and_every_write_is_made_once() {
    let sandbox = Sandbox::start(SandboxConfig::default(), ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    let project = Project::new("push", PUSH_FLOW, sandbox.base_url());
    let state = sandbox.state().clone();
    let tasks_before = state.tasks().len();
    let notes_before = state.notes().len();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut kills = 0;
    // Kills that left a scenario's writes half done (some tasks or notes made, not all).
    let mut mid_write_kills = 0;
    let mut scenario = 0;
    while kills < 24 {
        scenario += 1;
        let titles: Vec<String> = (0..6).map(|i| format!("S{scenario} task {i}")).collect();
        let tasks: Vec<Value> = titles
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"title": t, "due": format!("2026-12-0{}T09:00:00Z", i + 1)}))
            .collect();
        let inputs = project.dir.path().join(format!("inputs-{scenario}.json"));
        std::fs::write(
            &inputs,
            json!({"contactId": "ct_grace", "tasks": tasks}).to_string(),
        )
        .expect("inputs");
        let before = latest_run(&project).await.map(|r| r.0);
        // The first attempt: `sluice run`, killed at a random moment.
        let mut first = project.sluice("sandbox-token");
        first
            .args(["run", "flows/push.yaml", "--inputs"])
            .arg(&inputs)
            .args(["--connection", &project.connection()]);
        let prefix = format!("S{scenario} ");
        let half_done = |state: &sluice_sandbox::SandboxState| {
            let tasks: Vec<String> = state
                .tasks()
                .into_iter()
                .filter(|t| t.title.starts_with(&prefix))
                .map(|t| t.id)
                .collect();
            let notes = state
                .notes()
                .iter()
                .filter(|n| tasks.iter().any(|id| n.body == format!("Pushed task {id}")))
                .count();
            (1..12).contains(&(tasks.len() + notes))
        };
        if kill_after(first, Duration::from_millis(rng.random_range(50..1200))).await {
            kills += 1;
            mid_write_kills += usize::from(half_done(&state));
        }
        let Some((id, mut status)) = latest_run(&project)
            .await
            .filter(|r| Some(&r.0) != before.as_ref())
        else {
            // Killed before the run was recorded: nothing was sent, nothing to resume.
            assert_eq!(
                state
                    .tasks()
                    .iter()
                    .filter(|t| t.title.starts_with(&format!("S{scenario} ")))
                    .count(),
                0
            );
            continue;
        };
        // Resume, killing most resumes too, until the run ends.
        let mut resumes = 0;
        while status != "succeeded" {
            resumes += 1;
            assert!(resumes < 60, "run {id} never finished");
            let mut cmd = project.sluice("sandbox-token");
            cmd.args(["runs", "resume", &id, "--connection", &project.connection()]);
            if kills < 24 && rng.random_bool(0.7) {
                if kill_after(cmd, Duration::from_millis(rng.random_range(50..1200))).await {
                    kills += 1;
                    mid_write_kills += usize::from(half_done(&state));
                }
            } else {
                let out = output(cmd).await;
                assert!(
                    out.status.code() == Some(0) || out.status.code() == Some(1),
                    "resume: {}",
                    text(&out.stderr)
                );
            }
            status = latest_run(&project).await.expect("the run").1;
        }
        // Exactly one task per title, one note per task, and the output names them.
        let made: Vec<_> = state
            .tasks()
            .into_iter()
            .filter(|t| t.title.starts_with(&format!("S{scenario} ")))
            .collect();
        for title in &titles {
            assert_eq!(
                made.iter().filter(|t| &t.title == title).count(),
                1,
                "scenario {scenario}: `{title}` must exist exactly once"
            );
        }
        let mut show = project.sluice("sandbox-token");
        show.args(["runs", "show", &id, "--format", "json"]);
        let out = output(show).await;
        let detail: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let output_tasks = detail["output"]["tasks"].as_array().expect("tasks").clone();
        assert_eq!(output_tasks.len(), titles.len());
        for (made_task, title) in output_tasks.iter().zip(&titles) {
            assert_eq!(&made_task["task"]["title"], title);
            let id = made_task["task"]["id"].as_str().expect("id");
            assert!(
                made.iter().any(|t| t.id == id),
                "the output names task {id} of the sandbox"
            );
            assert_eq!(
                state
                    .notes()
                    .iter()
                    .filter(|n| n.body == format!("Pushed task {id}"))
                    .count(),
                1,
                "one note for task {id}"
            );
        }
        let tags = detail["output"]["tags"].as_array().expect("tags");
        assert_eq!(
            tags.iter().filter(|t| *t == "pushed").count(),
            1,
            "{tags:?}"
        );
    }
    assert!(kills >= 24, "{kills} kills");
    assert!(
        mid_write_kills >= 5,
        "only {mid_write_kills} kills fell between a scenario's first and last write"
    );
    // Nothing else was created: every task and note belongs to a scenario.
    let tasks_made = state.tasks().len() - tasks_before;
    let notes_made = state.notes().len() - notes_before;
    assert_eq!(tasks_made, notes_made);
    assert_eq!(tasks_made % 6, 0);
    eprintln!(
        "{kills} kills ({mid_write_kills} between writes) over {scenario} scenarios; \
         {tasks_made} tasks, {notes_made} notes"
    );
    // The audit log of all that is intact.
    let mut verify = project.sluice("sandbox-token");
    verify.args(["runs", "verify"]);
    let out = output(verify).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    sandbox.shutdown().await;
}
