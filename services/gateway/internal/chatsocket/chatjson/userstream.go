package chatjson

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// Frame types of the per-user stream /ws/user/.
const (
	TypeNotification       = "notification.new"
	TypeNotificationResume = "notification.resume"
	TypeUnread             = "chat.unread"
	TypeRead               = "chat.read"
)

// Actor is who caused a notification.
type Actor struct {
	ID                int64  `json:"id"`
	Nickname          string `json:"nickname"`
	ProfilePictureURL string `json:"profile_picture_url"`
}

// Notification is the notification object; as a live frame
// (notification.new) it also carries Type. Room, message and seq are null
// for a "friend" notification.
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

// NewNotification converts a proto notification to the notification
// object (no type).
func NewNotification(n *chatv1.Notification) Notification {
	a := n.GetActor()
	return Notification{
		ID:        n.GetId(),
		Kind:      n.GetKind(),
		Room:      optionalID(n.GetRoomId()),
		MessageID: optionalID(n.GetMessageId()),
		Seq:       optionalID(n.GetSeq()),
		Actor:     Actor{ID: a.GetId(), Nickname: a.GetNickname(), ProfilePictureURL: a.GetProfilePictureUrl()},
		Excerpt:   n.GetExcerpt(),
		CreatedAt: timeOf(n.GetCreatedAt()),
		Read:      n.GetRead(),
	}
}

// NotificationFrame encodes {"type":"notification.new", ...notification}.
func NotificationFrame(n *chatv1.Notification) []byte {
	v := NewNotification(n)
	v.Type = TypeNotification
	return mustMarshal(v)
}

// NotificationResumeFrame encodes {"type":"notification.resume","recovered":recovered}.
func NotificationResumeFrame(recovered bool) []byte {
	return mustMarshal(struct {
		Type      string `json:"type"`
		Recovered bool   `json:"recovered"`
	}{TypeNotificationResume, recovered})
}

// ReadFrame encodes {"type":"chat.read","room","last_read_seq","unread_count"}.
func ReadFrame(room, lastReadSeq, unread int64) []byte {
	return mustMarshal(struct {
		Type        string `json:"type"`
		Room        int64  `json:"room"`
		LastReadSeq int64  `json:"last_read_seq"`
		UnreadCount int64  `json:"unread_count"`
	}{TypeRead, room, lastReadSeq, unread})
}

// UnreadFrame encodes {"type":"chat.unread","room","unread_count","last_message"}
// with last message lastMessage, a message object's JSON (nil: null).
func UnreadFrame(room, unread int64, lastMessage []byte) []byte {
	b := make([]byte, 0, 64+len(lastMessage))
	b = append(b, `{"type":"chat.unread","room":`...)
	b = strconv.AppendInt(b, room, 10)
	b = append(b, `,"unread_count":`...)
	b = strconv.AppendInt(b, unread, 10)
	b = append(b, `,"last_message":`...)
	if lastMessage == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, lastMessage...)
	}
	return append(b, '}')
}

// messageFramePrefix starts every chat.message frame: the chat service and
// MessageFrame both encode the type first.
var messageFramePrefix = []byte(`{"type":"chat.message",`)

// MessageObject turns a chat.message frame into the message object (the
// frame without its type) and returns the sender's email, for deriving
// chat.unread from room events. ok is false for a frame that is not a
// chat.message JSON object.
func MessageObject(frame []byte) (obj []byte, sender string, ok bool) {
	var head struct {
		Type   string `json:"type"`
		Sender string `json:"sender"`
	}
	if json.Unmarshal(frame, &head) != nil || head.Type != TypeMessage {
		return nil, "", false
	}
	if rest, found := bytes.CutPrefix(frame, messageFramePrefix); found {
		obj = make([]byte, 0, len(rest)+1)
		obj = append(append(obj, '{'), rest...)
		return obj, head.Sender, true
	}
	// Another field order: drop "type" by decoding and encoding again.
	var m map[string]json.RawMessage
	if json.Unmarshal(frame, &m) != nil {
		return nil, "", false
	}
	delete(m, "type")
	return mustMarshal(m), head.Sender, true
}
