// Package subjects names the NATS subjects and headers Cobra Space uses, so
// publishers and subscribers cannot drift apart. A prefix isolates
// deployments (and parallel tests) sharing one NATS server.
package subjects

import "strconv"

// Headers of room events (see proto/cobraspace/chat/v1/chat.proto).
const (
	HeaderEvent = "Cobra-Event"
	// HeaderSender is the sender's user id on the edit events of chat
	// services older than RoomEvent (whose edits carry their sender).
	HeaderSender = "Cobra-Sender"
)

// EventRoom is the HeaderEvent of a typed room event: a protobuf
// cobraspace.chat.v1.RoomEvent as data.
const EventRoom = "event"

// Room event kinds: the names services give a room event's kind in logs,
// metrics and their own code, and the values of HeaderEvent before
// RoomEvent, when the data was the client frame itself (a RoomMessages
// for EventMessages). Gateways still accept those.
const (
	// EventMessage is one new message.
	EventMessage = "message"
	// EventMessages is the new messages of one room from one commit.
	EventMessages    = "messages"
	EventEdit        = "edit"
	EventDelete      = "delete"
	EventJoin        = "join"
	EventLeave       = "leave"
	EventTyping      = "typing"
	EventRoomDeleted = "room_deleted"
	// EventReaction is a message's new reaction counts
	// (chat.message.reaction).
	EventReaction = "reaction"
	// EventReplies is a message's new reply count (chat.message.replies).
	EventReplies = "replies"
)

// Subjects builds subject names under one prefix.
type Subjects struct {
	prefix string
}

// New returns subject names under prefix ("" in production, e.g. "t123." in tests).
func New(prefix string) Subjects { return Subjects{prefix: prefix} }

// Room is the subject of one room's live events.
func (s Subjects) Room(roomID int64) string {
	return s.prefix + "chat.room." + strconv.FormatInt(roomID, 10)
}

// UserRevoked is the subject announcing that sessions of a user were
// revoked (logout, refresh-token reuse): gateways reject every access token
// of those sessions and close their sockets. The data is JSON
// {"sessions": ["<session id>", ...], "jti": "<logged-out token, if any>",
// "reason": "logout"|"refresh_reuse"}.
func (s Subjects) UserRevoked(userID int64) string {
	return s.prefix + "user.revoked." + strconv.FormatInt(userID, 10)
}

// AllUsersRevoked matches UserRevoked for every user.
func (s Subjects) AllUsersRevoked() string { return s.prefix + "user.revoked.*" }

// UserBlocks is the subject announcing that userID blocked or unblocked
// someone (conversations: blocks). Gateways update the hidden sets of that
// user's sockets and the chat service drops its cached answers. The data is
// JSON {"user":<userID>,"other":<id>,"blocking":true|false}.
func (s Subjects) UserBlocks(userID int64) string {
	return s.prefix + "user.blocks." + strconv.FormatInt(userID, 10)
}

// AllUserBlocks matches UserBlocks for every user.
func (s Subjects) AllUserBlocks() string { return s.prefix + "user.blocks.*" }

// BlockChange is the data of UserBlocks.
type BlockChange struct {
	User     int64 `json:"user"`
	Other    int64 `json:"other"`
	Blocking bool  `json:"blocking"`
}

// RoomMutes is the subject announcing that a room's mutes changed
// (conversations: moderation): every chat replica drops its cached mutes of
// that room. The data is the room id in decimal.
func (s Subjects) RoomMutes() string { return s.prefix + "chat.mutes" }

// UserEvents is the subject of one user's live events (notifications, read
// markers, new memberships): protobuf cobraspace.chat.v1.UserEvent as data.
// One subject per user lets a gateway subscribe only the users whose
// /ws/user/ sockets it holds.
func (s Subjects) UserEvents(userID int64) string {
	return s.prefix + "user.events." + strconv.FormatInt(userID, 10)
}

// AllUserEvents matches UserEvents for every user.
func (s Subjects) AllUserEvents() string { return s.prefix + "user.events.*" }
