// Package chatjson builds the public JSON shapes of chat (docs/api.md): the room
// object, the message object and the server → client socket frames, live
// room events included (the chat service publishes them typed). REST
// handlers and the socket code both use it, so a message looks the same
// whether it arrives in a REST page, in chat.history or live.
package chatjson

import (
	"encoding/json"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// Frame types of the socket protocol.
const (
	TypeMessage  = "chat.message"
	TypeEdit     = "chat.message.edit"
	TypeDelete   = "chat.message.delete"
	TypeTyping   = "chat.typing"
	TypeHistory  = "chat.history"
	TypeResume   = "chat.resume"
	TypePresence = "chat.presence"
	TypeReaction = "chat.message.reaction"
	TypeReplies  = "chat.message.replies"
)

// Error types of error frames.
const (
	ErrInvalidRequest = "invalid_request"
	ErrMessageTooLong = "message_too_long"
	ErrRateLimited    = "rate_limited"
	ErrForbidden      = "forbidden"
	ErrNotFound       = "not_found"
	ErrInternal       = "internal"
	// ErrMuted answers a muted member's send (conversations: moderation).
	ErrMuted = "muted"
)

// ChatURL is the socket path of a room.
func ChatURL(roomID int64) string {
	return "/ws/chat/" + strconv.FormatInt(roomID, 10) + "/chat/"
}

// Room is the room object.
type Room struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	ChatURL     string    `json:"chat_url"`
	Owner       int64     `json:"owner"`
	Post        *int64    `json:"post"`
	OnlineCount int32     `json:"online_count"`
	CreatedAt   time.Time `json:"created_at"`
	// Kind is "post" or "dm"; a DM room lists its two users in DMUsers.
	Kind    string  `json:"kind"`
	DMUsers []int64 `json:"dm_users,omitempty"`
}

// NewRoom converts a proto room; post is null for rooms without a post.
func NewRoom(r *chatv1.Room) Room {
	return Room{
		ID:          r.GetId(),
		Name:        r.GetName(),
		ChatURL:     ChatURL(r.GetId()),
		Owner:       r.GetOwnerId(),
		Post:        optionalID(r.GetPostId()),
		OnlineCount: r.GetOnlineCount(),
		CreatedAt:   timeOf(r.GetCreatedAt()),
		Kind:        RoomKind(r),
		DMUsers:     r.GetDmUserIds(),
	}
}

// Message is the message object of REST and chat.history; as a live frame
// (chat.message) it also carries Type.
type Message struct {
	Type              string     `json:"type,omitempty"`
	ID                int64      `json:"id"`
	Seq               int64      `json:"seq"`
	Room              int64      `json:"room"`
	Message           string     `json:"message"`
	Sender            string     `json:"sender"`
	Nickname          string     `json:"nickname"`
	ProfilePictureURL string     `json:"profile_picture_url"`
	ParentChat        *int64     `json:"parent_chat"`
	ClientMsgID       string     `json:"client_msg_id"`
	CreatedAt         time.Time  `json:"created_at"`
	EditedAt          *time.Time `json:"edited_at"`
	// Hidden is true, and Message empty, when the viewer blocks the
	// sender (conversations: blocks).
	Hidden     bool       `json:"hidden,omitempty"`
	ReplyCount int64      `json:"reply_count"`
	Reactions  []Reaction `json:"reactions"`
	// Parent is null unless the message is a reply.
	Parent *Parent `json:"parent"`
}

// Reaction is one emoji's count on a message. Me (whether the viewer
// reacted with it) is in the message objects of REST answers and of
// chat.history, which are read for one viewer; chat.message frames go to
// the whole room, so they leave it out.
type Reaction struct {
	Emoji string `json:"emoji"`
	Count int64  `json:"count"`
	Me    *bool  `json:"me,omitempty"`
}

// Parent summarises the message a reply answers. A parent deleted after
// the reply was sent keeps its id and seq, with deleted true and empty
// sender, nickname and excerpt.
type Parent struct {
	ID       int64  `json:"id"`
	Seq      int64  `json:"seq"`
	Sender   string `json:"sender"`
	Nickname string `json:"nickname"`
	Excerpt  string `json:"excerpt"`
	Deleted  bool   `json:"deleted"`
}

// NewReactions converts proto reactions, with "me".
func NewReactions(rs []*chatv1.Reaction) []Reaction {
	out := make([]Reaction, 0, len(rs))
	for _, r := range rs {
		me := r.GetMe()
		out = append(out, Reaction{Emoji: r.GetEmoji(), Count: r.GetCount(), Me: &me})
	}
	return out
}

