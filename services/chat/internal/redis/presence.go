// Package redis keeps chat presence in Redis, shared by every chat
// replica. Keys (all under the configured prefix; {...} is the hash tag):
//
//	{chat:online:<room>}:leases   sorted set lease -> expiry (Unix ms)
//	{chat:online:<room>}:members  sorted set, all scores 0: "<lease> <connection id>"
//	{chat:online:<room>}:conns    hash connection id -> "<user id> <joined, Unix ms> <lease>"
//	{chat:online:<room>}:users    hash user id -> number of connections
//	{chat:online:due:<n>}         sorted set room id scored by when to sweep it next
//	                              (Unix ms), for the rooms with room id mod 16 = n
//
// A connection does not expire by itself: it belongs to a lease, one per
// gateway process and room, and the gateway's heartbeat renews the lease
// (one write per room, however many sockets the gateway holds there;
// renewing each connection cost Redis and the chat service ~2 µs each per
// heartbeat, ~30% of the CPU 5,000 idle sockets cost in S3). When a
// gateway dies its leases expire and the sweeper drops their connections.
// A Join or Leave that was lost (Redis down at that moment) would leave the
// lease's connections wrong while the gateway lives, so each renewal also
// counts the lease's connections (members, by lexical range), and the
// gateway reconciles a room whose count differs from its own.
//
// A room's keys share one hash tag, so every change to a room is one Lua
// script on one slot, with every key declared: "first connection of a user
// in a room" (join) and "last connection" (leave) are decided atomically
// across gateways and chat replicas, and each expired lease is swept by
// exactly one sweeper. The same code runs on one node, behind Sentinel and
// on a Redis Cluster. The scripts take their clock from Redis (TIME), so a
// connection's join time and a reconcile's as-of time compare on one
// clock.
//
// The sweeper finds the rooms worth looking at through the due index: the
// score of a room there is at most the earliest expiry of its leases (join
// and renewal lower it; the sweeper raises it to the new earliest expiry
// after sweeping, or removes an empty room), so a sweep visits only rooms
// with something to expire, not every room with presence. The index is
// sharded over 16 hash tags so its load spreads over the cluster's
// masters. It is not updated in the same script as the room (different
// slots); the order of the two steps keeps it from losing a room (Join and
// Sweep say how), and every renewal re-adds its rooms, so an index write
// lost to a Redis failure heals within one heartbeat.
package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// dueShards is the number of due index keys (see the package doc).
const dueShards = 16

// Presence implements chat.Presence.
type Presence struct {
	rdb    goredis.UniversalClient
	prefix string // prefix + "{chat:online:"
}

// NewPresence returns a Presence whose keys start with prefix.
func NewPresence(rdb goredis.UniversalClient, prefix string) *Presence {
	return &Presence{rdb: rdb, prefix: prefix + "{chat:online:"}
}

var _ chat.Presence = (*Presence)(nil)

// roomKeys are the keys of one room: leases, members, conns, users (one
// hash tag).
func (p *Presence) roomKeys(roomID int64) []string {
	r := p.prefix + strconv.FormatInt(roomID, 10) + "}:"
	return []string{r + "leases", r + "members", r + "conns", r + "users"}
}

// dueKey is the due index shard of a room.
func (p *Presence) dueKey(roomID int64) string {
	return p.dueShard(int((roomID%dueShards + dueShards) % dueShards))
}

func (p *Presence) dueShard(n int) string { return p.prefix + "due:" + strconv.Itoa(n) + "}" }

// luaLib is shared by the scripts: the Redis clock in ms, a lease's
// members' lexical range, and forgetting one connection.
const luaLib = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- every member of a lease sorts between these ('!' follows ' ')
local function lease_min(lease) return '[' .. lease .. ' ' end
local function lease_max(lease) return '(' .. lease .. '!' end
-- forget removes connection c, whose conns entry is v (KEYS[2..4]:
-- members, conns, users), and returns its user id when that was the
-- user's last connection, else nil.
local function forget(c, v)
  local uid, _, lease = string.match(v, '^(%S+) (%S+) (%S+)$')
  redis.call('ZREM', KEYS[2], lease .. ' ' .. c)
  redis.call('HDEL', KEYS[3], c)
  if redis.call('HINCRBY', KEYS[4], uid, -1) <= 0 then
    redis.call('HDEL', KEYS[4], uid)
    return uid
  end
  return nil
