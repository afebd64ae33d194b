package chatsocket_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/platform/testenv"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/natsbridge"
)

// fakeChat is a small in-memory chat service that publishes on real NATS
// like services/chat: typed RoomEvents, after "commit".
type fakeChat struct {
	chatv1.ChatServiceClient // unimplemented methods panic

	nc   *nats.Conn
	subj subjects.Subjects

	mu      sync.Mutex
	rooms   map[int64]*fakeRoom
	nextID  int64
	drop    map[int64]bool // seqs whose publish is skipped (a lost NATS message)
	online  map[int64]map[string]int64
	leaves  []string
	history int      // ListMessages calls
	joins   int      // Join calls
	leases  []string // the lease of each Join
	// streamDown makes the gateway service's own reads (a room stream's
	// start and repairs) fail as UNAVAILABLE; users' reads still work.
	streamDown bool
	beats      int     // Heartbeat calls
	reconciles int     // ReconcilePresence calls
	changed    []int64 // room_id of each EditMessage and DeleteMessage call
}

type fakeRoom struct {
	lastSeq int64
	msgs    []*chatv1.Message
}

func newFakeChat(nc *nats.Conn, prefix string) *fakeChat {
	return &fakeChat{nc: nc, subj: subjects.New(prefix), rooms: map[int64]*fakeRoom{},
		drop: map[int64]bool{}, online: map[int64]map[string]int64{}}
}

// userOf reads the fake token "u<id>" (or "u<id>.<padding>", as long as a
// real one) from the outgoing metadata.
func userOf(ctx context.Context) (int64, error) {
	md, _ := metadata.FromOutgoingContext(ctx)
	for _, v := range md.Get("authorization") {
		v, _, _ = strings.Cut(v, ".")
		if id, err := strconv.ParseInt(strings.TrimPrefix(v, "Bearer u"), 10, 64); err == nil {
			return id, nil
		}
	}
	return 0, status.Error(codes.Unauthenticated, "no token")
}

// readerOf is the user of a read, or 0 for the gateway service (a call
// without a token: the room streams' reads).
func readerOf(ctx context.Context) (int64, error) {
	if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get("authorization")) == 0 {
		return 0, nil
	}
	return userOf(ctx)
}

func (f *fakeChat) addRoom(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rooms[id] = &fakeRoom{}
}

func (f *fakeChat) GetRoom(ctx context.Context, in *chatv1.GetRoomRequest, _ ...grpc.CallOption) (*chatv1.Room, error) {
	uid, err := readerOf(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if uid == 0 && f.streamDown {
		return nil, status.Error(codes.Unavailable, "chat unavailable")
	}
	r := f.rooms[in.Id]
	if r == nil {
		return nil, status.Error(codes.NotFound, "Not found.")
	}
	return &chatv1.Room{Id: in.Id, Name: "r", LastSeq: r.lastSeq}, nil
}

func (f *fakeChat) Join(ctx context.Context, in *chatv1.JoinRequest, _ ...grpc.CallOption) (*chatv1.JoinResponse, error) {
	uid, err := userOf(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joins++
	f.leases = append(f.leases, in.GetLease())
	r := f.rooms[in.RoomId]
	if r == nil {
		return nil, status.Error(codes.NotFound, "Not found.")
	}
	if f.online[in.RoomId] == nil {
		f.online[in.RoomId] = map[string]int64{}
	}
	f.online[in.RoomId][in.ConnectionId] = uid
	var users []*chatv1.OnlineUser
	seen := map[int64]bool{}
	for _, u := range f.online[in.RoomId] {
		if !seen[u] {
			seen[u] = true
			users = append(users, &chatv1.OnlineUser{UserId: u, Email: email(u), Nickname: nick(u)})
		}
	}
	return &chatv1.JoinResponse{Room: &chatv1.Room{Id: in.RoomId, LastSeq: r.lastSeq}, Online: users}, nil
}

func (f *fakeChat) Leave(_ context.Context, in *chatv1.LeaveRequest, _ ...grpc.CallOption) (*chatv1.LeaveResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.online[in.RoomId], in.ConnectionId)
	f.leaves = append(f.leaves, in.ConnectionId)
	return &chatv1.LeaveResponse{}, nil
}

// Heartbeat recounts the rooms whose sockets the fake knows in another
// number (one gateway per test: the lease is not checked).
func (f *fakeChat) Heartbeat(_ context.Context, in *chatv1.HeartbeatRequest, _ ...grpc.CallOption) (*chatv1.HeartbeatResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beats++
	resp := &chatv1.HeartbeatResponse{AsOfMs: time.Now().UnixMilli()}
	for _, r := range in.GetRooms() {
		if len(f.online[r.GetRoomId()]) != int(r.GetSockets()) {
			resp.Recount = append(resp.Recount, r.GetRoomId())
		}
	}
	return resp, nil
}

// ReconcilePresence answers the listed sockets the fake does not know and
// forgets the ones not listed.
func (f *fakeChat) ReconcilePresence(_ context.Context, in *chatv1.ReconcilePresenceRequest, _ ...grpc.CallOption) (*chatv1.ReconcilePresenceResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reconciles++
	listed := map[string]bool{}
	resp := &chatv1.ReconcilePresenceResponse{}
	for _, c := range in.GetConnections() {
		listed[c.GetConnectionId()] = true
		if _, ok := f.online[c.GetRoomId()][c.GetConnectionId()]; !ok {
			resp.Unknown = append(resp.Unknown, c)
		}
	}
	for _, room := range in.GetRoomIds() {
		for conn := range f.online[room] {
			if !listed[conn] {
				delete(f.online[room], conn)
			}
		}
	}
	return resp, nil
}

func (f *fakeChat) Typing(ctx context.Context, in *chatv1.TypingRequest, _ ...grpc.CallOption) (*chatv1.TypingResponse, error) {
	uid, err := userOf(ctx)
	if err != nil {
		return nil, err
	}
	f.publishEvent(in.RoomId, &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Typing{
		Typing: &chatv1.RoomUser{UserId: uid, Email: email(uid), Nickname: nick(uid)}}})
	return &chatv1.TypingResponse{}, nil
}

