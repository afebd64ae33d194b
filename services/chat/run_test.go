package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/fielderr"
	"github.com/cobraspace/cobraspace/platform/grpcauth"
	"github.com/cobraspace/cobraspace/platform/grpcclient"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/platform/testenv"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
)

// fakeUsers is the user service, as far as chat uses it.
type fakeUsers struct {
	userv1.UnimplementedUserServiceServer
	users map[int64]*userv1.UserSummary
}

func (f *fakeUsers) GetUsers(_ context.Context, req *userv1.GetUsersRequest) (*userv1.GetUsersResponse, error) {
	resp := &userv1.GetUsersResponse{}
	for _, id := range req.GetUserIds() {
		if u, ok := f.users[id]; ok {
			resp.Users = append(resp.Users, u)
		}
	}
	return resp, nil
}

// GetRelation answers that nobody blocks anybody, every profile is public
// and nobody is staff; unknown other users are NOT_FOUND.
func (f *fakeUsers) GetRelation(_ context.Context, req *userv1.GetRelationRequest) (*userv1.GetRelationResponse, error) {
	if id := req.GetOtherId(); id != 0 && f.users[id] == nil {
		return nil, status.Error(codes.NotFound, "User not found.")
	}
	return &userv1.GetRelationResponse{}, nil
}

// GetBlockedIds answers that nobody blocks anybody.
//
//nolint:revive // var-naming: the name is the proto RPC's (GetBlockedIds)
func (f *fakeUsers) GetBlockedIds(context.Context, *userv1.GetBlockedIdsRequest) (*userv1.GetBlockedIdsResponse, error) {
	return &userv1.GetBlockedIdsResponse{}, nil
}

// FindByNicknames matches nicknames case-insensitively, like the user
// service; it needs the caller's service identity there, which the fake
// does not check (trust is tested in the user service).
func (f *fakeUsers) FindByNicknames(_ context.Context, req *userv1.FindByNicknamesRequest) (*userv1.FindByNicknamesResponse, error) {
	resp := &userv1.FindByNicknamesResponse{}
	for _, u := range f.users {
		for _, n := range req.GetNicknames() {
			if strings.EqualFold(u.GetNickname(), n) {
				resp.Users = append(resp.Users, u)
			}
		}
	}
	return resp, nil
}

// harness is one chat service started with run on port 0.
type harness struct {
	client chatv1.ChatServiceClient
	// gateway and post call with those services' identity (service key).
	gateway, post chatv1.ChatServiceClient
	grpc          string // gRPC address
	admin         string
	dbURL         string
	nc            *nats.Conn
	subjects      subjects.Subjects
	tokens        map[int64]string
	signer        *accesstoken.Signer
	cancelRun     context.CancelFunc
	runErr        chan error
}

func start(t testing.TB) *harness { return startWith(t, nil) }

// startWith starts the service with some variables overridden, e.g. to
// point at dependencies that are down.
func startWith(t testing.TB, overrides map[string]string) *harness {
	t.Helper()
	// Fake user service.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	us := grpc.NewServer()
	userv1.RegisterUserServiceServer(us, &fakeUsers{users: map[int64]*userv1.UserSummary{
		1: {UserId: 1, Email: "alice@example.com", Nickname: "alice", ProfilePictureUrl: "/media/avatars/1.webp"},
		2: {UserId: 2, Email: "bob@example.com", Nickname: "<b>bob</b>", ProfilePictureUrl: "/media/avatars/2.webp"},
	}})
	go func() { _ = us.Serve(lis) }()
	t.Cleanup(us.Stop)

	priv, pub := testenv.KeyPair(t)
	prefix := testenv.Prefix(t)
	keyFile := testenv.ServiceKey(t)
	env := map[string]string{
		"SERVICE_KEY_FILE":    keyFile,
		"GRPC_ADDR":           "127.0.0.1:0",
		"ADMIN_ADDR":          "127.0.0.1:0",
		"DATABASE_URL":        testenv.Database(t),
		"REDIS_URL":           testenv.RedisURL(),
		"REDIS_PREFIX":        prefix,
		"NATS_URL":            testenv.NATSURL(),
		"NATS_PREFIX":         prefix,
		"JWT_PUBLIC_KEY_FILE": pub,
		"USER_SERVICE_ADDR":   lis.Addr().String(),
		"PRESENCE_TTL":        "2s",
		"LOG_LEVEL":           "warn",
	}
	for k, v := range overrides {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{cancelRun: cancel, runErr: make(chan error, 1), subjects: subjects.New(prefix), tokens: map[int64]string{},
		dbURL: env["DATABASE_URL"]}
	pr, pw := io.Pipe()
	go func() {
		h.runErr <- run(ctx, []string{"chat"}, func(k string) string { return env[k] }, pw)
		pw.Close()
	}()
	addrs := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var line struct{ Msg, GRPC, Admin string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addrs <- [2]string{line.GRPC, line.Admin}
			}
		}
	}()
	var grpcAddr string
	select {
	case a := <-addrs:
		grpcAddr, h.admin = a[0], a[1]
	case err := <-h.runErr:
		t.Fatalf("run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no listening line")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.runErr:
			if err != nil {
				t.Errorf("run after cancel: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("run did not return after cancel")
		}
	})

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h.client = chatv1.NewChatServiceClient(conn)
	h.grpc = grpcAddr
	h.gateway = h.dial(t, "gateway", keyFile)
	h.post = h.dial(t, "post", keyFile)

	h.nc, err = nats.Connect(testenv.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.nc.Close)

	key, err := accesstoken.LoadPrivateKeyFile(priv)
	if err != nil {
		t.Fatal(err)
	}
	h.signer = accesstoken.NewSigner(key)
	for _, uid := range []int64{1, 2} {
		h.tokens[uid] = h.sign(t, uid)
	}
	return h
}

