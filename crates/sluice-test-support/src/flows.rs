//! Flows written for tests rather than as examples, run by the tests of more than one crate
//! (the runner service in-process and `sluice serve` through the binary), and the project
//! connector the tests and benchmarks of many reads use.

/// A schedule that fires every second (overlaps allowed); its output is the tick it was
/// fired for.
pub const TICK: &str = r#"
name: tick
on:
  - schedule: { cron: "* * * * * *", overlap: allow }
inputs:
  fireTime: { type: string, required: false }
steps:
  at:
    value: "{{ inputs.fireTime }}"
output: "{{ steps.at }}"
"#;

/// Fires for each task of the sandbox location due within the hour, looking every second;
/// its output is the task's title.
pub const DUE: &str = r#"
name: due
on:
  - task_due: { connection: ghl, within: 1h, every: 1s }
inputs:
  task: { type: object }
connections:
  ghl: { connector: ghl-locations, credential: ghl_main }
steps:
  title:
    value: "{{ inputs.task.title }}"
output: "{{ steps.title }}"
"#;

/// Fires for each new contact of the sandbox location, polling every second; its output is
/// the contact's id.
pub const NEW_CONTACTS: &str = r#"
name: new-contacts
on:
  - poll: { action: ghl.get_contacts, with: { locationId: loc_sandbox }, items: "$.contacts[*]", key: "{{ item.id }}", every: 1s }
inputs:
  contactId: { type: string }
connections:
  ghl: { connector: ghl-contacts, credential: ghl_main }
steps:
  id:
    value: "{{ inputs.contactId }}"
output: "{{ steps.id }}"
"#;

/// A project connector `name` with one operation, `get_contact` (`GET
/// /contacts/{contactId}`, GHL's path and `Version` header, a bearer token), at `base_url` and
/// without GHL's rate limit: the tests and benchmarks of thousands of reads against a local
/// server would wait minutes for 100 per 10 s.
pub fn contact_reader(name: &str, base_url: &str) -> String {
    format!(
        "name: {name}\ndescription: A contact read, without rate limits.\n\
         base_url: \"{base_url}\"\nheaders:\n  Version: \"{version}\"\n  Accept: application/json\n\
         auth:\n  - kind: bearer\noperations:\n  get_contact:\n    \
         description: \"GET /contacts/{{contactId}}\"\n    method: GET\n    \
         path: \"/contacts/{{contactId}}\"\n    \
         params:\n      contactId: {{ in: path, type: string, required: true }}\n",
        version = crate::contact360::VERSION,
    )
}
