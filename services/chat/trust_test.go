package main

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"

	"github.com/cobraspace/cobraspace/platform/testenv"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// TestInternalRPCsNeedTheirService: Heartbeat and Leave (a gateway's
// socket bookkeeping) answer only a gateway; binding a room to a post
// answers only the post service. No credentials → UNAUTHENTICATED; a user
// token alone → PERMISSION_DENIED; a wrong service key → UNAUTHENTICATED.
func TestInternalRPCsNeedTheirService(t *testing.T) {
	t.Parallel()
	h := start(t)
	room, err := h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "r"})
	if err != nil {
		t.Fatal(err)
	}
	ref := &chatv1.ConnectionRef{RoomId: room.GetId(), ConnectionId: "conn-of-alice"}
	if _, err := h.client.Join(h.as(1), &chatv1.JoinRequest{RoomId: ref.RoomId, ConnectionId: ref.ConnectionId}); err != nil {
		t.Fatal(err)
	}
	heartbeat := func(c chatv1.ChatServiceClient, ctx context.Context) error {
		_, err := c.Heartbeat(ctx, &chatv1.HeartbeatRequest{GatewayId: "gw", Connections: []*chatv1.ConnectionRef{ref}})
		return err
	}
	leave := func(c chatv1.ChatServiceClient, ctx context.Context) error {
		_, err := c.Leave(ctx, &chatv1.LeaveRequest{RoomId: ref.RoomId, ConnectionId: ref.ConnectionId})
		return err
	}
	for name, call := range map[string]func(chatv1.ChatServiceClient, context.Context) error{"Heartbeat": heartbeat, "Leave": leave} {
		wantCode(t, call(h.client, context.Background()), codes.Unauthenticated, "")
		// Even the connection's own user: presence is the gateway's record.
		wantCode(t, call(h.client, h.as(1)), codes.PermissionDenied, "")
		wantCode(t, call(h.post, context.Background()), codes.PermissionDenied, "")
		wantCode(t, call(h.dial(t, "gateway", testenv.ServiceKey(t)), context.Background()), codes.Unauthenticated, "")
		if t.Failed() {
			t.Fatalf("%s accepted a caller other than a gateway", name)
		}
	}
	// Still online: nothing above touched the connection.
	got, err := h.client.GetRoom(h.as(1), &chatv1.GetRoomRequest{Id: room.GetId()})
	if err != nil || got.GetOnlineCount() != 1 {
		t.Fatalf("online count after refused calls: %v, %v; want 1", got.GetOnlineCount(), err)
	}
	if err := heartbeat(h.gateway, context.Background()); err != nil {
		t.Errorf("gateway Heartbeat: %v", err)
	}
	if err := leave(h.gateway, context.Background()); err != nil {
		t.Errorf("gateway Leave: %v", err)
	}
	got, err = h.client.GetRoom(h.as(1), &chatv1.GetRoomRequest{Id: room.GetId()})
	if err != nil || got.GetOnlineCount() != 0 {
		t.Errorf("online count after the gateway's Leave: %v, %v; want 0", got.GetOnlineCount(), err)
	}

	// A room bound to a post: users (even through a gateway) are refused,
	// whatever the post id; the post service, acting for the writer, may.
	for _, postID := range []int64{5, 900000000} {
		_, err = h.client.CreateRoom(h.as(2), &chatv1.CreateRoomRequest{Name: "squat", PostId: postID})
		wantCode(t, err, codes.PermissionDenied, "")
		_, err = h.gateway.CreateRoom(h.as(2), &chatv1.CreateRoomRequest{Name: "squat", PostId: postID})
		wantCode(t, err, codes.PermissionDenied, "")
	}
	bound, err := h.post.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "post 5", PostId: 5})
	if err != nil || bound.GetOwnerId() != 1 || bound.GetPostId() != 5 {
		t.Errorf("post service for the writer: %v, %v; want a room of post 5 owned by user 1", bound, err)
	}
}

// TestSquattedPostRoomIsReplaced: a room bound to a post by someone else
// before only the post service could (inserted here directly) no longer
// makes the post's write fail: the post service's create, for the writer,
// deletes it (announcing room_deleted) and makes the writer's room.
func TestSquattedPostRoomIsReplaced(t *testing.T) {
	t.Parallel()
	h := start(t)
	conn, err := pgx.Connect(context.Background(), h.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var squatted int64
	if err := conn.QueryRow(context.Background(),
		`INSERT INTO rooms (name, owner_id, post_id) VALUES ('mine', 2, 42) RETURNING id`).Scan(&squatted); err != nil {
		t.Fatal(err)
	}
	events := h.watch(t, squatted)
	room, err := h.post.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "post 42", PostId: 42})
	if err != nil || room.GetOwnerId() != 1 || room.GetPostId() != 42 || room.GetId() == squatted {
		t.Fatalf("post service for the writer: %v, %v; want a new room of post 42 owned by user 1", room, err)
	}
	next(t, events, "room_deleted", 5*time.Second)
	_, err = h.client.GetRoom(h.as(1), &chatv1.GetRoomRequest{Id: squatted})
	wantCode(t, err, codes.NotFound, "")
	again, err := h.post.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "post 42", PostId: 42})
	if err != nil || again.GetId() != room.GetId() {
		t.Errorf("retried create: %v, %v; want the same room %d", again, err, room.GetId())
	}
}

// TestDefaultAddressesLoopback: without GRPC_ADDR/ADMIN_ADDR the service
// listens on loopback only; deployments set the addresses explicitly.
func TestDefaultAddressesLoopback(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://x", "JWT_PUBLIC_KEY_FILE": "/k", "SERVICE_KEY_FILE": testenv.ServiceKey(t)}
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPCAddr != "127.0.0.1:9003" || c.AdminAddr != "127.0.0.1:9103" {
		t.Errorf("defaults: gRPC %q, admin %q; want 127.0.0.1:9003 and 127.0.0.1:9103", c.GRPCAddr, c.AdminAddr)
	}
}