// dial returns a client calling as the service called name with the key
// in keyFile.
func (h *harness) dial(t testing.TB, name, keyFile string) chatv1.ChatServiceClient {
	t.Helper()
	trust, err := servicetrust.FromKeyFile(name, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpcclient.Dial(h.grpc, trust)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return chatv1.NewChatServiceClient(conn)
}

// sign returns a new access token of user uid.
func (h *harness) sign(t testing.TB, uid int64) string {
	t.Helper()
	tok, err := h.signer.Sign(accesstoken.Claims{UserID: uid, Email: "token@example.com", Type: accesstoken.TypeAccess,
		ID: testenv.ID(), ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// as returns a context acting for user uid.
func (h *harness) as(uid int64) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = cancel // released when the timeout fires; tests are short
	return grpcauth.WithToken(ctx, h.tokens[uid])
}

// event is one room event as a gateway sees it: a RoomEvent with new
// messages is split into one "message" event per message (msg).
type event struct {
	kind string // subjects.Event*, from the set field of ev
	ev   *chatv1.RoomEvent
	msg  *chatv1.RoomMessage
}

func (e event) String() string {
	if e.msg != nil {
		return fmt.Sprintf("%s %v", e.kind, e.msg)
	}
	return fmt.Sprintf("%s %v", e.kind, e.ev)
}

// eventKind names the change ev carries with the subjects.Event* names.
func eventKind(ev *chatv1.RoomEvent) string {
	switch ev.GetEvent().(type) {
	case *chatv1.RoomEvent_Messages:
		return subjects.EventMessages
	case *chatv1.RoomEvent_Edited:
		return subjects.EventEdit
	case *chatv1.RoomEvent_Deleted:
		return subjects.EventDelete
	case *chatv1.RoomEvent_Reactions:
		return subjects.EventReaction
	case *chatv1.RoomEvent_Replies:
		return subjects.EventReplies
	case *chatv1.RoomEvent_Joined:
		return subjects.EventJoin
	case *chatv1.RoomEvent_Left:
		return subjects.EventLeave
	case *chatv1.RoomEvent_Typing:
		return subjects.EventTyping
	case *chatv1.RoomEvent_RoomDeleted:
		return subjects.EventRoomDeleted
	}
	return "empty event"
}

// watch subscribes to a room's events. A NATS message that is not exactly
// a typed event (header Cobra-Event: event and nothing else of ours, a
// RoomEvent as data) arrives as an event of a kind no test expects.
func (h *harness) watch(t *testing.T, roomID int64) chan event {
	t.Helper()
	ch := make(chan event, 100)
	sub, err := h.nc.Subscribe(h.subjects.Room(roomID), func(m *nats.Msg) {
		if got := m.Header.Values(subjects.HeaderEvent); len(got) != 1 || got[0] != subjects.EventRoom {
			ch <- event{kind: fmt.Sprintf("header %s %q", subjects.HeaderEvent, got)}
			return
		}
		if got := m.Header.Get(subjects.HeaderSender); got != "" {
			ch <- event{kind: fmt.Sprintf("header %s %q", subjects.HeaderSender, got)}
			return
		}
		var ev chatv1.RoomEvent
		if err := proto.Unmarshal(m.Data, &ev); err != nil {
			ch <- event{kind: "undecodable event: " + err.Error()}
			return
		}
		kind := eventKind(&ev)
		if kind != subjects.EventMessages {
			ch <- event{kind: kind, ev: &ev}
			return
		}
		for _, rm := range ev.GetMessages().GetMessages() {
			ch <- event{kind: subjects.EventMessage, ev: &ev, msg: rm}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := h.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch
}

// next returns the room's next event, which must be of kind event.
func next(t *testing.T, ch chan event, kind string, within time.Duration) event {
	t.Helper()
	select {
	case e := <-ch:
		if e.kind != kind {
			t.Fatalf("got event %s, want %q", e, kind)
		}
		return e
	case <-time.After(within):
		t.Fatalf("no %q event within %v", kind, within)
		return event{}
	}
}

// quiet checks that no event arrives for a while.
func quiet(t *testing.T, ch chan event, d time.Duration) {
	t.Helper()
	select {
	case e := <-ch:
		t.Fatalf("got unexpected event %s", e)
	case <-time.After(d):
	}
}

func wantCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code || (msg != "" && st.Message() != msg) {
		t.Fatalf("got %v %q, want %v %q", st.Code(), st.Message(), code, msg)
	}
}

func TestMessagesOverRPC(t *testing.T) {
	t.Parallel()
	h := start(t)
	room, err := h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "  Go talk  "})
	if err != nil {
		t.Fatal(err)
	}
	if room.GetName() != "Go talk" || room.GetOwnerId() != 1 || room.GetLastSeq() != 0 {
		t.Fatalf("room: got %v", room)
	}
	events := h.watch(t, room.GetId())

	sent, err := h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "Hello, World!", ClientMsgId: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if sent.GetSeq() != 1 || sent.GetNickname() != "alice" || sent.GetSenderEmail() != "alice@example.com" || sent.GetSenderId() != 1 {
		t.Errorf("sent: got %v, want seq 1 from alice", sent)
	}
	rm := next(t, events, subjects.EventMessage, 5*time.Second).msg
	if rm.GetSeq() != 1 || rm.GetSenderId() != 1 || rm.GetCreatedUnixNano() != sent.GetCreatedAt().AsTime().UnixNano() ||
		rm.GetTraceparent() != "" || len(rm.GetFrame()) != 0 {
		t.Errorf("published message: got %v, want seq 1 from user 1 at %v, untraced, without frame", rm, sent.GetCreatedAt().AsTime())
	}
	// Exactly the message as stored: no edit time, replies, reactions or
	// parent yet.
	want := &chatv1.Message{
		Id: sent.GetId(), Seq: 1, RoomId: room.GetId(), Text: "Hello, World!", SenderId: 1,
		SenderEmail: "alice@example.com", Nickname: "alice", ProfilePictureUrl: "/media/avatars/1.webp",
		ClientMsgId: "c1", CreatedAt: sent.GetCreatedAt(),
	}
	if !proto.Equal(rm.GetMessage(), want) {
		t.Errorf("published message:\n got  %v\n want %v", rm.GetMessage(), want)
	}
	// Published after commit: history already has it.
	hist, err := h.client.ListMessages(h.as(2), &chatv1.ListMessagesRequest{RoomId: room.GetId()})
	if err != nil || len(hist.GetMessages()) != 1 || hist.GetMessages()[0].GetNickname() != "alice" {
		t.Fatalf("history: got %v %v", hist, err)
	}

	// A retry returns the stored message and publishes nothing new.
	again, err := h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "Hello, World!", ClientMsgId: "c1"})
	if err != nil || again.GetId() != sent.GetId() || again.GetSeq() != 1 {
		t.Fatalf("retry: got %v %v, want id %d seq 1", again, err, sent.GetId())
	}
	reply, err := h.client.SendMessage(h.as(2), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "hi <b>", ParentId: sent.GetId()})
	if err != nil || reply.GetSeq() != 2 || reply.GetParentId() != sent.GetId() {
		t.Fatalf("reply: got %v %v", reply, err)
	}
	rm = next(t, events, subjects.EventMessage, 5*time.Second).msg
	if m := rm.GetMessage(); rm.GetSeq() != 2 || rm.GetSenderId() != 2 || m.GetSeq() != 2 || m.GetParentId() != sent.GetId() ||
		m.GetNickname() != "<b>bob</b>" || m.GetSenderEmail() != "bob@example.com" || m.GetText() != "hi <b>" {
		t.Errorf("published reply: got %v", rm)
	}
	// The reply names its parent, whose new reply count follows.
	if p := rm.GetMessage().GetParent(); p.GetId() != sent.GetId() || p.GetSeq() != 1 || p.GetSenderEmail() != "alice@example.com" ||
		p.GetNickname() != "alice" || p.GetExcerpt() != "Hello, World!" || p.GetDeleted() {
		t.Errorf("published reply's parent: got %v", p)
	}
	if p := reply.GetParent(); p.GetId() != sent.GetId() || p.GetSenderEmail() != "alice@example.com" {
		t.Errorf("reply answer parent: got %v", p)
	}
	if r := next(t, events, subjects.EventReplies, 5*time.Second).ev.GetReplies(); r.GetId() != sent.GetId() ||
		r.GetSeq() != 1 || r.GetReplyCount() != 1 {
		t.Errorf("replies event: got %v, want message %d (seq 1) with 1 reply", r, sent.GetId())
	}

	// Validation and unknown rooms.
	_, err = h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: strings.Repeat("가", 2001)})
	wantCode(t, err, codes.InvalidArgument, "")
	if f := fielderr.FromError(err); len(f["message"]) != 1 {
		t.Errorf("too long: got fields %v, want message", f)
	}
	var reason string
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason()
		}
	}
	if reason != "message_too_long" {
		t.Errorf("too long: got reason %q, want message_too_long", reason)
	}
	if _, err := h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: strings.Repeat("가", 2000)}); err != nil {
		t.Errorf("2,000 characters: got %v, want success", err)
	}
	next(t, events, subjects.EventMessage, 5*time.Second)
	_, err = h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: " \n\t "})
	wantCode(t, err, codes.InvalidArgument, "")
	if f := fielderr.FromError(err); len(f["message"]) != 1 {
		t.Errorf("blank: got fields %v, want message", f)
	}
	_, err = h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: 999999, Text: "x"})
	wantCode(t, err, codes.NotFound, "Room not found.")
	_, err = h.client.SendMessage(context.Background(), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "x"})
	wantCode(t, err, codes.Unauthenticated, "")
	_, err = h.client.EditMessage(context.Background(), &chatv1.EditMessageRequest{Id: sent.GetId(), Text: "x"})
	wantCode(t, err, codes.Unauthenticated, "")
	// History and rooms need no user for the gateway (a post's public
	// detail page shows them), but some credentials: senders' emails are
	// in the messages.
	if anon, err := h.gateway.ListMessages(context.Background(), &chatv1.ListMessagesRequest{RoomId: room.GetId()}); err != nil || len(anon.GetMessages()) != 3 {
		t.Errorf("history for the gateway, no user: got %v %v, want 3 messages", anon, err)
	}
	if _, err := h.gateway.GetRoom(context.Background(), &chatv1.GetRoomRequest{Id: room.GetId()}); err != nil {
		t.Errorf("GetRoom for the gateway, no user: %v", err)
	}
	_, err = h.client.ListMessages(context.Background(), &chatv1.ListMessagesRequest{RoomId: room.GetId()})
	wantCode(t, err, codes.Unauthenticated, "")
	_, err = h.client.GetRoom(context.Background(), &chatv1.GetRoomRequest{Id: room.GetId()})
	wantCode(t, err, codes.Unauthenticated, "")
	// ... but a token sent to them must still be valid.
	bad := grpcauth.WithToken(context.Background(), h.tokens[1]+"x")
	_, err = h.client.ListMessages(bad, &chatv1.ListMessagesRequest{RoomId: room.GetId()})
	wantCode(t, err, codes.Unauthenticated, "")

	// Edit and delete: sender only, announced live.
	_, err = h.client.EditMessage(h.as(2), &chatv1.EditMessageRequest{Id: sent.GetId(), Text: "mine now"})
	wantCode(t, err, codes.PermissionDenied, "You can only change your own messages.")
	_, err = h.client.DeleteMessage(h.as(2), &chatv1.DeleteMessageRequest{Id: sent.GetId()})
	wantCode(t, err, codes.PermissionDenied, "You can only change your own messages.")
	// With a room that is not the message's: not found, nothing changes.
	_, err = h.client.EditMessage(h.as(1), &chatv1.EditMessageRequest{Id: sent.GetId(), Text: "lost", RoomId: room.GetId() + 1000})
	wantCode(t, err, codes.NotFound, "Message not found.")
	// The edit names the room, as sockets do; the delete below does not,
	// as the REST route cannot.
	edited, err := h.client.EditMessage(h.as(1), &chatv1.EditMessageRequest{Id: sent.GetId(), Text: "Hello again", RoomId: room.GetId()})
	if err != nil || edited.GetText() != "Hello again" || edited.GetEditedAt() == nil {
		t.Fatalf("edit: got %v %v", edited, err)
	}
	// The edit carries its sender (gateways hide it from users who block
	// them) in the message; watch refuses a Cobra-Sender header.
	if m := next(t, events, subjects.EventEdit, 5*time.Second).ev.GetEdited(); m.GetId() != sent.GetId() || m.GetSeq() != 1 ||
		m.GetRoomId() != room.GetId() || m.GetText() != "Hello again" || m.GetSenderId() != 1 ||
		!m.GetEditedAt().AsTime().Equal(edited.GetEditedAt().AsTime()) {
		t.Errorf("edit event: got %v, want message %d (seq 1) from user 1, \"Hello again\", edited at %v",
			m, sent.GetId(), edited.GetEditedAt().AsTime())
	}
	// Editing a reply answers it with its parent and reply count, as
	// history shows it.
	er, err := h.client.EditMessage(h.as(2), &chatv1.EditMessageRequest{Id: reply.GetId(), Text: "hi, edited", RoomId: room.GetId()})
	if err != nil || er.GetParent().GetId() != sent.GetId() || er.GetParent().GetExcerpt() != "Hello again" || er.GetText() != "hi, edited" {
		t.Fatalf("edit of a reply: got %v %v", er, err)
	}
	if er, err := h.client.EditMessage(h.as(1), &chatv1.EditMessageRequest{Id: sent.GetId(), Text: "Hello again", RoomId: room.GetId()}); err != nil || er.GetReplyCount() != 1 {
		t.Fatalf("edit of the parent: got %v %v, want reply_count 1", er, err)
	}
	next(t, events, subjects.EventEdit, 5*time.Second)
	next(t, events, subjects.EventEdit, 5*time.Second)
	// A reaction: the toggler's answer marks "me", the room's event,
	// which every viewer gets, does not.
	toggled, err := h.client.ToggleReaction(h.as(2), &chatv1.ToggleReactionRequest{MessageId: sent.GetId(), Emoji: "👍"})
	if err != nil || !toggled.GetAdded() || len(toggled.GetReactions()) != 1 || !toggled.GetReactions()[0].GetMe() {
		t.Fatalf("toggle: got %v %v, want 👍 added, me", toggled, err)
	}
	wantReactions := &chatv1.MessageReactions{Id: sent.GetId(), Seq: 1, Rev: toggled.GetRev(),
		Reactions: []*chatv1.Reaction{{Emoji: "👍", Count: 1}}}
	if r := next(t, events, subjects.EventReaction, 5*time.Second).ev.GetReactions(); toggled.GetRev() == 0 || !proto.Equal(r, wantReactions) {
		t.Errorf("reaction event:\n got  %v\n want %v", r, wantReactions)
	}
	del, err := h.client.DeleteMessage(h.as(1), &chatv1.DeleteMessageRequest{Id: sent.GetId()})
	if err != nil || del.GetSeq() != 1 || del.GetRoomId() != room.GetId() {
		t.Fatalf("delete: got %v %v", del, err)
	}
	if m := next(t, events, subjects.EventDelete, 5*time.Second).ev.GetDeleted(); m.GetId() != sent.GetId() ||
		m.GetSeq() != 1 || m.GetRoomId() != room.GetId() || m.GetText() != "" {
		t.Errorf("delete event: got %v, want message %d (seq 1) of room %d, without its text", m, sent.GetId(), room.GetId())
	}
	_, err = h.client.EditMessage(h.as(1), &chatv1.EditMessageRequest{Id: sent.GetId(), Text: "x"})
	wantCode(t, err, codes.NotFound, "Message not found.")
	hist, err = h.client.ListMessages(h.as(1), &chatv1.ListMessagesRequest{RoomId: room.GetId(), AfterSeq: 0})
	if err != nil || len(hist.GetMessages()) != 2 || hist.GetMessages()[0].GetSeq() != 2 {
		t.Errorf("history after delete: got %v %v, want seqs 2, 3", hist, err)
	}

	// Typing.
	if _, err := h.client.Typing(h.as(2), &chatv1.TypingRequest{RoomId: room.GetId()}); err != nil {
		t.Fatal(err)
	}
	if u := next(t, events, subjects.EventTyping, 5*time.Second).ev.GetTyping(); u.GetUserId() != 2 ||
		u.GetNickname() != "<b>bob</b>" || u.GetEmail() != "bob@example.com" {
		t.Errorf("typing event: got %v, want bob", u)
	}
	_, err = h.client.Typing(h.as(2), &chatv1.TypingRequest{RoomId: 999999})
	wantCode(t, err, codes.NotFound, "Room not found.")
}

