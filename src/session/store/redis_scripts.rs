//! Lua scripts that make the Redis store's multi-key updates atomic.
//! Key names come from the caller ([`crate::session::keys`]: `bff:s:{h}` record,
//! `bff:m:{h}` metadata, `bff:sub:{…}` / `bff:sid:{…}` index sets).
//! Scripts that derive keys from values (remove, prune) need a standalone
//! Redis or Sentinel; Redis Cluster would need them split per slot.

/// KEYS: record, meta, index…; ARGV: record, meta, ttl ms, hash, index
/// ttl ms, record key prefix. Index sets live as long as their longest-lived
/// member can (its absolute lifetime: idle-timeout touches extend the
/// record, not the index), and are pruned of dead members on every write,
/// so a user who logs in often does not grow them without bound.
pub(super) const PUT_SESSION: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
for i = 3, #KEYS do
  for _, h in ipairs(redis.call('SMEMBERS', KEYS[i])) do
    if redis.call('EXISTS', ARGV[6] .. '{' .. h .. '}') == 0 then redis.call('SREM', KEYS[i], h) end
  end
  redis.call('SADD', KEYS[i], ARGV[4])
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
end
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

/// KEYS: record, meta; ARGV: hash. Deletes record + metadata and removes
/// the hash from the index sets named in the metadata.
pub(super) const REMOVE_SESSION: &str = r"
local h = ARGV[1]
local meta = redis.call('GET', KEYS[2])
local n = redis.call('DEL', KEYS[1], KEYS[2])
if meta then
  local ok, m = pcall(cjson.decode, meta)
  if ok and type(m) == 'table' then
    if type(m.sub_index) == 'string' then redis.call('SREM', m.sub_index, h) end
    if type(m.sid_index) == 'string' then redis.call('SREM', m.sid_index, h) end
  end
end
return n
";

/// KEYS: index; ARGV: record key prefix (`bff:s:`). Returns live members,
/// removing dead ones.
pub(super) const INDEX_MEMBERS: &str = r"
local live = {}
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. '{' .. h .. '}') == 1 then table.insert(live, h)
  else redis.call('SREM', KEYS[1], h) end
end
return live
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
