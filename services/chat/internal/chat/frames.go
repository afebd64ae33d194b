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
	// A new message has no replies and no reactions yet; the keys are
	// there for the same reason as edited_at.
	ReplyCount int64           `json:"reply_count"`
	Reactions  []reactionFrame `json:"reactions"`
	Parent     *parentFrame    `json:"parent"`
}

// parentFrame is the "parent" of a reply (null for other messages).
type parentFrame struct {
	ID       int64  `json:"id"`
	Seq      int64  `json:"seq"`
	Sender   string `json:"sender"`
	Nickname string `json:"nickname"`
	Excerpt  string `json:"excerpt"`
	Deleted  bool   `json:"deleted"`
}

// reactionFrame is one emoji count as every viewer sees it: frames go to
// the whole room, so they carry no per-viewer "me".
type reactionFrame struct {
	Emoji string `json:"emoji"`
	Count int64  `json:"count"`
}

type reactionsFrame struct {
	Type      string          `json:"type"`
	ID        int64           `json:"id"`
	Seq       int64           `json:"seq"`
	Room      int64           `json:"room"`
	Reactions []reactionFrame `json:"reactions"`
	Rev       int64           `json:"rev"`
}

type repliesFrame struct {
	Type       string `json:"type"`
	ID         int64  `json:"id"`
	Seq        int64  `json:"seq"`
	Room       int64  `json:"room"`
	ReplyCount int64  `json:"reply_count"`
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
		ReplyCount: m.ReplyCount, Reactions: reactionFrames(m.Reactions),
	}
	if m.ParentID != 0 {
		p := m.ParentID
		f.ParentChat = &p
	}
	if p := m.Parent; p != nil {
		f.Parent = &parentFrame{ID: p.ID, Seq: p.Seq, Sender: p.Sender.Email, Nickname: p.Sender.Nickname,
			Excerpt: p.Excerpt, Deleted: p.Deleted}
	}
	return mustJSON(f)
}

func reactionFrames(rs []Reaction) []reactionFrame {
	out := make([]reactionFrame, len(rs))
	for i, r := range rs {
		out[i] = reactionFrame{Emoji: r.Emoji, Count: r.Count}
	}
	return out
}

// ReactionFrame is the chat.message.reaction frame of a toggle: the
// message's counts after it, and its reaction revision, so a client can
// drop a frame that arrives after a newer one.
func ReactionFrame(c ReactionChange) []byte {
	return mustJSON(reactionsFrame{Type: "chat.message.reaction", ID: c.MessageID, Seq: c.Seq, Room: c.RoomID,
		Reactions: reactionFrames(c.Reactions), Rev: c.Rev})
}

// RepliesFrame is the chat.message.replies frame: the reply count of
// message p after a reply to it was stored or deleted.
func RepliesFrame(roomID int64, p Parent) []byte {
	return mustJSON(repliesFrame{Type: "chat.message.replies", ID: p.ID, Seq: p.Seq, Room: roomID, ReplyCount: p.ReplyCount})
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
