package chat

import (
	"context"
	"sync"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

// Room kinds.
const (
	RoomKindPost = "post" // a post's room, or a room created without a post
	RoomKindDM   = "dm"   // the private room of two users
)

// Readable reports whether userID may read room r: anyone for a post room,
// only its two users for a DM room (userID 0, a service without a user,
// reads no DM room), and every room for RoomStream.
func (r Room) Readable(userID int64) bool {
	return r.Kind != RoomKindDM || userID == RoomStream ||
		(userID != 0 && (r.DMUsers[0] == userID || r.DMUsers[1] == userID))
}

// RoomStream is the reader id of a gateway replica reading for its room
// stream rather than for one user: the room's last seq when it starts to
// follow a room, and the messages NATS lost, once for all of the replica's
// sockets of the room (which the chat service admitted one by one, each
// with its Join). It reads every room, and its messages come unhidden: each
// socket hides the senders its own user blocks. Only the gateway service,
// calling without a user, reads as RoomStream (rpc.reader).
const RoomStream int64 = -1

// errRoomNotFound is what a room the caller may not read looks like: the
// same answer as an unknown room, so that DM rooms cannot be probed.
func errRoomNotFound() error { return apperr.New(apperr.CodeNotFound, MsgRoomNotFound) }

// CheckReader is the one reader check of every room route, the socket join
// and every message route: it returns the room when userID may read it,
// else NOT_FOUND exactly as for an unknown room. It needs no database
// round trip for a room seen before: a room's kind and users never change,
// so they are cached for the life of the process (bounded).
func (s *Service) CheckReader(ctx context.Context, userID, roomID int64) (Room, error) {
	room, err := s.roomAccess(ctx, roomID)
	if err != nil {
		return Room{}, err
	}
	if !room.Readable(userID) {
		return Room{}, errRoomNotFound()
	}
	return room, nil
}

// roomAccess returns a room's id, owner, kind and DM users, from the cache
// or the store.
func (s *Service) roomAccess(ctx context.Context, roomID int64) (Room, error) {
	if a, ok := s.access.get(roomID); ok {
		return a, nil
	}
	room, err := s.store.Room(ctx, roomID)
	if err != nil {
		return Room{}, err
	}
	s.access.put(room)
	return room, nil
}

// maxAccessEntries bounds the room access cache (a few dozen bytes each).
const maxAccessEntries = 100_000

// accessCache remembers the kind and users of rooms. Only those fields of
// the cached Room are used: the rest (name, last seq) goes stale.
type accessCache struct {
	mu    sync.Mutex
	rooms map[int64]Room
}

func (c *accessCache) get(id int64) (Room, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.rooms[id]
	return Room{ID: r.ID, OwnerID: r.OwnerID, Kind: r.Kind, DMUsers: r.DMUsers}, ok
}

func (c *accessCache) put(r Room) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rooms == nil || len(c.rooms) >= maxAccessEntries {
		// Dropping everything is simpler than an LRU and costs one room
		// lookup per active room afterwards.
		c.rooms = make(map[int64]Room)
	}
	c.rooms[r.ID] = Room{ID: r.ID, OwnerID: r.OwnerID, Kind: r.Kind, DMUsers: r.DMUsers}
}
