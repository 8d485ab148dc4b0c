//! Why a template could not be compiled or rendered, in the words a flow author sees when a
//! step fails (the engine turns a [`TemplateError`] into a step error of kind `template`).

/// A template that failed to compile or to render.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A lookup of a path without segments.
    #[error("an empty path")]
    EmptyPath,
    /// `steps` read without a step name.
    #[error("`steps` needs a step name")]
    NoStepName,
    /// A helper failed.
    #[error("helper `{name}`: {message}")]
    Helper {
        /// The helper's name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// A helper expression rendered text that is not JSON.
    #[error("a helper gave no JSON value: {0}")]
    NotJson(String),
    /// Handlebars could not compile the template (validation reports these first, located).
    #[error("{0}")]
    Compile(String),
    /// Any other failure while rendering, as Handlebars words it.
    #[error("{0}")]
    Render(String),
}
