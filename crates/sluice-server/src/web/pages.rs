//! The web view's HTML (maud: every value is escaped): the layout, the login form, flows, one
//! flow (DAG, inputs, "Run now"), runs with filters, and one run as a timeline of its steps.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use serde_json::{Map, Value};
use sluice_engine::Executable;
use sluice_model::flow::InputType;
use sluice_store::{RunDetail, RunStatus, RunSummary, StepRecord, StepStatus};

use super::dag;
use crate::dto::{FlowInfo, FlowList, TriggerInfo};

/// The most characters of one JSON value shown on a page (the API has it whole).
const JSON_CAP: usize = 16 * 1024;

fn layout(title: &str, csrf: Option<&str>, current: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Sluice" }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    nav aria-label="Main" {
                        a class="brand" href="/" { "Sluice" }
                        ul {
                            li { a href="/" aria-current=[(current == "flows").then_some("page")] { "Flows" } }
                            li { a href="/runs" aria-current=[(current == "runs").then_some("page")] { "Runs" } }
                        }
                    }
                    @if let Some(csrf) = csrf {
                        form method="post" action="/logout" class="logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                (body)
            }
        }
    }
}

/// The login form.
pub(super) fn login(next: &str, problem: Option<&str>) -> Markup {
    layout(
        "Log in",
        None,
        "",
        html! {
            main id="main" class="narrow" {
                h1 { "Log in" }
                p { "Give the runner's token (" code { "[serve] token" } " in sluice.toml, or " code { "SLUICE_API_TOKEN" } ")." }
                @if let Some(p) = problem {
                    p class="alert" role="alert" id="login-problem" { (p) }
                }
                form method="post" action="/login" class="stack" {
                    input type="hidden" name="next" value=(next);
                    label for="token" { "Token" }
                    input id="token" name="token" type="password" autocomplete="current-password" required
                        aria-describedby=[problem.map(|_| "login-problem")];
                    button type="submit" { "Log in" }
                }
            }
        },
    )
}

/// A page with one message (not found, refused, ...).
pub(super) fn message(title: &str, text: &str) -> Markup {
    layout(
        title,
        None,
        "",
        html! {
            main id="main" class="narrow" {
                h1 { (title) }
                p { (text) }
                p { a href="/" { "Back to the flows" } }
            }
        },
    )
}

fn when(t: DateTime<Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M:%S UTC")) } }
}

fn when_text(t: &str) -> Markup {
    match DateTime::parse_from_rfc3339(t) {
        Ok(t) => when(t.with_timezone(&Utc)),
        Err(_) => html! { (t) },
    }
}

