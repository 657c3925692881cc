//! The memory store's own bookkeeping; what both stores share is the
//! contract suite (tests/it/store_contract.rs).

use super::*;

#[tokio::test]
async fn removing_the_last_session_of_an_index_drops_the_index_set() {
    let store = MemoryStore::new(100);
    let meta = SessionMeta {
        sub_index: "sub".into(),
        sid_index: Some("sid".into()),
        created_at: 1,
        expires_at: 2,
        last_seen: 1,
    };
    let new = |hash| NewSession {
        hash,
        record: b"r".to_vec(),
        meta: meta.to_json(),
        indexes: vec!["sub".into(), "sid".into()],
        ttl: Duration::from_secs(60),
        index_ttl: Duration::from_secs(60),
    };
    store.put_session(new("a")).await.unwrap();
    store.put_session(new("b")).await.unwrap();
    assert!(store.remove_session("a").await.unwrap());
    assert!(
        !store.indexes.lock().unwrap().is_empty(),
        "b's index sets dropped"
    );
    store.remove_session("b").await.unwrap();
    assert!(
        store.indexes.lock().unwrap().is_empty(),
        "empty index sets left behind"
    );
}

#[tokio::test]
async fn index_sets_are_pruned_on_write_and_swept() {
    let store = MemoryStore::new(10_000);
    let new = |hash, index: &str, ttl| NewSession {
        hash,
        record: b"r".to_vec(),
        meta: String::new(),
        indexes: vec![index.to_owned()],
        ttl,
        index_ttl: ttl,
    };
    let short = Duration::from_millis(30);
    for hash in ["a", "b", "c"] {
        store
            .put_session(new(hash, "frequent", short))
            .await
            .unwrap();
    }
    store
        .put_session(new("x", "gone-user", short))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    store
        .put_session(new("d", "frequent", Duration::from_secs(60)))
        .await
        .unwrap();
    let size = |index: &str| store.indexes.lock().unwrap().get(index).map(HashSet::len);
    assert_eq!(size("frequent"), Some(1), "dead members kept on write");
    assert_eq!(size("gone-user"), Some(1), "swept before its time");
    let hashes: Vec<String> = (0..SWEEP_EVERY).map(|i| format!("h{i}")).collect();
    for hash in &hashes {
        store
            .put_session(new(hash, hash, Duration::from_secs(60)))
            .await
            .unwrap();
    }
    assert_eq!(
        size("gone-user"),
        None,
        "an abandoned index was never swept"
    );
}
