//! One flow file checked and built for the engine, with every flow of its folder that a
//! `flow:` step may call.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use sluice_engine::Executable;
use sluice_engine::exec::ExecKind;
use sluice_model::{Catalog, Limits};

use crate::error::ProjectError;
use crate::files::FlowSet;

/// A flow file loaded and checked, with the flows it may call.
pub struct LoadedFlow {
    /// The files read: the flow and its folder's other flows, and the project around them.
    pub files: FlowSet,
    /// The connectors: built-in and the project's.
    pub catalog: Catalog,
    /// The flow asked for.
    pub target: Arc<Executable>,
    /// Every valid flow of the folder, by name (the target too).
    pub flows: HashMap<String, Arc<Executable>>,
}

impl LoadedFlow {
    /// Loads and checks `flow` (and its folder's other flows).
    ///
    /// # Errors
    /// [`ProjectError::InvalidFlow`] with the flow's report when it has errors; files that
    /// cannot be read; an invalid project or connector file.
    pub fn load(flow: &Path) -> Result<Self, ProjectError> {
        let files = FlowSet::load(&[flow.to_path_buf()])?;
        let catalog = files.catalog()?;
        let mut flows: HashMap<String, Arc<Executable>> = HashMap::new();
        let mut target: Option<Arc<Executable>> = None;
        for checked in files.check(&catalog, &Limits::default()) {
            let report = &checked.validated.report;
            if checked.asked && report.error_count() > 0 {
                return Err(ProjectError::InvalidFlow(Box::new(
                    checked.validated.report,
                )));
            }
            let (Some(plan), Some(doc)) = (&checked.validated.plan, &checked.document) else {
                continue;
            };
            // Another flow of the folder that cannot be built is not this run's problem: it is
            // only context (a `flow:` step calling it would be refused by the check).
            let exec = match Executable::build(doc, plan, &catalog, &checked.source) {
                Ok(exec) => Arc::new(exec),
                Err(e) if !checked.asked => {
                    tracing::warn!(flow = %doc.flow.name.value, error = %e, "Skipping a flow of the folder that cannot be built.");
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if checked.asked {
                target = Some(exec.clone());
            }
            flows.insert(exec.name.clone(), exec);
        }
        let target = target.ok_or_else(|| ProjectError::NotAFlow(flow.to_path_buf()))?;
        Ok(Self {
            files,
            catalog,
            target,
            flows,
        })
    }

    /// The target and every flow it calls through `flow:` steps, directly or not (each once).
    #[must_use]
    pub fn with_called_flows(&self) -> Vec<&Executable> {
        let mut out: Vec<&Executable> = vec![self.target.as_ref()];
        let mut next = 0;
        while let Some(exec) = out.get(next).copied() {
            next += 1;
            for step in &exec.steps {
                if let ExecKind::Flow { name, .. } = &step.kind
                    && let Some(sub) = self.flows.get(name)
                    && !out.iter().any(|e| e.name == sub.name)
                {
                    out.push(sub.as_ref());
                }
            }
        }
        out
    }
}
