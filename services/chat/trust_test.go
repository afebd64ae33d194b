package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cobraspace/cobraspace/platform/subjects"
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
		_, err := c.Heartbeat(ctx, &chatv1.HeartbeatRequest{GatewayId: "gw", Lease: "gw", Rooms: []*chatv1.RoomSockets{{RoomId: ref.RoomId, Sockets: 1}}})
		return err
	}
	reconcile := func(c chatv1.ChatServiceClient, ctx context.Context) error {
		_, err := c.ReconcilePresence(ctx, &chatv1.ReconcilePresenceRequest{Lease: "gw", RoomIds: []int64{ref.RoomId}})
		return err
	}
	leave := func(c chatv1.ChatServiceClient, ctx context.Context) error {
		_, err := c.Leave(ctx, &chatv1.LeaveRequest{RoomId: ref.RoomId, ConnectionId: ref.ConnectionId})
		return err
	}
	for name, call := range map[string]func(chatv1.ChatServiceClient, context.Context) error{"Heartbeat": heartbeat, "ReconcilePresence": reconcile, "Leave": leave} {
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
	next(t, events, subjects.EventRoomDeleted, 5*time.Second)
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

// TestSendMessagesBatch: SendMessages answers only a gateway; each entry is
// stored for the sender the gateway names, or fails on its own with the
// code, reason and field SendMessage would have answered, and the stored
// ones are published in seq order.
func TestSendMessagesBatch(t *testing.T) {
	t.Parallel()
	h := start(t)
	room, err := h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	events := h.watch(t, room.GetId())
	entry := func(sender int64, roomID int64, text, cmid string) *chatv1.SenderMessage {
		return &chatv1.SenderMessage{SenderId: sender, SenderEmail: "token@example.com",
			Message: &chatv1.SendMessageRequest{RoomId: roomID, Text: text, ClientMsgId: cmid}}
	}
	req := &chatv1.SendMessagesRequest{Messages: []*chatv1.SenderMessage{
		entry(1, room.GetId(), "from one", "a"),
		entry(2, room.GetId(), strings.Repeat("x", 2001), ""),
		entry(2, room.GetId()+1000, "nowhere", ""),
		entry(3, room.GetId(), "from three", ""),
		entry(1, room.GetId(), "from one again", "a"), // the same client_msg_id: a copy
	}}
	for name, c := range map[string]chatv1.ChatServiceClient{"user": h.client, "post": h.post} {
		_, err := c.SendMessages(h.as(1), req)
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("SendMessages from %s: %v, want PERMISSION_DENIED", name, err)
		}
	}
	_, err = h.gateway.SendMessages(context.Background(), &chatv1.SendMessagesRequest{})
	wantCode(t, err, codes.InvalidArgument, "")

	resp, err := h.gateway.SendMessages(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	out := resp.GetOutcomes()
	if len(out) != 5 {
		t.Fatalf("got %d outcomes for 5 entries", len(out))
	}
	if m := out[0].GetMessage(); m.GetSeq() != 1 || m.GetSenderId() != 1 || m.GetText() != "from one" {
		t.Errorf("entry 0: %v, want seq 1 from user 1", out[0])
	}
	if e := out[1].GetError(); codes.Code(e.GetCode()) != codes.InvalidArgument || e.GetReason() != "message_too_long" || e.GetField() != "message" {
		t.Errorf("entry 1: %v, want INVALID_ARGUMENT message_too_long on field message", out[1])
	}
	if e := out[2].GetError(); codes.Code(e.GetCode()) != codes.NotFound {
		t.Errorf("entry 2: %v, want NOT_FOUND", out[2])
	}
	if m := out[3].GetMessage(); m.GetSeq() != 2 || m.GetSenderId() != 3 {
		t.Errorf("entry 3: %v, want seq 2 from user 3", out[3])
	}
	if m := out[4].GetMessage(); m.GetId() != out[0].GetMessage().GetId() {
		t.Errorf("entry 4: %v, want the message of entry 0", out[4])
	}
	for i, want := range []*chatv1.Message{out[0].GetMessage(), out[3].GetMessage()} {
		if m := next(t, events, subjects.EventMessage, 5*time.Second).msg; m.GetSeq() != int64(i+1) ||
			m.GetSenderId() != want.GetSenderId() || m.GetMessage().GetText() != want.GetText() {
			t.Errorf("published %v, want seq %d: %v", m, i+1, want)
		}
	}
}

// TestConversationRPCsTrust: CreateFriendNotification names its actor, so
// only the gateway may call it; UnreadCount answers a user for themself
// and the gateway for anyone; FindByNicknames reaches the user service
// with this service's identity (a mention notifies).
func TestConversationRPCsTrust(t *testing.T) {
	t.Parallel()
	h := start(t)
	friend := &chatv1.CreateFriendNotificationRequest{ActorId: 1, UserId: 2}
	_, err := h.client.CreateFriendNotification(h.as(1), friend)
	wantCode(t, err, codes.PermissionDenied, "")
	_, err = h.post.CreateFriendNotification(context.Background(), friend)
	wantCode(t, err, codes.PermissionDenied, "")
	resp, err := h.gateway.CreateFriendNotification(context.Background(), friend)
	if err != nil || resp.GetNotification().GetId() != 1 || resp.GetNotification().GetKind() != "friend" {
		t.Fatalf("gateway CreateFriendNotification: %v, %v", resp, err)
	}
	self, err := h.gateway.CreateFriendNotification(context.Background(), &chatv1.CreateFriendNotificationRequest{ActorId: 2, UserId: 2})
	if err != nil || self.GetNotification() != nil {
		t.Fatalf("friend notification to oneself: %v, %v; want none", self, err)
	}
	list, err := h.client.ListNotifications(h.as(2), &chatv1.ListNotificationsRequest{})
	if err != nil || len(list.GetNotifications()) != 1 || list.GetUnreadCount() != 1 || list.GetNotifications()[0].GetActor().GetId() != 1 {
		t.Fatalf("user 2's notifications: %v, %v", list, err)
	}

	room, err := h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.SendMessage(h.as(2), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "y"}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.UnreadCount(h.as(2), &chatv1.UnreadCountRequest{RoomId: room.GetId(), UserId: 1})
	wantCode(t, err, codes.PermissionDenied, "")
	mine, err := h.client.UnreadCount(h.as(1), &chatv1.UnreadCountRequest{RoomId: room.GetId()})
	if err != nil || mine.GetMembership().GetUnreadCount() != 1 || mine.GetMembership().GetLastSeq() != 2 {
		t.Fatalf("user 1's own unread: %v, %v; want 1 of last seq 2", mine, err)
	}
	other, err := h.gateway.UnreadCount(context.Background(), &chatv1.UnreadCountRequest{RoomId: room.GetId(), UserId: 1})
	if err != nil || other.GetMembership().GetUnreadCount() != 1 {
		t.Fatalf("gateway asking for user 1: %v, %v", other, err)
	}
	_, err = h.gateway.UnreadCount(context.Background(), &chatv1.UnreadCountRequest{RoomId: room.GetId(), UserId: 4})
	wantCode(t, err, codes.PermissionDenied, "")

	// A mention reaches the mentioned user's subject after commit.
	sub, err := h.nc.SubscribeSync(h.subjects.UserEvents(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	m, err := h.client.SendMessage(h.as(2), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "hi @ALICE."})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no event on user 1's subject: %v", err)
	}
	var ev chatv1.UserEvent
	if err := proto.Unmarshal(msg.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if n := ev.GetNotification(); n.GetKind() != "mention" || n.GetMessageId() != m.GetId() || n.GetUserId() != 1 || n.GetActor().GetId() != 2 {
		t.Fatalf("event %v, want user 1's mention in message %d", &ev, m.GetId())
	}
}

// TestRoomStreamReads: the gateway service calling without a user (a
// gateway replica's room stream) reads any room's last seq and messages,
// a DM room's too; no other caller without a user reads a DM room.
func TestRoomStreamReads(t *testing.T) {
	t.Parallel()
	h := start(t)
	dm, err := h.client.OpenDirectRoom(h.as(1), &chatv1.OpenDirectRoomRequest{UserId: 2})
	if err != nil {
		t.Fatal(err)
	}
	id := dm.GetRoom().GetId()
	if _, err := h.client.SendMessage(h.as(2), &chatv1.SendMessageRequest{RoomId: id, Text: "hi alice"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	room, err := h.gateway.GetRoom(ctx, &chatv1.GetRoomRequest{Id: id})
	if err != nil || room.GetLastSeq() != 1 {
		t.Fatalf("gateway GetRoom of a DM room: %v, %v; want last seq 1", room, err)
	}
	page, err := h.gateway.ListMessages(ctx, &chatv1.ListMessagesRequest{RoomId: id, OldestFirst: true})
	if err != nil || len(page.GetMessages()) != 1 || page.GetMessages()[0].GetText() != "hi alice" {
		t.Fatalf("gateway ListMessages of a DM room: %v, %v; want its message", page, err)
	}
	// Another service without a user reads it as nobody: not found, as
	// an unknown room.
	_, err = h.post.GetRoom(ctx, &chatv1.GetRoomRequest{Id: id})
	wantCode(t, err, codes.NotFound, "")
	_, err = h.post.ListMessages(ctx, &chatv1.ListMessagesRequest{RoomId: id})
	wantCode(t, err, codes.NotFound, "")
	// Without any credentials nothing is read at all.
	_, err = h.client.ListMessages(ctx, &chatv1.ListMessagesRequest{RoomId: id})
	wantCode(t, err, codes.Unauthenticated, "")
}
