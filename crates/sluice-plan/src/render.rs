//! Drawing a plan: text levels, Mermaid, Graphviz DOT.

use std::fmt::Write as _;

use crate::check::StepKind;
use crate::graph::Plan;

fn describe(kind: &StepKind) -> String {
    match kind {
        StepKind::Action {
            connection,
            operation,
            request,
            writes,
        } => {
            let mut s = format!("{connection}.{operation}");
            if let Some((method, path)) = request {
                let _ = write!(s, " ({method} {path})");
            }
            if *writes {
                s.push_str(" [writes]");
            }
            s
        }
        StepKind::Select(path) => format!("select {path}"),
        StepKind::Value => "value".into(),
        StepKind::Flow(name) => format!("flow {name}"),
        StepKind::Invalid => "?".into(),
    }
}

fn modifiers(plan: &Plan, i: usize) -> String {
    let s = &plan.steps[i];
    let mut m = Vec::new();
    if s.for_each {
        m.push("for_each".to_string());
    }
    if s.conditional {
        m.push("if".to_string());
    }
    if let Some(n) = s.retry_attempts {
        m.push(format!("retry {n}"));
    }
    if m.is_empty() {
        String::new()
    } else {
        format!(" [{}]", m.join(", "))
    }
}

/// Levels of steps that can run at the same time, with what each needs.
#[must_use]
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "flow `{}`: {} steps in {} levels",
        plan.flow,
        plan.steps.len(),
        plan.levels.len()
    );
    let width = plan.steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for (l, level) in plan.levels.iter().enumerate() {
        let _ = writeln!(out, "level {}:", l + 1);
        for &i in level {
            let needs = plan.needs(i);
            let needs = if needs.is_empty() {
                String::new()
            } else {
                format!(
                    "  <- {}",
                    needs
                        .iter()
                        .map(|&j| plan.steps[j].name.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let _ = writeln!(
                out,
                "  {:width$}  {}{}{}",
                plan.steps[i].name.value,
                describe(&plan.steps[i].kind),
                modifiers(plan, i),
                needs
            );
        }
    }
    if !plan.output_needs.is_empty() {
        let _ = writeln!(
            out,
            "output <- {}",
            plan.output_needs
                .iter()
                .map(|&j| plan.steps[j].name.value.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out
}

fn mermaid_id(name: &str) -> String {
    format!("s_{}", name.replace('-', "_"))
}

fn escape_label(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// A Mermaid flowchart.
#[must_use]
pub fn mermaid(plan: &Plan) -> String {
    let mut out = String::from("flowchart TD\n");
    for (i, s) in plan.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}[\"{}<br/>{}{}\"]",
            mermaid_id(&s.name),
            escape_label(&s.name),
            escape_label(&describe(&s.kind)),
            escape_label(&modifiers(plan, i))
        );
    }
    for (i, s) in plan.steps.iter().enumerate() {
        for j in plan.needs(i) {
            let _ = writeln!(
                out,
                "  {} --> {}",
                mermaid_id(&plan.steps[j].name),
                mermaid_id(&s.name)
            );
        }
    }
    if !plan.output_needs.is_empty() {
        out.push_str("  output([output])\n");
        for &j in &plan.output_needs {
            let _ = writeln!(out, "  {} --> output", mermaid_id(&plan.steps[j].name));
        }
    }
    out
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A Graphviz DOT digraph.
#[must_use]
pub fn dot(plan: &Plan) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, fontname=\"sans-serif\"];\n",
        dot_escape(&plan.flow)
    );
    for (i, s) in plan.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{}\\n{}{}\"];",
            dot_escape(&s.name),
            dot_escape(&s.name),
            dot_escape(&describe(&s.kind)),
            dot_escape(&modifiers(plan, i))
        );
    }
    for (i, s) in plan.steps.iter().enumerate() {
        for j in plan.needs(i) {
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\";",
                dot_escape(&plan.steps[j].name),
                dot_escape(&s.name)
            );
        }
    }
    if !plan.output_needs.is_empty() {
        out.push_str("  \"output\" [shape=ellipse];\n");
        for &j in &plan.output_needs {
            let _ = writeln!(
                out,
                "  \"{}\" -> \"output\";",
                dot_escape(&plan.steps[j].name)
            );
        }
    }
    out.push_str("}\n");
    out
}
