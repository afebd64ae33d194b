package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/fielderr"
	"github.com/cobraspace/cobraspace/platform/grpcauth"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/testenv"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	postv1 "github.com/cobraspace/cobraspace/proto/cobraspace/post/v1"
)

// fakeChat is a hand-written ChatService that records room calls and can
// be told to fail or stall.
type fakeChat struct {
	chatv1.UnimplementedChatServiceServer

	mu       sync.Mutex
	nextRoom int64
	rooms    map[int64]int64 // room id → post id
	owners   map[int64]int64 // room id → owner (from the forwarded token)
	names    map[int64]string
	deleted  []int64
	failWith codes.Code // when set, every call fails with it
	// loseAnswers makes that many CreateRoom calls create the room and
	// then answer UNAVAILABLE, as if the answer was lost.
	loseAnswers int
	stall       time.Duration // when set, every call sleeps first
	// onCreate runs inside CreateRoom after the room exists, e.g. to make
	// the post's insert fail afterwards.
	onCreate func(postID int64)
}

// caller is the user the post service acts for; like the real chat
// service, the fake wants the post service's identity beside the token.
func (f *fakeChat) caller(ctx context.Context) (int64, error) {
	c, ok := grpcauth.Claims(ctx)
	if !ok {
		return 0, status.Error(codes.Unauthenticated, "no token forwarded")
	}
	if !servicetrust.Is(ctx, "post") {
		return 0, status.Error(codes.PermissionDenied, "not called as the post service")
	}
	return c.UserID, nil
}

