// Package chatpb converts chat domain types (messages, reactions,
// notifications, memberships) to their protobuf messages, which both the
// gRPC API (package rpc) and the NATS events (package nats) carry, so the
// two cannot describe one message differently.
package chatpb

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// Message converts m: its sender's details and parent summary when the
// caller filled them in, its reactions with Me as read for the viewer.
func Message(m chat.Message) *chatv1.Message {
	pb := &chatv1.Message{
		Id: m.ID, Seq: m.Seq, RoomId: m.RoomID, Text: m.Text, SenderId: m.SenderID,
		SenderEmail: m.Sender.Email, Nickname: m.Sender.Nickname, ProfilePictureUrl: m.Sender.ProfilePictureURL,
		ParentId: m.ParentID, ClientMsgId: m.ClientMsgID, CreatedAt: timestamppb.New(m.CreatedAt),
		Hidden: m.Hidden, ReplyCount: m.ReplyCount, Reactions: Reactions(m.Reactions),
	}
	if !m.EditedAt.IsZero() {
		pb.EditedAt = timestamppb.New(m.EditedAt)
	}
	if p := m.Parent; p != nil {
		pb.Parent = &chatv1.MessageParent{Id: p.ID, Seq: p.Seq, SenderId: p.SenderID, SenderEmail: p.Sender.Email,
			Nickname: p.Sender.Nickname, Excerpt: p.Excerpt, Deleted: p.Deleted}
	}
	return pb
}

// Reactions converts rs, in their order.
func Reactions(rs []chat.Reaction) []*chatv1.Reaction {
	out := make([]*chatv1.Reaction, len(rs))
	for i, r := range rs {
		out[i] = &chatv1.Reaction{Emoji: r.Emoji, Count: r.Count, Me: r.Me}
	}
	return out
}

// Notification converts n.
func Notification(n chat.Notification) *chatv1.Notification {
	return &chatv1.Notification{
		Id: n.ID, UserId: n.UserID, Kind: n.Kind, RoomId: n.RoomID, MessageId: n.MessageID, Seq: n.Seq,
		Actor: &chatv1.NotificationActor{
			Id: n.Actor.ID, Nickname: n.Actor.Nickname, ProfilePictureUrl: n.Actor.ProfilePictureURL,
		},
		Excerpt: n.Excerpt, CreatedAt: timestamppb.New(n.CreatedAt), Read: n.Read,
	}
}

// ReadMarker converts m's marker.
func ReadMarker(m chat.Membership) *chatv1.ReadMarker {
	return &chatv1.ReadMarker{RoomId: m.RoomID, LastReadSeq: m.LastReadSeq, UnreadCount: m.UnreadCount}
}

// Membership converts m.
func Membership(m chat.Membership) *chatv1.Membership {
	return &chatv1.Membership{RoomId: m.RoomID, LastReadSeq: m.LastReadSeq, UnreadCount: m.UnreadCount, LastSeq: m.LastSeq}
}

// UserEvent converts ev (exactly one of its fields is set).
func UserEvent(ev chat.UserEvent) *chatv1.UserEvent {
	switch {
	case ev.Notification != nil:
		return &chatv1.UserEvent{Event: &chatv1.UserEvent_Notification{Notification: Notification(*ev.Notification)}}
	case ev.Read != nil:
		return &chatv1.UserEvent{Event: &chatv1.UserEvent_Read{Read: ReadMarker(*ev.Read)}}
	case ev.Joined != nil:
		return &chatv1.UserEvent{Event: &chatv1.UserEvent_Joined{Joined: Membership(*ev.Joined)}}
	}
	return &chatv1.UserEvent{}
}
