package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// chatFake answers chat RPCs with canned data and records what the
// gateway asked.
type chatFake struct {
	chatv1.ChatServiceClient // unimplemented methods panic

	mu   sync.Mutex
	last any    // last request
	auth string // its authorization metadata
	err  error  // returned instead of a result when set
}

func (f *chatFake) record(ctx context.Context, req any) error {
	md, _ := metadata.FromOutgoingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = req
	f.auth = strings.Join(md.Get("authorization"), ",")
	return f.err
}

var chatCreated = timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

func fakeRoom(id int64) *chatv1.Room {
	return &chatv1.Room{Id: id, Name: "general", OwnerId: 7, OnlineCount: 2, CreatedAt: chatCreated, LastSeq: 9}
}

func fakeMsg(id, seq int64) *chatv1.Message {
	return &chatv1.Message{Id: id, Seq: seq, RoomId: 3, Text: "hi <b>", SenderId: 7, SenderEmail: "a@example.com",
		Nickname: "a", ProfilePictureUrl: "/media/a.png", ParentId: 0, ClientMsgId: "c1", CreatedAt: chatCreated}
}

func (f *chatFake) CreateRoom(ctx context.Context, in *chatv1.CreateRoomRequest, _ ...grpc.CallOption) (*chatv1.Room, error) {
	if err := f.record(ctx, in); err != nil {
		return nil, err
	}
	r := fakeRoom(3)
	r.Name, r.PostId = in.Name, in.PostId
	return r, nil
}

func (f *chatFake) GetRoom(ctx context.Context, in *chatv1.GetRoomRequest, _ ...grpc.CallOption) (*chatv1.Room, error) {
	if err := f.record(ctx, in); err != nil {
		return nil, err
	}
	return fakeRoom(in.Id), nil
}

func (f *chatFake) ListRooms(ctx context.Context, in *chatv1.ListRoomsRequest, _ ...grpc.CallOption) (*chatv1.ListRoomsResponse, error) {
	if err := f.record(ctx, in); err != nil {
		return nil, err
	}
	return &chatv1.ListRoomsResponse{Rooms: []*chatv1.Room{fakeRoom(5), fakeRoom(4)}, NextCursor: "abc"}, nil
}

func (f *chatFake) UpdateRoom(ctx context.Context, in *chatv1.UpdateRoomRequest, _ ...grpc.CallOption) (*chatv1.Room, error) {
	if err := f.record(ctx, in); err != nil {
		return nil, err
	}
	r := fakeRoom(in.Id)
	r.Name = in.Name
	return r, nil
}

func (f *chatFake) DeleteRoom(ctx context.Context, in *chatv1.DeleteRoomRequest, _ ...grpc.CallOption) (*chatv1.DeleteRoomResponse, error) {
	return &chatv1.DeleteRoomResponse{}, f.record(ctx, in)
}

func (f *chatFake) ListMessages(ctx context.Context, in *chatv1.ListMessagesRequest, _ ...grpc.CallOption) (*chatv1.ListMessagesResponse, error) {
	if err := f.record(ctx, in); err != nil {
		return nil, err
	}
	return &chatv1.ListMessagesResponse{Messages: []*chatv1.Message{fakeMsg(1, 4), fakeMsg(2, 5)}}, nil
}

func (f *chatFake) SendMessage(ctx context.Context, in *chatv1.SendMessageRequest, _ ...grpc.CallOption) (*chatv1.Message, error) {
	if err := f.record(ctx, in); err != nil {
		return nil, err
	}
	m := fakeMsg(10, 6)
	m.Text, m.ParentId, m.ClientMsgId = in.Text, in.ParentId, in.ClientMsgId
	return m, nil
}

func (f *chatFake) EditMessage(ctx context.Context, in *chatv1.EditMessageRequest, _ ...grpc.CallOption) (*chatv1.Message, error) {
	if err := f.record(ctx, in); err != nil {
		return nil, err
	}
	m := fakeMsg(in.Id, 4)
	m.Text, m.EditedAt = in.Text, chatCreated
	return m, nil
}

