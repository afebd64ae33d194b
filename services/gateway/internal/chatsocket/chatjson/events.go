package chatjson

import (
	"time"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// Frame types of room events (docs/api.md) besides chat.message; a
// gateway encodes each from the chat service's typed event (RoomEvent)
// once for all of its sockets in the room.
const (
	TypeUserJoin    = "chat.user.join"
	TypeUserLeave   = "chat.user.leave"
	TypeRoomDeleted = "chat.room.deleted"
)

// editFrame is chat.message.edit; Hidden is set, and Message empty, for a
// viewer who blocks the sender.
type editFrame struct {
	Type     string    `json:"type"`
	ID       int64     `json:"id"`
	Seq      int64     `json:"seq"`
	Room     int64     `json:"room"`
	Message  string    `json:"message"`
	EditedAt time.Time `json:"edited_at"`
	Hidden   bool      `json:"hidden,omitempty"`
}

// EditFrame encodes the chat.message.edit frame of the edited message m;
// hidden leaves its text out, for a viewer who blocks its sender.
func EditFrame(m *chatv1.Message, hidden bool) []byte {
	f := editFrame{Type: TypeEdit, ID: m.GetId(), Seq: m.GetSeq(), Room: m.GetRoomId(),
		Message: m.GetText(), EditedAt: timeOf(m.GetEditedAt())}
	if hidden {
		f.Message, f.Hidden = "", true
	}
	return mustMarshal(f)
}

// messageRef is the head every frame about one message starts with.
type messageRef struct {
	Type string `json:"type"`
	ID   int64  `json:"id"`
	Seq  int64  `json:"seq"`
	Room int64  `json:"room"`
}

// DeleteFrame encodes the chat.message.delete frame of the deleted message m.
func DeleteFrame(m *chatv1.Message) []byte {
	return mustMarshal(messageRef{Type: TypeDelete, ID: m.GetId(), Seq: m.GetSeq(), Room: m.GetRoomId()})
}

// ReactionFrame encodes the chat.message.reaction frame of a toggle in
// room: the message's counts after it (no "me": the frame goes to the
// whole room) and its reaction revision, so a client can drop a frame
// that arrives after a newer one.
func ReactionFrame(room int64, r *chatv1.MessageReactions) []byte {
	counts := make([]Reaction, 0, len(r.GetReactions()))
	for _, x := range r.GetReactions() {
		counts = append(counts, Reaction{Emoji: x.GetEmoji(), Count: x.GetCount()})
	}
	return mustMarshal(struct {
		messageRef
		Reactions []Reaction `json:"reactions"`
		Rev       int64      `json:"rev"`
	}{messageRef{TypeReaction, r.GetId(), r.GetSeq(), room}, counts, r.GetRev()})
}

// RepliesFrame encodes the chat.message.replies frame: a message's reply
// count in room after a reply to it was stored or deleted.
func RepliesFrame(room int64, r *chatv1.MessageReplies) []byte {
	return mustMarshal(struct {
		messageRef
		ReplyCount int64 `json:"reply_count"`
	}{messageRef{TypeReplies, r.GetId(), r.GetSeq(), room}, r.GetReplyCount()})
}

// userFrame is chat.user.join, chat.user.leave and chat.typing; only a
// join carries the picture.
type userFrame struct {
	Type              string  `json:"type"`
	Username          string  `json:"username"`
	Email             string  `json:"email"`
	ProfilePictureURL *string `json:"profile_picture_url,omitempty"`
}

// UserFrame encodes the frame of type frameType (TypeUserJoin,
// TypeUserLeave or TypeTyping) about u.
func UserFrame(frameType string, u *chatv1.RoomUser) []byte {
	f := userFrame{Type: frameType, Username: u.GetNickname(), Email: u.GetEmail()}
	if frameType == TypeUserJoin {
		pic := u.GetProfilePictureUrl()
		f.ProfilePictureURL = &pic
	}
	return mustMarshal(f)
}

// RoomDeletedFrame encodes the chat.room.deleted frame of room.
func RoomDeletedFrame(room int64) []byte {
	return mustMarshal(struct {
		Type string `json:"type"`
		Room int64  `json:"room"`
	}{TypeRoomDeleted, room})
}
