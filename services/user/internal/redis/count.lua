-- The login limiter's atomic step; see countScript in limiter.go.
local wait = redis.call('PTTL', KEYS[2])
if wait > 0 then
  return wait
end
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local free = tonumber(ARGV[1])
if KEYS[3] and tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[5]) then
  free = 1
end
if n >= free then
  local delay = math.min(tonumber(ARGV[3]) * 2 ^ (n - free), tonumber(ARGV[4]))
  redis.call('SET', KEYS[2], '1', 'PX', math.floor(delay))
end
return 0
