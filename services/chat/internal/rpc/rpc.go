// Package rpc serves the chat domain over gRPC (chatv1.ChatService): it
// converts between proto and domain types; domain errors become gRPC
// statuses through the services' one table (platform/apperr).
package rpc

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/grpcauth"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/tracing"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
	"github.com/cobraspace/cobraspace/services/chat/internal/chatpb"
)

// No method is anonymous. GetRoom and ListMessages need no user, because a
// post's public detail page shows its room and last messages to anonymous
// viewers, but the gateway composing that page calls with its service
// identity: messages carry their senders' emails, so a caller with neither
// a token nor a service identity gets nothing.

// Calling services (platform/servicetrust) with rights of their own:
// gateways keep the presence of their sockets (Leave, Heartbeat,
// ReconcilePresence: a socket outlives its token, and a heartbeat covers
// many users' sockets); the
// post service binds a room to a post as part of writing the post, so no
// one can take a post's room before it exists.
const (
	gatewayService = "gateway"
	postService    = "post"
)

// msgDenied is the PERMISSION_DENIED text of a user calling what only a
// service may.
const msgDenied = "You do not have permission to perform this action."

// requireService refuses calls not made by the service called name with
// PERMISSION_DENIED (calls without any credentials never get here: the
// methods are not anonymous, so the interceptor answered UNAUTHENTICATED).
func requireService(ctx context.Context, name string) error {
	if servicetrust.Is(ctx, name) {
		return nil
	}
	return status.Error(codes.PermissionDenied, msgDenied)
}

// Server implements chatv1.ChatServiceServer.
type Server struct {
	chatv1.UnimplementedChatServiceServer
	svc  *chat.Service
	errs apperr.Translator
}

// New returns a Server for svc.
func New(svc *chat.Service, logger *slog.Logger) *Server {
	// The ErrorInfo domain of this service's reasons (e.g. "message_too_long").
	return &Server{svc: svc, errs: apperr.Translator{Domain: "chat.cobraspace", Logger: logger}}
}

// caller returns the authenticated user; UNAUTHENTICATED for a calling
// service without a user token (calls with neither never get here).
func caller(ctx context.Context) (chat.Caller, error) {
	c, ok := grpcauth.Claims(ctx)
	if !ok || c.UserID == 0 {
		return chat.Caller{}, status.Error(codes.Unauthenticated, chat.MsgUnauthenticated)
	}
	return chat.Caller{ID: c.UserID, Email: c.Email}, nil
}

// CreateRoom implements chatv1.ChatServiceServer.
func (s *Server) CreateRoom(ctx context.Context, req *chatv1.CreateRoomRequest) (*chatv1.Room, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetPostId() != 0 {
		if err := requireService(ctx, postService); err != nil {
			return nil, err
		}
	}
	r, err := s.svc.CreateRoom(ctx, c, req.GetName(), req.GetPostId())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return roomPB(r), nil
}

// GetRoom implements chatv1.ChatServiceServer.
func (s *Server) GetRoom(ctx context.Context, req *chatv1.GetRoomRequest) (*chatv1.Room, error) {
	r, err := s.svc.Room(ctx, reader(ctx), req.GetId())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return roomPB(r), nil
}

// ListRooms implements chatv1.ChatServiceServer.
func (s *Server) ListRooms(ctx context.Context, req *chatv1.ListRoomsRequest) (*chatv1.ListRoomsResponse, error) {
	rooms, next, err := s.svc.Rooms(ctx, int(req.GetLimit()), req.GetCursor())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &chatv1.ListRoomsResponse{NextCursor: next, Rooms: make([]*chatv1.Room, len(rooms))}
	for i, r := range rooms {
		resp.Rooms[i] = roomPB(r)
	}
	return resp, nil
}

// UpdateRoom implements chatv1.ChatServiceServer.
func (s *Server) UpdateRoom(ctx context.Context, req *chatv1.UpdateRoomRequest) (*chatv1.Room, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.svc.RenameRoom(ctx, c, req.GetId(), req.GetName())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return roomPB(r), nil
}

// DeleteRoom implements chatv1.ChatServiceServer.
func (s *Server) DeleteRoom(ctx context.Context, req *chatv1.DeleteRoomRequest) (*chatv1.DeleteRoomResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.svc.DeleteRoom(ctx, c, req.GetId()); err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &chatv1.DeleteRoomResponse{}, nil
}

// SendMessage implements chatv1.ChatServiceServer.
func (s *Server) SendMessage(ctx context.Context, req *chatv1.SendMessageRequest) (*chatv1.Message, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.svc.Send(ctx, c, chat.NewMessage{
		RoomID: req.GetRoomId(), Text: req.GetText(), ParentID: req.GetParentId(), ClientMsgID: req.GetClientMsgId(),
	})
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return chatpb.Message(m), nil
}

// maxBatch bounds SendMessages entries.
const maxBatch = 512

