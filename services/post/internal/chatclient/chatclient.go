// Package chatclient is the post service's view of the chat service: it
// creates and deletes the chat room of each post over gRPC, acting for the
// caller whose access token the incoming request carried, as the post
// service (the connection carries its service identity, which the chat
// service requires for binding a room to a post).
package chatclient

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/grpcauth"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/post/internal/post"
)

// CallTimeout bounds each call to the chat service, so a stuck chat service
// turns into UNAVAILABLE for the client instead of a hang.
const CallTimeout = 3 * time.Second

// Rooms is a post.Rooms on a chat service connection.
type Rooms struct {
	client chatv1.ChatServiceClient
	logger *slog.Logger
}

var _ post.Rooms = (*Rooms)(nil)

// New returns Rooms calling the chat service over conn.
func New(conn grpc.ClientConnInterface, logger *slog.Logger) *Rooms {
	return &Rooms{client: chatv1.NewChatServiceClient(conn), logger: logger}
}

// CreateRoom implements post.Rooms.
func (r *Rooms) CreateRoom(ctx context.Context, name string, postID int64) (int64, error) {
	ctx, cancel := context.WithTimeout(grpcauth.Forward(ctx), CallTimeout)
	defer cancel()
	room, err := r.client.CreateRoom(ctx, &chatv1.CreateRoomRequest{Name: name, PostId: postID})
	if status.Code(err) == codes.InvalidArgument {
		// Only a name given by the writer (CreatePostRoom) can be refused;
		// the chat service's message is written for users.
		return 0, apperr.FieldError("name", status.Convert(err).Message())
	}
	if err != nil {
		r.logger.WarnContext(ctx, "chat service: create room failed", "post_id", postID,
			"code", status.Code(err).String(), "err", err)
		return 0, post.ErrChatUnavailable
	}
	return room.GetId(), nil
}

// RoomExists implements post.Rooms.
func (r *Rooms) RoomExists(ctx context.Context, roomID int64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	_, err := r.client.GetRoom(ctx, &chatv1.GetRoomRequest{Id: roomID})
	switch status.Code(err) {
	case codes.OK:
		return true, nil
	case codes.NotFound:
		return false, nil
	}
	r.logger.WarnContext(ctx, "chat service: get room failed", "room_id", roomID,
		"code", status.Code(err).String(), "err", err)
	return false, post.ErrChatUnavailable
}

// RenameRoom implements post.Rooms.
func (r *Rooms) RenameRoom(ctx context.Context, roomID int64, name string) error {
	ctx, cancel := context.WithTimeout(grpcauth.Forward(ctx), CallTimeout)
	defer cancel()
	if _, err := r.client.UpdateRoom(ctx, &chatv1.UpdateRoomRequest{Id: roomID, Name: name}); err != nil {
		return fmt.Errorf("rename room %d: %w", roomID, err)
	}
	return nil
}

// DeleteRoom implements post.Rooms.
func (r *Rooms) DeleteRoom(ctx context.Context, roomID int64) error {
	ctx, cancel := context.WithTimeout(grpcauth.Forward(ctx), CallTimeout)
	defer cancel()
	_, err := r.client.DeleteRoom(ctx, &chatv1.DeleteRoomRequest{Id: roomID})
	if status.Code(err) == codes.NotFound {
		return nil // already gone, e.g. a retried delete
	}
	if err != nil {
		r.logger.WarnContext(ctx, "chat service: delete room failed", "room_id", roomID,
			"code", status.Code(err).String(), "err", err)
		return post.ErrChatUnavailable
	}
	return nil
}
