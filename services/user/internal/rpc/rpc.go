// Package rpc is the gRPC face of the user service: it converts between
// userv1 messages and the user package; domain errors become gRPC
// statuses through the services' one table (platform/apperr).
package rpc

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/fielderr"
	"github.com/cobraspace/cobraspace/platform/grpcauth"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/user/internal/push"
	"github.com/cobraspace/cobraspace/services/user/internal/user"
)

// AnonymousMethods are the RPCs callable without an access token. GetUsers
// is not one: it needs a user token (which shows only that user) or a
// calling service (platform/servicetrust).
func AnonymousMethods() []string {
	return []string{
		userv1.UserService_Register_FullMethodName,
		userv1.UserService_Login_FullMethodName,
		userv1.UserService_RefreshToken_FullMethodName,
		userv1.UserService_GetMedia_FullMethodName,
	}
}

// gateway is the service whose word on the end client's address is taken
// (Login.client_ip): the only caller that sees the client.
const gateway = "gateway"

// Server implements userv1.UserServiceServer on a user.Service.
type Server struct {
	userv1.UnimplementedUserServiceServer
	svc  *user.Service
	push *push.Registry
	errs apperr.Translator
}

// New returns a Server for svc and the push subscriptions of reg.
func New(svc *user.Service, reg *push.Registry, logger *slog.Logger) *Server {
	return &Server{svc: svc, push: reg, errs: apperr.Translator{Domain: "user.cobraspace", Logger: logger}}
}

// caller returns the verified claims of the calling user (the server's
// interceptors already refused revoked sessions: grpcserver.Config.Revoked).
func (s *Server) caller(ctx context.Context) (accesstoken.Claims, error) {
	c, ok := grpcauth.Claims(ctx)
	if !ok {
		return accesstoken.Claims{}, status.Error(codes.Unauthenticated, "Authentication credentials were not provided.")
	}
	return c, nil
}

// Register implements userv1.UserServiceServer.
func (s *Server) Register(ctx context.Context, req *userv1.RegisterRequest) (*userv1.RegisterResponse, error) {
	p, err := s.svc.Register(ctx, req.GetEmail(), req.GetPassword(), req.GetNickname())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.RegisterResponse{Profile: profileToProto(p)}, nil
}

// Login implements userv1.UserServiceServer. The per-IP limit counts the
// client_ip the gateway reports; any other caller is limited by its own
// network address, so claiming a fresh client_ip per attempt gains nothing.
func (s *Server) Login(ctx context.Context, req *userv1.LoginRequest) (*userv1.LoginResponse, error) {
	clientIP := req.GetClientIp()
	if !servicetrust.Is(ctx, gateway) {
		clientIP = peerHost(ctx)
	}
	p, pair, err := s.svc.Login(ctx, req.GetEmail(), req.GetPassword(), clientIP)
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.LoginResponse{Profile: profileToProto(p), Tokens: pairToProto(pair)}, nil
}

// RefreshToken implements userv1.UserServiceServer.
func (s *Server) RefreshToken(ctx context.Context, req *userv1.RefreshTokenRequest) (*userv1.TokenPair, error) {
	pair, err := s.svc.Refresh(ctx, req.GetRefresh())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return pairToProto(pair), nil
}

// Logout implements userv1.UserServiceServer.
func (s *Server) Logout(ctx context.Context, req *userv1.LogoutRequest) (*userv1.LogoutResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.svc.Logout(ctx, c, req.GetRefresh()); err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.LogoutResponse{}, nil
}

// GetProfile implements userv1.UserServiceServer.
func (s *Server) GetProfile(ctx context.Context, _ *userv1.GetProfileRequest) (*userv1.Profile, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.svc.Profile(ctx, c.UserID)
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return profileToProto(p), nil
}

// UpdateProfile implements userv1.UserServiceServer.
func (s *Server) UpdateProfile(ctx context.Context, req *userv1.UpdateProfileRequest) (*userv1.Profile, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := updateFromProto(req)
	if err != nil {
		return nil, err
	}
	p, err := s.svc.UpdateProfile(ctx, c.UserID, u)
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return profileToProto(p), nil
}

