package rpc

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/servicetrust"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/chat/internal/chatpb"
)

// Conversations (issue #12): my rooms, read markers, notifications.

// ListMyRooms implements chatv1.ChatServiceServer.
func (s *Server) ListMyRooms(ctx context.Context, req *chatv1.ListMyRoomsRequest) (*chatv1.ListMyRoomsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	rooms, next, err := s.svc.MyRooms(ctx, c, int(req.GetLimit()), req.GetCursor())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &chatv1.ListMyRoomsResponse{NextCursor: next, Rooms: make([]*chatv1.MyRoom, len(rooms))}
	for i, r := range rooms {
		resp.Rooms[i] = &chatv1.MyRoom{Room: roomPB(r.Room), UnreadCount: r.UnreadCount, LastReadSeq: r.LastReadSeq}
		if r.LastMessage != nil {
			resp.Rooms[i].LastMessage = chatpb.Message(*r.LastMessage)
		}
	}
	return resp, nil
}

// MarkRead implements chatv1.ChatServiceServer.
func (s *Server) MarkRead(ctx context.Context, req *chatv1.MarkReadRequest) (*chatv1.MarkReadResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.svc.MarkRead(ctx, c, req.GetRoomId(), req.GetSeq())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &chatv1.MarkReadResponse{Marker: chatpb.ReadMarker(m)}, nil
}

// ListNotifications implements chatv1.ChatServiceServer.
func (s *Server) ListNotifications(ctx context.Context, req *chatv1.ListNotificationsRequest) (*chatv1.ListNotificationsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	list, next, unread, err := s.svc.Notifications(ctx, c, int(req.GetLimit()), req.GetCursor(), req.GetUnreadOnly(), req.GetAfterId(),
		req.GetOldestFirst())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &chatv1.ListNotificationsResponse{NextCursor: next, UnreadCount: unread,
		Notifications: make([]*chatv1.Notification, len(list))}
	for i, n := range list {
		resp.Notifications[i] = chatpb.Notification(n)
	}
	return resp, nil
}

// MarkNotificationsRead implements chatv1.ChatServiceServer.
func (s *Server) MarkNotificationsRead(ctx context.Context, req *chatv1.MarkNotificationsReadRequest) (*chatv1.MarkNotificationsReadResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	unread, err := s.svc.MarkNotificationsRead(ctx, c, req.GetIds(), req.GetAll())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &chatv1.MarkNotificationsReadResponse{Unread: unread}, nil
}

// CreateFriendNotification implements chatv1.ChatServiceServer: gateway
// only, since it names the actor (the gateway calls it after the user
// service stored the friendship the actor asked for).
func (s *Server) CreateFriendNotification(ctx context.Context, req *chatv1.CreateFriendNotificationRequest) (*chatv1.CreateFriendNotificationResponse, error) {
	if err := requireService(ctx, gatewayService); err != nil {
		return nil, err
	}
	n, ok, err := s.svc.CreateFriendNotification(ctx, req.GetActorId(), req.GetUserId())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &chatv1.CreateFriendNotificationResponse{}
	if ok {
		resp.Notification = chatpb.Notification(n)
	}
	return resp, nil
}

// UnreadCount implements chatv1.ChatServiceServer: a user asks for
// themself, the gateway (service identity) for any user.
func (s *Server) UnreadCount(ctx context.Context, req *chatv1.UnreadCountRequest) (*chatv1.UnreadCountResponse, error) {
	userID := req.GetUserId()
	if !servicetrust.Is(ctx, gatewayService) || userID == 0 {
		c, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		if userID != 0 && userID != c.ID {
			return nil, status.Error(codes.PermissionDenied, msgDenied)
		}
		userID = c.ID
	}
	m, err := s.svc.UnreadCount(ctx, userID, req.GetRoomId())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &chatv1.UnreadCountResponse{Membership: chatpb.Membership(m)}, nil
}