// TestHistoryPaging pages over a room from the first message with
// oldest_first (after_seq 0 alone means "the newest page") and from the
// newest one backwards, the two ways clients read history.
func TestHistoryPaging(t *testing.T) {
	t.Parallel()
	h := start(t)
	room, err := h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "paging"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		if _, err := h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: fmt.Sprint("m", i+1)}); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func(req *chatv1.ListMessagesRequest) []int64 {
		t.Helper()
		resp, err := h.client.ListMessages(h.as(1), req)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, m := range resp.GetMessages() {
			out = append(out, m.GetSeq())
		}
		return out
	}
	var forward []int64
	for after := int64(0); ; {
		page := seqs(&chatv1.ListMessagesRequest{RoomId: room.GetId(), AfterSeq: after, OldestFirst: true, Limit: 3})
		if len(page) == 0 {
			break
		}
		forward = append(forward, page...)
		after = page[len(page)-1]
	}
	if got, want := fmt.Sprint(forward), "[1 2 3 4 5 6 7]"; got != want {
		t.Errorf("forward from after_seq 0 with oldest_first: got seqs %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(seqs(&chatv1.ListMessagesRequest{RoomId: room.GetId(), Limit: 3})), "[5 6 7]"; got != want {
		t.Errorf("no bounds: got seqs %s, want the newest %s", got, want)
	}
	if got, want := fmt.Sprint(seqs(&chatv1.ListMessagesRequest{RoomId: room.GetId(), BeforeSeq: 5, Limit: 3})), "[2 3 4]"; got != want {
		t.Errorf("before_seq 5: got seqs %s, want %s", got, want)
	}
}