func (f *fakeChat) trouble(ctx context.Context) error {
	f.mu.Lock()
	stall, code := f.stall, f.failWith
	f.mu.Unlock()
	if stall > 0 {
		select {
		case <-time.After(stall):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if code != codes.OK {
		return status.Error(code, "fake failure")
	}
	return nil
}

func (f *fakeChat) CreateRoom(ctx context.Context, req *chatv1.CreateRoomRequest) (*chatv1.Room, error) {
	if err := f.trouble(ctx); err != nil {
		return nil, err
	}
	uid, err := f.caller(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	var id int64
	for rid, pid := range f.rooms { // idempotent per post id
		if pid == req.GetPostId() {
			id = rid
		}
	}
	if id == 0 {
		f.nextRoom++
		id = 500 + f.nextRoom
		f.rooms[id], f.owners[id], f.names[id] = req.GetPostId(), uid, req.GetName()
	}
	hook := f.onCreate
	lose := f.loseAnswers > 0
	if lose {
		f.loseAnswers--
	}
	f.mu.Unlock()
	if hook != nil {
		hook(req.GetPostId())
	}
	if lose {
		return nil, status.Error(codes.Unavailable, "answer lost")
	}
	return &chatv1.Room{Id: id, Name: req.GetName(), OwnerId: uid, PostId: req.GetPostId()}, nil
}

func (f *fakeChat) UpdateRoom(ctx context.Context, req *chatv1.UpdateRoomRequest) (*chatv1.Room, error) {
	if err := f.trouble(ctx); err != nil {
		return nil, err
	}
	uid, err := f.caller(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.rooms[req.GetId()]; !ok {
		return nil, status.Error(codes.NotFound, "Not found.")
	}
	if f.owners[req.GetId()] != uid {
		return nil, status.Error(codes.PermissionDenied, "not the owner")
	}
	f.names[req.GetId()] = req.GetName()
	return &chatv1.Room{Id: req.GetId(), Name: req.GetName(), OwnerId: uid}, nil
}

func (f *fakeChat) DeleteRoom(ctx context.Context, req *chatv1.DeleteRoomRequest) (*chatv1.DeleteRoomResponse, error) {
	if err := f.trouble(ctx); err != nil {
		return nil, err
	}
	uid, err := f.caller(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.rooms[req.GetId()]; !ok {
		return nil, status.Error(codes.NotFound, "Not found.")
	}
	if f.owners[req.GetId()] != uid {
		return nil, status.Error(codes.PermissionDenied, "not the owner")
	}
	delete(f.rooms, req.GetId())
	f.deleted = append(f.deleted, req.GetId())
	return &chatv1.DeleteRoomResponse{}, nil
}

func (f *fakeChat) set(code codes.Code, stall time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWith, f.stall = code, stall
}

func (f *fakeChat) roomCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.rooms)
}

// env is a post service started by run on port 0 with a fake chat service.
type env struct {
	client postv1.PostServiceClient
	chat   *fakeChat
	ctx    context.Context
	admin  string
	dbURL  string
	signer *accesstoken.Signer
}

func start(t *testing.T) *env {
	t.Helper()
	priv, pub := testenv.KeyPair(t)
	pubKey, err := accesstoken.LoadPublicKeyFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	privKey, err := accesstoken.LoadPrivateKeyFile(priv)
	if err != nil {
		t.Fatal(err)
	}
	verifier := accesstoken.NewVerifier(pubKey)

	chat := &fakeChat{rooms: map[int64]int64{}, owners: map[int64]int64{}, names: map[int64]string{}}
	clis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := testenv.ServiceKey(t)
	trust, err := servicetrust.FromKeyFile("chat", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cs := grpc.NewServer(grpc.ChainUnaryInterceptor(trust.UnaryServerInterceptor(), grpcauth.UnaryServerInterceptor(verifier, nil)))
	chatv1.RegisterChatServiceServer(cs, chat)
	go func() { _ = cs.Serve(clis) }() // returns when the test stops the server
	t.Cleanup(cs.Stop)

	dbURL := testenv.Database(t)
	vars := map[string]string{
		"GRPC_ADDR":           "127.0.0.1:0",
		"ADMIN_ADDR":          "127.0.0.1:0",
		"DATABASE_URL":        dbURL,
		"REDIS_URL":           testenv.RedisURL(),
		"REDIS_PREFIX":        testenv.Prefix(t),
		"JWT_PUBLIC_KEY_FILE": pub,
		"SERVICE_KEY_FILE":    keyFile,
		"CHAT_SERVICE_ADDR":   clis.Addr().String(),
		"LOG_LEVEL":           "error",
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, nil, func(k string) string { return vars[k] }, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			if !sent && strings.Contains(sc.Text(), `"msg":"listening"`) {
				lines <- sc.Text()
				sent = true
			}
		}
		if !sent {
			close(lines)
		}
	}()
	var addrs struct{ GRPC, Admin string }
	select {
	case line, ok := <-lines:
		if !ok {
			cancel()
			t.Fatalf("run exited before listening: %v", <-done)
		}
		if err := json.Unmarshal([]byte(line), &addrs); err != nil {
			t.Fatalf("listening line %q: %v", line, err)
		}
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("no listening line within 20 s")
	}
	conn, err := grpc.NewClient(addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v, want nil after cancel", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("run did not stop within 15 s of cancel")
		}
	})
	callCtx, callCancel := context.WithTimeout(context.Background(), 50*time.Second)
	t.Cleanup(callCancel)
	return &env{
		client: postv1.NewPostServiceClient(conn), chat: chat, ctx: callCtx, admin: addrs.Admin,
		dbURL: dbURL, signer: accesstoken.NewSigner(privKey),
	}
}

// as returns a context whose calls carry an access token of user uid.
func (e *env) as(t *testing.T, uid int64) context.Context {
	t.Helper()
	tok, err := e.signer.Sign(accesstoken.Claims{
		UserID: uid, Email: "u" + strconv.FormatInt(uid, 10) + "@cobra.space", Type: accesstoken.TypeAccess,
		ID: testenv.ID(), ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return grpcauth.WithToken(e.ctx, tok)
}

func (e *env) categoryID(t *testing.T, name string) int64 {
	t.Helper()
	resp, err := e.client.ListCategories(e.ctx, &postv1.ListCategoriesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range resp.GetCategories() {
		if c.GetName() == name {
			return c.GetId()
		}
	}
	t.Fatalf("no category %q", name)
	return 0
}

func wantCode(t *testing.T, what string, err error, code codes.Code, msg string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code || (msg != "" && st.Message() != msg) {
		t.Errorf("%s: got %v %q, want %v %q", what, st.Code(), st.Message(), code, msg)
	}
}

func (e *env) count(t *testing.T) int {
	t.Helper()
	resp, err := e.client.ListPosts(e.ctx, &postv1.ListPostsRequest{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.GetPosts())
}

func TestCreateReadUpdateDelete(t *testing.T) {
	t.Parallel()
	e := start(t)
	prog := e.categoryID(t, "Programming")
	alice, bob := e.as(t, 1), e.as(t, 2)

	long := strings.Repeat("가", 150)
	p, err := e.client.CreatePost(alice, &postv1.CreatePostRequest{
		Title: "  " + long + "  ", Content: "```go\nfmt.Println(1)\n```", CategoryId: prog, Tags: []string{" go ", "GO", "grpc"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.GetTitle() != long || p.GetWriterId() != 1 || p.GetRoomId() == 0 || p.GetCategoryName() != "Programming" || len(p.GetTags()) != 2 {
		t.Errorf("CreatePost = %v", p)
	}
	e.chat.mu.Lock()
	roomPost, roomOwner, roomName := e.chat.rooms[p.GetRoomId()], e.chat.owners[p.GetRoomId()], e.chat.names[p.GetRoomId()]
	e.chat.mu.Unlock()
	if roomPost != p.GetId() || roomOwner != 1 || roomName != strings.Repeat("가", 100) {
		t.Errorf("room: post %d owner %d name %d runes; want post %d, owner 1 (token forwarded), name cut to 100",
			roomPost, roomOwner, len([]rune(roomName)), p.GetId())
	}

	// Anonymous reads; every counted view adds one.
	for want := int64(1); want <= 2; want++ {
		got, err := e.client.GetPost(e.ctx, &postv1.GetPostRequest{Id: p.GetId(), CountHit: true})
		if err != nil || got.GetHit() != want {
			t.Fatalf("GetPost count_hit: hit %d, %v; want %d", got.GetHit(), err, want)
		}
	}
	_, err = e.client.GetPost(e.ctx, &postv1.GetPostRequest{Id: 999999})
	wantCode(t, "GetPost unknown", err, codes.NotFound, "Not found.")

	// Only the writer may change or delete it.
	_, err = e.client.UpdatePost(bob, &postv1.UpdatePostRequest{Id: p.GetId(), UpdateMask: []string{"title"}, Title: "mine now"})
	wantCode(t, "update by another user", err, codes.PermissionDenied, "You do not have permission to perform this action.")
	_, err = e.client.DeletePost(bob, &postv1.DeletePostRequest{Id: p.GetId()})
	wantCode(t, "delete by another user", err, codes.PermissionDenied, "You do not have permission to perform this action.")
	_, err = e.client.UpdatePost(e.ctx, &postv1.UpdatePostRequest{Id: p.GetId(), UpdateMask: []string{"title"}, Title: "x"})
	wantCode(t, "anonymous update", err, codes.Unauthenticated, "")
	_, err = e.client.UpdatePost(alice, &postv1.UpdatePostRequest{Id: 999999, UpdateMask: []string{"title"}, Title: "x"})
	wantCode(t, "update unknown", err, codes.NotFound, "")

	u, err := e.client.UpdatePost(alice, &postv1.UpdatePostRequest{
		Id: p.GetId(), UpdateMask: []string{"title", "tags"}, Title: "new", Content: "ignored", Tags: []string{"rust"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.GetTitle() != "new" || u.GetContent() != p.GetContent() || u.GetWriterId() != 1 || len(u.GetTags()) != 1 ||
		u.GetTags()[0].GetName() != "rust" || !u.GetUpdatedAt().AsTime().After(p.GetUpdatedAt().AsTime()) {
		t.Errorf("UpdatePost = %v", u)
	}
	e.chat.mu.Lock()
	renamed := e.chat.names[p.GetRoomId()]
	e.chat.mu.Unlock()
	if renamed != "new" {
		t.Errorf("room name after the title changed: %q, want %q", renamed, "new")
	}
	// A failed rename does not fail the update.
	e.chat.set(codes.Unavailable, 0)
	if _, err := e.client.UpdatePost(alice, &postv1.UpdatePostRequest{Id: p.GetId(), UpdateMask: []string{"title"}, Title: "newer"}); err != nil {
		t.Errorf("update with chat down: %v, want it to succeed", err)
	}
	e.chat.set(codes.OK, 0)
	_, err = e.client.UpdatePost(alice, &postv1.UpdatePostRequest{Id: p.GetId(), UpdateMask: []string{"writer"}})
	wantCode(t, "update of an unknown field", err, codes.InvalidArgument, "")

	if _, err := e.client.DeletePost(alice, &postv1.DeletePostRequest{Id: p.GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GetPost(e.ctx, &postv1.GetPostRequest{Id: p.GetId()})
	wantCode(t, "GetPost after delete", err, codes.NotFound, "")
	if e.chat.roomCount() != 0 {
		t.Errorf("rooms left after delete: %d, want 0", e.chat.roomCount())
	}

	tags, err := e.client.ListTags(e.ctx, &postv1.ListTagsRequest{})
	if err != nil || len(tags.GetTags()) == 0 {
		t.Errorf("ListTags anonymous: %v, %v", tags, err)
	}

	// Health and readiness on the admin port.
	resp, err := http.Get("http://" + e.admin + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("readyz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	e := start(t)
	alice := e.as(t, 1)
	prog := e.categoryID(t, "Programming")
	tooMany := make([]string, 11)
	for i := range tooMany {
		tooMany[i] = "t" + strconv.Itoa(i)
	}
	for _, tc := range []struct {
		name  string
		req   *postv1.CreatePostRequest
		field string
	}{
		{"blank title", &postv1.CreatePostRequest{Title: "   ", Content: "c", CategoryId: prog}, "title"},
		{"long title", &postv1.CreatePostRequest{Title: strings.Repeat("a", 201), Content: "c", CategoryId: prog}, "title"},
		{"blank content", &postv1.CreatePostRequest{Title: "t", Content: "", CategoryId: prog}, "content"},
		{"long content", &postv1.CreatePostRequest{Title: "t", Content: strings.Repeat("a", 100_001), CategoryId: prog}, "content"},
		{"no category", &postv1.CreatePostRequest{Title: "t", Content: "c"}, "category"},
		{"unknown category", &postv1.CreatePostRequest{Title: "t", Content: "c", CategoryId: 999}, "category"},
		{"eleven tags", &postv1.CreatePostRequest{Title: "t", Content: "c", CategoryId: prog, Tags: tooMany}, "tags"},
		{"long tag", &postv1.CreatePostRequest{Title: "t", Content: "c", CategoryId: prog, Tags: []string{strings.Repeat("x", 51)}}, "tags"},
		{"blank tag", &postv1.CreatePostRequest{Title: "t", Content: "c", CategoryId: prog, Tags: []string{" "}}, "tags"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.CreatePost(alice, tc.req)
			wantCode(t, tc.name, err, codes.InvalidArgument, "")
			if f := fielderr.FromError(err); len(f[tc.field]) == 0 {
				t.Errorf("field errors %v, want one for %q", f, tc.field)
			}
		})
	}
	// Exactly at the limits is fine.
	_, err := e.client.CreatePost(alice, &postv1.CreatePostRequest{
		Title: strings.Repeat("a", 200), Content: strings.Repeat("a", 100_000), CategoryId: prog, Tags: tooMany[:10],
	})
	if err != nil {
		t.Errorf("post at the limits: %v", err)
	}
	if e.chat.roomCount() != 1 {
		t.Errorf("rooms: got %d, want 1 (invalid posts must not create rooms)", e.chat.roomCount())
	}
	_, err = e.client.CreatePost(e.ctx, &postv1.CreatePostRequest{Title: "t", Content: "c", CategoryId: prog})
	wantCode(t, "anonymous create", err, codes.Unauthenticated, "")

	_, err = e.client.ListPosts(e.ctx, &postv1.ListPostsRequest{Cursor: "garbage"})
	wantCode(t, "bad cursor", err, codes.InvalidArgument, "Invalid cursor.")

	c, err := e.client.CreateCategory(alice, &postv1.CreateCategoryRequest{Name: " Rust "})
	if err != nil || c.GetName() != "Rust" {
		t.Errorf("CreateCategory = %v, %v", c, err)
	}
	_, err = e.client.CreateCategory(alice, &postv1.CreateCategoryRequest{Name: "RUST"})
	wantCode(t, "duplicate category", err, codes.AlreadyExists, "category with this name already exists.")
	_, err = e.client.CreateCategory(e.ctx, &postv1.CreateCategoryRequest{Name: "Anon"})
	wantCode(t, "anonymous category", err, codes.Unauthenticated, "")
}

// TestChatFailures checks that a post and its room stay consistent when
// the chat service fails at each step.
func TestChatFailures(t *testing.T) {
	t.Parallel()
	e := start(t)
	alice := e.as(t, 1)
	prog := e.categoryID(t, "Programming")
	req := &postv1.CreatePostRequest{Title: "t", Content: "c", CategoryId: prog}

	// Chat down: UNAVAILABLE, and no post appears.
	e.chat.set(codes.Unavailable, 0)
	_, err := e.client.CreatePost(alice, req)
	wantCode(t, "create with chat down", err, codes.Unavailable, "The chat service is unavailable; try again.")
	if n := e.count(t); n != 0 {
		t.Errorf("posts after a failed create: %d, want 0", n)
	}

	// Chat stuck: UNAVAILABLE within the call timeout, not a hang.
	e.chat.set(codes.OK, time.Minute)
	began := time.Now()
	_, err = e.client.CreatePost(alice, req)
	wantCode(t, "create with chat stuck", err, codes.Unavailable, "The chat service is unavailable; try again.")
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("create with chat stuck took %v", d)
	}
	e.chat.set(codes.OK, 0)

	// The room is created but the answer is lost: the retry with the same
	// post id gets that room, and there is exactly one.
	e.chat.mu.Lock()
	e.chat.loseAnswers = 1
	e.chat.mu.Unlock()
	lost, err := e.client.CreatePost(alice, req)
	if err != nil {
		t.Fatalf("create with one lost answer: %v", err)
	}
	if n := e.chat.roomCount(); n != 1 {
		t.Errorf("rooms after a lost answer: %d, want 1", n)
	}
	if _, err := e.client.DeletePost(alice, &postv1.DeletePostRequest{Id: lost.GetId()}); err != nil {
		t.Fatal(err)
	}

	// The insert fails after the room exists (here: the category vanished
	// meanwhile): the room is deleted again and no post appears.
	doomed, err := e.client.CreateCategory(alice, &postv1.CreateCategoryRequest{Name: "Doomed"})
	if err != nil {
		t.Fatal(err)
	}
	e.chat.mu.Lock()
	e.chat.onCreate = func(int64) {
		conn, err := pgx.Connect(context.Background(), e.dbURL)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DELETE FROM categories WHERE id = $1`, doomed.GetId()); err != nil {
			t.Error(err)
		}
	}
	e.chat.mu.Unlock()
	_, err = e.client.CreatePost(alice, &postv1.CreatePostRequest{Title: "t", Content: "c", CategoryId: doomed.GetId()})
	wantCode(t, "create whose insert fails", err, codes.InvalidArgument, "")
	e.chat.mu.Lock()
	e.chat.onCreate = nil
	deleted := len(e.chat.deleted)
	e.chat.mu.Unlock()
	if deleted != 2 || e.chat.roomCount() != 0 {
		t.Errorf("after a failed insert: %d rooms deleted, %d left; want the room deleted again", deleted, e.chat.roomCount())
	}
	if n := e.count(t); n != 0 {
		t.Errorf("posts after a failed insert: %d, want 0", n)
	}

	// Delete with chat down: UNAVAILABLE and the post (with its room) stays.
	p, err := e.client.CreatePost(alice, req)
	if err != nil {
		t.Fatal(err)
	}
	e.chat.set(codes.Unavailable, 0)
	_, err = e.client.DeletePost(alice, &postv1.DeletePostRequest{Id: p.GetId()})
	wantCode(t, "delete with chat down", err, codes.Unavailable, "The chat service is unavailable; try again.")
	if _, err := e.client.GetPost(e.ctx, &postv1.GetPostRequest{Id: p.GetId()}); err != nil {
		t.Errorf("post after a failed delete: %v, want it kept", err)
	}
	// Room already gone (e.g. a retry after a partial failure): the post
	// is deleted.
	e.chat.set(codes.OK, 0)
	e.chat.mu.Lock()
	delete(e.chat.rooms, p.GetRoomId())
	e.chat.mu.Unlock()
	if _, err := e.client.DeletePost(alice, &postv1.DeletePostRequest{Id: p.GetId()}); err != nil {
		t.Errorf("delete when the room is already gone: %v", err)
	}
	_, err = e.client.GetPost(e.ctx, &postv1.GetPostRequest{Id: p.GetId()})
	wantCode(t, "post after delete", err, codes.NotFound, "")
}

func TestListAnonymousWithCursor(t *testing.T) {
	t.Parallel()
	e := start(t)
	alice := e.as(t, 1)
	prog := e.categoryID(t, "Programming")
	for i := range 5 {
		if _, err := e.client.CreatePost(alice, &postv1.CreatePostRequest{
			Title: "post " + strconv.Itoa(i), Content: "c", CategoryId: prog, Tags: []string{"go"},
		}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	cursor := ""
	for range 5 {
		resp, err := e.client.ListPosts(e.ctx, &postv1.ListPostsRequest{Limit: 2, Cursor: cursor, Tag: "go", Search: "post"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range resp.GetPosts() {
			seen = append(seen, p.GetTitle())
		}
		if cursor = resp.GetNextCursor(); cursor == "" {
			break
		}
	}
	if got := strings.Join(seen, ","); got != "post 4,post 3,post 2,post 1,post 0" {
		t.Errorf("paged titles %s, want newest first, each once", got)
	}
}

// TestDefaultAddressesLoopback: without GRPC_ADDR/ADMIN_ADDR the service
// listens on loopback only; deployments set the addresses explicitly.
func TestDefaultAddressesLoopback(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://x", "JWT_PUBLIC_KEY_FILE": "/k", "SERVICE_KEY_FILE": testenv.ServiceKey(t)}
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPCAddr != "127.0.0.1:9002" || c.AdminAddr != "127.0.0.1:9102" {
		t.Errorf("defaults: gRPC %q, admin %q; want 127.0.0.1:9002 and 127.0.0.1:9102", c.GRPCAddr, c.AdminAddr)
	}
}