func (f *fakeChat) EditMessage(_ context.Context, in *chatv1.EditMessageRequest, _ ...grpc.CallOption) (*chatv1.Message, error) {
	f.mu.Lock()
	f.changed = append(f.changed, in.GetRoomId())
	f.mu.Unlock()
	return nil, status.Error(codes.PermissionDenied, "You are not the sender of this message.")
}

func (f *fakeChat) DeleteMessage(_ context.Context, in *chatv1.DeleteMessageRequest, _ ...grpc.CallOption) (*chatv1.DeleteMessageResponse, error) {
	f.mu.Lock()
	f.changed = append(f.changed, in.GetRoomId())
	f.mu.Unlock()
	return nil, status.Error(codes.NotFound, "Not found.")
}

// SendMessage "commits" then publishes, unless the seq is in drop.
func (f *fakeChat) SendMessage(ctx context.Context, in *chatv1.SendMessageRequest, _ ...grpc.CallOption) (*chatv1.Message, error) {
	uid, err := userOf(ctx)
	if err != nil {
		return nil, err
	}
	m, drop, err := f.store(in.RoomId, uid, in.Text, in.ClientMsgId)
	if err != nil {
		return nil, err
	}
	if !drop {
		f.publishMessages(in.RoomId, m)
	}
	return m, nil
}

// SendMessages is SendMessage for each entry, acting for its sender_id
// (the gateway's service identity is not modelled here), and publishes
// the stored messages of each room as one "messages" event, like the chat
// service's group commit.
func (f *fakeChat) SendMessages(_ context.Context, in *chatv1.SendMessagesRequest, _ ...grpc.CallOption) (*chatv1.SendMessagesResponse, error) {
	resp := &chatv1.SendMessagesResponse{}
	batches := map[int64][]*chatv1.Message{}
	var rooms []int64
	for _, e := range in.GetMessages() {
		req := e.GetMessage()
		m, drop, err := f.store(req.GetRoomId(), e.GetSenderId(), req.GetText(), req.GetClientMsgId())
		if err != nil {
			st := status.Convert(err)
			resp.Outcomes = append(resp.Outcomes, &chatv1.SendOutcome{Outcome: &chatv1.SendOutcome_Error{
				Error: &chatv1.SendError{Code: int32(st.Code()), Message: st.Message()}}})
			continue
		}
		resp.Outcomes = append(resp.Outcomes, &chatv1.SendOutcome{Outcome: &chatv1.SendOutcome_Message{Message: m}})
		if drop {
			continue
		}
		if batches[m.RoomId] == nil {
			rooms = append(rooms, m.RoomId)
		}
		batches[m.RoomId] = append(batches[m.RoomId], m)
	}
	for _, r := range rooms {
		f.publishMessages(r, batches[r]...)
	}
	return resp, nil
}

