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
	// DefaultReplies and MaxReplies bound Replies.
	DefaultReplies = 20
	MaxReplies     = 100
	// ExcerptRunes is the length of an excerpt: a reply's parent, a
	// notification.
	ExcerptRunes = 100
	// MaxEmojiBytes bounds one reaction's emoji; MaxDistinctReactions is
	// how many different emoji one message may carry.
	MaxEmojiBytes        = 16
	MaxDistinctReactions = 20
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
	// Kind is RoomKindPost or RoomKindDM; DMUsers are a DM room's two users, lower
	// id first (zero for other rooms).
	Kind    string
	DMUsers [2]int64
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
	// Hidden is set for a viewer who blocks the sender; Text is then empty.
	Hidden bool
	// ReplyCount is the number of live replies to the message.
	ReplyCount int64
	// Parent summarises the message replied to; nil unless ParentID is
	// set and the store read it (history pages, replies, new replies,
	// deleted replies).
	Parent *Parent
	// Reactions are the message's emoji counts in the order each emoji was
	// first used; Me is for the viewer of the read (Page.Viewer).
	Reactions []Reaction
}

// Parent is the summary of the message a reply answers.
type Parent struct {
	ID       int64
	Seq      int64
	SenderID int64
	// Excerpt is the start of the parent's text (ExcerptRunes at most);
	// empty when Deleted.
	Excerpt string
	// Deleted is true when the parent was deleted after the reply was
	// sent; SenderID and Sender are then left empty.
	Deleted bool
	Sender  User
	// ReplyCount is the parent's reply count after a write that changed
	// it (a reply stored or deleted); stores leave it 0 on reads.
	ReplyCount int64
}

// Reaction is one emoji on a message.
type Reaction struct {
	Emoji string
	Count int64
	// Me is true when the viewer reacted with Emoji.
	Me bool
}

// ReactionChange is the outcome of a toggle: the message's reactions
// after it, for the user who toggled.
type ReactionChange struct {
	MessageID, RoomID, Seq int64
	Reactions              []Reaction
	// Added is true when the toggle added the user's reaction.
	Added bool
	// Rev increases with every change of the message's reactions.
	Rev int64
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
	// Lease is the presence lease of the gateway process holding the
	// socket (Presence.Renew), for Join.
	Lease string
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
	// Rooms lists rooms with id < beforeID (0: from the newest), newest first;
	// DM rooms are private and never listed.
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
	// Messages returns the page p of a room's non-deleted messages, each
	// with its parent summary and reactions (Me for p.Viewer). It may
	// read from a replica, but only one that has every message up to
	// p.KnownSeq.
	Messages(ctx context.Context, roomID int64, p Page) ([]Message, error)
	// Replies returns up to limit live replies to message parentID of
	// room roomID with seq > afterSeq, in seq order, like Messages.
	Replies(ctx context.Context, roomID, parentID, afterSeq int64, limit int, viewer int64) ([]Message, error)
	// ToggleReaction adds userID's reaction emoji to live message id, or
	// removes it when it is there. Toggles of one message are serialised.
	// Adding an emoji the message does not carry yet when it carries
	// maxDistinct already fails with ErrTooManyReactions and changes
	// nothing.
	ToggleReaction(ctx context.Context, id, userID int64, emoji string, maxDistinct int) (ReactionChange, error)

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
	// Viewer is the user whose own reactions the page marks (Me); 0 for
	// none.
	Viewer int64
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
	// Renew extends a gateway's lease in each room of sockets (room id ->
	// the gateway's count) to expires, and returns the rooms where the
	// lease holds another number of connections, and the store's clock
	// when it counted (Unix ms).
	Renew(ctx context.Context, lease string, sockets map[int64]int, expires time.Time) (recount []int64, asOfMs int64, err error)
	// Reconcile makes the lease's connections in rooms those of refs: it
	// returns the refs it does not know, and drops the connections refs
	// lacks that joined before asOfMs, returning the users who thereby
	// left.
	Reconcile(ctx context.Context, lease string, asOfMs int64, rooms []int64, refs []ConnRef) (unknown []ConnRef, gone []Departure, err error)
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

// Publisher announces committed changes to gateways (NATS). The events
// are typed domain values rather than client frames: each gateway encodes
// the frames itself, so the JSON clients see is written in one place.
type Publisher interface {
	// Publish announces one change that is not a new message (edit,
	// delete, reaction, reply count, presence, room deleted).
	Publish(ctx context.Context, roomID int64, ev RoomEvent) error
	// PublishMessages announces the new messages of one room from one
	// group commit, in seq order, as one event.
	PublishMessages(ctx context.Context, roomID int64, msgs []Published) error
}

// RoomEvent is one committed change of a room other than new messages.
// Kind names it with the subjects.Event* names that logs and metrics use,
// and says which one of the other fields holds its data; the room deleted
// (subjects.EventRoomDeleted) needs none.
type RoomEvent struct {
	Kind string
	// Message is the message as stored after an edit (EventEdit), or the
	// deleted message (EventDelete, of which only ID, Seq and RoomID are
	// announced).
	Message Message
	// Reaction is a toggle's outcome (EventReaction); Me is never
	// announced, since every viewer of the room gets the event.
	Reaction ReactionChange
	// Parent is the message whose reply count changed (EventReplies), with
	// the new ReplyCount.
	Parent Parent
	// User joined, left or is typing (EventJoin, EventLeave, EventTyping).
	User User
}

// Published is one new message as PublishMessages announces it.
type Published struct {
	// Message is the message as stored, with its Sender's details and,
	// for a reply, its Parent summary: gateways build the client frame
	// from it, and hide it by SenderID from users who block the sender.
	Message Message
	// Span is the send's place in its trace (invalid when not traced).
	Span trace.SpanContext
}

// UserDirectory looks up users' public details (the user service). Unknown
// ids are left out of the result.
type UserDirectory interface {
	Users(ctx context.Context, ids []int64) (map[int64]User, error)
}