// SendMessages implements chatv1.ChatServiceServer: gateway only, each entry
// for the sender the gateway authenticated (see the proto's comment for
// why that is as safe as a token per message).
func (s *Server) SendMessages(ctx context.Context, req *chatv1.SendMessagesRequest) (*chatv1.SendMessagesResponse, error) {
	if err := requireService(ctx, gatewayService); err != nil {
		return nil, err
	}
	entries := req.GetMessages()
	if len(entries) == 0 || len(entries) > maxBatch {
		return nil, status.Error(codes.InvalidArgument, "A batch holds 1 to 512 messages.")
	}
	out := make([]chat.Outgoing, len(entries))
	for i, e := range entries {
		if e.GetSenderId() <= 0 {
			return nil, status.Errorf(codes.InvalidArgument, "Entry %d has no sender.", i)
		}
		m := e.GetMessage()
		out[i] = chat.Outgoing{
			Sender: chat.Caller{ID: e.GetSenderId(), Email: e.GetSenderEmail()},
			Msg: chat.NewMessage{RoomID: m.GetRoomId(), Text: m.GetText(), ParentID: m.GetParentId(),
				ClientMsgID: m.GetClientMsgId()},
			Span: trace.SpanContextFromContext(tracing.WithTraceparent(context.Background(), e.GetTraceparent())),
		}
	}
	msgs, errs := s.svc.SendMany(ctx, out)
	resp := &chatv1.SendMessagesResponse{Outcomes: make([]*chatv1.SendOutcome, len(out))}
	for i := range out {
		if errs[i] != nil {
			resp.Outcomes[i] = &chatv1.SendOutcome{Outcome: &chatv1.SendOutcome_Error{Error: s.sendError(ctx, errs[i])}}
			continue
		}
		resp.Outcomes[i] = &chatv1.SendOutcome{Outcome: &chatv1.SendOutcome_Message{Message: chatpb.Message(msgs[i])}}
	}
	return resp, nil
}

// sendError is the status SendMessage would have answered for err, as one
// entry of a batch.
func (s *Server) sendError(ctx context.Context, err error) *chatv1.SendError {
	st := status.Convert(s.errs.Status(ctx, err))
	e := &chatv1.SendError{Code: int32(st.Code()), Message: st.Message()} //nolint:gosec // G115: gRPC codes are 0..16
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			e.Reason = d.GetReason()
		case *errdetails.BadRequest:
			if v := d.GetFieldViolations(); len(v) > 0 {
				e.Field = v[0].GetField()
			}
		}
	}
	return e
}

// EditMessage implements chatv1.ChatServiceServer.
func (s *Server) EditMessage(ctx context.Context, req *chatv1.EditMessageRequest) (*chatv1.Message, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.svc.Edit(ctx, c, req.GetRoomId(), req.GetId(), req.GetText())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return chatpb.Message(m), nil
}

// DeleteMessage implements chatv1.ChatServiceServer.
func (s *Server) DeleteMessage(ctx context.Context, req *chatv1.DeleteMessageRequest) (*chatv1.DeleteMessageResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.svc.Delete(ctx, c, req.GetRoomId(), req.GetId())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &chatv1.DeleteMessageResponse{Id: m.ID, Seq: m.Seq, RoomId: m.RoomID}, nil
}

// ListMessages implements chatv1.ChatServiceServer.
func (s *Server) ListMessages(ctx context.Context, req *chatv1.ListMessagesRequest) (*chatv1.ListMessagesResponse, error) {
	msgs, err := s.svc.History(ctx, reader(ctx), req.GetRoomId(), chat.Page{
		AfterSeq: req.GetAfterSeq(), BeforeSeq: req.GetBeforeSeq(),
		OldestFirst: req.GetOldestFirst(), Limit: int(req.GetLimit()),
		Viewer: viewer(ctx),
	})
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &chatv1.ListMessagesResponse{Messages: make([]*chatv1.Message, len(msgs))}
	for i, m := range msgs {
		resp.Messages[i] = chatpb.Message(m)
	}
	return resp, nil
}

// Join implements chatv1.ChatServiceServer.
func (s *Server) Join(ctx context.Context, req *chatv1.JoinRequest) (*chatv1.JoinResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	room, online, me, err := s.svc.Join(ctx, c, chat.ConnRef{RoomID: req.GetRoomId(), ConnectionID: req.GetConnectionId(), Lease: leaseOf(req)})
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &chatv1.JoinResponse{Room: roomPB(room), Me: userPB(me), Online: make([]*chatv1.OnlineUser, len(online))}
	for i, u := range online {
		resp.Online[i] = userPB(u)
	}
	return resp, nil
}

// Leave implements chatv1.ChatServiceServer.
func (s *Server) Leave(ctx context.Context, req *chatv1.LeaveRequest) (*chatv1.LeaveResponse, error) {
	if err := requireService(ctx, gatewayService); err != nil {
		return nil, err
	}
	if err := s.svc.Leave(ctx, chat.ConnRef{RoomID: req.GetRoomId(), ConnectionID: req.GetConnectionId()}); err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &chatv1.LeaveResponse{}, nil
}

