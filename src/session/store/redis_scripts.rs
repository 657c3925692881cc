//! Lua scripts that make the Redis store's multi-key updates atomic.
//! Key names come from the caller ([`crate::session::keys`]: `bff:s:{h}` record,
//! `bff:m:{h}` metadata, `bff:sub:{…}` / `bff:sid:{…}` index sets).
//! Every script touches one hash slot (Redis Cluster): the session's own
//! keys share `{h}`; index sets are updated by the caller in separate
//! steps, the member added *before* the session is written and removed
//! *after* it is deleted (architecture: Cluster layout).

/// KEYS: record, meta (one slot: `{h}`); ARGV: record, meta, ttl ms.
pub(super) const PUT_SESSION: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
";

/// KEYS: index; ARGV: hash, index ttl ms. Adds the member; the set lives
/// as long as its longest-lived member can.
pub(super) const INDEX_ADD: &str = r"
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
";

/// KEYS: record, meta; ARGV: expected prefix, record, ttl ms ('0' keeps
/// the TTL: KEEPTTL, Redis ≥ 6.0), meta ('' keeps it).
/// Returns 1 swapped, 0 missing, -1 conflict.
pub(super) const COMPARE_AND_SWAP: &str = r"
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if string.sub(cur, 1, string.len(ARGV[1])) ~= ARGV[1] then return -1 end
local function put(key, value)
  if ARGV[3] == '0' then redis.call('SET', key, value, 'KEEPTTL') else redis.call('SET', key, value, 'PX', ARGV[3]) end
end
put(KEYS[1], ARGV[2])
if ARGV[4] ~= '' then put(KEYS[2], ARGV[4])
elseif ARGV[3] ~= '0' then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return 1
";

/// KEYS: record, meta (one slot). Deletes both; returns {deleted count,
/// metadata or false}, so the caller can then leave the index sets.
pub(super) const REMOVE_SESSION: &str = r"
local meta = redis.call('GET', KEYS[2])
local n = redis.call('DEL', KEYS[1], KEYS[2])
return {n, meta}
";

/// Extend the lease only for the holder.
pub(super) const RENEW_LOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Compare-and-delete: release only our own lock.
pub(super) const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// The scripts, loaded once (`EVALSHA`, with `EVAL` on a miss).
pub(super) struct Scripts {
    pub(super) put_session: redis::Script,
    pub(super) cas: redis::Script,
    pub(super) remove: redis::Script,
    pub(super) index_add: redis::Script,
    pub(super) renew: redis::Script,
    pub(super) unlock: redis::Script,
}

impl Scripts {
    /// Every script above.
    pub(super) fn new() -> Self {
        Self {
            put_session: redis::Script::new(PUT_SESSION),
            cas: redis::Script::new(COMPARE_AND_SWAP),
            remove: redis::Script::new(REMOVE_SESSION),
            index_add: redis::Script::new(INDEX_ADD),
            renew: redis::Script::new(RENEW_LOCK),
            unlock: redis::Script::new(UNLOCK),
        }
    }
}