// SetProfilePicture implements userv1.UserServiceServer.
func (s *Server) SetProfilePicture(ctx context.Context, req *userv1.SetProfilePictureRequest) (*userv1.Profile, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.svc.SetPicture(ctx, c.UserID, req.GetImage())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return profileToProto(p), nil
}

// GetMedia implements userv1.UserServiceServer.
func (s *Server) GetMedia(ctx context.Context, req *userv1.GetMediaRequest) (*userv1.Media, error) {
	m, err := s.svc.Media(ctx, req.GetKey())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.Media{ContentType: m.ContentType, Data: m.Data, Etag: m.ETag, Immutable: m.Immutable}, nil
}

// UploadImage implements userv1.UserServiceServer.
func (s *Server) UploadImage(ctx context.Context, req *userv1.UploadImageRequest) (*userv1.UploadImageResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	key, size, err := s.svc.UploadImage(ctx, c.UserID, req.GetImage())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.UploadImageResponse{Key: key, Width: int32(size.Dx()), Height: int32(size.Dy())}, nil //nolint:gosec // G115: at most MaxImageSide
}

// AddFriend implements userv1.UserServiceServer.
func (s *Server) AddFriend(ctx context.Context, req *userv1.AddFriendRequest) (*userv1.AddFriendResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.svc.AddFriend(ctx, c.UserID, req.GetEmail())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.AddFriendResponse{Friend: summaryToProto(f)}, nil
}

// ListFriends implements userv1.UserServiceServer.
func (s *Server) ListFriends(ctx context.Context, req *userv1.ListFriendsRequest) (*userv1.ListFriendsResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	friends, next, err := s.svc.ListFriends(ctx, c.UserID, req.GetLimit(), req.GetCursor())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.ListFriendsResponse{Friends: summariesToProto(friends), NextCursor: next}, nil
}

// DeleteFriend implements userv1.UserServiceServer.
func (s *Server) DeleteFriend(ctx context.Context, req *userv1.DeleteFriendRequest) (*userv1.DeleteFriendResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.svc.DeleteFriend(ctx, c.UserID, req.GetEmail()); err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.DeleteFriendResponse{}, nil
}

// GetFriendProfile implements userv1.UserServiceServer.
func (s *Server) GetFriendProfile(ctx context.Context, req *userv1.GetFriendProfileRequest) (*userv1.Profile, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.svc.FriendProfile(ctx, c.UserID, req.GetUserId())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return profileToProto(p), nil
}

// SearchUsers implements userv1.UserServiceServer.
func (s *Server) SearchUsers(ctx context.Context, req *userv1.SearchUsersRequest) (*userv1.SearchUsersResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	users, next, err := s.svc.SearchUsers(ctx, c.UserID, req.GetKeyword(), req.GetLimit(), req.GetCursor())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.SearchUsersResponse{Users: summariesToProto(users), NextCursor: next}, nil
}

// GetUsers implements userv1.UserServiceServer.
// Services composing responses get every id asked for; a user alone gets
// only their own summary (other ids are left out, as unknown ids are), so
// a token cannot be used to list everyone's email.
func (s *Server) GetUsers(ctx context.Context, req *userv1.GetUsersRequest) (*userv1.GetUsersResponse, error) {
	ids := req.GetUserIds()
	if servicetrust.Caller(ctx) == "" {
		c, err := s.caller(ctx)
		if err != nil {
			return nil, err
		}
		ids = slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return id != c.UserID })
	}
	users, err := s.svc.Users(ctx, ids)
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.GetUsersResponse{Users: summariesToProto(users)}, nil
}

