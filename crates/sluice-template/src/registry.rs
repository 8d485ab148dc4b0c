//! The flow's Handlebars registry: every template string compiled once, rendered by name, a
//! missing value read as `null` (empty text), no HTML escaping, the helpers of [`HELPERS`], and
//! backslashes in text literals kept as written ([`keep_backslashes`]).
//!
//! [`keep_backslashes`]: crate::literals::keep_backslashes
//!
//! [`HELPERS`]: crate::helpers::HELPERS

use handlebars::Handlebars;
use handlebars::template::Template;

use crate::error::TemplateError;
use crate::helpers::HelperFailed;
use crate::scope::Scope;

/// All templates of a flow.
pub struct Templates {
    registry: Handlebars<'static>,
    count: usize,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Templates({})", self.count)
    }
}

impl Default for Templates {
    fn default() -> Self {
        let mut registry = Handlebars::new();
        registry.register_escape_fn(handlebars::no_escape);
        crate::helpers::register(&mut registry);
        Self { registry, count: 0 }
    }
}

impl Templates {
    /// Compiles and registers a template; returns its name.
    ///
    /// # Errors
    /// The compile error (validation reports these with a location first).
    pub fn register(&mut self, text: &str) -> Result<String, TemplateError> {
        let template = Template::compile(&crate::literals::keep_backslashes(text))
            .map_err(|e| TemplateError::Compile(e.to_string()))?;
        self.count += 1;
        let name = format!("t{}", self.count);
        self.registry.register_template(&name, template);
        Ok(name)
    }

    /// Renders a registered template.
    ///
    /// # Errors
    /// A helper failure.
    pub fn render(&self, name: &str, scope: &Scope<'_>) -> Result<String, TemplateError> {
        self.registry
            .render_with_context(name, scope.context())
            .map_err(|e| describe(&e))
    }
}

fn describe(e: &handlebars::RenderError) -> TemplateError {
    match e.reason() {
        handlebars::RenderErrorReason::NestedError(inner) => {
            match inner.downcast_ref::<HelperFailed>() {
                Some(failed) => TemplateError::Helper {
                    name: failed.name.to_string(),
                    message: failed.message.clone(),
                },
                None => TemplateError::Render(format!("helper {inner}")),
            }
        }
        other => TemplateError::Render(other.to_string()),
    }
}
