//! The approximate live-session count behind `bff_sessions_active`, kept
//! without a `SCAN` or `DBSIZE`: every session written is added to the
//! HyperLogLog of its hour (`PFADD`), every session removed to the "ended"
//! one, and the estimate is `PFCOUNT(started) - PFCOUNT(ended)` over the
//! hours of one absolute session lifetime: two commands on at most 2 × 49
//! small keys (12 KB each), whatever the number of sessions.
//!
//! An upper estimate: a session that ended by idle timeout or expiry is
//! not seen ending and counts until its lifetime has passed. HyperLogLog's
//! standard error is 0.81 %. All tally keys share the `{tally}` hash tag
//! (one Redis Cluster slot, so one `PFCOUNT` unions them).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::redis_conn::Conn;

/// How long an hour's tally is kept: the longest window counted (48 h)
/// plus the hour itself.
const KEEP_SECONDS: i64 = 49 * 3600;

/// Which tally a session goes into.
#[derive(Debug, Clone, Copy)]
pub(super) enum Tally {
    /// A session record was written for the first time.
    Started,
    /// A session was removed (logout, back-channel, operator).
    Ended,
}

impl Tally {
    fn name(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Ended => "ended",
        }
    }
}

fn hour_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 3600)
}

fn key(tally: Tally, hour: u64) -> String {
    format!("bff:{{tally}}:{}:{hour}", tally.name())
}

/// Adds the session `hash` to this hour's `tally`.
pub(super) async fn note(conn: &mut Conn, tally: Tally, hash: &str) -> redis::RedisResult<()> {
    let key = key(tally, hour_now());
    redis::pipe()
        .cmd("PFADD")
        .arg(&key)
        .arg(hash)
        .ignore()
        .cmd("EXPIRE")
        .arg(&key)
        .arg(KEEP_SECONDS)
        .ignore()
        .query_async(conn)
        .await
}

/// Sessions started and not seen ending within the last `window`
/// (rounded up to whole hours, at most 48).
pub(super) async fn estimate(conn: &mut Conn, window: Duration) -> redis::RedisResult<u64> {
    let hours = window.as_secs().div_ceil(3600).clamp(1, 48);
    let now = hour_now();
    let keys = |tally| -> Vec<String> { (0..=hours).map(|ago| key(tally, now - ago)).collect() };
    let (started, ended): (u64, u64) = redis::pipe()
        .cmd("PFCOUNT")
        .arg(keys(Tally::Started))
        .cmd("PFCOUNT")
        .arg(keys(Tally::Ended))
        .query_async(conn)
        .await?;
    Ok(started.saturating_sub(ended))
}

#[cfg(test)]
mod tests {
    use super::{Tally, key};

    #[test]
    fn tally_keys_share_one_cluster_hash_tag() {
        // The slot of a key with `{…}` is the slot of what is inside.
        assert_eq!(key(Tally::Started, 10), "bff:{tally}:started:10");
        assert_eq!(key(Tally::Ended, 9), "bff:{tally}:ended:9");
    }
}
