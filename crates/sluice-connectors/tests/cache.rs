//! The read cache: hits, expiry on tokio's (paused) clock, credentials kept apart, bounded size.

use std::time::Duration;

use serde_json::{Value, json};
use sluice_connectors::cache::{CacheKey, ReadCache};

const URL: &str = "https://services.leadconnectorhq.com/contacts/c1";

fn cache() -> ReadCache<Value> {
    ReadCache::new(100, Duration::from_secs(60))
}

#[tokio::test(start_paused = true)]
async fn a_get_after_insert_hits() {
    let cache = cache();
    let key = CacheKey::new("ghl_main", "GET", URL, b"");
    assert!(cache.get(&key).is_none());
    cache.insert(key.clone(), json!({ "contact": { "id": "c1" } }));
    let hit = cache.get(&key).expect("a hit");
    assert_eq!(*hit, json!({ "contact": { "id": "c1" } }));
    // The method is compared without case.
    assert!(
        cache
            .get(&CacheKey::new("ghl_main", "get", URL, b""))
            .is_some()
    );
    assert_eq!((cache.hits(), cache.misses()), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn an_answer_expires_after_its_ttl() {
    let cache = cache();
    let key = CacheKey::new("ghl_main", "GET", URL, b"");
    cache.insert(key.clone(), json!(1));
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(cache.get(&key).is_some(), "fresh at 59 s");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(cache.get(&key).is_none(), "stale at 60 s");
    assert_eq!((cache.hits(), cache.misses()), (1, 1));
    assert!(cache.is_empty(), "a stale answer is dropped when read");
    // Inserting again starts a new TTL.
    cache.insert(key.clone(), json!(2));
    assert_eq!(cache.get(&key).as_deref(), Some(&json!(2)));
}

#[tokio::test(start_paused = true)]
async fn credentials_do_not_share_answers() {
    let cache = cache();
    cache.insert(CacheKey::new("ghl_main", "GET", URL, b""), json!("main"));
    assert!(
        cache
            .get(&CacheKey::new("ghl_other", "GET", URL, b""))
            .is_none()
    );
    cache.insert(CacheKey::new("ghl_other", "GET", URL, b""), json!("other"));
    assert_eq!(
        cache
            .get(&CacheKey::new("ghl_main", "GET", URL, b""))
            .as_deref(),
        Some(&json!("main"))
    );
    assert_eq!(
        cache
            .get(&CacheKey::new("ghl_other", "GET", URL, b""))
            .as_deref(),
        Some(&json!("other"))
    );

    cache.invalidate_credential("ghl_main");
    assert!(
        cache
            .get(&CacheKey::new("ghl_main", "GET", URL, b""))
            .is_none()
    );
    assert!(
        cache
            .get(&CacheKey::new("ghl_other", "GET", URL, b""))
            .is_some()
    );
}

#[tokio::test(start_paused = true)]
async fn method_url_and_body_are_part_of_the_key() {
    let cache = cache();
    let search = "https://services.leadconnectorhq.com/contacts/search";
    cache.insert(
        CacheKey::new("c", "POST", search, br#"{"query":"a"}"#),
        json!("a"),
    );
    assert!(
        cache
            .get(&CacheKey::new("c", "POST", search, br#"{"query":"b"}"#))
            .is_none()
    );
    assert!(cache.get(&CacheKey::new("c", "GET", search, b"")).is_none());
    assert!(
        cache
            .get(&CacheKey::new(
                "c",
                "POST",
                &format!("{search}?x=1"),
                br#"{"query":"a"}"#
            ))
            .is_none()
    );
    assert!(
        cache
            .get(&CacheKey::new("c", "POST", search, br#"{"query":"a"}"#))
            .is_some()
    );
}

#[tokio::test(start_paused = true)]
async fn the_size_is_bounded() {
    let cache: ReadCache<Value> = ReadCache::new(10, Duration::from_secs(60));
    for i in 0..1000 {
        cache.insert(
            CacheKey::new("c", "GET", &format!("{URL}?page={i}"), b""),
            json!(i),
        );
    }
    assert!(cache.len() <= 10, "{} answers kept", cache.len());
}

#[test]
fn the_debug_form_shows_no_url_nor_body() {
    let key = CacheKey::new(
        "ipinfo",
        "GET",
        "https://ipinfo.io/1.1.1.1?token=SECRET",
        b"BODY",
    );
    let debug = format!("{key:?}");
    assert!(
        !debug.contains("SECRET") && !debug.contains("BODY"),
        "{debug}"
    );
}
