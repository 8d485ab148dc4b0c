//! The executable plan: steps as a DAG (petgraph), their levels, and cycle reports.

use std::collections::BTreeSet;

// Kosaraju, not Tarjan: petgraph's `tarjan_scc` recurses once per step of a chain and overflows
// the stack on long chains (100,000 steps); `kosaraju_scc` keeps its own stack.
use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use sluice_model::Diagnostic;

use crate::check::{Checked, StepFacts};
use crate::codes;

/// A flow planned into a DAG.
#[derive(Debug)]
pub struct Plan {
    /// The flow's name.
    pub flow: String,
    /// The steps, in the order they are written.
    pub steps: Vec<StepFacts>,
    /// Edges point from a step to the steps that need it.
    pub graph: DiGraph<usize, ()>,
    /// Steps grouped by level: a step's level is one more than its deepest need, so the steps
    /// of one level can run at the same time (the executor starts each one as soon as its own
    /// needs are done, without waiting for a level).
    pub levels: Vec<Vec<usize>>,
    /// Steps the output reads.
    pub output_needs: BTreeSet<usize>,
}

impl Plan {
    /// Direct needs of a step, sorted.
    #[must_use]
    pub fn needs(&self, step: usize) -> Vec<usize> {
        let mut needs: Vec<usize> = self.steps[step].needs.keys().copied().collect();
        needs.sort_unstable();
        needs
    }
}

/// Builds the DAG; a cycle becomes one diagnostic per cycle, naming every step on it in order.
///
/// # Errors
/// The cycle diagnostics.
pub fn build(flow: &str, checked: Checked) -> Result<Plan, Vec<Diagnostic>> {
    let n = checked.steps.len();
    let mut graph = DiGraph::<usize, ()>::with_capacity(n, n);
    let nodes: Vec<NodeIndex> = (0..n).map(|i| graph.add_node(i)).collect();
    for (i, step) in checked.steps.iter().enumerate() {
        for &j in step.needs.keys() {
            graph.add_edge(nodes[j], nodes[i], ());
        }
    }
    let cycles = find_cycles(&graph, &checked.steps);
    if !cycles.is_empty() {
        return Err(cycles);
    }
    let levels = levels(&graph, &checked.steps);
    Ok(Plan {
        flow: flow.to_string(),
        steps: checked.steps,
        graph,
        levels,
        output_needs: checked.output_needs,
    })
}

fn levels(graph: &DiGraph<usize, ()>, steps: &[StepFacts]) -> Vec<Vec<usize>> {
    let Ok(order) = petgraph::algo::toposort(graph, None) else {
        return Vec::new();
    };
    let mut level = vec![0usize; steps.len()];
    for node in order {
        let i = graph[node];
        level[i] = steps[i]
            .needs
            .keys()
            .map(|&j| level[j] + 1)
            .max()
            .unwrap_or(0);
    }
    let depth = level.iter().copied().max().map_or(0, |m| m + 1);
    let mut out = vec![Vec::new(); depth];
    for (i, l) in level.into_iter().enumerate() {
        out[l].push(i);
    }
    out
}

fn find_cycles(graph: &DiGraph<usize, ()>, steps: &[StepFacts]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for scc in kosaraju_scc(graph) {
        if scc.len() < 2 {
            continue;
        }
        let members: BTreeSet<usize> = scc.iter().map(|&n| graph[n]).collect();
        let Some(&start) = members.iter().next() else {
            continue;
        };
        let path = cycle_path(start, &members, steps);
        let names: Vec<String> = path
            .iter()
            .map(|&i| format!("`{}`", steps[i].name.value))
            .collect();
        let mut chain = names.clone();
        chain.push(names[0].clone());
        let mut d = Diagnostic::error(
            codes::CYCLE,
            format!(
                "steps {} need each other in a circle: {}",
                names.join(", "),
                chain.join(" → ")
            ),
        );
        for (k, &i) in path.iter().enumerate() {
            let next = path[(k + 1) % path.len()];
            if let Some(span) = steps[i].needs.get(&next) {
                d = d.label(
                    *span,
                    format!(
                        "`{}` needs `{}`",
                        steps[i].name.value, steps[next].name.value
                    ),
                );
            }
        }
        out.push(d.help(
            "remove one of these references, or move the shared work into a step of its own",
        ));
    }
    out
}

/// A simple cycle through `start`, following "needs" edges within `members` (BFS, shortest).
fn cycle_path(start: usize, members: &BTreeSet<usize>, steps: &[StepFacts]) -> Vec<usize> {
    let mut prev: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(i) = queue.pop_front() {
        let mut needs: Vec<usize> = steps[i]
            .needs
            .keys()
            .copied()
            .filter(|j| members.contains(j))
            .collect();
        needs.sort_unstable();
        for j in needs {
            if j == start {
                let mut path = vec![i];
                let mut cur = i;
                while cur != start {
                    cur = prev[&cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(j) {
                e.insert(i);
                queue.push_back(j);
            }
        }
    }
    members.iter().copied().collect()
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;
    use sluice_model::{Sp, Span};

    use super::*;
    use crate::check::StepKind;

    /// A chain of 100,000 steps plans without overflowing the stack (petgraph's `tarjan_scc`
    /// recursed once per step).
    #[test]
    fn long_chains_plan() {
        let n = 100_000;
        let steps = (0..n)
            .map(|i| StepFacts {
                name: Sp::unspanned(format!("s{i}")),
                kind: StepKind::Value,
                needs: if i == 0 {
                    IndexMap::new()
                } else {
                    IndexMap::from([(i - 1, Span::UNKNOWN)])
                },
                for_each: false,
                conditional: false,
                retry_attempts: None,
            })
            .collect();
        let checked = Checked {
            steps,
            output_needs: BTreeSet::new(),
            diagnostics: Vec::new(),
        };
        let plan = build("chain", checked).expect("a chain has no cycle");
        assert_eq!(plan.levels.len(), n);
    }
}
