package rpc

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
	"github.com/cobraspace/cobraspace/services/chat/internal/chatpb"
)

// MuteMember implements chatv1.ChatServiceServer.
func (s *Server) MuteMember(ctx context.Context, req *chatv1.MuteMemberRequest) (*chatv1.MuteMemberResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	until, err := s.svc.Mute(ctx, c, req.GetRoomId(), req.GetUserId(), int(req.GetMinutes()))
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &chatv1.MuteMemberResponse{}
	if !until.IsZero() {
		resp.Until = timestamppb.New(until)
	}
	return resp, nil
}

// ReportMessage implements chatv1.ChatServiceServer.
func (s *Server) ReportMessage(ctx context.Context, req *chatv1.ReportMessageRequest) (*chatv1.ReportMessageResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	r, created, err := s.svc.ReportMessage(ctx, c, req.GetMessageId(), req.GetReason())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &chatv1.ReportMessageResponse{Report: reportPB(r), Created: created}, nil
}

// ListReports implements chatv1.ChatServiceServer.
func (s *Server) ListReports(ctx context.Context, req *chatv1.ListReportsRequest) (*chatv1.ListReportsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	reports, next, err := s.svc.Reports(ctx, c, int(req.GetLimit()), req.GetCursor())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &chatv1.ListReportsResponse{NextCursor: next, Reports: make([]*chatv1.Report, len(reports))}
	for i, r := range reports {
		resp.Reports[i] = reportPB(r)
	}
	return resp, nil
}

// SearchMessages implements chatv1.ChatServiceServer.
func (s *Server) SearchMessages(ctx context.Context, req *chatv1.SearchMessagesRequest) (*chatv1.SearchMessagesResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	msgs, err := s.svc.Search(ctx, c, req.GetRoomId(), req.GetQuery(), req.GetBeforeSeq(), int(req.GetLimit()))
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &chatv1.SearchMessagesResponse{Messages: make([]*chatv1.Message, len(msgs))}
	for i, m := range msgs {
		resp.Messages[i] = chatpb.Message(m)
	}
	return resp, nil
}

// OpenDirectRoom implements chatv1.ChatServiceServer.
func (s *Server) OpenDirectRoom(ctx context.Context, req *chatv1.OpenDirectRoomRequest) (*chatv1.OpenDirectRoomResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	room, created, err := s.svc.OpenDirectRoom(ctx, c, req.GetUserId())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &chatv1.OpenDirectRoomResponse{Room: roomPB(room), Created: created}, nil
}

func reportPB(r chat.Report) *chatv1.Report {
	return &chatv1.Report{
		Id: r.ID, MessageId: r.MessageID, RoomId: r.RoomID, SenderId: r.SenderID, MessageText: r.MessageText,
		ReporterId: r.ReporterID, Reason: r.Reason, CreatedAt: timestamppb.New(r.CreatedAt),
	}
}