func TestRoomsOverRPC(t *testing.T) {
	t.Parallel()
	h := start(t)
	room, err := h.post.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "post room", PostId: 77})
	if err != nil {
		t.Fatal(err)
	}
	same, err := h.post.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "again", PostId: 77})
	if err != nil || same.GetId() != room.GetId() || same.GetPostId() != 77 {
		t.Fatalf("idempotent create: got %v %v, want room %d", same, err, room.GetId())
	}
	_, err = h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: strings.Repeat("n", 101)})
	wantCode(t, err, codes.InvalidArgument, "")
	if f := fielderr.FromError(err); len(f["name"]) != 1 {
		t.Errorf("long name: got fields %v, want name", f)
	}
	other, err := h.client.CreateRoom(h.as(2), &chatv1.CreateRoomRequest{Name: "bob's"})
	if err != nil {
		t.Fatal(err)
	}

	page, err := h.client.ListRooms(h.as(1), &chatv1.ListRoomsRequest{Limit: 1})
	if err != nil || len(page.GetRooms()) != 1 || page.GetRooms()[0].GetId() != other.GetId() || page.GetNextCursor() == "" {
		t.Fatalf("first page: got %v %v", page, err)
	}
	page, err = h.client.ListRooms(h.as(1), &chatv1.ListRoomsRequest{Limit: 1, Cursor: page.GetNextCursor()})
	if err != nil || len(page.GetRooms()) != 1 || page.GetRooms()[0].GetId() != room.GetId() || page.GetNextCursor() != "" {
		t.Fatalf("last page: got %v %v", page, err)
	}
	_, err = h.client.ListRooms(h.as(1), &chatv1.ListRoomsRequest{Cursor: "nope"})
	wantCode(t, err, codes.InvalidArgument, "")

	_, err = h.client.UpdateRoom(h.as(2), &chatv1.UpdateRoomRequest{Id: room.GetId(), Name: "mine"})
	wantCode(t, err, codes.PermissionDenied, "You do not own this room.")
	_, err = h.client.DeleteRoom(h.as(2), &chatv1.DeleteRoomRequest{Id: room.GetId()})
	wantCode(t, err, codes.PermissionDenied, "You do not own this room.")
	renamed, err := h.client.UpdateRoom(h.as(1), &chatv1.UpdateRoomRequest{Id: room.GetId(), Name: "renamed"})
	if err != nil || renamed.GetName() != "renamed" {
		t.Fatalf("rename: got %v %v", renamed, err)
	}

	events := h.watch(t, room.GetId())
	if _, err := h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "soon gone"}); err != nil {
		t.Fatal(err)
	}
	next(t, events, subjects.EventMessage, 5*time.Second)
	if _, err := h.client.DeleteRoom(h.as(1), &chatv1.DeleteRoomRequest{Id: room.GetId()}); err != nil {
		t.Fatal(err)
	}
	// The room is the subject's (watch subscribes to that room only).
	if next(t, events, subjects.EventRoomDeleted, 5*time.Second).ev.GetRoomDeleted() == nil {
		t.Error("room_deleted event without room_deleted")
	}
	_, err = h.client.GetRoom(h.as(1), &chatv1.GetRoomRequest{Id: room.GetId()})
	wantCode(t, err, codes.NotFound, "Room not found.")
	_, err = h.client.ListMessages(h.as(1), &chatv1.ListMessagesRequest{RoomId: room.GetId()})
	wantCode(t, err, codes.NotFound, "Room not found.")

	// Operational endpoints.
	resp, err := http.Get("http://" + h.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"chat_messages_persisted_total 1", "chat_batch_size_count 1"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("metrics: %q missing", name)
		}
	}
	resp, err = http.Get("http://" + h.admin + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("readyz: got %v %v, want 200", resp, err)
	}
	resp.Body.Close()
}

