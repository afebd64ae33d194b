package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	postv1 "github.com/cobraspace/cobraspace/proto/cobraspace/post/v1"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
)

// postsFake is a post service with one post (id 1, writer 7, room 3)
// whose title the test changes; it counts calls.
type postsFake struct {
	postv1.PostServiceClient // unimplemented methods panic

	lists, gets atomic.Int64
	title       atomic.Value // string
	deleted     atomic.Bool
	// getWait, when set, is waited for (up to a second) inside GetPost.
	getWait chan struct{}
}

func (f *postsFake) post() *postv1.Post {
	return &postv1.Post{Id: 1, Title: f.title.Load().(string), WriterId: 7, RoomId: 3, CreatedAt: chatCreated, UpdatedAt: chatCreated}
}

func (f *postsFake) ListPosts(context.Context, *postv1.ListPostsRequest, ...grpc.CallOption) (*postv1.ListPostsResponse, error) {
	f.lists.Add(1)
	return &postv1.ListPostsResponse{Posts: []*postv1.Post{f.post()}, NextCursor: "n"}, nil
}

func (f *postsFake) GetPost(_ context.Context, in *postv1.GetPostRequest, _ ...grpc.CallOption) (*postv1.Post, error) {
	f.gets.Add(1)
	if f.getWait != nil {
		select {
		case <-f.getWait:
		case <-time.After(time.Second):
		}
	}
	if f.deleted.Load() || in.Id != 1 {
		return nil, status.Error(codes.NotFound, "Not found.")
	}
	return f.post(), nil
}

func (f *postsFake) UpdatePost(context.Context, *postv1.UpdatePostRequest, ...grpc.CallOption) (*postv1.Post, error) {
	f.title.Store("edited")
	return f.post(), nil
}

type usersFake struct {
	userv1.UserServiceClient // unimplemented methods panic
	calls                    atomic.Int64
}

func (f *usersFake) GetUsers(_ context.Context, in *userv1.GetUsersRequest, _ ...grpc.CallOption) (*userv1.GetUsersResponse, error) {
	f.calls.Add(1)
	var out []*userv1.UserSummary
	for _, id := range in.UserIds {
		out = append(out, &userv1.UserSummary{UserId: id, Nickname: "writer", Email: "w@example.com"})
	}
	return &userv1.GetUsersResponse{Users: out}, nil
}

// chatCounter is chatFake that counts GetRoom calls and closes signal on
// the first ListMessages once armed.
type chatCounter struct {
	*chatFake
	rooms  atomic.Int64
	armed  atomic.Bool
	once   sync.Once
	signal chan struct{}
}

func (f *chatCounter) GetRoom(ctx context.Context, in *chatv1.GetRoomRequest, opts ...grpc.CallOption) (*chatv1.Room, error) {
	f.rooms.Add(1)
	return f.chatFake.GetRoom(ctx, in, opts...)
}

func (f *chatCounter) ListMessages(ctx context.Context, in *chatv1.ListMessagesRequest, opts ...grpc.CallOption) (*chatv1.ListMessagesResponse, error) {
	if f.armed.Load() {
		f.once.Do(func() { close(f.signal) })
	}
	return f.chatFake.ListMessages(ctx, in, opts...)
}

// newPostsAPI returns the REST API over fakes and an access token of
// user 7.
func newPostsAPI(t *testing.T, posts *postsFake, users *usersFake, chat chatv1.ChatServiceClient) (*httptest.Server, string) {
	t.Helper()
	log, authn, token := testAuth(t, 7)
	api, err := NewServer(Config{Logger: log, Auth: authn,
		Posts: posts, Users: users, Chat: chat})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv, token
}

func get(t *testing.T, srv *httptest.Server, token, path string) (int, string, http.Header) {
	t.Helper()
	resp, body := chatDo(t, srv, token, "GET", path, "")
	return resp.StatusCode, body, resp.Header
}

