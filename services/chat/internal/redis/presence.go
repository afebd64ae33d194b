// Package redis keeps chat presence in Redis, shared by every chat
// replica. Keys (all under the configured prefix):
//
//	chat:presence:expiry          sorted set "<room>|<conn>" scored by expiry (Unix ms)
//	chat:presence:<room>:conns    hash connection id -> user id
//	chat:presence:<room>:users    hash user id -> number of connections
//
// Every change runs as one Lua script, so "first connection of a user in a
// room" (join) and "last connection" (leave) are decided atomically across
// gateways and chat replicas, and each expired connection is swept by
// exactly one sweeper. The sweep script touches rooms' keys it computes
// itself, which a single Redis (or a primary with replicas) allows; Redis
// Cluster would need hash tags.
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

// Presence implements chat.Presence.
type Presence struct {
	rdb    goredis.UniversalClient
	prefix string // prefix + "chat:presence:"
}

// NewPresence returns a Presence whose keys start with prefix.
func NewPresence(rdb goredis.UniversalClient, prefix string) *Presence {
	return &Presence{rdb: rdb, prefix: prefix + "chat:presence:"}
}

var _ chat.Presence = (*Presence)(nil)

func (p *Presence) expiryKey() string { return p.prefix + "expiry" }

func (p *Presence) roomKeys(roomID int64) (conns, users string) {
	r := p.prefix + strconv.FormatInt(roomID, 10)
	return r + ":conns", r + ":users"
}

func member(ref chat.ConnRef) string {
	return strconv.FormatInt(ref.RoomID, 10) + "|" + ref.ConnectionID
}

// joinScript: KEYS expiry, conns, users; ARGV member, conn, uid, expiry.
// Returns 1 when this is the user's first connection in the room.
var joinScript = goredis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 0 then
  return 0 -- the connection joined before: only its expiry moved
end
if redis.call('HINCRBY', KEYS[3], ARGV[3], 1) == 1 then
  return 1
end
return 0
`)

// leaveScript: KEYS expiry, conns, users; ARGV member, conn.
// Returns {user id or "", 1 when it was the user's last connection}.
var leaveScript = goredis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
local uid = redis.call('HGET', KEYS[2], ARGV[2])
if not uid then
  return {'', 0}
end
redis.call('HDEL', KEYS[2], ARGV[2])
if redis.call('HINCRBY', KEYS[3], uid, -1) <= 0 then
  redis.call('HDEL', KEYS[3], uid)
  return {uid, 1}
end
return {uid, 0}
`)

// refreshScript: KEYS expiry; ARGV expiry, members...
// Returns the 0-based indexes of unknown members.
var refreshScript = goredis.NewScript(`
local unknown = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i])
  else
    table.insert(unknown, i - 2)
  end
end
return unknown
`)

// sweepScript: KEYS expiry; ARGV now, limit, room key prefix.
// Returns the number of connections swept, then a flat list room, uid,
// room, uid... of the users who left.
var sweepScript = goredis.NewScript(`
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local gone = {tostring(#members)}
for _, m in ipairs(members) do
  redis.call('ZREM', KEYS[1], m)
  local sep = string.find(m, '|', 1, true)
  local room = string.sub(m, 1, sep - 1)
  local conn = string.sub(m, sep + 1)
  local conns = ARGV[3] .. room .. ':conns'
  local users = ARGV[3] .. room .. ':users'
  local uid = redis.call('HGET', conns, conn)
  if uid then
    redis.call('HDEL', conns, conn)
    if redis.call('HINCRBY', users, uid, -1) <= 0 then
      redis.call('HDEL', users, uid)
      table.insert(gone, room)
      table.insert(gone, uid)
    end
  end
end
return gone
`)