// NewMessage converts a proto message to the message object (no type).
func NewMessage(m *chatv1.Message) Message {
	out := Message{
		ID:                m.GetId(),
		Seq:               m.GetSeq(),
		Room:              m.GetRoomId(),
		Message:           m.GetText(),
		Sender:            m.GetSenderEmail(),
		Nickname:          m.GetNickname(),
		ProfilePictureURL: m.GetProfilePictureUrl(),
		ParentChat:        optionalID(m.GetParentId()),
		ClientMsgID:       m.GetClientMsgId(),
		CreatedAt:         timeOf(m.GetCreatedAt()),
		Hidden:            m.GetHidden(),
	}
	if out.Hidden {
		out.Message = ""
	}
	if m.GetEditedAt() != nil {
		t := timeOf(m.GetEditedAt())
		out.EditedAt = &t
	}
	out.ReplyCount = m.GetReplyCount()
	out.Reactions = NewReactions(m.GetReactions())
	if p := m.GetParent(); p != nil {
		out.Parent = &Parent{ID: p.GetId(), Seq: p.GetSeq(), Sender: p.GetSenderEmail(), Nickname: p.GetNickname(),
			Excerpt: p.GetExcerpt(), Deleted: p.GetDeleted()}
	}
	return out
}

// NewMessages converts a page of messages, never returning nil (so it
// encodes as [] rather than null).
func NewMessages(ms []*chatv1.Message) []Message {
	out := make([]Message, 0, len(ms))
	for _, m := range ms {
		out = append(out, NewMessage(m))
	}
	return out
}

// MessageFrame encodes the live chat.message frame of m, once for every
// socket of a room: a message the chat service published, a sender's
// acknowledgement, or a message recovered from history.
func MessageFrame(m *chatv1.Message) []byte {
	return mustMarshal(liveMessage(m, TypeMessage))
}

// HiddenMessageFrame is MessageFrame for a viewer who blocks the sender:
// no text and "hidden":true, every other field as it is, so the client
// keeps its order and may show "a message from a blocked user".
func HiddenMessageFrame(m *chatv1.Message) []byte {
	msg := liveMessage(m, TypeMessage)
	msg.Message, msg.Hidden = "", true
	return mustMarshal(msg)
}

// MessageJSON encodes the message object of a live message (no type), as
// chat.unread's last_message carries it.
func MessageJSON(m *chatv1.Message) []byte {
	return mustMarshal(liveMessage(m, ""))
}

// liveMessage is the message object of m as a whole room sees it: its
// reactions carry no "me".
func liveMessage(m *chatv1.Message, frameType string) Message {
	msg := NewMessage(m)
	msg.Type = frameType
	for i := range msg.Reactions {
		msg.Reactions[i].Me = nil
	}
	return msg
}

// HistoryFrame encodes {"type":"chat.history","messages":[...]}.
func HistoryFrame(ms []*chatv1.Message) []byte {
	return mustMarshal(struct {
		Type     string    `json:"type"`
		Messages []Message `json:"messages"`
	}{TypeHistory, NewMessages(ms)})
}

// ResumeFrame encodes {"type":"chat.resume","recovered":recovered}.
func ResumeFrame(recovered bool) []byte {
	return mustMarshal(struct {
		Type      string `json:"type"`
		Recovered bool   `json:"recovered"`
	}{TypeResume, recovered})
}

// PresenceUser is one entry of chat.presence.
type PresenceUser struct {
	Username          string `json:"username"`
	Email             string `json:"email"`
	ProfilePictureURL string `json:"profile_picture_url"`
}

// PresenceFrame encodes {"type":"chat.presence","users":[...]}.
func PresenceFrame(online []*chatv1.OnlineUser) []byte {
	users := make([]PresenceUser, 0, len(online))
	for _, u := range online {
		users = append(users, PresenceUser{
			Username:          u.GetNickname(),
			Email:             u.GetEmail(),
			ProfilePictureURL: u.GetProfilePictureUrl(),
		})
	}
	return mustMarshal(struct {
		Type  string         `json:"type"`
		Users []PresenceUser `json:"users"`
	}{TypePresence, users})
}

// ErrorFrame encodes {"error_type":errType,"message":msg}.
func ErrorFrame(errType, msg string) []byte {
	return mustMarshal(struct {
		ErrorType string `json:"error_type"`
		Message   string `json:"message"`
	}{errType, msg})
}

func optionalID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime().UTC()
}

// mustMarshal encodes values whose types cannot fail to encode (plain
// structs of strings, numbers and times), so an error is impossible.
func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Unreachable for the fixed types above; keep the socket usable.
		return []byte(`{"error_type":"internal","message":"Internal error."}`)
	}
	return b
}