end
`

// joinScript: KEYS leases, members, conns, users; ARGV conn, uid, expiry, lease.
// Returns 1 when this is the user's first connection in the room.
var joinScript = goredis.NewScript(luaLib + `
redis.call('ZADD', KEYS[1], 'GT', ARGV[3], ARGV[4])
if redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[2] .. ' ' .. now_ms() .. ' ' .. ARGV[4]) == 0 then
  return 0 -- the connection joined before
end
redis.call('ZADD', KEYS[2], 0, ARGV[4] .. ' ' .. ARGV[1])
if redis.call('HINCRBY', KEYS[4], ARGV[2], 1) == 1 then
  return 1
end
return 0
`)

// leaveScript: KEYS leases, members, conns, users; ARGV conn.
// Returns {user id or "" when unknown, 1 when it was the user's last
// connection}.
var leaveScript = goredis.NewScript(luaLib + `
local v = redis.call('HGET', KEYS[3], ARGV[1])
if not v then
  return {'', 0}
end
local uid = string.match(v, '^(%S+)')
if forget(ARGV[1], v) then
  return {uid, 1}
end
return {uid, 0}
`)

// renewScript: KEYS leases, members; ARGV lease, expiry.
// Renews the lease and returns {its number of connections, now (ms)}.
var renewScript = goredis.NewScript(luaLib + `
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
return {redis.call('ZLEXCOUNT', KEYS[2], lease_min(ARGV[1]), lease_max(ARGV[1])), now_ms()}
`)

// reconcileScript: KEYS leases, members, conns, users; ARGV lease, as of
// (ms), conns.... Returns {0-based indexes of the conns not known, as one
// space-separated string; then the ids of the users who left}.
var reconcileScript = goredis.NewScript(luaLib + `
local listed, unknown = {}, {}
for i = 3, #ARGV do
  listed[ARGV[i]] = true
  if not redis.call('ZSCORE', KEYS[2], ARGV[1] .. ' ' .. ARGV[i]) then
    unknown[#unknown + 1] = tostring(i - 3)
  end
end
local out = {table.concat(unknown, ' ')}
local asOf = tonumber(ARGV[2])
local skip = #ARGV[1] + 2
for _, m in ipairs(redis.call('ZRANGEBYLEX', KEYS[2], lease_min(ARGV[1]), lease_max(ARGV[1]))) do
  local c = string.sub(m, skip)
  if not listed[c] then
    local v = redis.call('HGET', KEYS[3], c)
    if not v then
      redis.call('ZREM', KEYS[2], m) -- a member without its connection
    elseif tonumber(string.match(v, '^%S+ (%S+)')) < asOf then
      out[#out + 1] = forget(c, v)
    end
  end
end
return out
`)

// sweepScript: KEYS leases, members, conns, users; ARGV now, limit.
// Drops the connections of at most limit expired leases' connections and
// returns the number dropped, the room's earliest remaining lease expiry
// ("" when none is left), then the ids of the users who left.
var sweepScript = goredis.NewScript(luaLib + `
local limit = tonumber(ARGV[2])
local swept, out = 0, {'', ''}
for _, lease in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, limit)) do
  local ms = redis.call('ZRANGEBYLEX', KEYS[2], lease_min(lease), lease_max(lease), 'LIMIT', 0, limit - swept)
  for _, m in ipairs(ms) do
    local c = string.sub(m, #lease + 2)
    local v = redis.call('HGET', KEYS[3], c)
    if v then
      out[#out + 1] = forget(c, v)
    else
      redis.call('ZREM', KEYS[2], m) -- a member without its connection
    end
  end
  swept = swept + #ms
  if swept >= limit then
    break
  end
  redis.call('ZREM', KEYS[1], lease) -- all of its connections are gone
end
out[1] = tostring(swept)
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then
  out[2] = first[2]
end
return out
`)

// scriptCall is one run of a script in runAll.
type scriptCall struct {
	keys []string
	args []any
}

// runAll runs script once per call in one pipeline (on a cluster, go-redis
// sends each node its share) and returns the commands in call order. A
// node that does not know the script yet (NOSCRIPT: restarted, or new
// after a failover) gets that call again with the script's source.
func runAll(ctx context.Context, rdb goredis.UniversalClient, script *goredis.Script, calls []scriptCall) []*goredis.Cmd {
	cmds := make([]*goredis.Cmd, len(calls))
	_, _ = rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, c := range calls {
			cmds[i] = script.EvalSha(ctx, pipe, c.keys, c.args...)
		}
		return nil
	}) // errors are read per command below
	for i, c := range calls {
		if err := cmds[i].Err(); err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			cmds[i] = script.Run(ctx, rdb, c.keys, c.args...)
		}
	}
	return cmds
}

// Join implements chat.Presence. The connection is recorded in the room
// first and the room's due index entry lowered second: a sweeper that
// found the room empty removes its index entry before it looks at the room
// again, so either that second look sees this connection or this index
// write comes after the removal; the room is never left out of the index
// with a connection in it.
func (p *Presence) Join(ctx context.Context, ref chat.ConnRef, userID int64, expires time.Time) (bool, error) {
	n, err := joinScript.Run(ctx, p.rdb, p.roomKeys(ref.RoomID), ref.ConnectionID, userID, expires.UnixMilli(), ref.Lease).Int()
	if err != nil {
		return false, fmt.Errorf("presence join: %w", err)
	}
	if err := p.markDue(ctx, p.rdb, ref.RoomID, expires); err != nil {
		return false, fmt.Errorf("presence join: due index: %w", err)
	}
	return n == 1, nil
}

// markDue lowers the room's due index score to at (adding the room when
// absent), never raising it.
func (p *Presence) markDue(ctx context.Context, c goredis.Cmdable, roomID int64, at time.Time) error {
	return c.ZAddLT(ctx, p.dueKey(roomID), goredis.Z{Score: float64(at.UnixMilli()), Member: roomID}).Err()
}

// Leave implements chat.Presence. The room's due index entry stays; the
// sweeper removes it once the room is empty.
func (p *Presence) Leave(ctx context.Context, ref chat.ConnRef) (int64, bool, error) {
	res, err := leaveScript.Run(ctx, p.rdb, p.roomKeys(ref.RoomID), ref.ConnectionID).Slice()
	if err != nil {
		return 0, false, fmt.Errorf("presence leave: %w", err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("presence leave: unexpected reply %v", res)
	}
	uidStr, _ := res[0].(string)
	if uidStr == "" {
		return 0, false, nil
	}
	uid, err := strconv.ParseInt(uidStr, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("presence leave: user id %q: %w", uidStr, err)
	}
	last, _ := res[1].(int64)
	return uid, last == 1, nil
}

// Renew implements chat.Presence: one script per room, all in one
// pipeline, plus each room's due index entry, which heals an entry lost to
// a failed index write. asOfMs is the earliest of the rooms' clocks (on a
// cluster, rooms live on several nodes).
func (p *Presence) Renew(ctx context.Context, lease string, sockets map[int64]int, expires time.Time) (recount []int64, asOfMs int64, err error) {
	rooms := make([]int64, 0, len(sockets))
	calls := make([]scriptCall, 0, len(sockets))
	for room := range sockets {
		rooms = append(rooms, room)
		calls = append(calls, scriptCall{keys: p.roomKeys(room)[:2], args: []any{lease, expires.UnixMilli()}})
	}
	for i, cmd := range runAll(ctx, p.rdb, renewScript, calls) {
		res, err := cmd.Int64Slice()
		if err != nil {
			return nil, 0, fmt.Errorf("presence renew: %w", err)
		}
		if len(res) != 2 {
			return nil, 0, fmt.Errorf("presence renew: unexpected reply %v", res)
		}
		if res[0] != int64(sockets[rooms[i]]) {
			recount = append(recount, rooms[i])
		}
		if asOfMs == 0 || res[1] < asOfMs {
			asOfMs = res[1]
		}
	}
	_, err = p.rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for _, room := range rooms {
			_ = p.markDue(ctx, pipe, room, expires) // queued; Exec reports
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("presence renew: due index: %w", err)
	}
	return recount, asOfMs, nil
}

// Reconcile implements chat.Presence: one script per room, all in one
// pipeline.
func (p *Presence) Reconcile(ctx context.Context, lease string, asOfMs int64, rooms []int64, refs []chat.ConnRef) (unknown []chat.ConnRef, gone []chat.Departure, err error) {
	byRoom := make(map[int64][]chat.ConnRef, len(rooms))
	for _, r := range refs {
		byRoom[r.RoomID] = append(byRoom[r.RoomID], r)
	}
	calls := make([]scriptCall, len(rooms))
	for i, room := range rooms {
		args := make([]any, 0, len(byRoom[room])+2)
		args = append(args, lease, asOfMs)
		for _, r := range byRoom[room] {
			args = append(args, r.ConnectionID)
		}
		calls[i] = scriptCall{keys: p.roomKeys(room), args: args}
	}
	cmds := runAll(ctx, p.rdb, reconcileScript, calls)
	for i, room := range rooms {
		res, err := cmds[i].StringSlice()
		if err != nil {
			return nil, nil, fmt.Errorf("presence reconcile: %w", err)
		}
		if len(res) < 1 {
			return nil, nil, fmt.Errorf("presence reconcile: unexpected reply %v", res)
		}
		listed := byRoom[room]
		for _, f := range strings.Fields(res[0]) {
			if j, err := strconv.Atoi(f); err == nil && j >= 0 && j < len(listed) {
				unknown = append(unknown, listed[j])
			}
		}
		for _, u := range res[1:] {
			if uid, err := strconv.ParseInt(u, 10, 64); err == nil {
				gone = append(gone, chat.Departure{RoomID: room, UserID: uid})
			}
		}
	}
	return unknown, gone, nil
}

// dueRoom is a room the due index says may have expired connections.
type dueRoom struct {
	id  int64
	key string // its due index shard
}

// Sweep implements chat.Presence. Each round takes up to limit due rooms
// from every index shard and drops up to limit connections of each one's
// expired leases (one atomic script per room, all in one pipeline), until
// no room is due, so Redis is never blocked for long even after a big
// gateway died. A room with leases left gets its earliest lease expiry as
// its new index score; a room without is removed from the index and then
// looked at once more (see Join for why that order).
func (p *Presence) Sweep(ctx context.Context, now time.Time, limit int) ([]chat.Departure, error) {
	var gone []chat.Departure
	nowMs := strconv.FormatInt(now.UnixMilli(), 10)
	for {
		due, full, err := p.dueRooms(ctx, nowMs, limit)
		if err != nil || len(due) == 0 {
			return gone, err
		}
		calls := make([]scriptCall, len(due))
		for i, r := range due {
			calls[i] = scriptCall{keys: p.roomKeys(r.id), args: []any{nowMs, limit}}
		}
		var next []goredis.Z
		var nextKeys []string
		var emptyRooms []dueRoom
		for i, cmd := range runAll(ctx, p.rdb, sweepScript, calls) {
			res, err := cmd.StringSlice()
			if err != nil {
				return gone, fmt.Errorf("presence sweep: %w", err)
			}
			if len(res) < 2 {
				return gone, fmt.Errorf("presence sweep: unexpected reply %v", res)
			}
			for _, u := range res[2:] {
				if uid, err := strconv.ParseInt(u, 10, 64); err == nil { // else not written by this service
					gone = append(gone, chat.Departure{RoomID: due[i].id, UserID: uid})
				}
			}
			swept, _ := strconv.Atoi(res[0])
			switch {
			case swept >= limit:
				full = true // more may have expired: the room stays due
			case res[1] == "":
				emptyRooms = append(emptyRooms, due[i])
			default:
				at, err := strconv.ParseFloat(res[1], 64)
				if err != nil {
					return gone, fmt.Errorf("presence sweep: expiry %q: %w", res[1], err)
				}
				next = append(next, goredis.Z{Score: at, Member: due[i].id})
				nextKeys = append(nextKeys, due[i].key)
			}
		}
		if err := p.reindex(ctx, next, nextKeys, emptyRooms); err != nil {
			return gone, err
		}
		if !full {
			return gone, nil
		}
	}
}

// dueRooms returns up to limit rooms due by nowMs from every index shard
// (one pipeline); full is true when some shard may have more.
func (p *Presence) dueRooms(ctx context.Context, nowMs string, limit int) (due []dueRoom, full bool, err error) {
	cmds := make([]*goredis.StringSliceCmd, dueShards)
	_, err = p.rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for n := range dueShards {
			cmds[n] = pipe.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: p.dueShard(n), Start: "-inf", Stop: nowMs, ByScore: true, Count: int64(limit)})
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("presence sweep: due rooms: %w", err)
	}
	for n, cmd := range cmds {
		ids := cmd.Val()
		full = full || len(ids) >= limit
		for _, s := range ids {
			if id, err := strconv.ParseInt(s, 10, 64); err == nil {
				due = append(due, dueRoom{id: id, key: p.dueShard(n)})
			}
		}
	}
	return due, full, nil
}

// reindex moves swept rooms' index entries to their earliest remaining
// expiry, removes the empty rooms' entries, and then re-adds any empty
// room that a Join filled meanwhile.
func (p *Presence) reindex(ctx context.Context, next []goredis.Z, nextKeys []string, empty []dueRoom) error {
	_, err := p.rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, z := range next {
			pipe.ZAdd(ctx, nextKeys[i], z)
		}
		for _, r := range empty {
			pipe.ZRem(ctx, r.key, r.id)
		}
		return nil
	})
	if err != nil || len(empty) == 0 {
		return wrapSweep(err)
	}
	firsts := make([]*goredis.ZSliceCmd, len(empty))
	_, err = p.rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, r := range empty {
			firsts[i] = pipe.ZRangeWithScores(ctx, p.roomKeys(r.id)[0], 0, 0)
		}
		return nil
	})
	if err != nil {
		return wrapSweep(err)
	}
	_, err = p.rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, r := range empty {
			if f := firsts[i].Val(); len(f) > 0 {
				pipe.ZAddLT(ctx, r.key, goredis.Z{Score: f[0].Score, Member: r.id})
			}
		}
		return nil
	})
	return wrapSweep(err)
}

func wrapSweep(err error) error {
	if err != nil {
		return fmt.Errorf("presence sweep: due index: %w", err)
	}
	return nil
}

// Online implements chat.Presence.
func (p *Presence) Online(ctx context.Context, roomID int64) ([]int64, error) {
	keys, err := p.rdb.HKeys(ctx, p.roomKeys(roomID)[3]).Result()
	if err != nil {
		return nil, fmt.Errorf("presence online: %w", err)
	}
	ids := make([]int64, 0, len(keys))
	for _, k := range keys {
		if id, err := strconv.ParseInt(strings.TrimSpace(k), 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Counts implements chat.Presence.
func (p *Presence) Counts(ctx context.Context, roomIDs []int64) (map[int64]int, error) {
	out := make(map[int64]int, len(roomIDs))
	if len(roomIDs) == 0 {
		return out, nil
	}
	cmds := make([]*goredis.IntCmd, len(roomIDs))
	_, err := p.rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, id := range roomIDs {
			cmds[i] = pipe.HLen(ctx, p.roomKeys(id)[3])
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("presence counts: %w", err)
	}
	for i, id := range roomIDs {
		out[id] = int(cmds[i].Val())
	}
	return out, nil
}

// ClearRoom implements chat.Presence: one DEL of the room's keys (one
// slot). Its due index entry goes at the room's next sweep.
func (p *Presence) ClearRoom(ctx context.Context, roomID int64) error {
	if err := p.rdb.Del(ctx, p.roomKeys(roomID)...).Err(); err != nil {
		return fmt.Errorf("presence clear room: %w", err)
	}
	return nil
}