// clearScript: KEYS expiry, conns, users; ARGV member prefix "<room>|".
var clearScript = goredis.NewScript(`
local conns = redis.call('HKEYS', KEYS[2])
for _, c in ipairs(conns) do
  redis.call('ZREM', KEYS[1], ARGV[1] .. c)
end
redis.call('DEL', KEYS[2], KEYS[3])
return #conns
`)

// Join implements chat.Presence.
func (p *Presence) Join(ctx context.Context, ref chat.ConnRef, userID int64, expires time.Time) (bool, error) {
	conns, users := p.roomKeys(ref.RoomID)
	n, err := joinScript.Run(ctx, p.rdb, []string{p.expiryKey(), conns, users},
		member(ref), ref.ConnectionID, userID, expires.UnixMilli()).Int()
	if err != nil {
		return false, fmt.Errorf("presence join: %w", err)
	}
	return n == 1, nil
}

// Leave implements chat.Presence.
func (p *Presence) Leave(ctx context.Context, ref chat.ConnRef) (int64, bool, error) {
	conns, users := p.roomKeys(ref.RoomID)
	res, err := leaveScript.Run(ctx, p.rdb, []string{p.expiryKey(), conns, users}, member(ref), ref.ConnectionID).Slice()
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

// refreshChunk bounds one refresh script, so a gateway with many sockets
// does not block Redis for long.
const refreshChunk = 1000

// Refresh implements chat.Presence.
func (p *Presence) Refresh(ctx context.Context, refs []chat.ConnRef, expires time.Time) ([]chat.ConnRef, error) {
	var unknown []chat.ConnRef
	for start := 0; start < len(refs); start += refreshChunk {
		chunk := refs[start:min(start+refreshChunk, len(refs))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, expires.UnixMilli())
		for _, r := range chunk {
			args = append(args, member(r))
		}
		idx, err := refreshScript.Run(ctx, p.rdb, []string{p.expiryKey()}, args...).Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("presence refresh: %w", err)
		}
		for _, i := range idx {
			unknown = append(unknown, chunk[i])
		}
	}
	return unknown, nil
}

// Sweep implements chat.Presence. It sweeps in steps of limit
// connections, each one atomic script, until nothing expired is left, so
// Redis is never blocked for long even after a big gateway died.
func (p *Presence) Sweep(ctx context.Context, now time.Time, limit int) ([]chat.Departure, error) {
	var gone []chat.Departure
	for {
		res, err := sweepScript.Run(ctx, p.rdb, []string{p.expiryKey()}, now.UnixMilli(), limit, p.prefix).StringSlice()
		if err != nil {
			return gone, fmt.Errorf("presence sweep: %w", err)
		}
		if len(res) == 0 {
			return gone, fmt.Errorf("presence sweep: empty reply")
		}
		for i := 1; i+1 < len(res); i += 2 {
			room, err1 := strconv.ParseInt(res[i], 10, 64)
			uid, err2 := strconv.ParseInt(res[i+1], 10, 64)
			if err1 != nil || err2 != nil {
				continue // not written by this service
			}
			gone = append(gone, chat.Departure{RoomID: room, UserID: uid})
		}
		if swept, _ := strconv.Atoi(res[0]); swept < limit {
			return gone, nil
		}
	}
}

// Online implements chat.Presence.
func (p *Presence) Online(ctx context.Context, roomID int64) ([]int64, error) {
	_, users := p.roomKeys(roomID)
	keys, err := p.rdb.HKeys(ctx, users).Result()
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
			_, users := p.roomKeys(id)
			cmds[i] = pipe.HLen(ctx, users)
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

// ClearRoom implements chat.Presence.
func (p *Presence) ClearRoom(ctx context.Context, roomID int64) error {
	conns, users := p.roomKeys(roomID)
	err := clearScript.Run(ctx, p.rdb, []string{p.expiryKey(), conns, users}, strconv.FormatInt(roomID, 10)+"|").Err()
	if err != nil {
		return fmt.Errorf("presence clear room: %w", err)
	}
	return nil
}