func (f *chatFake) DeleteMessage(ctx context.Context, in *chatv1.DeleteMessageRequest, _ ...grpc.CallOption) (*chatv1.DeleteMessageResponse, error) {
	return &chatv1.DeleteMessageResponse{Id: in.Id}, f.record(ctx, in)
}

// newChatAPI returns the REST API over fake and a valid access token.
func newChatAPI(t *testing.T, fake *chatFake) (*httptest.Server, string) {
	t.Helper()
	return newChatAPIAs(t, fake, 7)
}

// newChatAPIAs is newChatAPI with a token for user uid.
func newChatAPIAs(t *testing.T, fake *chatFake, uid int64) (*httptest.Server, string) {
	t.Helper()
	log, authn, token := testAuth(t, uid)
	api, err := NewServer(Config{
		Logger: log,
		Auth:   authn,
		Chat:   fake,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv, token
}

// chatOpenAPI is the router over openapi.yaml. The whole document's
// validity is checked by the core's OpenAPI test; here only the chat
// routes' answers are checked against their schemas.
var chatOpenAPI = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil
	return legacy.NewRouter(doc)
})

// chatCheckOpenAPI validates a real answer against openapi.yaml (status
// documented, body matching the schema).
func chatCheckOpenAPI(t *testing.T, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode == http.StatusInternalServerError {
		return // outside the contract (like the other routes, 500 is undocumented)
	}
	router, err := chatOpenAPI()
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	vr := req.Clone(context.Background())
	u := *req.URL
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	vr.URL = &u
	route, params, err := router.FindRoute(vr)
	if err != nil {
		t.Fatalf("openapi: no route for %s %s: %v", req.Method, u.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("OpenAPI: %s %s → %d %s: %v", req.Method, req.URL.Path, resp.StatusCode, body, err)
	}
}

func chatDo(t *testing.T, srv *httptest.Server, token, method, path, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	chatCheckOpenAPI(t, req, resp, data)
	return resp, string(data)
}

func TestChatREST(t *testing.T) {
	t.Parallel()
	fake := &chatFake{}
	srv, token := newChatAPI(t, fake)
	const room3 = `{"id":3,"name":"general","chat_url":"/ws/chat/3/chat/","owner":7,"post":null,"online_count":2,"created_at":"2026-01-02T03:04:05Z","kind":"post"}`
	const msg4 = `{"id":1,"seq":4,"room":3,"message":"hi <b>","sender":"a@example.com","nickname":"a","profile_picture_url":"/media/a.png","parent_chat":null,"client_msg_id":"c1","created_at":"2026-01-02T03:04:05Z","edited_at":null,"reply_count":0,"reactions":[],"parent":null}`
	tests := []struct {
		name, method, path, body string
		noAuth                   bool
		wantStatus               int
		wantBody                 string // exact JSON ("" = not checked)
		wantReq                  string // the recorded request, as proto text ("" = not checked)
		wantLink                 string
	}{
		{name: "create room", method: "POST", path: "/api/chat/room/", body: `{"name":"general"}`, wantStatus: 201, wantBody: room3},
		// A room for a post goes through the post service: TestPostRooms.
		{name: "create room without name", method: "POST", path: "/api/chat/room/", body: `{}`, wantStatus: 400, wantBody: `{"name":["This field is required."]}`},
		{name: "create room unknown field", method: "POST", path: "/api/chat/room/", body: `{"name":"x","owner":1}`, wantStatus: 400},
		{name: "create room without auth", method: "POST", path: "/api/chat/room/", body: `{"name":"x"}`, noAuth: true, wantStatus: 401},
		{name: "list rooms", method: "GET", path: "/api/chat/room/?limit=2", wantStatus: 200,
			wantLink: `</api/chat/room/?cursor=abc&limit=2>; rel="next"`},
		{name: "get room", method: "GET", path: "/api/chat/room/3", wantStatus: 200, wantBody: room3},
		{name: "get room bad id", method: "GET", path: "/api/chat/room/abc/", wantStatus: 404},
		{name: "rename room", method: "PATCH", path: "/api/chat/room/3/", body: `{"name":"general"}`, wantStatus: 200, wantBody: room3},
		{name: "put room without name", method: "PUT", path: "/api/chat/room/3/", body: `{}`, wantStatus: 400},
		{name: "delete room", method: "DELETE", path: "/api/chat/room/3/", wantStatus: 204},
		{name: "messages", method: "GET", path: "/api/chat/room/3/messages/?before=9&limit=2", wantStatus: 200,
			wantBody: "[" + msg4 + `,` + strings.Replace(strings.Replace(msg4, `"id":1`, `"id":2`, 1), `"seq":4`, `"seq":5`, 1) + "]",
			wantLink: `</api/chat/room/3/messages/?before=4&limit=2>; rel="next"`},
		{name: "messages limit capped", method: "GET", path: "/api/chat/room/3/messages/?after=1&limit=5000", wantStatus: 200},
		{name: "messages before and after", method: "GET", path: "/api/chat/room/3/messages/?before=3&after=1", wantStatus: 400},
		{name: "messages bad seq", method: "GET", path: "/api/chat/room/3/messages/?after=x", wantStatus: 400},
		{name: "send message", method: "POST", path: "/api/chat/message/", body: `{"room":3,"message":"hello","client_msg_id":"k","parent_chat":2}`, wantStatus: 201},
		{name: "send message missing room", method: "POST", path: "/api/chat/message/", body: `{"message":"hello"}`, wantStatus: 400,
			wantBody: `{"room":["This field is required."]}`},
		{name: "send message sender field rejected", method: "POST", path: "/api/chat/message/", body: `{"room":3,"message":"x","sender":"b@example.com"}`, wantStatus: 400},
		{name: "edit message", method: "PATCH", path: "/api/chat/message/1/", body: `{"message":"new"}`, wantStatus: 200},
		{name: "delete message", method: "DELETE", path: "/api/chat/message/1", wantStatus: 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := token
			if tt.noAuth {
				tok = ""
			}
			resp, body := chatDo(t, srv, tok, tt.method, tt.path, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantBody != "" && strings.TrimSpace(body) != tt.wantBody {
				t.Fatalf("got body\n%s\nwant\n%s", body, tt.wantBody)
			}
			if got := resp.Header.Get("Link"); got != tt.wantLink {
				t.Fatalf("got Link %q, want %q", got, tt.wantLink)
			}
		})
	}

	// What reached the chat service: the caller's token, the capped limit
	// and the send fields; never a sender chosen by the client.
	chatDo(t, srv, token, "GET", "/api/chat/room/3/messages/?after=1&limit=5000", "")
	fake.mu.Lock()
	lm, _ := fake.last.(*chatv1.ListMessagesRequest)
	authHdr := fake.auth
	fake.mu.Unlock()
	if lm == nil || lm.Limit != 200 || lm.AfterSeq != 1 || !lm.OldestFirst || lm.RoomId != 3 {
		t.Fatalf("got ListMessages %v, want room 3 after 1 oldest first limit 200", lm)
	}
	// after=0 pages from the first message; no after from the newest.
	for path, want := range map[string]bool{"?after=0": true, "?before=5": false, "": false} {
		chatDo(t, srv, token, "GET", "/api/chat/room/3/messages/"+path, "")
		fake.mu.Lock()
		lm, _ := fake.last.(*chatv1.ListMessagesRequest)
		fake.mu.Unlock()
		if lm == nil || lm.AfterSeq != 0 || lm.OldestFirst != want {
			t.Fatalf("%q: got ListMessages %v, want after 0, oldest_first %v", path, lm, want)
		}
	}
	if authHdr != "Bearer "+token {
		t.Fatalf("got authorization %q, want the caller's token", authHdr)
	}
	_, body := chatDo(t, srv, token, "POST", "/api/chat/message/", `{"room":3,"message":"hello","client_msg_id":"k","parent_chat":2}`)
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "seq", "room", "message", "sender", "nickname", "profile_picture_url", "parent_chat", "client_msg_id", "created_at", "edited_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("message object lacks %q: %s", k, body)
		}
	}
	if m["parent_chat"] != float64(2) || m["client_msg_id"] != "k" {
		t.Fatalf("got %s, want parent_chat 2 and client_msg_id k", body)
	}
}

func TestChatRESTErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		method     string
		path, body string
		wantStatus int
		wantBody   string
	}{
		{"not the owner", status.Error(codes.PermissionDenied, "You are not the owner of this room."), "PATCH", "/api/chat/room/3/", `{"name":"x"}`,
			403, `{"detail":"You are not the owner of this room."}`},
		{"not the sender", status.Error(codes.PermissionDenied, "You are not the sender of this message."), "DELETE", "/api/chat/message/1/", "",
			403, `{"detail":"You are not the sender of this message."}`},
		{"unknown room", status.Error(codes.NotFound, "Not found."), "GET", "/api/chat/room/99/", "", 404, `{"detail":"Not found."}`},
		{"internal text hidden", status.Error(codes.Internal, "pq: relation messages does not exist"), "GET", "/api/chat/room/3/messages/", "",
			500, `{"detail":"A server error occurred."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, token := newChatAPI(t, &chatFake{err: tt.err})
			resp, body := chatDo(t, srv, token, tt.method, tt.path, tt.body)
			if resp.StatusCode != tt.wantStatus || strings.TrimSpace(body) != tt.wantBody {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	// PATCH without a name still checks the owner (the fake's rooms are
	// owned by user 7).
	for _, c := range []struct {
		user int64
		want int
	}{{7, http.StatusOK}, {8, http.StatusForbidden}} {
		srv, token := newChatAPIAs(t, &chatFake{}, c.user)
		if resp, body := chatDo(t, srv, token, "PATCH", "/api/chat/room/3/", `{}`); resp.StatusCode != c.want {
			t.Fatalf("user %d: got %d %s, want %d", c.user, resp.StatusCode, body, c.want)
		}
	}
}

// TestChatRESTSendRateLimit: REST sends share the socket's numbers (10/s,
// bursts of 20) per user; past them 429 like DRF, with Retry-After.
func TestChatRESTSendRateLimit(t *testing.T) {
	t.Parallel()
	fake := &chatFake{}
	srv, token := newChatAPI(t, fake)
	send := func() (*http.Response, string) {
		return chatDo(t, srv, token, "POST", "/api/chat/message/", `{"room":3,"message":"hello"}`)
	}
	// Until the first 429: the burst (20) always passes, and then only
	// what the bucket refilled meanwhile (10/s), however slow the sends.
	var created, throttled int
	start := time.Now()
	for i := 0; throttled == 0 && i < 100; i++ {
		resp, body := send()
		switch resp.StatusCode {
		case http.StatusCreated:
			created++
		case http.StatusTooManyRequests:
			throttled++
			if want := `{"detail":"Request was throttled. Expected available in 1 second."}`; strings.TrimSpace(body) != want {
				t.Fatalf("429 body: got %s, want %s", body, want)
			}
			if got := resp.Header.Get("Retry-After"); got != "1" {
				t.Fatalf("Retry-After: got %q, want 1", got)
			}
		default:
			t.Fatalf("send %d: got %d %s", i+1, resp.StatusCode, body)
		}
	}
	refilled := int(time.Since(start).Seconds()*10) + 1
	if throttled == 0 || created < 20 || created > 20+refilled {
		t.Fatalf("rapid sends: %d created before a 429 (throttled %d) in %v; want the burst of 20 (+%d refilled), then 429",
			created, throttled, time.Since(start).Round(time.Millisecond), refilled)
	}
	time.Sleep(time.Second)
	for i := range 5 {
		if resp, body := send(); resp.StatusCode != http.StatusCreated {
			t.Fatalf("after 1 s, send %d: got %d %s, want 201", i+1, resp.StatusCode, body)
		}
	}
}
