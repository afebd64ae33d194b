// Package chat is the chat service's domain: rooms, messages with a
// gap-free per-room sequence, presence, the rules that guard them, and the
// interfaces of the stores and messaging it needs. Adapters (postgres,
// redis, nats, userclient) implement those interfaces; package rpc turns
// the Service into gRPC.
package chat

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Limits of user input, in characters (Unicode code points).
const (
	MaxMessageRunes     = 2000
	MaxRoomNameRunes    = 100
	MaxClientMsgIDRunes = 64
	// DefaultHistory and MaxHistory bound ListMessages; 1,001 lets a resuming
	// gateway tell "more than 1,000 missed".
	DefaultHistory = 50
	MaxHistory     = 1001
	// DefaultRooms and MaxRooms bound ListRooms.
	DefaultRooms = 20
	MaxRooms     = 100
)

// Room is one chat room.
type Room struct {
	ID      int64
	Name    string
	OwnerID int64
	// PostID is 0 when the room belongs to no post.
	PostID      int64
	LastSeq     int64
	OnlineCount int
	CreatedAt   time.Time
}

// Message is one stored chat message. Sender holds the sender's public
// details when the caller asked for them.
type Message struct {
	ID          int64
	RoomID      int64
	Seq         int64
	SenderID    int64
	Text        string
	ParentID    int64
	ClientMsgID string
	CreatedAt   time.Time
	// EditedAt is zero unless the message was edited.
	EditedAt time.Time
	Sender   User
}

// NewMessage is a message to store; the store assigns ID, Seq and CreatedAt.
type NewMessage struct {
	RoomID      int64
	SenderID    int64
	Text        string
	ParentID    int64
	ClientMsgID string
	// Notify are the users this message notifies (mentions, the replied-to
	// sender), already filtered (Service.recipients); the store writes
	// their notifications in the message's own transaction.
	Notify []Recipient
}

// Stored is the outcome of storing one NewMessage within a batch.
type Stored struct {
	Message Message
	// Duplicate is true when (room, sender, client_msg_id) was stored before:
	// Message is that earlier message and nothing new was written.
	Duplicate bool
	// Err is this message's own failure (unknown room, bad parent); the rest
	// of the batch is unaffected.
	Err error
	// Joined is set when this message made its sender a member of the room
	// (their first message there): the membership as created.
	Joined *Membership
	// Notifications are those the message created, in Notify's order
	// (Actor holds only the sender's id).
	Notifications []Notification
}

// User is the public face of a user, from the user service.
type User struct {
	ID                int64
	Email             string
	Nickname          string
	ProfilePictureURL string
}

// ConnRef names one socket in one room.
type ConnRef struct {
	RoomID       int64
	ConnectionID string
}

// Departure is a user whose last connection in a room went away.
type Departure struct {
	RoomID int64
	UserID int64
}

// Store keeps rooms and messages (PostgreSQL). Lookups of unknown rows
// return an *apperr.Error with apperr.CodeNotFound.
type Store interface {
	// CreateRoom inserts a room. With PostID set and a room of that post
	// already there, it returns that room and created=false.
	CreateRoom(ctx context.Context, name string, ownerID, postID int64) (room Room, created bool, err error)
	Room(ctx context.Context, id int64) (Room, error)
	// Rooms lists rooms with id < beforeID (0: from the newest), newest first.
	Rooms(ctx context.Context, beforeID int64, limit int) ([]Room, error)
	RenameRoom(ctx context.Context, id int64, name string) (Room, error)
	// DeleteRoom deletes a room and, by cascade, its messages.
	DeleteRoom(ctx context.Context, id int64) error

	// StoreMessages stores a batch in one transaction, assigning each room's
	// next seqs in order. A returned error means nothing was stored; it is
	// apperr.CodeInvalid when the database refused some message's data, so that
	// smaller batches of the same messages may succeed.
	StoreMessages(ctx context.Context, msgs []NewMessage) ([]Stored, error)
	// Message returns a message that is not deleted. A roomID other than 0
	// must be the message's room (else CodeNotFound) and makes the lookup
	// touch one partition; 0 looks in every room, the slower path kept for
	// callers that do not know the room. EditMessage and DeleteMessage
	// likewise.
	Message(ctx context.Context, roomID, id int64) (Message, error)
	EditMessage(ctx context.Context, roomID, id int64, text string) (Message, error)
	DeleteMessage(ctx context.Context, roomID, id int64) (Message, error)
	// Messages returns the page p of a room's non-deleted messages. It may
	// read from a replica, but only one that has every message up to
	// p.KnownSeq.
	Messages(ctx context.Context, roomID int64, p Page) ([]Message, error)

	ConversationStore
}

// Page selects up to Limit messages with AfterSeq < seq < BeforeSeq (a zero
// bound is open), returned in ascending seq order: the oldest ones when
// OldestFirst is set or AfterSeq > 0, else the newest ones.
type Page struct {
	AfterSeq, BeforeSeq int64
	// OldestFirst pages from the first message even with AfterSeq 0, which
	// otherwise means "from the newest".
	OldestFirst bool
	Limit       int
	// KnownSeq is the room's last seq as last read from the primary (0:
	// none). A store reading pages from a replica falls back to the primary
	// when the replica has not yet replayed that far, so a page never misses
	// a message whose seq the caller may already have seen (in an event, or
	// in its own send's answer).
	KnownSeq int64
}

// Presence tracks which connections of which users are in which rooms
// (Redis), shared by every chat replica.
type Presence interface {
	// Join records a connection; first is true when it is the user's first
	// connection in the room.
	Join(ctx context.Context, ref ConnRef, userID int64, expires time.Time) (first bool, err error)
	// Leave forgets a connection; userID is 0 when it was unknown, last is
	// true when it was the user's last connection in the room.
	Leave(ctx context.Context, ref ConnRef) (userID int64, last bool, err error)
	// Refresh extends the expiry of known connections and returns the
	// unknown ones.
	Refresh(ctx context.Context, refs []ConnRef, expires time.Time) (unknown []ConnRef, err error)
	// Sweep removes connections that expired before now, each exactly once
	// across replicas, and returns the users that thereby left.
	Sweep(ctx context.Context, now time.Time, limit int) ([]Departure, error)
	// Online returns the ids of the users online in a room.
	Online(ctx context.Context, roomID int64) ([]int64, error)
	// Counts returns the number of distinct users online per room.
	Counts(ctx context.Context, roomIDs []int64) (map[int64]int, error)
	// ClearRoom forgets every connection of a deleted room.
	ClearRoom(ctx context.Context, roomID int64) error
}

// Publisher announces committed changes to gateways (NATS).
type Publisher interface {
	// Publish announces one change that is not a new message (edit,
	// delete, presence, room deleted).
	Publish(ctx context.Context, roomID int64, event string, frame []byte) error
	// PublishMessages announces the new messages of one room from one
	// group commit, in seq order, as one event.
	PublishMessages(ctx context.Context, roomID int64, msgs []Published) error
}

// Published is one new message as PublishMessages announces it.
type Published struct {
	Seq       int64
	Frame     []byte // the chat.message frame
	CreatedAt time.Time
	// Span is the send's place in its trace (invalid when not traced).
	Span trace.SpanContext
}

// UserDirectory looks up users' public details (the user service). Unknown
// ids are left out of the result.
type UserDirectory interface {
	Users(ctx context.Context, ids []int64) (map[int64]User, error)
}
