//! Stable codes of every planner diagnostic. Each has a test in `tests/`.

/// A template or `after` names a step that does not exist.
pub const UNKNOWN_STEP: &str = "sluice::plan::unknown_step";
/// An action names a connection the flow does not declare.
pub const UNKNOWN_CONNECTION: &str = "sluice::plan::unknown_connection";
/// A connection names a connector that is not installed.
pub const UNKNOWN_CONNECTOR: &str = "sluice::plan::unknown_connector";
/// An action names an operation its connector does not have.
pub const UNKNOWN_OPERATION: &str = "sluice::plan::unknown_operation";
/// An action leaves out a required parameter.
pub const MISSING_PARAMETER: &str = "sluice::plan::missing_parameter";
/// An action passes a parameter the operation does not take.
pub const UNKNOWN_PARAMETER: &str = "sluice::plan::unknown_parameter";
/// A literal parameter value has the wrong type or is not one of the allowed values.
pub const INVALID_PARAMETER: &str = "sluice::plan::invalid_parameter";
/// Steps depend on each other in a circle.
pub const CYCLE: &str = "sluice::plan::cycle";
/// A template cannot be compiled.
pub const TEMPLATE_SYNTAX: &str = "sluice::plan::template_syntax";
/// A template calls a helper that does not exist.
pub const UNKNOWN_HELPER: &str = "sluice::plan::unknown_helper";
/// A helper is called with too few or too many arguments.
pub const HELPER_ARGUMENTS: &str = "sluice::plan::helper_arguments";
/// A literal regular expression (or its flags) of a `regex_*` helper that does not compile.
pub const INVALID_PATTERN: &str = "sluice::plan::invalid_pattern";
/// A literal argument a helper refuses: an offset that is no duration, an unknown time zone.
pub const INVALID_ARGUMENT: &str = "sluice::plan::invalid_argument";
/// `for_each` over something that is not a list (a literal, or an input of another type).
pub const FOR_EACH_NOT_A_LIST: &str = "sluice::plan::for_each_not_a_list";
/// `as:` names what templates already mean (`inputs`, `steps`, `flow`, `loop`…).
pub const RESERVED_AS: &str = "sluice::plan::reserved_as";
/// A `timeout:` of zero: nothing could ever finish.
pub const ZERO_TIMEOUT: &str = "sluice::plan::zero_timeout";
/// A template reads an input the flow does not declare.
pub const UNKNOWN_INPUT: &str = "sluice::plan::unknown_input";
/// A template reads something that is neither `inputs`, `steps` nor the current item.
pub const UNKNOWN_REFERENCE: &str = "sluice::plan::unknown_reference";
/// A template reads a field that the step's answer does not have.
pub const UNKNOWN_FIELD: &str = "sluice::plan::unknown_field";
/// A JSONPath (`select`, or the `jsonpath` helper's literal path) is not valid RFC 9535
/// JSONPath, or a `select` does not say what it reads.
pub const INVALID_JSONPATH: &str = "sluice::plan::invalid_jsonpath";
/// A cron line cannot be read.
pub const INVALID_CRON: &str = "sluice::plan::invalid_cron";
/// A time zone is not an IANA time zone name.
pub const INVALID_TIMEZONE: &str = "sluice::plan::invalid_timezone";
/// A write operation on a `read_only` connection.
pub const WRITE_ON_READ_ONLY: &str = "sluice::plan::write_on_read_only";
/// The connection's credential does not grant a scope the operation needs.
pub const MISSING_SCOPE: &str = "sluice::plan::missing_scope";
/// A connection names a credential that `sluice.toml` does not define.
pub const UNKNOWN_CREDENTIAL: &str = "sluice::plan::unknown_credential";
/// A step has none of `action`, `select`, `value`, `flow`, or more than one.
pub const STEP_KIND: &str = "sluice::plan::step_kind";
/// A step setting that does not fit the step (e.g. `as` without `for_each`).
pub const MISPLACED_SETTING: &str = "sluice::plan::misplaced_setting";
/// A name that is not allowed (flow or step).
pub const INVALID_NAME: &str = "sluice::plan::invalid_name";
/// A sub-flow that does not exist, or flows that call each other in a circle.
pub const UNKNOWN_FLOW: &str = "sluice::plan::unknown_flow";
/// Flows that call each other in a circle.
pub const FLOW_CYCLE: &str = "sluice::plan::flow_cycle";
/// A webhook event the connector does not send.
pub const UNKNOWN_EVENT: &str = "sluice::plan::unknown_event";
/// An input's default does not match its type.
pub const INVALID_DEFAULT: &str = "sluice::plan::invalid_default";
/// Warning: an input no template reads.
pub const UNUSED_INPUT: &str = "sluice::plan::unused_input";
/// Warning: a step whose result nothing reads and that changes nothing.
pub const UNUSED_STEP: &str = "sluice::plan::unused_step";
/// Warning: a step that can never run.
pub const UNREACHABLE_STEP: &str = "sluice::plan::unreachable_step";
/// Warning: a connection no step uses.
pub const UNUSED_CONNECTION: &str = "sluice::plan::unused_connection";
/// A template reads `secrets.NAME` that sluice.toml's `[secrets]` does not declare.
pub const UNKNOWN_SECRET: &str = "sluice::plan::unknown_secret";
/// A connection's literal `base_url` that is not an absolute http(s) URL.
pub const INVALID_BASE_URL: &str = "sluice::plan::invalid_base_url";
/// `pages:` or `max_items:` on an operation that does not page (or whose pagination is
/// unusable).
pub const NOT_PAGINATED: &str = "sluice::plan::not_paginated";
/// Warning: a template reads a step that may be skipped (its `if:`), and nothing guards the
/// `null` it then reads.
pub const MAYBE_SKIPPED: &str = "sluice::plan::maybe_skipped";
/// Warning: a template reads a field the response schema marks optional (not `required`), and
/// nothing guards the `null` it reads when the field is absent.
pub const MAYBE_MISSING: &str = "sluice::plan::maybe_missing";
/// Warning: an operation the API marks deprecated.
pub const DEPRECATED_OPERATION: &str = "sluice::plan::deprecated_operation";
