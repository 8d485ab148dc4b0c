//! The Sluice planner: semantic checks of flows (templates analysed by `sluice-template`), and
//! the DAG a flow runs as.
//!
//! [`validate_files`] takes flow files (a folder, usually), reads each with `sluice-model`,
//! checks it against the connector catalog and the project's credentials, detects cycles
//! between steps and between flows, and returns one report (and plan) per file.

pub mod check;
pub mod codes;
pub mod fields;
pub mod graph;
pub mod render;

use std::collections::{BTreeSet, HashSet};

use indexmap::IndexMap;
use petgraph::graph::DiGraph;
use sluice_model::{Catalog, Diagnostic, FileReport, Limits, Project, load_flow};

pub use check::{Context, FlowSummary, StepKind};
pub use graph::Plan;

/// The most diagnostics reported per file; the rest are counted in one last line.
pub const MAX_DIAGNOSTICS: usize = 100;

/// One checked flow file.
#[derive(Debug)]
pub struct Validated {
    /// What was found.
    pub report: FileReport,
    /// The plan, when the flow has no errors.
    pub plan: Option<Plan>,
    /// The flow's name, when it could be read.
    pub name: Option<String>,
    /// The typed flow, when it could be read.
    pub document: Option<sluice_model::FlowDocument>,
}

/// Checks flow files `(path, text)` together: sub-flow references resolve among them.
#[must_use]
pub fn validate_files(
    files: &[(String, String)],
    catalog: &Catalog,
    project: Option<&Project>,
    limits: &Limits,
) -> Vec<Validated> {
    let loaded: Vec<_> = files
        .iter()
        .map(|(path, text)| load_flow(path, text, limits))
        .collect();
    let mut summaries: IndexMap<String, check::FlowSummary> = IndexMap::new();
    for l in &loaded {
        if let Some(doc) = &l.document {
            summaries.insert(
                doc.flow.name.value.clone(),
                check::FlowSummary {
                    inputs: doc
                        .flow
                        .inputs
                        .iter()
                        .map(|(k, v)| (k.value.clone(), v.required.unwrap_or(v.default.is_none())))
                        .collect(),
                },
            );
        }
    }
    let ctx = Context {
        catalog,
        project,
        flows: &summaries,
    };
    let mut out = Vec::with_capacity(loaded.len());
    for l in loaded {
        let mut report = l.report;
        let mut plan = None;
        let mut name = None;
        if let Some(doc) = &l.document {
            name = Some(doc.flow.name.value.clone());
            let checked = check::check_damaged_flow(
                doc,
                &report.source,
                &l.broken_steps,
                &l.dropped_sections,
                ctx,
            );
            report
                .diagnostics
                .extend(checked.diagnostics.iter().cloned());
            let checked = check::Checked {
                diagnostics: Vec::new(),
                ..checked
            };
            match graph::build(&doc.flow.name, checked) {
                Ok(p) => plan = Some(p),
                Err(cycles) => report.diagnostics.extend(cycles),
            }
        }
        out.push(Validated {
            report,
            plan,
            name,
            document: l.document,
        });
    }
    flow_cycles(files, &mut out);
    for v in &mut out {
        v.report.sort();
        v.report.cap(MAX_DIAGNOSTICS);
        if v.report.error_count() > 0 {
            v.plan = None;
        }
    }
    out
}

/// Flows that run each other in a circle (through `flow:` steps).
fn flow_cycles(files: &[(String, String)], out: &mut [Validated]) {
    let _ = files;
    let mut index: IndexMap<String, usize> = IndexMap::new();
    for (i, v) in out.iter().enumerate() {
        if let Some(name) = &v.name {
            index.insert(name.clone(), i);
        }
    }
    let mut graph = DiGraph::<usize, ()>::new();
    let nodes: Vec<_> = (0..out.len()).map(|i| graph.add_node(i)).collect();
    for (i, v) in out.iter().enumerate() {
        if let Some(plan) = &v.plan {
            for s in &plan.steps {
                if let StepKind::Flow(sub) = &s.kind
                    && let Some(&j) = index.get(sub)
                {
                    graph.add_edge(nodes[i], nodes[j], ());
                }
            }
        }
    }
    for scc in petgraph::algo::tarjan_scc(&graph) {
        let members: BTreeSet<usize> = scc.iter().map(|&n| graph[n]).collect();
        let self_loop = members.len() == 1
            && members
                .iter()
                .any(|&m| graph.contains_edge(nodes[m], nodes[m]));
        if members.len() < 2 && !self_loop {
            continue;
        }
        let names: Vec<String> = members
            .iter()
            .filter_map(|&m| out[m].name.clone())
            .collect();
        let member_names: HashSet<&str> = names.iter().map(String::as_str).collect();
        let chain = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(" → ");
        let mut diags = Vec::new();
        for &m in &members {
            let Some(plan) = &out[m].plan else { continue };
            for s in &plan.steps {
                if let StepKind::Flow(sub) = &s.kind
                    && member_names.contains(sub.as_str())
                {
                    diags.push((
                        m,
                        Diagnostic::error(
                            codes::FLOW_CYCLE,
                            format!("flows run each other in a circle: {chain} → `{}`", names[0]),
                        )
                        .label(s.name.span, format!("runs flow `{sub}`"))
                        .help("a flow cannot run itself, directly or through other flows"),
                    ));
                }
            }
        }
        for (m, d) in diags {
            out[m].report.diagnostics.push(d);
        }
    }
}