func TestListCacheHandler(t *testing.T) {
	posts := &postsFake{}
	posts.title.Store("first")
	srv, token := newPostsAPI(t, posts, &usersFake{}, &chatFake{})

	code, body, h := get(t, srv, "", "/api/post/?limit=5")
	if code != 200 || !strings.Contains(body, `"title":"first"`) || !strings.Contains(body, `"writer_nickname":"writer"`) {
		t.Fatalf("list: %d %s", code, body)
	}
	if link := h.Get("Link"); link != `</api/post/?cursor=n&limit=5>; rel="next"` {
		t.Errorf("Link %q", link)
	}
	// Anonymous again: from the cache, with the same Link.
	code, body2, h := get(t, srv, "", "/api/post/?limit=5")
	if code != 200 || body2 != body || h.Get("Link") == "" || posts.lists.Load() != 1 {
		t.Errorf("second anonymous list: %d, %d ListPosts calls, Link %q", code, posts.lists.Load(), h.Get("Link"))
	}
	// Another query is another entry.
	get(t, srv, "", "/api/post/?limit=6")
	if n := posts.lists.Load(); n != 2 {
		t.Errorf("%d ListPosts calls after another query, want 2", n)
	}
	// Signed in: always fresh.
	get(t, srv, token, "/api/post/?limit=5")
	if n := posts.lists.Load(); n != 3 {
		t.Errorf("%d ListPosts calls after a signed-in list, want 3", n)
	}
	// A write through this replica empties the cache at once.
	resp, _ := chatDo(t, srv, token, "PATCH", "/api/post/detail/1/edit/", `{"title":"edited"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("edit: %d", resp.StatusCode)
	}
	if _, body, _ := get(t, srv, "", "/api/post/?limit=5"); !strings.Contains(body, `"title":"edited"`) {
		t.Errorf("anonymous list after an edit here: %s", body)
	}
}

func TestPostDetailConcurrentCalls(t *testing.T) {
	posts := &postsFake{}
	posts.title.Store("first")
	chat := &chatCounter{chatFake: &chatFake{}, signal: make(chan struct{})}
	users := &usersFake{}
	srv, token := newPostsAPI(t, posts, users, chat)

	if code, body, _ := get(t, srv, "", "/api/post/detail/1/"); code != 200 || !strings.Contains(body, `"room_data":{"id":3`) {
		t.Fatalf("first view: %d %s", code, body)
	}
	// The post's writer and room are now known: GetPost runs alongside
	// the chat calls (it waits here until ListMessages has started).
	posts.getWait = chat.signal
	chat.armed.Store(true)
	began := time.Now()
	if code, body, _ := get(t, srv, "", "/api/post/detail/1/"); code != 200 || !strings.Contains(body, `"writer":{"id":7`) {
		t.Fatalf("second view: %d %s", code, body)
	}
	if d := time.Since(began); d > 500*time.Millisecond {
		t.Errorf("second view took %v: GetPost did not run alongside GetRoom", d)
	}
	if n := posts.gets.Load(); n != 2 {
		t.Errorf("%d GetPost calls for 2 views, want 2 (each view counted once)", n)
	}
	// The writer's summary and the room came from the first view's calls
	// (anonymous callers may get them up to recentTTL old); a signed-in
	// view asks again.
	if u, r := users.calls.Load(), chat.rooms.Load(); u != 1 || r != 1 {
		t.Errorf("%d GetUsers and %d GetRoom calls for 2 anonymous views, want 1 each", u, r)
	}
	posts.getWait = nil
	if code, _, _ := get(t, srv, token, "/api/post/detail/1/"); code != 200 || users.calls.Load() != 2 || chat.rooms.Load() != 2 {
		t.Errorf("signed-in view: %d; %d GetUsers and %d GetRoom calls in all, want fresh ones (2 each)", code, users.calls.Load(), chat.rooms.Load())
	}
	// A room deleted meanwhile (ListMessages NOT_FOUND) is null at once,
	// although it is still cached.
	chat.err = status.Error(codes.NotFound, "Not found.")
	if code, body, _ := get(t, srv, "", "/api/post/detail/1/"); code != 200 || !strings.Contains(body, `"room_data":null`) {
		t.Errorf("room gone: %d %s, want room_data null", code, body)
	}
	chat.err = nil
	// A deleted post is a 404 although its writer and room answer.
	posts.deleted.Store(true)
	if code, body, _ := get(t, srv, "", "/api/post/detail/1/"); code != 404 || !strings.Contains(body, `"detail"`) {
		t.Errorf("deleted post: %d %s, want 404", code, body)
	}
	if code, _, _ := get(t, srv, "", "/api/post/detail/2/"); code != 404 {
		t.Errorf("unknown post: %d, want 404", code)
	}
}