// leaseOf is the lease a Join names: its lease, else its gateway's id,
// else "default", a lease no gateway renews, so that such a socket is
// dropped within the presence TTL as one without heartbeats should be.
func leaseOf(req *chatv1.JoinRequest) string {
	switch {
	case req.GetLease() != "":
		return req.GetLease()
	case req.GetGatewayId() != "":
		return req.GetGatewayId()
	}
	return "default"
}

// Heartbeat implements chatv1.ChatServiceServer.
func (s *Server) Heartbeat(ctx context.Context, req *chatv1.HeartbeatRequest) (*chatv1.HeartbeatResponse, error) {
	if err := requireService(ctx, gatewayService); err != nil {
		return nil, err
	}
	sockets := make(map[int64]int, len(req.GetRooms()))
	for _, r := range req.GetRooms() {
		sockets[r.GetRoomId()] += int(r.GetSockets())
	}
	recount, asOf, err := s.svc.Heartbeat(ctx, req.GetLease(), sockets)
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &chatv1.HeartbeatResponse{Recount: recount, AsOfMs: asOf}, nil
}

// ReconcilePresence implements chatv1.ChatServiceServer.
func (s *Server) ReconcilePresence(ctx context.Context, req *chatv1.ReconcilePresenceRequest) (*chatv1.ReconcilePresenceResponse, error) {
	if err := requireService(ctx, gatewayService); err != nil {
		return nil, err
	}
	refs := make([]chat.ConnRef, len(req.GetConnections()))
	for i, c := range req.GetConnections() {
		refs[i] = chat.ConnRef{RoomID: c.GetRoomId(), ConnectionID: c.GetConnectionId()}
	}
	unknown, err := s.svc.ReconcilePresence(ctx, req.GetLease(), req.GetAsOfMs(), req.GetRoomIds(), refs)
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &chatv1.ReconcilePresenceResponse{Unknown: make([]*chatv1.ConnectionRef, len(unknown))}
	for i, r := range unknown {
		resp.Unknown[i] = &chatv1.ConnectionRef{RoomId: r.RoomID, ConnectionId: r.ConnectionID}
	}
	return resp, nil
}

// Typing implements chatv1.ChatServiceServer.
func (s *Server) Typing(ctx context.Context, req *chatv1.TypingRequest) (*chatv1.TypingResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.svc.Typing(ctx, c, req.GetRoomId()); err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &chatv1.TypingResponse{}, nil
}

func roomPB(r chat.Room) *chatv1.Room {
	pb := &chatv1.Room{
		Id: r.ID, Name: r.Name, OwnerId: r.OwnerID, PostId: r.PostID,
		CreatedAt: timestamppb.New(r.CreatedAt), LastSeq: r.LastSeq,
		OnlineCount: int32(r.OnlineCount), //nolint:gosec // G115: sockets in one room, far below 2^31
		Kind:        r.Kind,
	}
	if r.Kind == chat.RoomKindDM {
		pb.DmUserIds = r.DMUsers[:]
	}
	return pb
}

// reader is who reads a room or its messages: the caller's user, or
// chat.RoomStream for the gateway service calling without one (its room
// streams), or 0 for anyone else without a user.
func reader(ctx context.Context) int64 {
	if id := grpcauth.UserID(ctx); id != 0 || !servicetrust.Is(ctx, gatewayService) {
		return id
	}
	return chat.RoomStream
}

// viewer is the user a read is for (whose own reactions it marks), 0 for
// a calling service without a user token.
func viewer(ctx context.Context) int64 {
	if c, ok := grpcauth.Claims(ctx); ok {
		return c.UserID
	}
	return 0
}

// ListReplies implements chatv1.ChatServiceServer.
func (s *Server) ListReplies(ctx context.Context, req *chatv1.ListRepliesRequest) (*chatv1.ListRepliesResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	msgs, next, err := s.svc.Replies(ctx, c.ID, req.GetMessageId(), int(req.GetLimit()), req.GetCursor())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &chatv1.ListRepliesResponse{Messages: make([]*chatv1.Message, len(msgs)), NextCursor: next}
	for i, m := range msgs {
		resp.Messages[i] = chatpb.Message(m)
	}
	return resp, nil
}

// ToggleReaction implements chatv1.ChatServiceServer.
func (s *Server) ToggleReaction(ctx context.Context, req *chatv1.ToggleReactionRequest) (*chatv1.ToggleReactionResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := s.svc.ToggleReaction(ctx, c, req.GetMessageId(), req.GetEmoji())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &chatv1.ToggleReactionResponse{MessageId: ch.MessageID, Seq: ch.Seq, RoomId: ch.RoomID,
		Reactions: chatpb.Reactions(ch.Reactions), Added: ch.Added, Rev: ch.Rev}, nil
}

func userPB(u chat.User) *chatv1.OnlineUser {
	return &chatv1.OnlineUser{UserId: u.ID, Email: u.Email, Nickname: u.Nickname, ProfilePictureUrl: u.ProfilePictureURL}
}