// updateFromProto reads the fields named in the mask (JSON names of
// Profile; the camelCase forms are accepted too). Unknown names are
// INVALID_ARGUMENT on field "update_mask".
func updateFromProto(req *userv1.UpdateProfileRequest) (user.ProfileUpdate, error) {
	var u user.ProfileUpdate
	for _, name := range req.GetUpdateMask() {
		switch name {
		case "nickname":
			v := req.GetNickname()
			u.Nickname = &v
		case "bio":
			v := req.GetBio()
			u.Bio = &v
		case "skills":
			v := append([]string{}, req.GetSkills()...)
			u.Skills = &v
		case "interests":
			v := append([]string{}, req.GetInterests()...)
			u.Interests = &v
		case "status":
			v := statusFromProto(req.GetStatus())
			u.Status = &v
		case "is_private", "isPrivate":
			v := req.GetIsPrivate()
			u.IsPrivate = &v
		case "contact_number", "contactNumber":
			v := req.GetContactNumber()
			u.ContactNumber = &v
		default:
			return user.ProfileUpdate{}, fielderr.New("update_mask", strconv.Quote(name)+" is not a field that can be updated.")
		}
	}
	return u, nil
}

func statusFromProto(s userv1.Status) user.Status {
	switch s {
	case userv1.Status_STATUS_AVAILABLE:
		return user.StatusAvailable
	case userv1.Status_STATUS_AWAY:
		return user.StatusAway
	case userv1.Status_STATUS_BUSY:
		return user.StatusBusy
	case userv1.Status_STATUS_UNSPECIFIED:
		return ""
	}
	return user.Status(strconv.Itoa(int(s)))
}

func statusToProto(s user.Status) userv1.Status {
	switch s {
	case user.StatusAvailable:
		return userv1.Status_STATUS_AVAILABLE
	case user.StatusAway:
		return userv1.Status_STATUS_AWAY
	case user.StatusBusy:
		return userv1.Status_STATUS_BUSY
	}
	return userv1.Status_STATUS_UNSPECIFIED
}

func profileToProto(p user.Profile) *userv1.Profile {
	return &userv1.Profile{
		UserId:            p.UserID,
		Email:             p.Email,
		Nickname:          p.Nickname,
		ProfilePicture:    p.PictureKey,
		ProfilePictureUrl: p.PictureURL(),
		Bio:               p.Bio,
		Skills:            p.Skills,
		Interests:         p.Interests,
		Status:            statusToProto(p.Status),
		IsPrivate:         p.IsPrivate,
		ContactNumber:     p.ContactNumber,
		FriendsEmails:     p.FriendsEmails,
		CreatedAt:         timestamppb.New(p.CreatedAt),
	}
}

func summaryToProto(s user.Summary) *userv1.UserSummary {
	return &userv1.UserSummary{
		UserId:            s.UserID,
		Email:             s.Email,
		Nickname:          s.Nickname,
		ProfilePictureUrl: s.PictureURL(),
		Status:            statusToProto(s.Status),
	}
}

func summariesToProto(users []user.Summary) []*userv1.UserSummary {
	out := make([]*userv1.UserSummary, len(users))
	for i, u := range users {
		out[i] = summaryToProto(u)
	}
	return out
}

func pairToProto(p user.TokenPair) *userv1.TokenPair {
	return &userv1.TokenPair{
		Access:           p.Access,
		Refresh:          p.Refresh,
		AccessExpiresAt:  timestamppb.New(p.AccessExpiresAt),
		RefreshExpiresAt: timestamppb.New(p.RefreshExpiresAt),
	}
}

// peerHost is the network address (without port) of the calling process.
func peerHost(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return p.Addr.String()
	}
	return host
}

// FindByNicknames implements userv1.UserServiceServer: calling services
// only (the chat service resolving @mentions), so a token cannot be used
// to probe who carries which nickname in bulk.
func (s *Server) FindByNicknames(ctx context.Context, req *userv1.FindByNicknamesRequest) (*userv1.FindByNicknamesResponse, error) {
	if servicetrust.Caller(ctx) == "" {
		return nil, status.Error(codes.PermissionDenied, "You do not have permission to perform this action.")
	}
	users, err := s.svc.FindByNicknames(ctx, req.GetNicknames(), int(req.GetMaxPerNickname()))
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &userv1.FindByNicknamesResponse{Users: summariesToProto(users)}, nil
}
