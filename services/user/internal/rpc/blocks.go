package rpc

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/servicetrust"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
)

// BlockUser implements userv1.UserServiceServer.
func (s *Server) BlockUser(ctx context.Context, req *userv1.BlockUserRequest) (*userv1.BlockUserResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	u, created, err := s.svc.Block(ctx, c.UserID, req.GetUserId())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.BlockUserResponse{User: summaryToProto(u), Created: created}, nil
}

// UnblockUser implements userv1.UserServiceServer.
func (s *Server) UnblockUser(ctx context.Context, req *userv1.UnblockUserRequest) (*userv1.UnblockUserResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.svc.Unblock(ctx, c.UserID, req.GetUserId()); err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.UnblockUserResponse{}, nil
}

// ListBlocks implements userv1.UserServiceServer.
func (s *Server) ListBlocks(ctx context.Context, req *userv1.ListBlocksRequest) (*userv1.ListBlocksResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	users, next, err := s.svc.ListBlocks(ctx, c.UserID, req.GetLimit(), req.GetCursor())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.ListBlocksResponse{Users: summariesToProto(users), NextCursor: next}, nil
}

// serviceOnly refuses callers without a service identity: the answers of
// GetRelation and GetBlockedIds (who blocks whom, who is staff) are not for
// end users.
func serviceOnly(ctx context.Context) error {
	if servicetrust.Caller(ctx) == "" {
		return status.Error(codes.PermissionDenied, "You do not have permission to perform this action.")
	}
	return nil
}

// GetRelation implements userv1.UserServiceServer.
func (s *Server) GetRelation(ctx context.Context, req *userv1.GetRelationRequest) (*userv1.GetRelationResponse, error) {
	if err := serviceOnly(ctx); err != nil {
		return nil, err
	}
	r, err := s.svc.Relation(ctx, req.GetUserId(), req.GetOtherId())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.GetRelationResponse{
		Blocks: r.Blocks, BlockedBy: r.BlockedBy, OtherPrivate: r.OtherPrivate,
		OtherAddedUser: r.OtherAddedUser, IsStaff: r.IsStaff,
	}, nil
}

// GetBlockedIds implements userv1.UserServiceServer.
//
//nolint:revive // var-naming: the name is the proto RPC's (GetBlockedIds)
func (s *Server) GetBlockedIds(ctx context.Context, req *userv1.GetBlockedIdsRequest) (*userv1.GetBlockedIdsResponse, error) {
	if err := serviceOnly(ctx); err != nil {
		return nil, err
	}
	ids, err := s.svc.BlockedIDs(ctx, req.GetUserId())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.GetBlockedIdsResponse{UserIds: ids}, nil
}
