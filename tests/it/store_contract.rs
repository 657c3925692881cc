//! The `SessionStore` contract: the same cases run against the memory
//! store and a spawned `redis-server`, so the two backends cannot drift.

use std::time::Duration;

use bff::store::{Cas, NewSession, RedisStore, SessionStore, Swap, keys};

use crate::support::redis_server::RedisServer;

/// Runs `case` against both backends (Redis skipped loudly when absent,
/// unless `BFF_REQUIRE_REDIS` is set).
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn memory() {
                    super::$name(&bff::store::MemoryStore::new(100)).await;
                }

                #[tokio::test]
                async fn redis() {
                    let Some(server) = crate::support::redis_server::RedisServer::start() else {
                        return;
                    };
                    super::$name(&super::redis_store(&server)).await;
                }
            }
        )*
    };
}

contract!(
    take_is_one_time_and_ttl_expires,
    compare_and_swap_checks_prefix_and_keeps_the_deadline,
    compare_and_swap_can_set_a_new_ttl_and_metadata,
    sessions_are_indexed_listed_counted_and_removed,
    index_members_prunes_sessions_that_are_gone,
    locks_are_exclusive_owned_and_leased,
);

fn redis_store(server: &RedisServer) -> RedisStore {
    RedisStore::connect(&server.url(), &bff::config::RedisOptions::default(), 1).expect("Redis URL")
}

fn meta_json(sub_index: &str, sid_index: Option<&str>) -> String {
    serde_json::json!({
        "sub_index": sub_index, "sid_index": sid_index,
        "created_at": 1, "expires_at": 2, "last_seen": 1,
    })
    .to_string()
}

fn new_session<'a>(hash: &'a str, indexes: &[&str]) -> NewSession<'a> {
    NewSession {
        hash,
        record: format!("record-{hash}").into_bytes(),
        meta: meta_json(indexes[0], indexes.get(1).copied()),
        indexes: indexes.iter().map(|i| (*i).to_owned()).collect(),
        ttl: Duration::from_secs(60),
        index_ttl: Duration::from_secs(60),
    }
}

async fn take_is_one_time_and_ttl_expires(store: &dyn SessionStore) {
    store
        .put("bff:login:{k}", b"v".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.get("bff:login:{k}").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(
        store.take("bff:login:{k}").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(
        store.take("bff:login:{k}").await.unwrap(),
        None,
        "taken twice"
    );
    store
        .put(
            "bff:login:{short}",
            b"v".to_vec(),
            Duration::from_millis(50),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        store.get("bff:login:{short}").await.unwrap(),
        None,
        "outlived its TTL"
    );
}

fn swap<'a>(prefix: &'a [u8], record: &[u8], ttl: Option<Duration>) -> Swap<'a> {
    Swap {
        hash: "h",
        expected_prefix: prefix,
        record: record.to_vec(),
        ttl,
        meta: None,
    }
}