func (f *fakeChat) store(roomID, uid int64, text, clientID string) (*chatv1.Message, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rooms[roomID]
	if r == nil {
		return nil, false, status.Error(codes.NotFound, "Not found.")
	}
	r.lastSeq++
	f.nextID++
	m := &chatv1.Message{Id: f.nextID, Seq: r.lastSeq, RoomId: roomID, Text: text, SenderId: uid,
		SenderEmail: email(uid), Nickname: nick(uid), ClientMsgId: clientID, CreatedAt: timestamppb.Now()}
	r.msgs = append(r.msgs, m)
	return m, f.drop[m.Seq], nil
}

// publishMessages publishes msgs as the new messages of one commit.
func (f *fakeChat) publishMessages(roomID int64, msgs ...*chatv1.Message) {
	batch := &chatv1.RoomMessages{}
	for _, m := range msgs {
		batch.Messages = append(batch.Messages, &chatv1.RoomMessage{Seq: m.Seq,
			CreatedUnixNano: m.CreatedAt.AsTime().UnixNano(), SenderId: m.SenderId, Message: m})
	}
	f.publishEvent(roomID, &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Messages{Messages: batch}})
}

// publishEvent publishes a typed room event.
func (f *fakeChat) publishEvent(roomID int64, ev *chatv1.RoomEvent) {
	data, err := proto.Marshal(ev)
	if err != nil {
		panic(err) // a RoomEvent built by the fake always encodes
	}
	f.publish(roomID, subjects.EventRoom, data)
}

// publish publishes data with Cobra-Event kind: a typed event, or a frame
// as chat services older than RoomEvent published it.
func (f *fakeChat) publish(roomID int64, kind string, data []byte) {
	msg := nats.NewMsg(f.subj.Room(roomID))
	msg.Header.Set(subjects.HeaderEvent, kind)
	msg.Data = data
	_ = f.nc.PublishMsg(msg)
}

func (f *fakeChat) ListMessages(ctx context.Context, in *chatv1.ListMessagesRequest, _ ...grpc.CallOption) (*chatv1.ListMessagesResponse, error) {
	if _, err := readerOf(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.history++
	r := f.rooms[in.RoomId]
	if r == nil {
		return nil, status.Error(codes.NotFound, "Not found.")
	}
	limit := int(in.Limit)
	if limit == 0 {
		limit = 50
	}
	var out []*chatv1.Message
	if in.AfterSeq > 0 || in.OldestFirst {
		for _, m := range r.msgs {
			if m.Seq > in.AfterSeq && len(out) < limit {
				out = append(out, m)
			}
		}
	} else {
		for i := len(r.msgs) - 1; i >= 0 && len(out) < limit; i-- {
			if in.BeforeSeq == 0 || r.msgs[i].Seq < in.BeforeSeq {
				out = append([]*chatv1.Message{r.msgs[i]}, out...)
			}
		}
	}
	return &chatv1.ListMessagesResponse{Messages: out}, nil
}

func email(uid int64) string { return "u" + strconv.FormatInt(uid, 10) + "@example.com" }
func nick(uid int64) string  { return "user" + strconv.FormatInt(uid, 10) }

// replica is one hub behind an HTTP test server, like one gateway.
type replica struct {
	hub    *chatsocket.Hub
	srv    *httptest.Server
	bridge *natsbridge.Bridge
}

const allowedOrigin = "http://allowed.test"

func newReplica(t *testing.T, nc *nats.Conn, prefix string, chat chatv1.ChatServiceClient, cfg chatsocket.Config) *replica {
	t.Helper()
	m, err := chatsocket.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	bridge := natsbridge.New(nc, prefix)
	hub := chatsocket.NewHub(cfg, chat, bridge, log, m)
	// Revocations reach the hub as in main: through the Authenticator.
	authn := auth.New(nil, nil, log)
	authn.OnRevoked(func(uid int64, sessions []string) { hub.CloseSessions(uid, sessions, "logout") })
	unsub, err := authn.SubscribeRevocations(nc, subjects.New(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unsub)
	if err := nc.Flush(); err != nil { // subscribed before the test publishes
		t.Fatal(err)
	}
	hs := chatsocket.Handshake{
		Authenticate: func(r *http.Request) (chatsocket.Principal, error) {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				return chatsocket.Principal{}, io.EOF
			}
			uid, err := strconv.ParseInt(strings.TrimPrefix(tok, "u"), 10, 64)
			if err != nil {
				return chatsocket.Principal{}, err
			}
			p := chatsocket.Principal{UserID: uid, Email: email(uid), Token: tok, SessionID: r.Header.Get("X-Test-Session")}
			if v := r.Header.Get("X-Test-Expires"); v != "" {
				d, _ := time.ParseDuration(v)
				p.ExpiresAt = time.Now().Add(d)
			}
			return p, nil
		},
		OriginAllowed: func(r *http.Request) bool { return r.Header.Get("Origin") == allowedOrigin },
		Error: func(w http.ResponseWriter, _ *http.Request, code int, msg string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(map[string]string{"detail": msg})
		},
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws/chat/{room_id}/chat/", chatsocket.NewHandler(hub, hs))
	mux.Handle("GET /ws/user/", chatsocket.NewUserHandler(hub, hs))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = hub.Shutdown(ctx)
		srv.Close()
	})
	return &replica{hub: hub, srv: srv, bridge: bridge}
}

