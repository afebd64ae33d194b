package chatjson

import (
	"cmp"
	"time"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// Conversations (issue #12): the JSON shapes of my rooms, read markers and
// notifications, shared by the REST routes and the per-user socket.

// Frame types of the per-user stream.
const (
	TypeNotification = "notification.new"
	TypeRead         = "chat.read"
	TypeUnread       = "chat.unread"
)

// Actor is who caused a notification.
type Actor struct {
	ID                int64  `json:"id"`
	Nickname          string `json:"nickname"`
	ProfilePictureURL string `json:"profile_picture_url"`
}

// Notification is the notification object; as a live frame
// (notification.new) it also carries Type. room, message_id and seq are
// null for kind "friend".
type Notification struct {
	Type      string    `json:"type,omitempty"`
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Room      *int64    `json:"room"`
	MessageID *int64    `json:"message_id"`
	Seq       *int64    `json:"seq"`
	Actor     Actor     `json:"actor"`
	Excerpt   string    `json:"excerpt"`
	CreatedAt time.Time `json:"created_at"`
	Read      bool      `json:"read"`
}

// NewNotification converts a proto notification (no type).
func NewNotification(n *chatv1.Notification) Notification {
	a := n.GetActor()
	return Notification{
		ID: n.GetId(), Kind: n.GetKind(),
		Room: optionalID(n.GetRoomId()), MessageID: optionalID(n.GetMessageId()), Seq: optionalID(n.GetSeq()),
		Actor:   Actor{ID: a.GetId(), Nickname: a.GetNickname(), ProfilePictureURL: a.GetProfilePictureUrl()},
		Excerpt: n.GetExcerpt(), CreatedAt: timeOf(n.GetCreatedAt()), Read: n.GetRead(),
	}
}

// NotificationFrame encodes the live notification.new frame of n.
func NotificationFrame(n *chatv1.Notification) []byte {
	f := NewNotification(n)
	f.Type = TypeNotification
	return mustMarshal(f)
}

// ReadMarker is the answer of POST /api/chat/room/<id>/read/ and, with
// Type, the chat.read frame.
type ReadMarker struct {
	Type        string `json:"type,omitempty"`
	Room        int64  `json:"room"`
	LastReadSeq int64  `json:"last_read_seq"`
	UnreadCount int64  `json:"unread_count"`
}

// NewReadMarker converts a proto marker (no type).
func NewReadMarker(m *chatv1.ReadMarker) ReadMarker {
	return ReadMarker{Room: m.GetRoomId(), LastReadSeq: m.GetLastReadSeq(), UnreadCount: m.GetUnreadCount()}
}

// ReadFrame encodes the live chat.read frame of m.
func ReadFrame(m *chatv1.ReadMarker) []byte {
	f := NewReadMarker(m)
	f.Type = TypeRead
	return mustMarshal(f)
}

// MyRoom is one entry of GET /api/chat/rooms/mine/: the room object with
// the caller's reading state and the room's last message.
type MyRoom struct {
	Room
	// Kind is "post" or "dm".
	Kind        string   `json:"kind"`
	UnreadCount int64    `json:"unread_count"`
	LastReadSeq int64    `json:"last_read_seq"`
	LastMessage *Message `json:"last_message"`
}

// NewMyRoom converts a proto MyRoom.
func NewMyRoom(r *chatv1.MyRoom) MyRoom {
	out := MyRoom{Room: NewRoom(r.GetRoom()), Kind: RoomKind(r.GetRoom()),
		UnreadCount: r.GetUnreadCount(), LastReadSeq: r.GetLastReadSeq()}
	if m := r.GetLastMessage(); m != nil {
		lm := NewMessage(m)
		out.LastMessage = &lm
	}
	return out
}

// RoomKind is a room's "kind": "dm" for a direct-message room, "post" for
// every other (also from a chat service older than direct messages).
func RoomKind(r *chatv1.Room) string { return cmp.Or(r.GetKind(), "post") }