fn duration_text(ms: i64) -> String {
    match ms {
        ms if ms < 1000 => format!("{ms} ms"),
        ms if ms < 60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        ms => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

fn run_duration(started: Option<DateTime<Utc>>, finished: Option<DateTime<Utc>>) -> String {
    match (started, finished) {
        (Some(s), Some(f)) => duration_text((f - s).num_milliseconds().max(0)),
        (Some(s), None) => format!(
            "{} so far",
            duration_text((Utc::now() - s).num_milliseconds().max(0))
        ),
        _ => "—".into(),
    }
}

fn badge(status: &str) -> Markup {
    html! { span class=(format!("badge st-{status}")) { (status.replace('_', " ")) } }
}

fn trigger_text(t: &TriggerInfo) -> Markup {
    match t {
        TriggerInfo::Manual => html! { "manual" },
        TriggerInfo::Schedule {
            cron,
            timezone,
            next_fire,
        } => html! {
            "schedule " code { (cron) } " (" (timezone) ")"
            @if let Some(n) = next_fire { br; span class="muted" { "next: " (when_text(n)) } }
        },
        TriggerInfo::Webhook { event } => html! { "webhook " code { (event) } },
        TriggerInfo::TaskDue { connection } => html! { "task due (" (connection) ")" },
        TriggerInfo::Poll { action } => html! { "poll " code { (action) } },
    }
}

fn validity(f: &FlowInfo) -> Markup {
    html! {
        @match &f.problem {
            None => span class="badge st-succeeded" { "valid" },
            Some(p) => {
                span class="badge st-failed" { "invalid file" }
                " " span class="problem" { "the last good version runs: " (p) }
            }
        }
    }
}

/// `/`: every flow with its triggers, validity and last run; files not served.
pub(super) fn flows(csrf: Option<&str>, list: &FlowList, recent: &[RunSummary]) -> Markup {
    let mut last: HashMap<&str, &RunSummary> = HashMap::new();
    for r in recent {
        last.entry(r.flow.as_str()).or_insert(r);
    }
    layout(
        "Flows",
        csrf,
        "flows",
        html! {
            main id="main" {
                h1 { "Flows" }
                @if list.flows.is_empty() {
                    p { "No flow is served." }
                } @else {
                    table class="cards" {
                        caption class="visually-hidden" { "Flows served by this runner" }
                        thead { tr { th scope="col" { "Flow" } th scope="col" { "Triggers" } th scope="col" { "Status" } th scope="col" { "Last run" } } }
                        tbody {
                            @for f in &list.flows {
                                tr {
                                    th scope="row" data-label="Flow" { a href=(format!("/flows/{}", f.name)) { (f.name) } br; span class="muted" { (f.file) } }
                                    td data-label="Triggers" {
                                        @if f.triggers.is_empty() { "manual (no trigger written)" }
                                        ul class="plain" { @for t in &f.triggers { li { (trigger_text(t)) } } }
                                    }
                                    td data-label="Status" { (validity(f)) }
                                    td data-label="Last run" {
                                        @match last.get(f.name.as_str()) {
                                            Some(r) => { a href=(format!("/runs/{}", r.id)) { (badge(r.status.as_str())) } " " (when(r.created_at)) }
                                            None => span class="muted" { "none yet" },
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if !list.not_served.is_empty() {
                    h2 { "Files not served" }
                    ul {
                        @for p in &list.not_served {
                            li { code { (p.file) } ": " span class="problem" { (p.problem) } }
                        }
                    }
                }
                p class="muted" { "Flows read " (when_text(&list.loaded_at)) "." }
            }
        },
    )
}

/// What the flow page shows.
pub(super) struct FlowView<'a> {
    pub(super) csrf: Option<&'a str>,
    pub(super) info: &'a FlowInfo,
    pub(super) exec: &'a Executable,
    pub(super) manual: bool,
    pub(super) runs: &'a [RunSummary],
    /// Problems with the inputs of a "Run now" just sent.
    pub(super) problems: &'a [String],
    /// The texts just sent, by input.
    pub(super) given: &'a Map<String, Value>,
}

fn levels_text(exec: &Executable) -> Markup {
    html! {
        ol class="levels" {
            @for row in dag::levels(exec) {
                li {
                    @for (n, i) in row.iter().enumerate() {
                        @if n > 0 { ", " }
                        @let step = &exec.steps[*i];
                        code { (step.name) }
                        @if !step.needs.is_empty() {
                            " (needs "
                            @for (k, d) in step.needs.iter().enumerate() {
                                @if k > 0 { ", " }
                                (exec.steps.get(*d).map_or("?", |s| s.name.as_str()))
                            }
                            ")"
                        }
                    }
                }
            }
        }
    }
}

fn input_field(
    name: &str,
    kind: InputType,
    given: Option<&str>,
    default: Option<&Value>,
    hint: Option<String>,
) -> Markup {
    let id = format!("in-{name}");
    let field = format!("in.{name}");
    let placeholder = default.map(Value::to_string);
    html! {
        @match kind {
            InputType::Boolean => {
                select id=(id) name=(field) aria-describedby=[hint.as_deref()] {
                    option value="" selected[given.is_none_or(str::is_empty)] { "(not given)" }
                    option value="true" selected[given == Some("true")] { "true" }
                    option value="false" selected[given == Some("false")] { "false" }
                }
            }
            InputType::Array | InputType::Object => {
                textarea id=(id) name=(field) aria-describedby=[hint.as_deref()] rows="3" placeholder=[placeholder] spellcheck="false" { (given.unwrap_or_default()) }
            }
            InputType::Integer | InputType::Number => {
                input id=(id) name=(field) aria-describedby=[hint.as_deref()] type="text" inputmode="decimal" value=[given] placeholder=[placeholder];
            }
            InputType::String => {
                input id=(id) name=(field) aria-describedby=[hint.as_deref()] type="text" value=[given] placeholder=[placeholder] autocomplete="off" spellcheck="false";
            }
        }
    }
}

/// `/flows/{name}`: the DAG, the inputs, "Run now", recent runs.
pub(super) fn flow(v: FlowView<'_>) -> Markup {
    // Over 80 lines: the page's markup, which reads best top to bottom as one template.
    let f = v.info;
    layout(
        &f.name,
        v.csrf,
        "flows",
        html! {
            main id="main" {
                h1 { "Flow " code { (f.name) } }
                p { (validity(f)) " " span class="muted" { (f.file) } }
                section aria-labelledby="triggers-h" {
                    h2 id="triggers-h" { "Triggers" }
                    @if f.triggers.is_empty() { p { "None written: started by hand only." } }
                    ul { @for t in &f.triggers { li { (trigger_text(t)) } } }
                }
                section aria-labelledby="dag-h" {
                    h2 id="dag-h" { "Steps" }
                    p class="muted" { "Each row runs at the same time once the rows above are done; arrows point from a step to the steps that need it." }
                    figure class="dag-wrap" {
                        (dag::svg(v.exec, &|_| None, false))
                        figcaption { "By level:" (levels_text(v.exec)) }
                    }
                }
                section aria-labelledby="inputs-h" {
                    h2 id="inputs-h" { "Inputs" }
                    @if f.inputs.is_empty() {
                        p { "None." }
                    } @else {
                        table class="cards" {
                            thead { tr { th scope="col" { "Input" } th scope="col" { "Type" } th scope="col" { "Required" } th scope="col" { "Default" } th scope="col" { "What it is" } } }
                            tbody {
                                @for (name, i) in &f.inputs {
                                    tr {
                                        th scope="row" data-label="Input" { code { (name) } }
                                        td data-label="Type" { (i.kind) }
                                        td data-label="Required" { @if i.required { "yes" } @else { "no" } }
                                        td data-label="Default" { @if let Some(d) = &i.default { code { (d.to_string()) } } @else { "—" } }
                                        td data-label="What it is" { (i.description.as_deref().unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                }
                @if v.manual {
                    section aria-labelledby="run-h" {
                        h2 id="run-h" { "Run now" }
                        @if !v.problems.is_empty() {
                            div class="alert" role="alert" id="run-problems" {
                                p { "The run was not started:" }
                                ul { @for p in v.problems { li { (p) } } }
                            }
                        }
                        form method="post" action=(format!("/flows/{}/run", f.name)) class="stack run-form" {
                            @if let Some(csrf) = v.csrf { input type="hidden" name="csrf" value=(csrf); }
                            @for (name, decl) in &v.exec.inputs {
                                @let info = f.inputs.get(name);
                                div class="field" {
                                    label for=(format!("in-{name}")) {
                                        (name)
                                        span class="muted" { " (" (decl.kind.as_str())
                                            @if info.is_some_and(|i| i.required) { ", required" }
                                            ")" }
                                    }
                                    @let hint = decl.description.as_ref().map(|_| format!("in-{name}-hint"));
                                    @if let (Some(d), Some(h)) = (decl.description.as_deref(), hint.as_deref()) { span class="hint" id=(h) { (d) } }
                                    (input_field(name, decl.kind, v.given.get(name).and_then(Value::as_str), decl.default.as_ref(), hint.clone()))
                                }
                            }
                            button type="submit" { "Run " (f.name) " now" }
                        }
                    }
                }
                section aria-labelledby="recent-h" {
                    h2 id="recent-h" { "Recent runs" }
                    (runs_table(v.runs, false))
                    p { a href=(format!("/runs?flow={}", f.name)) { "All runs of " (f.name) } }
                }
            }
        },
    )
}

fn runs_table(runs: &[RunSummary], with_flow: bool) -> Markup {
    html! {
        @if runs.is_empty() {
            p { "No runs." }
        } @else {
            table class="cards runs" {
                thead { tr {
                    th scope="col" { "Run" }
                    @if with_flow { th scope="col" { "Flow" } }
                    th scope="col" { "Status" } th scope="col" { "Trigger" } th scope="col" { "Created" } th scope="col" { "Duration" }
                } }
                tbody {
                    @for r in runs {
                        tr {
                            th scope="row" data-label="Run" { a href=(format!("/runs/{}", r.id)) { code { (r.id) } } }
                            @if with_flow { td data-label="Flow" { a href=(format!("/flows/{}", r.flow)) { (r.flow) } } }
                            td data-label="Status" { (badge(r.status.as_str())) }
                            td data-label="Trigger" { (r.trigger) }
                            td data-label="Created" { (when(r.created_at)) }
                            td data-label="Duration" { (run_duration(r.started_at, r.finished_at)) }
                        }
                    }
                }
            }
        }
    }
}

/// What the runs page shows.
pub(super) struct RunsView<'a> {
    pub(super) csrf: Option<&'a str>,
    pub(super) runs: &'a [RunSummary],
    pub(super) flows: &'a [String],
    pub(super) flow: Option<&'a str>,
    pub(super) status: Option<RunStatus>,
    pub(super) problem: Option<&'a str>,
    pub(super) limit: usize,
}

/// `/runs`: recent runs, filtered by flow and status.
pub(super) fn runs(v: RunsView<'_>) -> Markup {
    let mut flows: Vec<&str> = v.flows.iter().map(String::as_str).collect();
    if let Some(f) = v.flow.filter(|f| !flows.contains(f)) {
        flows.push(f);
    }
    layout(
        "Runs",
        v.csrf,
        "runs",
        html! {
            main id="main" {
                h1 { "Runs" }
                form method="get" action="/runs" class="filters" role="search" aria-label="Filter runs" {
                    div class="field" {
                        label for="f-flow" { "Flow" }
                        select id="f-flow" name="flow" {
                            option value="" selected[v.flow.is_none()] { "all" }
                            @for f in &flows { option value=(f) selected[v.flow == Some(*f)] { (f) } }
                        }
                    }
                    div class="field" {
                        label for="f-status" { "Status" }
                        select id="f-status" name="status" {
                            option value="" selected[v.status.is_none()] { "all" }
                            @for s in RunStatus::ALL { option value=(s.as_str()) selected[v.status == Some(s)] { (s.as_str().replace('_', " ")) } }
                        }
                    }
                    button type="submit" { "Show" }
                }
                @if let Some(p) = v.problem { p class="alert" role="alert" { (p) } }
                p class="muted" { (v.runs.len()) " run(s), newest first"
                    @if v.runs.len() >= v.limit { " (the latest " (v.limit) ")" } "." }
                (runs_table(v.runs, true))
            }
        },
    )
}

/// A JSON value, pretty and capped for display.
fn json_block(v: &Value, run: &str) -> Markup {
    let text = match v {
        Value::String(s) => s.clone(),
        v => serde_json::to_string_pretty(v).unwrap_or_default(),
    };
    let (shown, cut) = if text.len() > JSON_CAP {
        let mut end = JSON_CAP;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        (&text[..end], text.len() - end)
    } else {
        (text.as_str(), 0)
    };
    html! {
        pre class="json" tabindex="0" { code { (shown) } }
        @if cut > 0 {
            p class="muted" { "… " (cut) " more bytes; the whole value is in " a href=(format!("/api/runs/{run}")) { "the API" } "." }
        }
    }
}

/// One step of the run page.
struct StepRow<'a> {
    name: String,
    kind: Option<String>,
    status: &'static str,
    records: Vec<&'a StepRecord>,
}

fn step_status(records: &[&StepRecord]) -> Option<&'static str> {
    if records.is_empty() {
        return None;
    }
    let whole = records.iter().find(|r| r.item.is_none());
    let statuses: Vec<StepStatus> = match whole {
        Some(r) => vec![r.status],
        None => records.iter().map(|r| r.status).collect(),
    };
    Some(if statuses.contains(&StepStatus::Failed) {
        "failed"
    } else if statuses.contains(&StepStatus::Cancelled) {
        "cancelled"
    } else if statuses.iter().all(|s| *s == StepStatus::Skipped) {
        "skipped"
    } else {
        "succeeded"
    })
}

fn step_rows<'a>(run: &'a RunDetail, exec: Option<&Executable>) -> Vec<StepRow<'a>> {
    let mut by_name: HashMap<&str, Vec<&StepRecord>> = HashMap::new();
    for r in &run.steps {
        by_name.entry(r.step.as_str()).or_default().push(r);
    }
    let mut rows = Vec::new();
    let mut listed: Vec<&str> = Vec::new();
    if let Some(exec) = exec {
        for (i, step) in exec.steps.iter().enumerate() {
            let records = by_name.get(step.name.as_str()).cloned().unwrap_or_default();
            let status = step_status(&records).unwrap_or_else(|| match run.run.status {
                RunStatus::Queued => "waiting",
                RunStatus::Running => {
                    let ready = step.needs.iter().all(|d| {
                        exec.steps.get(*d).is_some_and(|n| {
                            by_name
                                .get(n.name.as_str())
                                .and_then(|r| step_status(r))
                                .is_some_and(|s| s == "succeeded" || s == "skipped")
                        })
                    });
                    if ready { "running" } else { "waiting" }
                }
                _ => "not_run",
            });
            listed.push(step.name.as_str());
            rows.push(StepRow {
                name: step.name.clone(),
                kind: Some(dag::kind_label(exec, i)),
                status,
                records,
            });
        }
    }
    // Steps recorded that the flow (as served now) does not have, in the order they started.
    for r in &run.steps {
        if listed.contains(&r.step.as_str()) {
            continue;
        }
        listed.push(r.step.as_str());
        let records = by_name.get(r.step.as_str()).cloned().unwrap_or_default();
        rows.push(StepRow {
            name: r.step.clone(),
            kind: None,
            status: step_status(&records).unwrap_or("succeeded"),
            records,
        });
    }
    rows
}

/// A bar from the step's start to its end on the run's time line (0–1000).
fn bar(start: DateTime<Utc>, end: DateTime<Utc>, t0: DateTime<Utc>, t1: DateTime<Utc>) -> Markup {
    let span = (t1 - t0).num_milliseconds().max(1) as f64;
    let x = ((start - t0).num_milliseconds().max(0) as f64 / span * 1000.0).min(1000.0);
    let w = ((end - start).num_milliseconds().max(0) as f64 / span * 1000.0)
        .clamp(4.0, 1000.0 - x.min(996.0));
    html! {
        svg class="bar" viewBox="0 0 1000 10" preserveAspectRatio="none" aria-hidden="true" focusable="false" {
            rect x=(format!("{x:.1}")) y="0" width=(format!("{w:.1}")) height="10" {}
        }
    }
}

/// What the page leaves out of a large run, e.g. "This page lists 200 of the run's 300 HTTP
/// calls: the first, and those that went wrong." `None` when it lists everything.
fn omitted_note(detail: &RunDetail) -> Option<String> {
    let omitted = detail.omitted?;
    let part = |listed: usize, left: u64, what: &str| {
        (left > 0).then(|| format!("{listed} of the run's {} {what}", listed as u64 + left))
    };
    let parts: Vec<String> = [
        part(detail.steps.len(), omitted.steps, "step records"),
        part(detail.http_calls.len(), omitted.http_calls, "HTTP calls"),
    ]
    .into_iter()
    .flatten()
    .collect();
    Some(format!(
        "This page lists {}: the first, and those that went wrong.",
        parts.join(" and ")
    ))
}

/// `/runs/{id}`: the run's state, its error, the DAG coloured by step status, and each step
/// with its request, answer status and output. `run.js` refreshes it while the run goes on.
pub(super) fn run(csrf: Option<&str>, detail: &RunDetail, exec: Option<&Executable>) -> Markup {
    // Over 80 lines: the page's markup, which reads best top to bottom as one template.
    let rows = step_rows(detail, exec);
    let run = &detail.run;
    let statuses: HashMap<String, &'static str> =
        rows.iter().map(|r| (r.name.clone(), r.status)).collect();
    let t0 = run
        .started_at
        .or_else(|| detail.steps.iter().map(|s| s.started_at).min())
        .unwrap_or(run.created_at);
    let t1 = run
        .finished_at
        .or_else(|| detail.steps.iter().map(|s| s.finished_at).max())
        .unwrap_or_else(Utc::now)
        .max(t0);
    let live = !run.status.is_final();
    let id = run.id.to_string();
    let omitted = detail.omitted.unwrap_or_default();
    let fingerprint = format!(
        "{}|{}|{}",
        run.status,
        detail.steps.len() as u64 + omitted.steps,
        detail.http_calls.len() as u64 + omitted.http_calls
    );
    let failed_step = detail.steps.iter().find(|s| s.status == StepStatus::Failed);
    layout(
        &format!("Run of {}", run.flow),
        csrf,
        "runs",
        html! {
            main id="main" data-run=(id) data-fp=(fingerprint) data-status=(run.status.as_str()) {
                h1 { "Run of " a href=(format!("/flows/{}", run.flow)) { (run.flow) } }
                p id="run-status" role="status" aria-live="polite" {
                    (badge(run.status.as_str()))
                    @if live { " " span class="muted" { "This page updates itself while the run goes on." } }
                }
                @if let Some(err) = &run.error {
                    section class="alert" role="alert" aria-labelledby="error-h" {
                        h2 id="error-h" { "Why it " (run.status.as_str().replace('_', " ")) }
                        pre class="error-text" { (err) }
                        @if let Some(s) = failed_step {
                            p { "Failed step: " a href=(format!("#step-{}", s.step)) { code { (s.step) } } }
                        }
                    }
                }
                dl class="facts" {
                    dt { "Run id" } dd { code { (id) } }
                    dt { "Trigger" } dd { (run.trigger) }
                    dt { "Created" } dd { (when(run.created_at)) }
                    dt { "Started" } dd { @if let Some(t) = run.started_at { (when(t)) } @else { "—" } }
                    dt { "Finished" } dd { @if let Some(t) = run.finished_at { (when(t)) } @else { "—" } }
                    dt { "Duration" } dd { (run_duration(run.started_at, run.finished_at)) }
                    @if let Some(o) = &run.owner { dt { "Runner" } dd { (o) } }
                    @if run.claims > 1 { dt { "Claimed" } dd { (run.claims) " times (taken over or resumed)" } }
                }
                @if let Some(exec) = exec {
                    section aria-labelledby="dag-h" {
                        h2 id="dag-h" { "Steps" }
                        figure class="dag-wrap" {
                            (dag::svg(exec, &|name| statuses.get(name).map(|s| (*s).to_string()), true))
                        }
                    }
                }
                section aria-labelledby="timeline-h" {
                    h2 id="timeline-h" { "Timeline" }
                    @if let Some(left) = omitted_note(detail) {
                        p class="note" id="omitted" {
                            (left) " " code { "sluice runs show " (id) } " lists them all."
                        }
                    }
                    ol class="timeline" {
                        @for row in &rows {
                            li class=(format!("step st-{}", row.status)) id=(format!("step-{}", row.name)) {
                                details id=(format!("d-{}", row.name)) open[row.status == "failed"] {
                                    summary {
                                        span class="step-name" { (row.name) }
                                        " " (badge(row.status))
                                        @let attempts: u32 = row.records.iter().map(|r| r.attempts).max().unwrap_or(0);
                                        @if attempts > 1 { " " span class="badge st-retried" { "retried: " (attempts) " attempts" } }
                                        @if let (Some(s), Some(e)) = (row.records.iter().map(|r| r.started_at).min(), row.records.iter().map(|r| r.finished_at).max()) {
                                            " " span class="muted" { (duration_text((e - s).num_milliseconds().max(0))) }
                                            (bar(s, e, t0, t1))
                                        }
                                    }
                                    @if let Some(k) = &row.kind { p class="muted" { (k) } }
                                    @if row.records.is_empty() {
                                        p { @match row.status {
                                            "waiting" => "Waiting for the steps it needs.",
                                            "running" => "Running now.",
                                            _ => "It did not run.",
                                        } }
                                    }
                                    @for r in &row.records {
                                        div class="record" {
                                            @if let Some(item) = r.item { h3 { "Item " (item) " " (badge(r.status.as_str())) } }
                                            p class="muted" { "Attempts: " (r.attempts)
                                                @if let Some(code) = r.response_status { " · answer: HTTP " (code) }
                                                " · " (when(r.started_at)) }
                                            @if let Some(e) = &r.error { h4 { "Error" } (json_block(e, &id)) }
                                            @if let Some(req) = &r.request { h4 { "Request (secrets redacted)" } (json_block(req, &id)) }
                                            @if let Some(o) = &r.output { h4 { "Output" } (json_block(o, &id)) }
                                        }
                                    }
                                    @let calls: Vec<_> = detail.http_calls.iter().filter(|c| c.step == row.name).collect();
                                    @if !calls.is_empty() {
                                        h4 { "HTTP calls" }
                                        ul class="calls" {
                                            @for c in calls {
                                                li { code { (c.method) " " (c.url) } " → "
                                                    @match c.status { Some(s) => { "HTTP " (s) }, None => { (c.error.as_deref().unwrap_or("no answer")) } }
                                                    " (" (c.elapsed_ms) " ms, attempt " (c.attempt) ")" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                section aria-labelledby="inputs-h" {
                    h2 id="inputs-h" { "Inputs" }
                    (json_block(&run.inputs, &id))
                }
                @if let Some(out) = &run.output {
                    section aria-labelledby="output-h" {
                        h2 id="output-h" { "Output" }
                        @if let Some(n) = sluice_store::streamed_items(out) {
                            p {
                                (n) " items, stored one by one as the run streamed them: "
                                a href=(format!("/api/runs/{id}/output")) { "the output as JSON lines" }
                            }
                        } @else {
                            (json_block(out, &id))
                        }
                    }
                }
                @if live { script src="/static/run.js" defer {} }
            }
        },
    )
}
