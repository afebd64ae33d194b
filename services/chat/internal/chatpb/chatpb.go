// Package chatpb converts the conversation types of the chat domain
// (notifications, memberships) to their protobuf messages, which both the
// gRPC API (package rpc) and the per-user NATS events (package nats) carry.
package chatpb

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

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
