package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// api is a REST client of one gateway, optionally signed in. Its calls go
// through do (e2e_helpers_test.go), which checks every answer against
// openapi.yaml.
type api struct {
	t     *testing.T
	base  string
	token string
}

func (a api) as(token string) api { a.token = token; return a }

// do sends a request; body may be nil, a string (sent as JSON as it is) or
// a value to marshal.
func (a api) do(method, path string, body any) *resp {
	a.t.Helper()
	rq := req{method: method, path: path, token: a.token}
	switch b := body.(type) {
	case nil:
	case string:
		rq.raw, rq.contentType = []byte(b), "application/json"
	default:
		rq.json = b
	}
	return do(a.t, a.base, rq)
}

// want sends a request and fails unless the status is code; it decodes
// the body into out when out is not nil.
func (a api) want(code int, method, path string, body, out any) http.Header {
	a.t.Helper()
	r := a.do(method, path, body)
	if r.status != code {
		a.t.Fatalf("%s %s: got %s, want %d", method, path, truncate([]byte(r.String())), code)
	}
	if out != nil {
		r.decode(a.t, out)
	}
	return r.header
}

type postObj struct {
	ID           int64  `json:"id"`
	Title        string `json:"title"`
	Content      string `json:"content"`
	Category     int64  `json:"category"`
	CategoryName string `json:"category_name"`
	Tags         []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"tags"`
	Writer               int64     `json:"writer"`
	WriterNickname       string    `json:"writer_nickname"`
	WriterProfilePicture string    `json:"writer_profile_picture"`
	Hit                  int64     `json:"hit"`
	RoomID               int64     `json:"room_id"`
	CreatedAt            time.Time `json:"created_at"`
	UpdatedAt            time.Time `json:"updated_at"`
}

func (p postObj) tagNames() []string {
	var out []string
	for _, t := range p.Tags {
		out = append(out, t.Name)
	}
	return out
}

func postIDs(ps []postObj) []int64 {
	out := make([]int64, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

// postObjectKeys are the keys docs/api.md promises on a post object.
var postObjectKeys = []string{"id", "title", "content", "category", "tags", "writer", "writer_nickname",
	"writer_profile_picture", "hit", "room_id", "created_at", "updated_at"}

func wantKeys(t *testing.T, what string, raw []byte, keys ...string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %s: %v", what, raw, err)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: key %q missing in %s", what, k, raw)
		}
	}
	return m
}

// blackhole listens without ever answering, like a hung service.
func blackhole(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	return lis.Addr().String()
}

// TestPostsREST drives every Posts route through real processes: user,
// chat and post services and four gateways (0 and 3 healthy, 1 with a hung
// chat service, 2 with a hung user service).
func TestPostsREST(t *testing.T) {
	s := stack.Start(t, stack.Options{
		Gateways: 4,
		LogLevel: "warn",
		GatewayEnv: map[int]map[string]string{
			1: {"CHAT_SERVICE_ADDR": blackhole(t)},
			2: {"USER_SERVICE_ADDR": blackhole(t)},
		},
	})
	anon := api{t: t, base: s.Gateways[0]}
	id := testenv.ID()
	aliceAcc, bobAcc := register(t, s.Gateways[0], "alice"), register(t, s.Gateways[0], "bob")
	aliceTok, aliceID, bobTok := aliceAcc.access, aliceAcc.id, bobAcc.access
	alice, bob := anon.as(aliceTok), anon.as(bobTok)

	var cats []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	anon.want(http.StatusOK, "GET", "/api/post/categories/", nil, &cats)
	catID := map[string]int64{}
	for _, c := range cats {
		catID[c.Name] = c.ID
	}
	for _, n := range []string{"Programming", "Ormi", "ESTsoft"} {
		if catID[n] == 0 {
			t.Fatalf("categories %v: %q missing", cats, n)
		}
	}
	prog, ormi := catID["Programming"], catID["Ormi"]

	t.Run("categories", func(t *testing.T) {
		anon.t, alice.t = t, t
		anon.want(http.StatusUnauthorized, "POST", "/api/post/categories/", map[string]string{"name": "Go"}, nil)
		var c struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}
		alice.want(http.StatusCreated, "POST", "/api/post/categories", map[string]string{"name": "Go " + id}, &c)
		if c.ID == 0 || c.Name != "Go "+id {
			t.Errorf("created category %+v", c)
		}
		var errs map[string][]string
		alice.want(http.StatusBadRequest, "POST", "/api/post/categories/", map[string]string{"name": "go " + id}, &errs)
		if len(errs["name"]) == 0 {
			t.Errorf("duplicate category: got %v, want a name error", errs)
		}
		alice.want(http.StatusBadRequest, "POST", "/api/post/categories/", map[string]string{"name": "x", "extra": "y"}, nil)
		alice.want(http.StatusBadRequest, "POST", "/api/post/categories/", map[string]string{"name": " "}, nil)
	})

	var first postObj
	t.Run("write", func(t *testing.T) {
		anon.t, alice.t = t, t
		body := map[string]any{"title": "Hello gRPC", "content": "```go\nfmt.Println(\"<b>hi</b>\")\n```", "category": prog, "tags": []string{"go", "grpc"}}
		anon.want(http.StatusUnauthorized, "POST", "/api/post/write/", body, nil)
		r := alice.do("POST", "/api/post/write/", body)
		wantStatus(t, "write", r, http.StatusCreated)
		wantKeys(t, "write", r.body, postObjectKeys...)
		r.decode(t, &first)
		if first.Writer != aliceID || first.WriterNickname != aliceAcc.nickname || first.WriterNickname == "" || first.WriterProfilePicture == "" ||
			first.RoomID == 0 || first.Category != prog || first.CategoryName != "Programming" ||
			first.Content != body["content"] || !slices.Equal(first.tagNames(), []string{"go", "grpc"}) {
			t.Errorf("written post %+v", first)
		}
		// Its room exists in the chat service and belongs to the writer.
		var room struct {
			ID    int64 `json:"id"`
			Owner int64 `json:"owner"`
			Post  int64 `json:"post"`
		}
		alice.want(http.StatusOK, "GET", fmt.Sprintf("/api/chat/room/%d/", first.RoomID), nil, &room)
		if room.Owner != aliceID || room.Post != first.ID {
			t.Errorf("room of the post: %+v, want owner %d post %d", room, aliceID, first.ID)
		}

		// Tags as objects, category as a numeric string.
		var p postObj
		alice.want(http.StatusCreated, "POST", "/api/post/write",
			`{"title":"Objects","content":"body","category":"`+strconv.FormatInt(ormi, 10)+`","tags":[{"name":"Go"},{"name":"redis"}]}`, &p)
		if !slices.Equal(p.tagNames(), []string{"go", "redis"}) || p.Category != ormi {
			t.Errorf("post with tag objects: %+v", p)
		}

		for _, tc := range []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"missing fields", `{}`, 400, "title"},
			{"missing category", map[string]any{"title": "t", "content": "c"}, 400, "category"},
			{"long title", map[string]any{"title": strings.Repeat("a", 201), "content": "c", "category": prog}, 400, "title"},
			{"long content", map[string]any{"title": "t", "content": strings.Repeat("a", 100_001), "category": prog}, 400, "content"},
			{"unknown category", map[string]any{"title": "t", "content": "c", "category": 999999}, 400, "category"},
			{"category not a number", map[string]any{"title": "t", "content": "c", "category": "abc"}, 400, "category"},
			{"eleven tags", map[string]any{"title": "t", "content": "c", "category": prog, "tags": strings.Split("a,b,c,d,e,f,g,h,i,j,k", ",")}, 400, "tags"},
			{"bad tags", map[string]any{"title": "t", "content": "c", "category": prog, "tags": []any{1, 2}}, 400, "tags"},
			{"unknown field", map[string]any{"title": "t", "content": "c", "category": prog, "writer": 1}, 400, "writer"},
			{"not JSON", `{"title":`, 400, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				alice.t = t
				r := alice.do("POST", "/api/post/write/", tc.body)
				wantStatus(t, tc.name, r, tc.status)
				if tc.field != "" && !strings.Contains(string(r.body), `"`+tc.field+`":[`) {
					t.Errorf("body %s: want a %q field error", r.body, tc.field)
				}
			})
		}
		r = do(t, s.Gateways[0], req{method: "POST", path: "/api/post/write/", token: aliceTok,
			raw: []byte("title=x"), contentType: "application/x-www-form-urlencoded"})
		wantStatus(t, "form body", r, http.StatusUnsupportedMediaType)
	})
	if first.ID == 0 {
		t.Fatal("no post written")
	}

	t.Run("list and search", func(t *testing.T) {
		anon.t, alice.t, bob.t = t, t, t
		mk := func(a api, title, content string, cat int64, tags ...string) postObj {
			var p postObj
			if tags == nil {
				tags = []string{}
			}
			a.want(http.StatusCreated, "POST", "/api/post/write/", map[string]any{"title": title, "content": content, "category": cat, "tags": tags}, &p)
			return p
		}
		pct := mk(bob, "100% literal", "percent", ormi)
		und := mk(bob, "snake_case", "underscore", ormi)
		inj := mk(bob, "quotes", "' OR 1=1-- stays text", ormi, "sql")
		tagged := mk(alice, "Tagged", "nothing here", catID["ESTsoft"], "UniqueTag"+id)

		search := func(q string) []int64 {
			var ps []postObj
			anon.want(http.StatusOK, "GET", "/api/post/?search="+url.QueryEscape(q), nil, &ps)
			return postIDs(ps)
		}
		for _, tc := range []struct {
			q    string
			want []int64
		}{
			{"%", []int64{pct.ID}},
			{"_", []int64{und.ID}},
			{"' OR 1=1--", []int64{inj.ID}},
			{"uniquetag" + strings.ToLower(id), []int64{tagged.ID}}, // tag name, case-insensitive
			{"HELLO GRPC", []int64{first.ID}},
		} {
			if got := search(tc.q); !slices.Equal(got, tc.want) {
				t.Errorf("search %q: got %v, want %v", tc.q, got, tc.want)
			}
		}
		// Category name matches; each post once.
		if got := search("estsoft"); !slices.Contains(got, tagged.ID) {
			t.Errorf("search by category name: got %v, want %d in it", got, tagged.ID)
		}

		var ps []postObj
		r := anon.do("GET", "/api/post/posts/", nil)
		wantStatus(t, "GET posts/", r, http.StatusOK)
		raw := r.body
		r.decode(t, &ps)
		if len(ps) < 6 || ps[0].ID != tagged.ID {
			t.Errorf("list: %v, want newest (%d) first", postIDs(ps), tagged.ID)
		}
		var listed []json.RawMessage
		if err := json.Unmarshal(raw, &listed); err != nil {
			t.Fatalf("list: %v", err)
		}
		wantKeys(t, "list item", listed[0], postObjectKeys...)
		for _, p := range ps {
			if p.WriterNickname == "" {
				t.Errorf("post %d listed without writer_nickname", p.ID)
			}
		}

		anon.want(http.StatusOK, "GET", fmt.Sprintf("/api/post/?category=%d", ormi), nil, &ps)
		for _, p := range ps {
			if p.Category != ormi {
				t.Errorf("category filter: post %d has category %d", p.ID, p.Category)
			}
		}
		anon.want(http.StatusOK, "GET", "/api/post/?tag=SQL", nil, &ps)
		if got := postIDs(ps); !slices.Equal(got, []int64{inj.ID}) {
			t.Errorf("tag filter: got %v, want [%d]", got, inj.ID)
		}
		anon.want(http.StatusOK, "GET", fmt.Sprintf("/api/post/?writer=%d", aliceID), nil, &ps)
		for _, p := range ps {
			if p.Writer != aliceID {
				t.Errorf("writer filter: post %d by %d", p.ID, p.Writer)
			}
		}
		for _, bad := range []string{"category=abc", "writer=-1", "ordering=title", "limit=0", "cursor=%21%21"} {
			if r := anon.do("GET", "/api/post/?"+bad, nil); r.status != http.StatusBadRequest {
				t.Errorf("GET ?%s: got %s, want 400", bad, r)
			}
		}

		// Paging through the Link header sees every post once.
		var all []int64
		next := "/api/post/?limit=2"
		for pages := 0; next != ""; pages++ {
			if pages > 50 {
				t.Fatal("too many pages")
			}
			var page []postObj
			h := anon.want(http.StatusOK, "GET", next, nil, &page)
			all = append(all, postIDs(page)...)
			next = ""
			if link := h.Get("Link"); link != "" {
				next = strings.TrimPrefix(strings.SplitN(link, ">", 2)[0], "<")
				if !strings.HasSuffix(link, `rel="next"`) || !strings.HasPrefix(next, "/api/post/") {
					t.Fatalf("Link header %q", link)
				}
			}
		}
		var full []postObj
		anon.want(http.StatusOK, "GET", "/api/post/?limit=100", nil, &full)
		if !slices.Equal(all, postIDs(full)) {
			t.Errorf("paged %v, want %v", all, postIDs(full))
		}
	})

	t.Run("detail", func(t *testing.T) {
		anon.t, alice.t = t, t
		// Anonymous: every view counts.
		var hits []int64
		for range 2 {
			r := anon.do("GET", fmt.Sprintf("/api/post/detail/%d/", first.ID), nil)
			wantStatus(t, "detail", r, http.StatusOK)
			raw := r.body
			m := wantKeys(t, "detail", raw, append(postObjectKeys, "post_id", "room_data")...)
			var d struct {
				PostID int64 `json:"post_id"`
				Hit    int64 `json:"hit"`
				Writer struct {
					ID       int64  `json:"id"`
					Email    string `json:"email"`
					Nickname string `json:"nickname"`
					Picture  string `json:"profile_picture_url"`
				} `json:"writer"`
			}
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatalf("detail: %v", err)
			}
			hits = append(hits, d.Hit)
			if d.PostID != first.ID || d.Writer.ID != aliceID || d.Writer.Nickname != aliceAcc.nickname || d.Writer.Picture == "" {
				t.Errorf("detail %s", raw)
			}
			wantKeys(t, "room_data", m["room_data"], "id", "name", "chat_url", "chat_messages", "owner")
		}
		if hits[1] != hits[0]+1 {
			t.Errorf("hits of two views: %v, want +1", hits)
		}

		// Signed in: room and the newest messages come from the chat service.
		alice.want(http.StatusCreated, "POST", "/api/chat/message/", map[string]any{"room": first.RoomID, "message": "first!"}, nil)
		var d struct {
			RoomData struct {
				ID           int64  `json:"id"`
				ChatURL      string `json:"chat_url"`
				Owner        int64  `json:"owner"`
				ChatMessages []struct {
					Message string `json:"message"`
					Seq     int64  `json:"seq"`
					Sender  string `json:"sender"`
				} `json:"chat_messages"`
			} `json:"room_data"`
		}
		alice.want(http.StatusOK, "GET", fmt.Sprintf("/api/post/detail/%d", first.ID), nil, &d)
		rd := d.RoomData
		if rd.ID != first.RoomID || rd.ChatURL != fmt.Sprintf("/ws/chat/%d/chat/", first.RoomID) || rd.Owner != aliceID ||
			len(rd.ChatMessages) != 1 || rd.ChatMessages[0].Message != "first!" || rd.ChatMessages[0].Seq != 1 {
			t.Errorf("room_data %+v", rd)
		}

		// Anonymous readers see the same room and messages.
		var anonDetail struct {
			RoomData struct {
				ChatMessages []struct {
					Message string `json:"message"`
				} `json:"chat_messages"`
			} `json:"room_data"`
		}
		anon.want(http.StatusOK, "GET", fmt.Sprintf("/api/post/detail/%d/", first.ID), nil, &anonDetail)
		if m := anonDetail.RoomData.ChatMessages; len(m) != 1 || m[0].Message != "first!" {
			t.Errorf("anonymous room_data messages %+v, want [first!]", m)
		}

		for _, path := range []string{"/api/post/detail/abc/", "/api/post/detail/999999/", "/api/post/detail/-1/", "/api/post/detail/99999999999999999999/"} {
			if r := anon.do("GET", path, nil); r.status != http.StatusNotFound || !strings.Contains(string(r.body), `"detail"`) {
				t.Errorf("GET %s: got %s, want 404 detail", path, r)
			}
		}
	})

	t.Run("concurrent views on two replicas", func(t *testing.T) {
		path := fmt.Sprintf("/api/post/detail/%d/", first.ID)
		hitOf := func(base string) int64 {
			var d struct{ Hit int64 }
			api{t: t, base: base}.want(http.StatusOK, "GET", path, nil, &d)
			return d.Hit
		}
		healthy := []string{s.Gateways[0], s.Gateways[3]}
		before := hitOf(healthy[0])
		const views = 50
		var wg sync.WaitGroup
		for i := range views {
			wg.Go(func() {
				resp, err := http.Get(healthy[i%2] + path)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("view %d: status %d", i, resp.StatusCode)
				}
			})
		}
		wg.Wait()
		if after := hitOf(healthy[1]); after != before+views+1 {
			t.Errorf("hit after %d concurrent views: got %d, want %d", views, after, before+views+1)
		}
	})

	t.Run("dependencies down", func(t *testing.T) {
		chatHung := api{t: t, base: s.Gateways[1], token: aliceTok}
		userHung := api{t: t, base: s.Gateways[2]}
		for _, tc := range []struct {
			name string
			a    api
			path string
		}{
			{"detail, chat hung", chatHung, fmt.Sprintf("/api/post/detail/%d/", first.ID)},
			{"detail, user hung", userHung, fmt.Sprintf("/api/post/detail/%d/", first.ID)},
			{"list, user hung", userHung, "/api/post/"},
		} {
			began := time.Now()
			if r := tc.a.do("GET", tc.path, nil); r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), `"detail"`) {
				t.Errorf("%s: got %s, want 503 detail", tc.name, r)
			}
			if d := time.Since(began); d > 5*time.Second {
				t.Errorf("%s: took %v, want the composing deadline", tc.name, d)
			}
		}
		// Anonymous readers get the same clear answer.
		chatHung.token = ""
		if r := chatHung.do("GET", fmt.Sprintf("/api/post/detail/%d/", first.ID), nil); r.status != http.StatusServiceUnavailable {
			t.Errorf("anonymous detail, chat hung: got %s, want 503", r)
		}
	})

	t.Run("edit", func(t *testing.T) {
		anon.t, alice.t, bob.t = t, t, t
		path := fmt.Sprintf("/api/post/detail/%d/edit/", first.ID)
		anon.want(http.StatusUnauthorized, "PATCH", path, map[string]any{"title": "x"}, nil)
		for _, m := range []string{"POST", "PUT", "PATCH"} {
			bob.want(http.StatusForbidden, m, path, map[string]any{"title": "stolen"}, nil)
		}
		var p struct{ Title string }
		anon.want(http.StatusOK, "GET", fmt.Sprintf("/api/post/detail/%d/", first.ID), nil, &p)
		if p.Title != first.Title {
			t.Errorf("title after others' edits: %q", p.Title)
		}
		var u postObj
		alice.want(http.StatusOK, "PATCH", path, map[string]any{"title": "Hello again"}, &u)
		if u.Title != "Hello again" || u.Content != first.Content || u.Writer != aliceID || !u.UpdatedAt.After(first.UpdatedAt) ||
			!slices.Equal(u.tagNames(), first.tagNames()) {
			t.Errorf("after PATCH title: %+v", u)
		}
		var room struct{ Name string }
		alice.want(http.StatusOK, "GET", fmt.Sprintf("/api/chat/room/%d/", first.RoomID), nil, &room)
		if room.Name != "Hello again" {
			t.Errorf("room name after the title changed: %q, want %q", room.Name, "Hello again")
		}
		alice.want(http.StatusOK, "PUT", path, `{"tags":[{"name":"rust"}],"category":`+strconv.FormatInt(ormi, 10)+`}`, &u)
		if !slices.Equal(u.tagNames(), []string{"rust"}) || u.Category != ormi || u.Title != "Hello again" {
			t.Errorf("after PUT tags and category: %+v", u)
		}
		alice.want(http.StatusOK, "POST", path, `{}`, &u)
		alice.want(http.StatusBadRequest, "PATCH", path, map[string]any{"title": ""}, nil)
		alice.want(http.StatusBadRequest, "PATCH", path, map[string]any{"writer": 5}, nil)
		alice.want(http.StatusNotFound, "PATCH", "/api/post/detail/999999/edit/", map[string]any{"title": "x"}, nil)
		alice.want(http.StatusNotFound, "PATCH", "/api/post/detail/abc/edit/", map[string]any{"title": "x"}, nil)
	})

	t.Run("tags", func(t *testing.T) {
		anon.t = t
		var tags []struct {
			ID        int64  `json:"id"`
			Name      string `json:"name"`
			PostCount int64  `json:"post_count"`
		}
		anon.want(http.StatusOK, "GET", "/api/post/tags/", nil, &tags)
		if len(tags) == 0 {
			t.Fatal("no tags")
		}
		for i := 1; i < len(tags); i++ {
			if tags[i].PostCount > tags[i-1].PostCount {
				t.Errorf("tags not most used first: %+v", tags)
				break
			}
		}
		counts := map[string]int64{}
		for _, tg := range tags {
			counts[tg.Name] = tg.PostCount
		}
		// The first post's tags became [rust]; "Objects" keeps go and redis.
		if counts["go"] != 1 || counts["rust"] != 1 || counts["grpc"] != 0 || counts["sql"] != 1 {
			t.Errorf("tag counts %v, want go 1, rust 1, grpc 0, sql 1", counts)
		}
	})

	t.Run("delete", func(t *testing.T) {
		anon.t, alice.t, bob.t = t, t, t
		path := fmt.Sprintf("/api/post/detail/%d/delete/", first.ID)
		anon.want(http.StatusUnauthorized, "DELETE", path, nil, nil)
		bob.want(http.StatusForbidden, "DELETE", path, nil, nil)
		bob.want(http.StatusForbidden, "POST", path, nil, nil)

		// A socket in the post's room is closed with 4000 when it goes.
		wsURL := "ws" + strings.TrimPrefix(s.Gateways[0], "http") + fmt.Sprintf("/ws/chat/%d/chat/", first.RoomID)
		conn, resp, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": {"Bearer " + bobTok}})
		if err != nil {
			t.Fatalf("socket: %v (%v)", err, resp)
		}
		defer conn.Close()
		closed := make(chan int, 1)
		go func() {
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					code := -1
					var ce *websocket.CloseError
					if errors.As(err, &ce) {
						code = ce.Code
					}
					closed <- code
					return
				}
			}
		}()

		if r := alice.do("DELETE", path, nil); r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("delete: got %s, want 204 without body", r)
		}
		anon.want(http.StatusNotFound, "GET", fmt.Sprintf("/api/post/detail/%d/", first.ID), nil, nil)
		alice.want(http.StatusNotFound, "GET", fmt.Sprintf("/api/chat/room/%d/", first.RoomID), nil, nil)
		alice.want(http.StatusNotFound, "DELETE", path, nil, nil)
		select {
		case code := <-closed:
			if code != 4000 {
				t.Errorf("socket closed with %d, want 4000", code)
			}
		case <-time.After(5 * time.Second):
			t.Error("socket not closed within 5 s of the delete")
		}

		// POST works as well.
		var p postObj
		alice.want(http.StatusCreated, "POST", "/api/post/write/", map[string]any{"title": "short-lived", "content": "c", "category": prog}, &p)
		alice.want(http.StatusNoContent, "POST", fmt.Sprintf("/api/post/detail/%d/delete", p.ID), nil, nil)
		alice.want(http.StatusNotFound, "POST", "/api/post/detail/abc/delete/", nil, nil)
	})
}