func TestMain(m *testing.M) { os.Exit(testenv.RunWithRedisCluster(m)) }

// TestPresenceOverRPC runs on the single node and, with
// REDIS_CLUSTER_ADDRS, on a Redis Cluster: joins, leaves, heartbeats and
// the sweeper of the running service.
func TestPresenceOverRPC(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"single":  nil,
		"cluster": {"REDIS_CLUSTER_ADDRS": strings.Join(testenv.RedisClusterAddrs(t), ",")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testPresenceOverRPC(t, env)
		})
	}
}

func testPresenceOverRPC(t *testing.T, env map[string]string) {
	h := startWith(t, env)
	room, err := h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "presence"})
	if err != nil {
		t.Fatal(err)
	}
	events := h.watch(t, room.GetId())
	join := func(uid int64, conn string) *chatv1.JoinResponse {
		t.Helper()
		// A lease per connection, as if each were on its own gateway.
		resp, err := h.client.Join(h.as(uid), &chatv1.JoinRequest{RoomId: room.GetId(), ConnectionId: conn, GatewayId: "gw1", Lease: "gw-" + conn})
		if err != nil {
			t.Fatalf("join %s: %v", conn, err)
		}
		return resp
	}
	leave := func(conn string) {
		t.Helper()
		// Anonymous: gateways call Leave without a user token.
		if _, err := h.gateway.Leave(context.Background(), &chatv1.LeaveRequest{RoomId: room.GetId(), ConnectionId: conn}); err != nil {
			t.Fatalf("leave %s: %v", conn, err)
		}
	}

	resp := join(1, "a")
	if resp.GetMe().GetNickname() != "alice" || len(resp.GetOnline()) != 1 || resp.GetRoom().GetOnlineCount() != 1 {
		t.Errorf("first join: got %v", resp)
	}
	if u := next(t, events, subjects.EventJoin, 5*time.Second).ev.GetJoined(); u.GetUserId() != 1 || u.GetNickname() != "alice" ||
		u.GetEmail() != "alice@example.com" || u.GetProfilePictureUrl() != "/media/avatars/1.webp" {
		t.Errorf("join event: got %v, want alice", u)
	}
	join(1, "b") // a second tab: no event
	resp = join(2, "c")
	if len(resp.GetOnline()) != 2 || resp.GetRoom().GetOnlineCount() != 2 {
		t.Errorf("online after bob joined: got %v", resp.GetOnline())
	}
	if u := next(t, events, subjects.EventJoin, 5*time.Second).ev.GetJoined(); u.GetUserId() != 2 || u.GetNickname() != "<b>bob</b>" {
		t.Errorf("join event: got %v, want bob", u)
	}
	got, err := h.client.GetRoom(h.as(1), &chatv1.GetRoomRequest{Id: room.GetId()})
	if err != nil || got.GetOnlineCount() != 2 {
		t.Errorf("GetRoom online: got %v %v, want 2", got, err)
	}

	leave("a") // alice still has "b": no event
	quiet(t, events, 100*time.Millisecond)
	leave("b")
	if u := next(t, events, subjects.EventLeave, 5*time.Second).ev.GetLeft(); u.GetUserId() != 1 || u.GetNickname() != "alice" ||
		u.GetEmail() != "alice@example.com" {
		t.Errorf("leave event: got %v, want alice", u)
	}

	// Alice comes back on "d" and keeps it alive with heartbeats of its
	// lease; bob's "c" gets none, so the sweeper makes him leave after the
	// 2 s TTL.
	join(1, "d")
	next(t, events, subjects.EventJoin, 5*time.Second)
	heartbeat := func(sockets int32) *chatv1.HeartbeatResponse {
		t.Helper()
		hb, err := h.gateway.Heartbeat(context.Background(), &chatv1.HeartbeatRequest{GatewayId: "gw1", Lease: "gw-d",
			Rooms: []*chatv1.RoomSockets{{RoomId: room.GetId(), Sockets: sockets}}})
		if err != nil {
			t.Fatal(err)
		}
		return hb
	}
	// The gateway counts two sockets, one of which never joined: it is
	// told to reconcile, and to join that one again.
	hb := heartbeat(2)
	if !slices.Equal(hb.GetRecount(), []int64{room.GetId()}) || hb.GetAsOfMs() == 0 {
		t.Fatalf("heartbeat with a socket the service lacks: got %v, want the room to recount", hb)
	}
	rec, err := h.gateway.ReconcilePresence(context.Background(), &chatv1.ReconcilePresenceRequest{Lease: "gw-d", AsOfMs: hb.GetAsOfMs(),
		RoomIds: []int64{room.GetId()}, Connections: []*chatv1.ConnectionRef{
			{RoomId: room.GetId(), ConnectionId: "d"}, {RoomId: room.GetId(), ConnectionId: "never-joined"}}})
	if err != nil || len(rec.GetUnknown()) != 1 || rec.GetUnknown()[0].GetConnectionId() != "never-joined" {
		t.Fatalf("reconcile: got %v %v, want never-joined unknown", rec, err)
	}
	stop := time.Now().Add(3500 * time.Millisecond)
	var bobLeft *chatv1.RoomUser
	for time.Now().Before(stop) {
		if hb := heartbeat(1); len(hb.GetRecount()) != 0 {
			t.Fatalf("heartbeat: got recount %v, want none", hb.GetRecount())
		}
		select {
		case e := <-events:
			if bobLeft != nil {
				t.Fatalf("second event %s", e)
			}
			if bobLeft = e.ev.GetLeft(); e.kind != subjects.EventLeave || bobLeft == nil {
				t.Fatalf("got %s, want bob's leave", e)
			}
		case <-time.After(200 * time.Millisecond):
		}
	}
	if bobLeft.GetUserId() != 2 || bobLeft.GetNickname() != "<b>bob</b>" {
		t.Fatalf("bob's leave after expiry: got %v", bobLeft)
	}
	// Without heartbeats alice's "d" expires too.
	if u := next(t, events, subjects.EventLeave, 5*time.Second).ev.GetLeft(); u.GetUserId() != 1 || u.GetNickname() != "alice" {
		t.Errorf("alice's leave after expiry: got %v", u)
	}

	_, err = h.client.Join(h.as(1), &chatv1.JoinRequest{RoomId: 999999, ConnectionId: "x"})
	wantCode(t, err, codes.NotFound, "Room not found.")
	_, err = h.client.Join(context.Background(), &chatv1.JoinRequest{RoomId: room.GetId(), ConnectionId: "x"})
	wantCode(t, err, codes.Unauthenticated, "")
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), nil, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || !strings.Contains(err.Error(), "JWT_PUBLIC_KEY_FILE") {
		t.Errorf("got %v, want both required variables named", err)
	}
}