// env is NATS + a fake chat service for one test.
type env struct {
	nc     *nats.Conn
	prefix string
	chat   *fakeChat
}

func newEnv(t testing.TB) *env {
	t.Helper()
	prefix := testenv.Prefix(t)
	nc, err := nats.Connect(testenv.NATSURL())
	if err != nil {
		t.Fatalf("nats: %v", err)
	}
	t.Cleanup(nc.Close)
	return &env{nc: nc, prefix: prefix, chat: newFakeChat(nc, prefix)}
}

// testConn is a client socket with helpers.
type testConn struct {
	t  *testing.T
	ws *websocket.Conn
}

type dialOpts struct {
	user    int64
	session string // the token's login session
	query   string
	origin  string
	expires string
}

func dial(t *testing.T, r *replica, room int64, o dialOpts) (*testConn, *http.Response, error) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/ws/chat/" + strconv.FormatInt(room, 10) + "/chat/" + o.query
	h := http.Header{}
	if o.user != 0 {
		h.Set("Authorization", "Bearer u"+strconv.FormatInt(o.user, 10))
	}
	if o.session != "" {
		h.Set("X-Test-Session", o.session)
	}
	if o.origin != "" {
		h.Set("Origin", o.origin)
	}
	if o.expires != "" {
		h.Set("X-Test-Expires", o.expires)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { ws.Close() })
	return &testConn{t: t, ws: ws}, resp, nil
}

func mustDial(t *testing.T, r *replica, room int64, o dialOpts) *testConn {
	t.Helper()
	c, _, err := dial(t, r, room, o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return c
}

// frame is any server frame, decoded loosely.
type frame struct {
	Type        string             `json:"type"`
	Seq         int64              `json:"seq"`
	Message     string             `json:"message"`
	ClientMsgID string             `json:"client_msg_id"`
	Recovered   *bool              `json:"recovered"`
	Messages    []chatjson.Message `json:"messages"`
	Users       []json.RawMessage  `json:"users"`
	ErrorType   string             `json:"error_type"`
	Username    string             `json:"username"`
	Email       string             `json:"email"`
	Hidden      bool               `json:"hidden"`
}

// next reads one frame within 5 s.
func (c *testConn) next() frame {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		c.t.Fatalf("frame %q: %v", data, err)
	}
	return f
}

// nextOf skips frames until one of type typ (or an error frame when typ is
// "error").
func (c *testConn) nextOf(typ string) frame {
	c.t.Helper()
	for {
		f := c.next()
		if f.Type == typ || typ == "error" && f.ErrorType != "" {
			return f
		}
	}
}

func (c *testConn) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// closeCode reads until the connection ends and returns the close code
// (-1: none).
func (c *testConn) closeCode(within time.Duration) int {
	c.t.Helper()
	code, _ := c.closeCodeAfter(within)
	return code
}

// closeCodeAfter is closeCode that also returns the error_type of every
// error frame read before the close.
func (c *testConn) closeCodeAfter(within time.Duration) (int, []string) {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(within))
	var errs []string
	for {
		_, data, err := c.ws.ReadMessage()
		if err == nil {
			var f frame
			if json.Unmarshal(data, &f) == nil && f.ErrorType != "" {
				errs = append(errs, f.ErrorType)
			}
			continue
		}
		var ce *websocket.CloseError
		if ok := asClose(err, &ce); ok {
			return ce.Code, errs
		}
		c.t.Logf("read ended without close frame: %v", err)
		return -1, errs
	}
}

func asClose(err error, ce **websocket.CloseError) bool {
	var e *websocket.CloseError
	ok := errors.As(err, &e)
	if ok {
		*ce = e
	}
	return ok
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
