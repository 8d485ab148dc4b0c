//! Triggers: cron lines and time zones of schedules, webhook events, and the action, items
//! path and key template of polls.

use sluice_model::flow::{TaskDueTrigger, Trigger, WebhookTrigger};
use sluice_model::suggest::{did_you_mean, list_names, shorten};
use sluice_model::{Diagnostic, Sp, Span};

use super::{Checker, Scope};
use crate::codes;

impl<'a> Checker<'a> {
    pub(super) fn check_triggers(&mut self) {
        for trigger in &self.flow.triggers {
            match &trigger.value {
                Trigger::Manual(_) => {}
                Trigger::Schedule(s) => {
                    self.check_cron(&s.cron);
                    if let Some(tz) = &s.timezone {
                        self.check_timezone(tz);
                    }
                    let scope = Scope::default();
                    for value in s.inputs.values() {
                        self.check_templates(&value.0, scope);
                    }
                }
                Trigger::Webhook(w) => self.check_webhook(trigger.span, w),
                Trigger::TaskDue(t) => self.check_task_due(t),
                Trigger::Poll(p) => {
                    if let Some((_, op)) = self.resolve_action(&p.action) {
                        let keys: Vec<&Sp<String>> = p.with.keys().collect();
                        self.check_params(&p.action, op, &keys, &p.with);
                    }
                    let scope = Scope::default();
                    for value in p.with.values() {
                        self.check_templates(&value.0, scope);
                    }
                    if let Err(e) = serde_json_path::JsonPath::parse(&p.items) {
                        self.diags.push(
                            Diagnostic::error(
                                codes::INVALID_JSONPATH,
                                format!("`{}` is not valid JSONPath", p.items.value),
                            )
                            .label(p.items.span, e.to_string()),
                        );
                    }
                    let key_scope = Scope {
                        item: Some("item"),
                        ..Scope::default()
                    };
                    self.check_template_str(&p.key, p.key.span, key_scope);
                }
            }
        }
    }

    fn check_cron(&mut self, cron: &Sp<String>) {
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build();
        if cron.value.split_whitespace().count() > 6 {
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_CRON,
                    format!("`{}` has a seventh field (a year): Sluice's cron lines have five fields, or six with seconds first", shorten(&cron.value)),
                )
                .label(cron.span, "")
                .help("remove the year; to run only in some years, give the flow an `if:` on `inputs.fireTime`"),
            );
            return;
        }
        if let Err(e) = parser.parse(&cron.value) {
            self.diags.push(
                Diagnostic::error(codes::INVALID_CRON, format!("`{}` is not a valid cron line", shorten(&cron.value)))
                    .label(cron.span, e.to_string())
                    .help("five fields: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or JAN-DEC) day-of-week (0-7 or SUN-SAT), e.g. `0 8 * * MON-FRI`; or six with seconds first"),
            );
        }
    }

    fn check_timezone(&mut self, tz: &Sp<String>) {
        if tz.parse::<chrono_tz::Tz>().is_err() {
            let names = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
            let help = match did_you_mean(tz, names) {
                Some(s) => format!("did you mean `{s}`?"),
                None => {
                    "use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`".into()
                }
            };
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_TIMEZONE,
                    format!("`{}` is not a time zone", tz.value),
                )
                .label(tz.span, "")
                .help(help),
            );
        }
    }

    /// `task_due` pages through the location's task search: its connection must be of a
    /// connector with `search_tasks` (`ghl-locations`).
    fn check_task_due(&mut self, t: &TaskDueTrigger) {
        let Some(conn) = self.connection(&t.connection) else {
            return;
        };
        let Some(connector) = self.ctx.catalog.get(&conn.connector) else {
            return;
        };
        if connector.operation("search_tasks").is_none() {
            self.diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_OPERATION,
                    format!(
                        "`task_due` reads the location's task search, which connector `{}` does not have",
                        connector.name.value
                    ),
                )
                .label(t.connection.span, "")
                .help("use a connection of connector `ghl-locations`, e.g. `tasks: { connector: ghl-locations, credential: ghl_main }`"),
            );
        }
    }

    fn check_webhook(&mut self, span: Span, w: &WebhookTrigger) {
        let conn_name = match &w.connection {
            Some(c) => Some(c.clone()),
            None if self.flow.connections.len() == 1 => {
                self.flow.connections.keys().next().cloned()
            }
            None => {
                self.diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_CONNECTION,
                        "say which connection this webhook comes from",
                    )
                    .label(span, "")
                    .help("add `connection: NAME` to the webhook trigger"),
                );
                None
            }
        };
        let Some(conn_name) = conn_name else { return };
        let Some(connector) = self
            .connection(&conn_name)
            .and_then(|c| self.ctx.catalog.get(&c.connector))
        else {
            return;
        };
        if !connector.webhooks.contains_key(w.event.value.as_str()) {
            let names = connector.webhooks.keys().map(String::as_str);
            let help = match did_you_mean(&w.event, names.clone()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "events of `{}`: {}",
                    connector.name.value,
                    list_names(names)
                ),
            };
            self.diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_EVENT,
                    format!(
                        "connector `{}` sends no event `{}`",
                        connector.name.value, w.event.value
                    ),
                )
                .label(w.event.span, "")
                .help(help),
            );
        }
    }
}
