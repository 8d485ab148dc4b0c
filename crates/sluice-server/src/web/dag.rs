//! A flow's DAG as inline SVG, laid out on the server: one row per level (steps whose needs
//! are all in the rows above), ordered within a row by where their needs sit; each node can
//! carry a run's step status as a CSS class.

use std::collections::HashMap;

use maud::{Markup, html};
use sluice_engine::Executable;
use sluice_engine::exec::ExecKind;

const NODE_W: usize = 168;
const NODE_H: usize = 46;
const GAP_X: usize = 20;
const GAP_Y: usize = 44;
const PAD: usize = 12;
/// Characters shown of a name or a kind before an ellipsis.
const LABEL_CHARS: usize = 21;

/// The levels of the flow's steps: each step's index, level by level.
pub(crate) fn levels(exec: &Executable) -> Vec<Vec<usize>> {
    let n = exec.steps.len();
    let mut level: Vec<Option<usize>> = vec![None; n];
    // The plan is acyclic; passes settle every step (bounded by n + 1 passes all the same).
    for _ in 0..=n {
        let mut changed = false;
        for (i, step) in exec.steps.iter().enumerate() {
            if level[i].is_some() {
                continue;
            }
            let needs: Option<Vec<usize>> = step
                .needs
                .iter()
                .map(|&d| level.get(d).copied().flatten())
                .collect();
            if let Some(needs) = needs {
                level[i] = Some(needs.into_iter().map(|l| l + 1).max().unwrap_or(0));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let depth = level.iter().flatten().max().map_or(0, |m| m + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (i, l) in level.iter().enumerate() {
        // (A step in a cycle, impossible in a checked plan, goes last.)
        match l {
            Some(l) => rows[*l].push(i),
            None => {
                if rows.is_empty() {
                    rows.push(Vec::new());
                }
                if let Some(last) = rows.last_mut() {
                    last.push(i);
                }
            }
        }
    }
    // Order each row by the mean position of its needs in the rows above.
    let mut pos: HashMap<usize, f64> = HashMap::new();
    for row in &mut rows {
        let key = |i: &usize| {
            let needs = &exec.steps[*i].needs;
            let known: Vec<f64> = needs.iter().filter_map(|d| pos.get(d).copied()).collect();
            if known.is_empty() {
                f64::MAX
            } else {
                known.iter().sum::<f64>() / known.len() as f64
            }
        };
        let mut keyed: Vec<(f64, usize)> = row.iter().map(|i| (key(i), *i)).collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        *row = keyed.into_iter().map(|(_, i)| i).collect();
        let width = row.len() as f64;
        for (x, i) in row.iter().enumerate() {
            pos.insert(*i, x as f64 - width / 2.0);
        }
    }
    rows
}

/// What a step does, in a few words.
pub(crate) fn kind_label(exec: &Executable, step: usize) -> String {
    match &exec.steps[step].kind {
        ExecKind::Action {
            connection,
            operation,
            ..
        } => {
            let conn = exec
                .connections
                .get(*connection)
                .map_or("?", |c| c.name.as_str());
            format!("{conn} {} {}", operation.method.as_str(), operation.path)
        }
        ExecKind::Select(_) => "select (JSONPath)".into(),
        ExecKind::Value(_) => "value".into(),
        ExecKind::Flow { name, .. } => format!("flow {name}"),
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARS {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// The DAG as an `<svg>`; `status` gives a step's status (a CSS class and part of its title),
/// `link` makes each node a link to `#step-NAME` (the run page).
pub(crate) fn svg(
    exec: &Executable,
    status: &dyn Fn(&str) -> Option<String>,
    link: bool,
) -> Markup {
    let rows = levels(exec);
    let widest = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let width = PAD * 2 + widest * NODE_W + (widest - 1) * GAP_X;
    let height = PAD * 2 + rows.len().max(1) * NODE_H + rows.len().saturating_sub(1) * GAP_Y;
    let mut at: HashMap<usize, (usize, usize)> = HashMap::new();
    for (r, row) in rows.iter().enumerate() {
        let row_w = row.len() * NODE_W + row.len().saturating_sub(1) * GAP_X;
        let left = (width - row_w) / 2;
        for (c, i) in row.iter().enumerate() {
            at.insert(
                *i,
                (left + c * (NODE_W + GAP_X), PAD + r * (NODE_H + GAP_Y)),
            );
        }
    }
    let title = format!("The steps of {} and what each needs", exec.name);
    html! {
        svg class="dag" xmlns="http://www.w3.org/2000/svg" role=(if link { "group" } else { "img" }) aria-label=(title)
            viewBox=(format!("0 0 {width} {height}")) width=(width) height=(height) {
            defs {
                marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" {
                    path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" {}
                }
            }
            @for (i, step) in exec.steps.iter().enumerate() {
                @for need in &step.needs {
                    @if let (Some((x1, y1)), Some((x2, y2))) = (at.get(need), at.get(&i)) {
                        @let (sx, sy, ex, ey) = (x1 + NODE_W / 2, y1 + NODE_H, x2 + NODE_W / 2, y2);
                        @let mid = (sy + ey) / 2;
                        path class="edge" marker-end="url(#arrow)"
                            d=(format!("M {sx} {sy} C {sx} {mid}, {ex} {mid}, {ex} {ey}")) {}
                    }
                }
            }
            @for (i, step) in exec.steps.iter().enumerate() {
                @if let Some((x, y)) = at.get(&i) {
                    @let st = status(&step.name);
                    @let class = format!("node{}", st.as_deref().map(|s| format!(" st-{s}")).unwrap_or_default());
                    @let kind = kind_label(exec, i);
                    @let node = html! {
                        g class=(class) {
                            title { (step.name) " — " (kind) @if let Some(s) = &st { " — " (s) } }
                            rect x=(x) y=(y) width=(NODE_W) height=(NODE_H) rx="6" {}
                            text x=(x + 10) y=(y + 19) class="name" { (shorten(&step.name)) }
                            text x=(x + 10) y=(y + 36) class="kind" {
                                (shorten(&st.as_deref().map_or(kind.clone(), |s| s.replace('_', " "))))
                            }
                        }
                    };
                    @if link {
                        a href=(format!("#step-{}", step.name)) { (node) }
                    } @else {
                        (node)
                    }
                }
            }
        }
    }
}
