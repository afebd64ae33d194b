package chat

import (
	"context"
	"encoding/json"
	"time"
)

// The frames below are the exact JSON that clients receive (docs/api.md); they
// travel as NATS message data so gateways forward them without decoding.
// services/chat/README.md documents the same shapes for the gateway.

type messageFrame struct {
	Type              string `json:"type"`
	Message           string `json:"message"`
	Sender            string `json:"sender"`
	Nickname          string `json:"nickname"`
	ProfilePictureURL string `json:"profile_picture_url"`
	ID                int64  `json:"id"`
	Seq               int64  `json:"seq"`
	Room              int64  `json:"room"`
	CreatedAt         string `json:"created_at"`
	ClientMsgID       string `json:"client_msg_id"`
	ParentChat        *int64 `json:"parent_chat"`
	// EditedAt is always null: a new message is unedited. It is there so
	// the live frame has the same keys as the message object the gateway
	// builds from history.
	EditedAt *string `json:"edited_at"`
}

type editFrame struct {
	Type     string `json:"type"`
	ID       int64  `json:"id"`
	Seq      int64  `json:"seq"`
	Room     int64  `json:"room"`
	Message  string `json:"message"`
	EditedAt string `json:"edited_at"`
}

type deleteFrame struct {
	Type string `json:"type"`
	ID   int64  `json:"id"`
	Seq  int64  `json:"seq"`
	Room int64  `json:"room"`
}

type userFrame struct {
	Type              string  `json:"type"`
	Username          string  `json:"username"`
	Email             string  `json:"email"`
	ProfilePictureURL *string `json:"profile_picture_url,omitempty"`
}

type roomDeletedFrame struct {
	Type string `json:"type"`
	Room int64  `json:"room"`
}

// FormatTime formats times the way the public API does: RFC 3339 in UTC
// with nanoseconds (trailing zeros trimmed) and a "Z" offset.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// MessageFrame is the chat.message frame of m (m.Sender filled in).
func MessageFrame(m Message) []byte {
	f := messageFrame{
		Type: "chat.message", Message: m.Text, Sender: m.Sender.Email, Nickname: m.Sender.Nickname,
		ProfilePictureURL: m.Sender.ProfilePictureURL, ID: m.ID, Seq: m.Seq, Room: m.RoomID,
		CreatedAt: FormatTime(m.CreatedAt), ClientMsgID: m.ClientMsgID,
	}
	if m.ParentID != 0 {
		p := m.ParentID
		f.ParentChat = &p
	}
	return mustJSON(f)
}

// EditFrame is the chat.message.edit frame of an edited message.
func EditFrame(m Message) []byte {
	return mustJSON(editFrame{Type: "chat.message.edit", ID: m.ID, Seq: m.Seq, Room: m.RoomID,
		Message: m.Text, EditedAt: FormatTime(m.EditedAt)})
}

// DeleteFrame is the chat.message.delete frame of a deleted message.
func DeleteFrame(m Message) []byte {
	return mustJSON(deleteFrame{Type: "chat.message.delete", ID: m.ID, Seq: m.Seq, Room: m.RoomID})
}

// JoinFrame is the chat.user.join frame of u.
func JoinFrame(u User) []byte {
	pic := u.ProfilePictureURL
	return mustJSON(userFrame{Type: "chat.user.join", Username: u.Nickname, Email: u.Email, ProfilePictureURL: &pic})
}

// LeaveFrame is the chat.user.leave frame of u.
func LeaveFrame(u User) []byte {
	return mustJSON(userFrame{Type: "chat.user.leave", Username: u.Nickname, Email: u.Email})
}

// TypingFrame is the chat.typing frame of u.
func TypingFrame(u User) []byte {
	return mustJSON(userFrame{Type: "chat.typing", Username: u.Nickname, Email: u.Email})
}

// RoomDeletedFrame is the chat.room.deleted frame of a room.
func RoomDeletedFrame(roomID int64) []byte {
	return mustJSON(roomDeletedFrame{Type: "chat.room.deleted", Room: roomID})
}

// mustJSON marshals frame structs, which hold only strings and numbers and
// therefore cannot fail to encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"type":"error"}`)
	}
	return b
}

type senderKey struct{}

// WithSender names the sender of the event published with ctx (an edit),
// for Publisher implementations (SenderFrom).
func WithSender(ctx context.Context, userID int64) context.Context {
	return context.WithValue(ctx, senderKey{}, userID)
}

// SenderFrom is the sender WithSender put in ctx (0: none).
func SenderFrom(ctx context.Context) int64 {
	id, _ := ctx.Value(senderKey{}).(int64)
	return id
}
