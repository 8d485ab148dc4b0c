//! Schedules and the flows folder: a run per tick, each with its own fire time; a new flow
//! served without a restart; a bad edit keeps the last good version running and says why.

use std::time::Duration;

use serde_json::{Value, json};
use sluice_test_support::flows::TICK;
use sluice_test_support::{eventually, workflow};

use crate::api::{TOKEN, api};
use crate::harness::{self, Apis, Runner};

#[test]
fn schedules_fire_each_tick_and_the_folder_is_reloaded() {
    harness::run(|logs| async move {
        let project = harness::project(TOKEN, "sandbox-token", None).with_flow("tick", TICK);
        let serve = Runner::start(&project, &logs, Apis::Sandbox, None).await;
        let done = eventually(Duration::from_secs(20), "three ticks", || async {
            let r: Vec<Value> = api(&serve)
                .runs("tick")
                .await
                .into_iter()
                .filter(|r| r["status"] == "succeeded")
                .collect();
            (r.len() >= 3).then_some(r)
        })
        .await;
        // One run per whole second, each with its own tick as input.
        let mut outputs = Vec::new();
        for r in &done {
            let (_, d) = api(&serve)
                .call(
                    reqwest::Method::GET,
                    &format!("/api/runs/{}", r["id"].as_str().expect("id")),
                    None,
                )
                .await;
            let t = d["output"].as_str().expect("fire time").to_string();
            assert!(t.contains(":00+00:00") || t.ends_with("+00:00"), "{t}");
            outputs.push(t);
        }
        let unique: std::collections::BTreeSet<_> = outputs.iter().collect();
        assert_eq!(
            unique.len(),
            outputs.len(),
            "no tick fired twice: {outputs:?}"
        );

        // A new flow appears without a restart.
        project.write_flow("contact-360", &workflow("contact-360"));
        let flows = eventually(Duration::from_secs(20), "the new flow", || async {
            let (_, f) = api(&serve)
                .call(reqwest::Method::GET, "/api/flows", None)
                .await;
            (f["flows"].as_array().map(Vec::len) == Some(2)).then_some(f)
        })
        .await;
        assert_eq!(flows["not_served"], json!([]));
        // A bad edit: the last good version keeps running, and the API says why.
        project.write_flow(
            "contact-360",
            &workflow("contact-360").replace("ghl.get_contact", "ghl.get_contakt"),
        );
        let flows = eventually(Duration::from_secs(20), "the bad edit", || async {
            let (_, f) = api(&serve)
                .call(reqwest::Method::GET, "/api/flows", None)
                .await;
            (f["not_served"].as_array().map(Vec::len) == Some(1)).then_some(f)
        })
        .await;
        let c360 = flows["flows"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == "contact-360"))
            .expect("still served");
        assert_eq!(c360["valid"], false);
        assert!(
            c360["problem"]
                .as_str()
                .is_some_and(|p| p.contains("get_contakt")),
            "{c360}"
        );
        let (status, body) = api(&serve)
            .call(
                reqwest::Method::POST,
                "/api/flows/contact-360/runs?wait=20s",
                Some(json!({"contactId": "ct_ada"})),
            )
            .await;
        assert_eq!(
            (status, &body["status"]),
            (200, &json!("succeeded")),
            "{body}"
        );
        let (stopped, took) = serve.stop(Duration::from_secs(20)).await;
        let log = logs.text();
        assert!(stopped.unwritten.is_none(), "{stopped:?}\n{log}");
        assert!(took < Duration::from_secs(15), "{took:?}");
        assert!(log.contains("is not served"), "{log}");
    });
}
