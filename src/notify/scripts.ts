/**
 * The Lua scripts behind {@link Chains}: every change of a delivery's state is one of them, so it
 * is atomic. Keys other than the declared ones (the next event of a chain) are built from the
 * event-key prefix, as BullMQ's own scripts do; the gateway's hash-tag prefix keeps them in one
 * slot on Redis Cluster.
 */

const PRELUDE = `
local function fenced(ev, job, state, leaseBefore)
  local h = redis.call('HMGET', ev, 'job', 'state', 'leaseUntil')
  if (h[1] or '') ~= job or h[2] ~= state then return false end
  if leaseBefore > 0 and tonumber(h[3] or '0') >= leaseBefore then return false end
  return true
end
-- The enqueue scripts' new event record (KEYS[1] ev, KEYS[2] chain; ARGV[2] event, ARGV[4]
-- correlator, ARGV[5] clientId), with the state fields given.
local function storeEvent(...)
  redis.call('HSET', KEYS[1], 'event', ARGV[2], 'chain', KEYS[2], 'correlator', ARGV[4], 'clientId', ARGV[5], ...)
end
local function schedule(ev, id, chain, due, at, grace)
  local seq = redis.call('HINCRBY', ev, 'seq', 1)
  local job = 'notify-' .. id .. '-' .. seq
  redis.call('HSET', ev, 'state', 'scheduled', 'job', job, 'nextAt', at)
  redis.call('HDEL', ev, 'leaseUntil')
  redis.call('ZADD', due, at + grace, chain)
  return job
end
-- Removes event id from its chain; when it was the head, schedules the next event that still exists.
local function advance(id, chain, due, evPrefix, now, grace)
  if redis.call('LINDEX', chain, 0) ~= id then
    redis.call('LREM', chain, 1, id)
    return {'', '', ''}
  end
  redis.call('LPOP', chain)
  while true do
    local nextId = redis.call('LINDEX', chain, 0)
    if not nextId then
      redis.call('ZREM', due, chain)
      return {'', '', ''}
    end
    local nextEv = evPrefix .. nextId
    if redis.call('HEXISTS', nextEv, 'event') == 1 then
      return {nextId, schedule(nextEv, nextId, chain, due, now, grace), redis.call('HGET', nextEv, 'correlator')}
    end
    redis.call('LPOP', chain)
  end
end
-- An attempt gave its client's in-flight slot back: schedules the client's longest-parked head, if any.
local function wake(parked, evPrefix, due, now, grace)
  while true do
    local id = redis.call('LPOP', parked)
    if not id then return {'', '', ''} end
    local ev = evPrefix .. id
    if redis.call('HGET', ev, 'state') == 'parked' then
      local chain = redis.call('HGET', ev, 'chain')
      return {id, schedule(ev, id, chain, due, now, grace), redis.call('HGET', ev, 'correlator')}
    end
  end
end
`;

/** A Lua script and how many of its arguments are keys. */
function script(keys: number, lua: string): { keys: number; lua: string } {
  return { keys, lua: PRELUDE + lua };
}