async fn compare_and_swap_checks_prefix_and_keeps_the_deadline(store: &dyn SessionStore) {
    let key = keys::record("h");
    store
        .put(&key, b"1:old".to_vec(), Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(
        store
            .compare_and_swap(swap(b"2:", b"2:x", None))
            .await
            .unwrap(),
        Cas::Conflict
    );
    assert_eq!(
        store.get(&key).await.unwrap().as_deref(),
        Some(&b"1:old"[..]),
        "conflict wrote"
    );
    assert_eq!(
        store
            .compare_and_swap(swap(b"1:", b"2:new", None))
            .await
            .unwrap(),
        Cas::Swapped
    );
    assert_eq!(
        store.get(&key).await.unwrap().as_deref(),
        Some(&b"2:new"[..])
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        store.get(&key).await.unwrap(),
        None,
        "the swap extended the TTL"
    );
    assert_eq!(
        store
            .compare_and_swap(swap(b"2:", b"3:", None))
            .await
            .unwrap(),
        Cas::Missing
    );
    assert_eq!(
        store.get(&key).await.unwrap(),
        None,
        "a swap on a missing key created it"
    );
}

async fn compare_and_swap_can_set_a_new_ttl_and_metadata(store: &dyn SessionStore) {
    store
        .put_session(new_session("h", &["bff:sub:{a}"]))
        .await
        .unwrap();
    let mut next = swap(b"record-", b"record-2", Some(Duration::from_millis(200)));
    next.meta = Some(meta_json("bff:sub:{a}", None).replace("\"last_seen\":1", "\"last_seen\":9"));
    assert_eq!(store.compare_and_swap(next).await.unwrap(), Cas::Swapped);
    let meta = store.session_meta(&["h".to_owned()]).await.unwrap();
    assert!(
        meta[0].as_deref().unwrap().contains("\"last_seen\":9"),
        "metadata not replaced"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        store.get(&keys::record("h")).await.unwrap(),
        None,
        "new TTL not applied"
    );
    let meta = store.session_meta(&["h".to_owned()]).await.unwrap();
    assert_eq!(meta, vec![None], "metadata outlived its record");
}

async fn sessions_are_indexed_listed_counted_and_removed(store: &dyn SessionStore) {
    store
        .put_session(new_session("a", &["bff:sub:{u}", "bff:sid:{s}"]))
        .await
        .unwrap();
    store
        .put_session(new_session("b", &["bff:sub:{u}"]))
        .await
        .unwrap();
    assert_eq!(store.count_sessions().await.unwrap(), 2);
    assert_eq!(
        store.get(&keys::record("a")).await.unwrap().as_deref(),
        Some(&b"record-a"[..])
    );
    let mut members = store.index_members("bff:sub:{u}").await.unwrap();
    members.sort();
    assert_eq!(members, ["a", "b"]);
    assert_eq!(store.index_members("bff:sid:{s}").await.unwrap(), ["a"]);
    let metas = store
        .session_meta(&["a".to_owned(), "zz".to_owned()])
        .await
        .unwrap();
    assert!(
        metas[0]
            .as_deref()
            .is_some_and(|m| m.contains("bff:sid:{s}")),
        "{metas:?}"
    );
    assert_eq!(metas[1], None);
    assert!(store.remove_session("a").await.unwrap());
    assert!(!store.remove_session("a").await.unwrap(), "removed twice");
    assert_eq!(store.get(&keys::record("a")).await.unwrap(), None);
    assert_eq!(
        store.get(&keys::meta("a")).await.unwrap(),
        None,
        "metadata left behind"
    );
    assert_eq!(store.index_members("bff:sub:{u}").await.unwrap(), ["b"]);
    assert!(store.index_members("bff:sid:{s}").await.unwrap().is_empty());
    assert_eq!(store.count_sessions().await.unwrap(), 1);
}

async fn index_members_prunes_sessions_that_are_gone(store: &dyn SessionStore) {
    let mut short = new_session("gone", &["bff:sub:{p}"]);
    short.ttl = Duration::from_millis(50);
    store.put_session(short).await.unwrap();
    store
        .put_session(new_session("live", &["bff:sub:{p}"]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(store.index_members("bff:sub:{p}").await.unwrap(), ["live"]);
    assert_eq!(store.count_sessions().await.unwrap(), 1);
}

async fn locks_are_exclusive_owned_and_leased(store: &dyn SessionStore) {
    let lock = keys::refresh_lock("h");
    assert!(
        store
            .try_lock(&lock, "a", Duration::from_millis(200))
            .await
            .unwrap()
    );
    assert!(
        !store
            .try_lock(&lock, "b", Duration::from_millis(200))
            .await
            .unwrap()
    );
    store.unlock(&lock, "b").await.unwrap();
    assert!(
        !store
            .try_lock(&lock, "b", Duration::from_secs(1))
            .await
            .unwrap(),
        "b unlocked a's"
    );
    assert!(
        !store
            .renew_lock(&lock, "b", Duration::from_secs(1))
            .await
            .unwrap()
    );
    assert!(
        store
            .renew_lock(&lock, "a", Duration::from_millis(200))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        store
            .try_lock(&lock, "b", Duration::from_secs(1))
            .await
            .unwrap(),
        "lease not expired"
    );
    store.unlock(&lock, "b").await.unwrap();
    assert!(
        store
            .try_lock(&lock, "c", Duration::from_secs(1))
            .await
            .unwrap(),
        "not released"
    );
    store.ping().await.unwrap();
}

/// Case A4 / issue item: index sets are pruned on write, not only on read
/// (checked on Redis's own view of the set; the memory store has a unit
/// test of its own bookkeeping).
#[tokio::test]
async fn redis_index_sets_are_pruned_on_write() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = redis_store(&server);
    for hash in ["a", "b", "c"] {
        let mut short = new_session(hash, &["bff:sub:{frequent}"]);
        short.ttl = Duration::from_millis(30);
        store.put_session(short).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    store
        .put_session(new_session("d", &["bff:sub:{frequent}"]))
        .await
        .unwrap();
    let mut conn = server.connection().await;
    let size: u64 = redis::cmd("SCARD")
        .arg("bff:sub:{frequent}")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(size, 1, "dead members were kept on write");
}

/// Case A4: bff can see whether its Redis evicts keys (and warns at start).
#[tokio::test]
async fn redis_eviction_policy_is_read() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = redis_store(&server);
    assert_eq!(store.eviction_policy().await.as_deref(), Some("noeviction"));
    let mut conn = server.connection().await;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        store.eviction_policy().await.as_deref(),
        Some("allkeys-lru")
    );
}
