package rpc

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/user/internal/push"
)

// GetPushKey implements userv1.UserServiceServer.
func (s *Server) GetPushKey(ctx context.Context, _ *userv1.GetPushKeyRequest) (*userv1.GetPushKeyResponse, error) {
	if _, err := s.caller(ctx); err != nil {
		return nil, err
	}
	key, err := s.push.PublicKey()
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.GetPushKeyResponse{PublicKey: key}, nil
}

// SubscribePush implements userv1.UserServiceServer.
func (s *Server) SubscribePush(ctx context.Context, req *userv1.SubscribePushRequest) (*userv1.SubscribePushResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetSubscription()
	sub, err := s.push.Subscribe(ctx, c.UserID, in.GetEndpoint(), in.GetP256Dh(), in.GetAuth(), in.GetUserAgent())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.SubscribePushResponse{Subscription: pushToProto(sub)}, nil
}

// UnsubscribePush implements userv1.UserServiceServer.
func (s *Server) UnsubscribePush(ctx context.Context, req *userv1.UnsubscribePushRequest) (*userv1.UnsubscribePushResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.push.Unsubscribe(ctx, c.UserID, req.GetEndpoint()); err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.UnsubscribePushResponse{}, nil
}

// ListPushSubscriptions implements userv1.UserServiceServer.
func (s *Server) ListPushSubscriptions(ctx context.Context, _ *userv1.ListPushSubscriptionsRequest) (*userv1.ListPushSubscriptionsResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	subs, err := s.push.List(ctx, c.UserID)
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	out := &userv1.ListPushSubscriptionsResponse{Subscriptions: make([]*userv1.PushSubscription, 0, len(subs))}
	for _, sub := range subs {
		out.Subscriptions = append(out.Subscriptions, pushToProto(sub))
	}
	return out, nil
}

func pushToProto(s push.Subscription) *userv1.PushSubscription {
	p := &userv1.PushSubscription{
		Endpoint:  s.Endpoint,
		P256Dh:    push.EncodeKey(s.P256dh),
		Auth:      push.EncodeKey(s.Auth),
		UserAgent: s.UserAgent,
		CreatedAt: timestamppb.New(s.CreatedAt),
	}
	if !s.LastSuccessAt.IsZero() {
		p.LastSuccessAt = timestamppb.New(s.LastSuccessAt)
	}
	return p
}