// deadAddr is a local address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

func TestDegradedWithoutRedisAndNATS(t *testing.T) {
	t.Parallel()
	h := startWith(t, map[string]string{
		"REDIS_URL": "redis://" + deadAddr(t) + "/0",
		"NATS_URL":  "nats://" + deadAddr(t),
	})
	room, err := h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "degraded"})
	if err != nil {
		t.Fatal(err)
	}
	// Sends are acknowledged: PostgreSQL is the truth.
	for i := range 3 {
		m, err := h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "still here"})
		if err != nil || m.GetSeq() != int64(i+1) {
			t.Fatalf("send without NATS: got %v %v, want seq %d", m, err, i+1)
		}
	}
	// Join works with presence reduced to the caller.
	resp, err := h.client.Join(h.as(1), &chatv1.JoinRequest{RoomId: room.GetId(), ConnectionId: "a"})
	if err != nil || resp.GetMe().GetNickname() != "alice" || len(resp.GetOnline()) != 1 {
		t.Fatalf("join without Redis: got %v %v", resp, err)
	}
	got, err := h.client.GetRoom(h.as(1), &chatv1.GetRoomRequest{Id: room.GetId()})
	if err != nil || got.GetLastSeq() != 3 || got.GetOnlineCount() != 0 {
		t.Errorf("GetRoom without Redis: got %v %v, want last_seq 3, online 0", got, err)
	}
	_, err = h.gateway.Heartbeat(context.Background(), &chatv1.HeartbeatRequest{Lease: "gw", Rooms: []*chatv1.RoomSockets{{RoomId: room.GetId(), Sockets: 1}}})
	wantCode(t, err, codes.Unavailable, "")
}