export const SCRIPTS = {
  // KEYS ev chain due gone · ARGV id event sink correlator clientId now grace
  // An id already waiting (the same event enqueued again) changes nothing: '' as for one that waits.
  egNotifyEnqueue: script(4, `
if redis.call('EXISTS', KEYS[1]) == 1 then return '' end
if redis.call('HEXISTS', KEYS[4], ARGV[3]) == 1 then return false end
storeEvent('state', 'queued', 'attempts', 0)
if redis.call('RPUSH', KEYS[2], ARGV[1]) == 1 then
  return schedule(KEYS[1], ARGV[1], KEYS[2], KEYS[3], tonumber(ARGV[6]), tonumber(ARGV[7]))
end
return ''`),
  // KEYS ev chain due gone busy parked · ARGV id event sink correlator clientId now grace lease cap parkCheckMs
  // Enqueue, and when the event becomes its chain's head and its client has room, claim it for an
  // attempt right here (the caller makes it inline): {job, 'claimed', attempts}; {'', 'parked'} when
  // its client is at its in-flight limit (parked as a claim would park it: the next of the client's
  // attempts to end wakes it, so no job is queued only to find the client still busy);
  // {''} when it waits behind others (or was enqueued before); false when its sink is gone.
  //
  // The record is written once, in its final state, with what schedule() and a claim would have
  // written step by step (a new head's first job is number 1): the common case, an event that is
  // delivered at once, costs the append-only file one HSET rather than four hash writes.
  egNotifyEnqueueClaim: script(6, `
if redis.call('EXISTS', KEYS[1]) == 1 then return {''} end
if redis.call('HEXISTS', KEYS[4], ARGV[3]) == 1 then return false end
if redis.call('RPUSH', KEYS[2], ARGV[1]) ~= 1 then
  storeEvent('state', 'queued', 'attempts', 0)
  return {''}
end
local now = tonumber(ARGV[6])
local job = 'notify-' .. ARGV[1] .. '-1'
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
local cap = tonumber(ARGV[9])
if cap > 0 and redis.call('ZCARD', KEYS[5]) >= cap then
  storeEvent('state', 'parked', 'attempts', 0, 'job', '', 'nextAt', now)
  redis.call('RPUSH', KEYS[6], ARGV[1])
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[10]), KEYS[2])
  return {'', 'parked'}
end
local leaseUntil = now + tonumber(ARGV[8])
redis.call('ZADD', KEYS[5], leaseUntil, ARGV[1])
storeEvent('state', 'claimed', 'attempts', 1, 'seq', 1, 'job', job, 'nextAt', now, 'leaseUntil', leaseUntil)
redis.call('ZADD', KEYS[3], leaseUntil, KEYS[2])
return {job, 'claimed', '1'}`),
  // KEYS ev chain busy due gone parked · ARGV id job now lease cap sink evPrefix grace parkCheckMs
  egNotifyClaim: script(6, `
local now = tonumber(ARGV[3])
if not fenced(KEYS[1], ARGV[2], 'scheduled', 0) or redis.call('LINDEX', KEYS[2], 0) ~= ARGV[1] then return {'stale'} end
if redis.call('HEXISTS', KEYS[5], ARGV[6]) == 1 then
  redis.call('DEL', KEYS[1])
  local n = advance(ARGV[1], KEYS[2], KEYS[4], ARGV[7], now, tonumber(ARGV[8]))
  return {'gone', n[1], n[2], n[3]}
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local cap = tonumber(ARGV[5])
if cap > 0 and not redis.call('ZSCORE', KEYS[3], ARGV[1]) and redis.call('ZCARD', KEYS[3]) >= cap then
  -- Parked: the next attempt of this client to give its slot back schedules it (no polling);
  -- the sweeper looks at it after parkCheckMs in case that never happens (workers died).
  redis.call('HSET', KEYS[1], 'state', 'parked', 'job', '')
  redis.call('RPUSH', KEYS[6], ARGV[1])
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[9]), KEYS[2])
  return {'busy'}
end
local leaseUntil = now + tonumber(ARGV[4])
redis.call('ZADD', KEYS[3], leaseUntil, ARGV[1])
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'state', 'claimed', 'leaseUntil', leaseUntil)
redis.call('ZADD', KEYS[4], leaseUntil, KEYS[2])
return {'claimed', tostring(attempts)}`),
  // KEYS ev chain busy due gone parked · ARGV id job outcome sink goneInfo evPrefix now grace
  egNotifyFinish: script(6, `
if not fenced(KEYS[1], ARGV[2], 'claimed', 0) then return {'stale'} end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[1])
if ARGV[3] == 'gone' then redis.call('HSET', KEYS[5], ARGV[4], ARGV[5]) end
local n = advance(ARGV[1], KEYS[2], KEYS[4], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]))
local w = wake(KEYS[6], ARGV[6], KEYS[4], tonumber(ARGV[7]), tonumber(ARGV[8]))
return {'ok', n[1], n[2], n[3], w[1], w[2], w[3]}`),
  // KEYS ev chain busy due parked · ARGV id job expectState leaseBefore at grace lastError evPrefix now
  egNotifyReschedule: script(5, `
if not fenced(KEYS[1], ARGV[2], ARGV[3], tonumber(ARGV[4])) then return false end
redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'lastError', ARGV[7]) end
local job = schedule(KEYS[1], ARGV[1], KEYS[2], KEYS[4], tonumber(ARGV[5]), tonumber(ARGV[6]))
local w = {'', '', ''}
if ARGV[3] == 'claimed' then w = wake(KEYS[5], ARGV[8], KEYS[4], tonumber(ARGV[9]), tonumber(ARGV[6])) end
return {job, w[1], w[2], w[3]}`),
  // KEYS ev chain busy due dead deadByClient parked · ARGV id job expectState leaseBefore lastError now retentionMs evPrefix grace
  egNotifyBury: script(7, `
if not fenced(KEYS[1], ARGV[2], ARGV[3], tonumber(ARGV[4])) then return {'stale'} end
local now = tonumber(ARGV[6])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'dead', 'failedAt', now, 'lastError', ARGV[5])
redis.call('HDEL', KEYS[1], 'job', 'leaseUntil', 'nextAt')
redis.call('PEXPIRE', KEYS[1], ARGV[7])
for _, index in ipairs({KEYS[5], KEYS[6]}) do
  redis.call('ZADD', index, now, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now - tonumber(ARGV[7]))
end
local n = advance(ARGV[1], KEYS[2], KEYS[4], ARGV[8], now, tonumber(ARGV[9]))
local w = {'', '', ''}
if ARGV[3] == 'claimed' then w = wake(KEYS[7], ARGV[8], KEYS[4], now, tonumber(ARGV[9])) end
return {'ok', n[1], n[2], n[3], w[1], w[2], w[3]}`),
  // KEYS ev chain due dead deadByClient · ARGV id now grace
  egNotifyRevive: script(5, `
if redis.call('HGET', KEYS[1], 'state') ~= 'dead' then return false end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('PERSIST', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'queued', 'attempts', 0)
redis.call('HDEL', KEYS[1], 'failedAt')
if redis.call('RPUSH', KEYS[2], ARGV[1]) == 1 then
  return schedule(KEYS[1], ARGV[1], KEYS[2], KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3]))
end
return ''`),
  // KEYS ev dead deadByClient · ARGV id
  egNotifyPurge: script(3, `
if redis.call('HGET', KEYS[1], 'state') ~= 'dead' then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1`),
  // KEYS ev due · ARGV job state at chain: pushes a chain's check later while its head is as seen.
  egNotifyRecheck: script(2, `
if fenced(KEYS[1], ARGV[1], ARGV[2], 0) then redis.call('ZADD', KEYS[2], 'XX', ARGV[3], ARGV[4]) end
return 1`),
  // KEYS chain due · ARGV headSeen evPrefix now grace: forgets an empty chain, skips a head whose record vanished.
  egNotifyUnblock: script(2, `
local head = redis.call('LINDEX', KEYS[1], 0)
if not head then
  redis.call('ZREM', KEYS[2], KEYS[1])
  return {'', '', ''}
end
if head == ARGV[1] and redis.call('HEXISTS', ARGV[2] .. head, 'event') == 0 then
  return advance(head, KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
end
return {'', '', ''}`),
} as const;

export type ScriptName = keyof typeof SCRIPTS;
