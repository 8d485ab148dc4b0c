//! GHL webhooks: signed deliveries verified (forged, tampered, unsigned, stale refused),
//! duplicates acknowledged once, events no flow listens to ignored; and the sandbox's own
//! signed deliveries reaching the runner end to end.

use std::time::Duration;

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use serde_json::json;
use sluice_test_support::eventually;

use crate::api::{TOKEN, api, client};
use crate::harness::{self, Apis, Runner};

/// Signs `body` as GHL would.
fn sign(key: &ed25519_dalek::SigningKey, body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.sign(body).to_bytes())
}

#[test]
fn webhooks_are_verified_deduplicated_and_queued() {
    harness::run(|logs| async move {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let pem = key
            .verifying_key()
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .expect("pem");
        let project =
            harness::project(TOKEN, "sandbox-token", Some(&pem)).with_example("contact-360");
        let serve = Runner::start(&project, &logs, Apis::Sandbox, None).await;
        let hook = serve.url("/hooks/contact-360");
        let post = |body: Vec<u8>, sig: Option<String>| {
            let mut req = client().post(hook.clone()).body(body);
            if let Some(s) = sig {
                req = req.header("x-ghl-signature", s);
            }
            async move { req.send().await.expect("send").status().as_u16() }
        };
        let event = |id: &str, ts: String| {
            serde_json::to_vec(&json!({
                "type": "ContactUpdate", "locationId": "loc_sandbox", "id": "ct_ada",
                "webhookId": id, "timestamp": ts,
            }))
            .expect("json")
        };
        let now = chrono::Utc::now().to_rfc3339();
        let good = event("wh_1", now.clone());
        assert_eq!(post(good.clone(), Some(sign(&key, &good))).await, 202);
        // The same delivery again (GHL retries, or someone replays it): acknowledged, not run.
        assert_eq!(post(good.clone(), Some(sign(&key, &good))).await, 200);
        // Forged: signed by another key; tampered: the body changed after signing; unsigned; stale.
        let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let forged = event("wh_2", now.clone());
        assert_eq!(post(forged.clone(), Some(sign(&other, &forged))).await, 401);
        let tampered = event("wh_3", now.clone());
        let sig = sign(&key, &tampered);
        let mut changed = tampered.clone();
        let at = changed.iter().position(|b| *b == b'a').expect("an a");
        changed[at] = b'b';
        assert_eq!(post(changed, Some(sig)).await, 401);
        assert_eq!(post(event("wh_4", now.clone()), None).await, 401);
        assert_eq!(
            post(event("wh_5", now.clone()), Some("not base64!".into())).await,
            401
        );
        let old = event(
            "wh_6",
            (chrono::Utc::now() - chrono::TimeDelta::hours(1)).to_rfc3339(),
        );
        assert_eq!(post(old.clone(), Some(sign(&key, &old))).await, 401);
        // An event the flow does not listen to is acknowledged and ignored.
        let note = serde_json::to_vec(
            &json!({"type": "NoteCreate", "webhookId": "wh_7", "timestamp": now}),
        )
        .expect("json");
        assert_eq!(post(note.clone(), Some(sign(&key, &note))).await, 202);
        // Exactly one run, for Ada, with the contact id taken from the event.
        let run = eventually(Duration::from_secs(20), "the webhook's run", || async {
            let r = api(&serve).runs("contact-360").await;
            r.first()
                .filter(|r| r["status"] == "succeeded")
                .cloned()
                .map(|first| (r.len(), first))
        })
        .await;
        assert_eq!(run.0, 1);
        assert_eq!(run.1["trigger"], "webhook:ContactUpdate");
        let (_, metrics) = api(&serve)
            .call(reqwest::Method::GET, "/metrics", None)
            .await;
        let text = metrics.as_str().expect("text");
        assert!(
            text.contains(r#"sluice_webhook_deliveries_total{result="refused"} 5"#),
            "{text}"
        );
        assert!(
            text.contains(r#"sluice_webhook_deliveries_total{result="duplicate"} 1"#),
            "{text}"
        );
        let log = logs.text();
        assert!(log.contains("refused") || log.contains("Refused"), "{log}");
    });
}

#[test]
fn the_sandbox_webhooks_reach_the_runner_end_to_end() {
    harness::run(|logs| async move {
        // The sandbox delivers to the runner's port, chosen beforehand; the runner checks the
        // sandbox's signatures with its public key.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let config = sluice_sandbox::SandboxConfig {
            webhook: Some(sluice_sandbox::WebhookConfig::new(&format!(
                "http://127.0.0.1:{port}/hooks/contact-360"
            ))),
            ..sluice_sandbox::SandboxConfig::default()
        };
        let sandbox = sluice_sandbox::Sandbox::start(config, ([127, 0, 0, 1], 0).into())
            .await
            .expect("sandbox");
        // The flow's credential `ghl_main` is the sandbox token.
        let project = harness::project(
            TOKEN,
            "sandbox-token",
            Some(&sandbox.webhook_public_key_pem()),
        )
        .with_example("contact-360");
        let conn = format!("ghl.base_url={}", sandbox.base_url());
        let serve = Runner::start(
            &project,
            &logs,
            Apis::Connections(&[&conn]),
            Some(([127, 0, 0, 1], port).into()),
        )
        .await;
        // A change in GHL: Grace's phone number.
        let resp = client()
            .put(format!("{}/contacts/ct_grace", sandbox.base_url()))
            .bearer_auth("sandbox-token")
            .header("Version", "2021-07-28")
            .json(&json!({"phone": "+14155550199"}))
            .send()
            .await
            .expect("put");
        assert_eq!(resp.status(), 200);
        let run = eventually(Duration::from_secs(20), "the ContactUpdate run", || async {
            api(&serve)
                .runs("contact-360")
                .await
                .into_iter()
                .find(|r| r["status"] == "succeeded")
        })
        .await;
        let (_, detail) = api(&serve)
            .call(
                reqwest::Method::GET,
                &format!("/api/runs/{}", run["id"].as_str().expect("id")),
                None,
            )
            .await;
        assert_eq!(detail["output"]["phone"], "+14155550199", "{detail}");
        let deliveries = sandbox.state().webhook_deliveries();
        assert!(
            deliveries
                .iter()
                .any(|d| d.delivered && d.status == Some(202)),
            "{deliveries:?}"
        );
        sandbox.shutdown().await;
    });
}

/// Issue 17: adding `webhook_public_key` to sluice.toml was not picked up by a running runner,
/// although the docs say changes to sluice.toml are. Now `[serve]` hot-reloads: webhooks are
/// off (503) until the key is added, then signed deliveries are accepted without a restart.
#[test]
fn adding_the_webhook_key_to_sluice_toml_takes_effect_without_a_restart() {
    harness::run(|logs| async move {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let pem = key
            .verifying_key()
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .expect("pem");
        let project = harness::project(TOKEN, "sandbox-token", None).with_example("contact-360");
        let serve = Runner::start(&project, &logs, Apis::Sandbox, None).await;
        let hook = serve.url("/hooks/contact-360");
        let post = |id: String| {
            let body = serde_json::to_vec(&json!({
                "type": "ContactUpdate", "locationId": "loc_sandbox", "id": "ct_ada",
                "webhookId": id, "timestamp": chrono::Utc::now().to_rfc3339(),
            }))
            .expect("json");
            let req = client()
                .post(hook.clone())
                .header("x-ghl-signature", sign(&key, &body))
                .body(body);
            async move { req.send().await.expect("send").status().as_u16() }
        };
        assert_eq!(
            post("wh_before".to_string()).await,
            503,
            "webhooks are off without a key"
        );
        project.write("webhook.pem", &pem);
        let toml = project.read("sluice.toml").replacen(
            "[serve]\n",
            "[serve]\nwebhook_public_key = { file = \"webhook.pem\" }\n",
            1,
        );
        project.write("sluice.toml", toml);
        let mut n = 0;
        eventually(Duration::from_secs(20), "the key to be in force", || {
            n += 1;
            let status = post(format!("wh_after_{n}"));
            async move { (status.await == 202).then_some(()) }
        })
        .await;
    });
}
