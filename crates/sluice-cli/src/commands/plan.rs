//! `sluice plan`: a flow's DAG — the levels of steps that run at the same time — as text,
//! Mermaid or Graphviz DOT.

use std::path::Path;

use sluice_project::FlowSet;

use crate::args::PlanFormat;
use crate::error::CliError;
use crate::exit::Exit;

/// `sluice plan FLOW`.
pub(crate) fn plan(flow: &Path, format: PlanFormat) -> Result<Exit, CliError> {
    let set = FlowSet::load(&[flow.to_path_buf()])?;
    let results = super::validate::check(&set);
    let Some((_, v)) = results.into_iter().find(|(asked, _)| *asked) else {
        return Err(CliError::msg(format!(
            "{}: not a flow file",
            flow.display()
        )));
    };
    let Some(plan) = &v.plan else {
        eprint!("{}", v.report.render(crate::color()));
        eprintln!("the flow has errors: no plan");
        return Ok(Exit::Failure);
    };
    if v.report.warning_count() > 0 {
        eprint!("{}", v.report.render(crate::color()));
    }
    let text = match format {
        PlanFormat::Text => sluice_plan::render::text(plan),
        PlanFormat::Mermaid => sluice_plan::render::mermaid(plan),
        PlanFormat::Dot => sluice_plan::render::dot(plan),
    };
    out!("{text}");
    Ok(Exit::Success)
}