func TestUserServiceDown(t *testing.T) {
	t.Parallel()
	h := startWith(t, map[string]string{"USER_SERVICE_ADDR": deadAddr(t)})
	room, err := h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "no users"})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing cached: the sender's details are unknown, so the send is
	// refused (safe to retry) rather than published without a name.
	_, err = h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "hi", ClientMsgId: "x"})
	wantCode(t, err, codes.Unavailable, "")
	got, err := h.client.GetRoom(h.as(1), &chatv1.GetRoomRequest{Id: room.GetId()})
	if err != nil || got.GetLastSeq() != 0 {
		t.Errorf("nothing stored: got %v %v, want last_seq 0", got, err)
	}
}

func TestGracefulStopKeepsEveryAcknowledgedMessage(t *testing.T) {
	t.Parallel()
	h := start(t)
	room, err := h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "shutdown"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := map[int64]bool{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			for j := 0; ; j++ {
				m, err := h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "x",
					ClientMsgId: fmt.Sprint(i, "-", j)})
				if err != nil {
					return // the server is stopping
				}
				mu.Lock()
				acked[m.GetSeq()] = true
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	h.cancelRun()
	select {
	case err := <-h.runErr:
		if err != nil {
			t.Errorf("run: %v", err)
		}
		h.runErr <- nil // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop")
	}
	wg.Wait()

	conn, err := pgx.Connect(context.Background(), h.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT seq FROM messages WHERE room_id = $1 ORDER BY seq`, room.GetId())
	if err != nil {
		t.Fatal(err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	for i, seq := range stored {
		if seq != int64(i+1) {
			t.Fatalf("stored seq %d at position %d: gap", seq, i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged before the stop")
	}
	for seq := range acked {
		if seq > int64(len(stored)) {
			t.Errorf("acknowledged seq %d is not stored (%d stored)", seq, len(stored))
		}
	}
	t.Logf("%d acknowledged, %d stored", len(acked), len(stored))
}

// DATABASE_READ_URL pointing at the same database (as a replica would
// mirror it) under its own application_name: history and room listings
// work and run on that pool's connections, seen from PostgreSQL.
func TestReadURLServesHistory(t *testing.T) {
	t.Parallel()
	db := testenv.Database(t)
	readURL := db + "&application_name=chat-read-" + strings.ToLower(testenv.ID())
	appName := readURL[strings.LastIndex(readURL, "=")+1:]
	h := startWith(t, map[string]string{"DATABASE_URL": db, "DATABASE_READ_URL": readURL})

	room, err := h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "replicated"})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"one", "two"} {
		if _, err := h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := h.client.ListMessages(h.as(2), &chatv1.ListMessagesRequest{RoomId: room.GetId()})
	if err != nil || len(hist.GetMessages()) != 2 || hist.GetMessages()[1].GetText() != "two" {
		t.Fatalf("history: got %v, %v", hist, err)
	}
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// pg_stat_activity keeps an idle connection's last statement (its
	// first 1,024 bytes: the page's columns and joins come first).
	var pages int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE 'SELECT m.id, m.room_id, m.seq%FROM messages m%'`, appName).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages == 0 {
		t.Errorf("no connection named %s ran the history page", appName)
	}

	rooms, err := h.client.ListRooms(h.as(1), &chatv1.ListRoomsRequest{})
	if err != nil || len(rooms.GetRooms()) != 1 {
		t.Fatalf("rooms: got %v, %v", rooms, err)
	}
	var listings int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE '%FROM rooms WHERE id < $1%'`, appName).Scan(&listings); err != nil {
		t.Fatal(err)
	}
	if listings == 0 {
		t.Errorf("no connection named %s ran the room listing", appName)
	}
}