// TestDemoData runs the demo-data loader (services/post/cmd/demodata) twice
// against a real stack: the second run must change nothing.
func TestDemoData(t *testing.T) {
	s := stack.Start(t, stack.Options{LogLevel: "warn"})
	root, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil || len(bytes.TrimSpace(root)) == 0 {
		t.Fatalf("go env GOWORK: %q %v", root, err)
	}
	bin := filepath.Join(t.TempDir(), "demodata")
	build := exec.Command("go", "build", "-o", bin, "./services/post/cmd/demodata")
	build.Dir = filepath.Dir(string(bytes.TrimSpace(root)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build demodata: %v\n%s", err, out)
	}
	for i, want := range []string{"6 posts written now (0 already there)", "0 posts written now (6 already there)"} {
		out, err := exec.Command(bin, "-gateway", s.Gateways[0]).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("run %d: %v\n%s\nwant %q", i+1, err, out, want)
		}
	}
	anon := api{t: t, base: s.Gateways[0]}
	var ps []postObj
	anon.want(http.StatusOK, "GET", "/api/post/", nil, &ps)
	perCategory := map[string]int{}
	for _, p := range ps {
		perCategory[p.CategoryName]++
		if !strings.Contains(p.Content, "```") || len(p.Tags) == 0 {
			t.Errorf("demo post %q: want a code block and tags", p.Title)
		}
	}
	if len(ps) != 6 || perCategory["Programming"] != 2 || perCategory["Ormi"] != 2 || perCategory["ESTsoft"] != 2 {
		t.Errorf("demo posts per category: %v (%d posts), want 2 in each of 3", perCategory, len(ps))
	}
}
