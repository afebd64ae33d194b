package faults_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// Messages of the text check (platform/safetext) as clients see them.
const (
	msgNull    = "Null characters are not allowed."
	msgControl = "Control characters are not allowed."
	msgUTF8    = "Invalid UTF-8 text."
)

// badText is one kind of text PostgreSQL cannot store or the API refuses,
// as a JSON string escape (for bodies and frames) and as a query escape
// (for query strings and paths).
type badText struct {
	name  string
	json  string // inside a JSON string literal
	query string // percent-encoded
	want  string // the message of the 400; "" when the text is accepted
}

var badTexts = []badText{
	{name: "NUL", json: `\u0000`, query: "%00", want: msgNull},
	{name: "control character", json: `\u001b`, query: "%1B", want: msgControl},
	// A lone surrogate is not text: JSON decoders (Go's, and every one in
	// the gateway) turn the escape into U+FFFD, which is stored as such.
	// As raw bytes (the query-string spelling) it is invalid UTF-8.
	{name: "lone surrogate", json: `\ud800`, query: "%ED%A0%80", want: msgUTF8},
}

// TestUnstorableInput: text that PostgreSQL cannot store (NUL) or that the
// API refuses (other control characters, invalid UTF-8) is answered 400 in
// the contract's format on every route that takes text, and one user's bad
// text never fails another user's message in the same group commit.
func TestUnstorableInput(t *testing.T) {
	t.Parallel()
	s := stack.Start(t, stack.Options{
		Gateways: 2,
		// Sends arriving within 20 ms share one group commit, so poisoned
		// and innocent sends surely meet in the same transaction.
		Env: map[string]map[string]string{stack.Chat: {"BATCH_MAX_WAIT": "20ms"}},
	})
	t.Run("every route answers 400", func(t *testing.T) { testUnstorableRoutes(t, s.Gateways[0]) })
	t.Run("socket frames get invalid_request", func(t *testing.T) { testUnstorableFrames(t, s.Gateways[0]) })
	t.Run("poisoned sends fail alone", func(t *testing.T) { testPoisonedSendsFailAlone(t, s) })
}

// wantRefused fails unless the answer is 400 with exactly
// {"<field>": [want]} (field "" : {"detail": ...}) and no internal text.
func wantRefused(t *testing.T, what string, code int, body []byte, err error, field, want string) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if leaksInternals(body) {
		t.Errorf("%s: answer shows internal text: %s", what, body)
	}
	var obj map[string]any
	if code != http.StatusBadRequest || json.Unmarshal(body, &obj) != nil || len(obj) != 1 {
		t.Errorf("%s: got %d %s, want 400 with one field", what, code, body)
		return
	}
	if field == "" {
		if _, ok := obj["detail"].(string); !ok {
			t.Errorf("%s: got %s, want {\"detail\": ...}", what, body)
		}
		return
	}
	if msgs, ok := obj[field].([]any); !ok || len(msgs) != 1 || msgs[0] != want {
		t.Errorf("%s: got %s, want {%q: [%q]}", what, body, field, want)
	}
}

// leaksInternals reports whether an answer shows database, gRPC or Go text.
func leaksInternals(body []byte) bool {
	low := strings.ToLower(string(body))
	for _, s := range []string{"sqlstate", "0x00", "byte sequence", "rpc error", "grpc", "pgx", "postgres", "marshal", "internal error", "server error"} {
		if strings.Contains(low, s) {
			return true
		}
	}
	return false
}

func testUnstorableRoutes(t *testing.T, gw string) {
	alice := signup(t, gw, "unstorable")
	bob := signup(t, gw, "friend")
	var post struct {
		ID     int64 `json:"id"`
		RoomID int64 `json:"room_id"`
	}
	must(t, call{method: "POST", url: gw + "/api/post/write/", token: alice.Token,
		body: map[string]any{"title": "t", "content": "c", "category": 1, "tags": []string{"go"}}}, http.StatusCreated, &post)
	var msg struct {
		ID int64 `json:"id"`
	}
	must(t, call{method: "POST", url: gw + "/api/chat/message/", token: alice.Token,
		body: map[string]any{"room": post.RoomID, "message": "hello"}}, http.StatusCreated, &msg)
	room := fmt.Sprintf("/api/chat/room/%d/", post.RoomID)
	edit := fmt.Sprintf("/api/post/detail/%d/edit/", post.ID)

	// JSON bodies: %s is where the bad text goes (inside a string).
	bodies := []struct {
		method, path, body, field string
		anonymous                 bool
	}{
		{"POST", "/api/user/registration/", `{"email":"new%s@example.com","password":"Quiet-Lantern-7431"}`, "email", true},
		{"POST", "/api/user/registration/", `{"email":"nul-pw@example.com","password":"Quiet-Lantern%s-7431"}`, "password", true},
		{"POST", "/api/user/registration/", `{"email":"nul-nick@example.com","password":"Quiet-Lantern-7431","nickname":"nick%s"}`, "nickname", true},
		{"POST", "/api/user/registration/", `{"email":"nul-pw1@example.com","password1":"Quiet-Lantern%s-7431","password2":"Quiet-Lantern-7431"}`, "password1", true},
		{"POST", "/api/user/login/", `{"email":"` + alice.Email + `%s","password":"x"}`, "email", true},
		{"POST", "/api/user/login/", `{"email":"` + alice.Email + `","password":"pw%s"}`, "password", true},
		{"POST", "/api/user/token/refresh/", `{"refresh":"token%s"}`, "refresh", true},
		{"PATCH", "/api/user/profile/", `{"nickname":"nick%s"}`, "nickname", false},
		{"PATCH", "/api/user/profile/", `{"bio":"bio%s"}`, "bio", false},
		{"PUT", "/api/user/profile/", `{"skills":["go%s"]}`, "skills", false},
		{"PATCH", "/api/user/profile/", `{"interests":["db","x%s"]}`, "interests", false},
		{"PATCH", "/api/user/profile/", `{"contact_number":"010%s"}`, "contact_number", false},
		{"PATCH", "/api/user/profile/", `{"status":"busy%s"}`, "status", false},
		{"POST", "/api/user/add-friend/", `{"email":"` + bob.Email + `%s"}`, "email", false},
		{"POST", "/api/user/delete-friend/", `{"email":"` + bob.Email + `%s"}`, "email", false},
		{"POST", "/api/post/write/", `{"title":"t%s","content":"c","category":1}`, "title", false},
		{"POST", "/api/post/write/", `{"title":"t","content":"c%s","category":1}`, "content", false},
		{"POST", "/api/post/write/", `{"title":"t","content":"c","category":1,"tags":["go%s"]}`, "tags", false},
		{"POST", "/api/post/write/", `{"title":"t","content":"c","category":1,"tags":[{"name":"go%s"}]}`, "tags", false},
		{"POST", "/api/post/write/", `{"title":"t","content":"c","category":"1%s"}`, "category", false},
		{"PATCH", edit, `{"title":"t%s"}`, "title", false},
		{"PUT", edit, `{"content":"c%s"}`, "content", false},
		{"POST", edit, `{"tags":["x%s"]}`, "tags", false},
		{"POST", "/api/post/categories/", `{"name":"cat%s"}`, "name", false},
		{"POST", "/api/chat/room/", `{"name":"room%s"}`, "name", false},
		{"PATCH", room, `{"name":"room%s"}`, "name", false},
		{"PUT", room, `{"name":"room%s"}`, "name", false},
		{"POST", "/api/chat/message/", fmt.Sprintf(`{"room":%d,"message":"hi%%s"}`, post.RoomID), "message", false},
		{"POST", "/api/chat/message/", fmt.Sprintf(`{"room":%d,"message":"hi","client_msg_id":"id%%s"}`, post.RoomID), "client_msg_id", false},
		{"PATCH", fmt.Sprintf("/api/chat/message/%d/", msg.ID), `{"message":"edited%s"}`, "message", false},
	}
	for _, b := range bodies {
		for _, bad := range badTexts {
			what := fmt.Sprintf("%s %s %s with a %s", b.method, b.path, b.field, bad.name)
			token := alice.Token
			if b.anonymous {
				token = ""
			}
			code, body, err := do(call{method: b.method, url: gw + b.path, token: token,
				body: []byte(fmt.Sprintf(b.body, bad.json)), contentType: "application/json"})
			if bad.name == "lone surrogate" {
				// Accepted as U+FFFD or refused by the field's own rules;
				// never a server error.
				if err != nil || code >= 500 || leaksInternals(body) {
					t.Errorf("%s: got %d %s %v, want no server error", what, code, body, err)
				}
				continue
			}
			wantRefused(t, what, code, body, err, b.field, bad.want)
		}
	}

	// Multipart profile updates are decoded like JSON bodies.
	for _, bad := range badTexts[:2] {
		text := strings.NewReplacer(`\u0000`, "\x00", `\u001b`, "\x1b").Replace("bio" + bad.json)
		form, ct := multipartBody(map[string]string{"bio": text})
		code, body, err := do(call{method: "PATCH", url: gw + "/api/user/profile/", token: alice.Token, body: form, contentType: ct})
		wantRefused(t, "multipart profile bio with a "+bad.name, code, body, err, "bio", bad.want)
	}

	// Query parameters and path segments.
	queries := []struct{ path, param string }{
		{"/api/user/search-friends/?keyword=", "keyword"},
		{"/api/post/?tag=", "tag"},
		{"/api/post/?search=", "search"},
		{"/api/post/?category=", "category"},
		{"/api/post/?writer=", "writer"},
		{"/api/post/?ordering=", "ordering"},
		{"/api/post/?cursor=", "cursor"},
		{"/api/post/posts/?tag=", "tag"},
		{"/api/post/tags/?limit=", "limit"},
		{"/api/chat/room/?cursor=", "cursor"},
		{room + "messages/?before=", "before"},
		{"/api/user/friends/?limit=", "limit"},
	}
	for _, q := range queries {
		for _, bad := range badTexts {
			what := fmt.Sprintf("GET %s with a %s", q.path, bad.name)
			code, body, err := do(call{method: "GET", url: gw + q.path + "x" + bad.query, token: alice.Token})
			wantRefused(t, what, code, body, err, q.param, bad.want)
		}
	}
	for _, p := range []string{"/media/avatars/x%s.webp", "/api/user/friend-profile/1%s/", "/api/post/detail/1%s/", "/api/chat/room/1%s/"} {
		for _, bad := range badTexts {
			url := gw + fmt.Sprintf(p, bad.query)
			code, body, err := do(call{method: "GET", url: url, token: alice.Token})
			wantRefused(t, "GET "+url+" with a "+bad.name, code, body, err, "", bad.want)
		}
	}

	// A lone surrogate in a message is stored as U+FFFD.
	var stored struct {
		Message string `json:"message"`
	}
	must(t, call{method: "POST", url: gw + "/api/chat/message/", token: alice.Token, contentType: "application/json",
		body: []byte(fmt.Sprintf(`{"room":%d,"message":"half \ud800 pair"}`, post.RoomID))}, http.StatusCreated, &stored)
	if stored.Message != "half \uFFFD pair" {
		t.Errorf("a lone surrogate was stored as %q, want U+FFFD", stored.Message)
	}
	// Tabs and line breaks are text.
	must(t, call{method: "POST", url: gw + "/api/chat/message/", token: alice.Token,
		body: map[string]any{"room": post.RoomID, "message": "a\tb\r\nc"}}, http.StatusCreated, nil)
	// Nothing refused above was stored.
	var detail struct {
		Title, Content string
	}
	must(t, call{method: "GET", url: gw + fmt.Sprintf("/api/post/detail/%d/", post.ID)}, http.StatusOK, &detail)
	var r struct {
		Name string `json:"name"`
	}
	must(t, call{method: "GET", url: gw + room, token: alice.Token}, http.StatusOK, &r)
	texts := []string{detail.Title, detail.Content, r.Name}
	hist, err := roomHistory(gw, alice.Token, post.RoomID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range hist {
		texts = append(texts, m.text, m.id)
	}
	for _, s := range texts {
		if strings.ContainsAny(s, "\x00\x1b") {
			t.Errorf("refused text was stored: %q", s)
		}
	}
}

// multipartBody is a multipart/form-data body of text fields.
func multipartBody(fields map[string]string) ([]byte, string) {
	var b strings.Builder
	const boundary = "unstorable-boundary"
	for k, v := range fields {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", boundary, k, v)
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return []byte(b.String()), "multipart/form-data; boundary=" + boundary
}

func testUnstorableFrames(t *testing.T, gw string) {
	a := signup(t, gw, "frames")
	room := createRoom(t, gw, a.Token)
	var msg struct {
		ID int64 `json:"id"`
	}
	must(t, call{method: "POST", url: gw + "/api/chat/message/", token: a.Token,
		body: map[string]any{"room": room, "message": "hello"}}, http.StatusCreated, &msg)
	ws := dialRaw(t, gw, room, a, nil)
	frames := []string{
		`{"type":"chat.message","message":"hi%s"}`,
		`{"type":"chat.message","message":"hi","client_msg_id":"id%s"}`,
		fmt.Sprintf(`{"type":"chat.message.edit","id":%d,"message":"edited%%s"}`, msg.ID),
	}
	for _, f := range frames {
		for _, bad := range badTexts[:2] {
			if err := ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(f, bad.json))); err != nil {
				t.Fatal(err)
			}
			got := nextError(t, ws)
			if got.ErrorType != "invalid_request" || got.Message != bad.want {
				t.Errorf("frame %s with a %s: got error %q %q, want invalid_request %q", f, bad.name, got.ErrorType, got.Message, bad.want)
			}
		}
	}
	// The socket stayed open and works.
	if err := ws.WriteJSON(map[string]any{"type": "chat.message", "message": "still here", "client_msg_id": "after"}); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var f serverFrame
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("after refused frames: %v", err)
		}
		if f.ErrorType != "" {
			t.Fatalf("after refused frames: error %q %q", f.ErrorType, f.Message)
		}
		if f.Type == "chat.message" && f.ClientMsgID == "after" {
			break
		}
	}
	hist, err := roomHistory(gw, a.Token, room)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].text != "hello" || hist[1].text != "still here" {
		t.Errorf("history after refused frames: %v, want hello and still here", hist)
	}
}

// sendOutcome is what one send got: the seq of its acknowledgement, or
// how it failed (error_type or HTTP status and body).
type sendOutcome struct {
	id     string
	seq    int64
	failed string
}

// frameSender sends frames on one socket, one at a time, and waits for the
// answer to each: its echo (by client_msg_id) or an error frame.
type frameSender struct {
	ws     *websocket.Conn
	frames chan serverFrame
}

func newFrameSender(t *testing.T, gw string, room int64, a account) *frameSender {
	fs := &frameSender{ws: dialRaw(t, gw, room, a, nil), frames: make(chan serverFrame, 1024)}
	go func() {
		defer close(fs.frames)
		for {
			var f serverFrame
			if err := fs.ws.ReadJSON(&f); err != nil {
				return
			}
			if f.ErrorType != "" || f.Type == "chat.message" {
				fs.frames <- f
			}
		}
	}()
	return fs
}

func (fs *frameSender) send(id, frame string) sendOutcome {
	if err := fs.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		return sendOutcome{id: id, failed: err.Error()}
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-fs.frames:
			if !ok {
				return sendOutcome{id: id, failed: "socket closed"}
			}
			if f.ErrorType != "" {
				return sendOutcome{id: id, failed: f.ErrorType}
			}
			if f.ClientMsgID == id {
				return sendOutcome{id: id, seq: f.Seq}
			}
		case <-timeout:
			return sendOutcome{id: id, failed: "no answer"}
		}
	}
}

func restSendOutcome(gw string, a account, _ int64, id, body string) sendOutcome {
	code, got, err := do(call{method: "POST", url: gw + "/api/chat/message/", token: a.Token, body: []byte(body), contentType: "application/json"})
	if err != nil {
		return sendOutcome{id: id, failed: err.Error()}
	}
	if code != http.StatusCreated {
		return sendOutcome{id: id, failed: fmt.Sprintf("%d %s", code, got)}
	}
	var m struct {
		Seq int64 `json:"seq"`
	}
	if err := json.Unmarshal(got, &m); err != nil {
		return sendOutcome{id: id, failed: err.Error()}
	}
	return sendOutcome{id: id, seq: m.Seq}
}

// testPoisonedSendsFailAlone races poisoned sends (NUL) over replica 1
// with innocent sends over replica 0, socket and REST, all at the same
// instant: every innocent send is acknowledged and in the history exactly
// once, every poisoned one is refused with 400 / invalid_request.
func testPoisonedSendsFailAlone(t *testing.T, s *stack.Stack) {
	const rounds, innocents, poisoners = 5, 4, 2
	owner := signup(t, s.Gateways[0], "owner")
	room := createRoom(t, s.Gateways[0], owner.Token)
	type member struct {
		acct account
		gw   string
		sock *frameSender
	}
	var good, bad []member
	for i := range innocents {
		a := signup(t, s.Gateways[0], fmt.Sprintf("innocent%d-", i))
		good = append(good, member{a, s.Gateways[0], newFrameSender(t, s.Gateways[0], room, a)})
	}
	for i := range poisoners {
		a := signup(t, s.Gateways[1], fmt.Sprintf("poisoner%d-", i))
		bad = append(bad, member{a, s.Gateways[1], newFrameSender(t, s.Gateways[1], room, a)})
	}

	var (
		mu       sync.Mutex
		innocent []sendOutcome
		poisoned []sendOutcome
	)
	// sendBoth sends one socket frame and one REST message as m, at start,
	// with ids "<kind>-s-…" and "<kind>-r-…" and text prefix+id
	// (prefix is JSON string content).
	sendBoth := func(wg *sync.WaitGroup, start chan struct{}, list *[]sendOutcome, m member, kind string, r, i int, prefix string) {
		sockID, restID := fmt.Sprintf("%s-s-%d-%d", kind, r, i), fmt.Sprintf("%s-r-%d-%d", kind, r, i)
		record := func(o sendOutcome) {
			mu.Lock()
			*list = append(*list, o)
			mu.Unlock()
		}
		wg.Go(func() {
			<-start
			record(m.sock.send(sockID, fmt.Sprintf(`{"type":"chat.message","message":"%s%s","client_msg_id":"%s"}`, prefix, sockID, sockID)))
		})
		wg.Go(func() {
			<-start
			record(restSendOutcome(m.gw, m.acct, room, restID, fmt.Sprintf(`{"room":%d,"message":"%s%s","client_msg_id":"%s"}`, room, prefix, restID, restID)))
		})
	}
	for r := range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, m := range good {
			sendBoth(&wg, start, &innocent, m, "good", r, i, "")
		}
		for i, m := range bad {
			sendBoth(&wg, start, &poisoned, m, "bad", r, i, `poison\u0000`)
		}
		close(start)
		wg.Wait()
	}

	acked := map[string]int64{}
	for _, o := range innocent {
		if o.failed != "" {
			t.Errorf("innocent send %s failed: %s", o.id, o.failed)
			continue
		}
		acked[o.id] = o.seq
	}
	for _, o := range poisoned {
		if o.failed != "invalid_request" && !strings.HasPrefix(o.failed, "400 ") {
			t.Errorf("poisoned send %s: got %q (seq %d), want 400 / invalid_request", o.id, o.failed, o.seq)
		}
	}
	hist, err := roomHistory(s.Gateways[1], owner.Token, room)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i, m := range hist {
		if m.seq != int64(i+1) {
			t.Errorf("history seq %d at position %d: seqs are not gap-free", m.seq, i)
		}
		seen[m.id]++
		if strings.HasPrefix(m.id, "bad-") {
			t.Errorf("poisoned message %s is in the history", m.id)
		}
		if want, ok := acked[m.id]; ok && want != m.seq {
			t.Errorf("%s acknowledged with seq %d, in history at %d", m.id, want, m.seq)
		}
	}
	var missing []string
	for id := range acked {
		if seen[id] != 1 {
			missing = append(missing, fmt.Sprintf("%s×%d", id, seen[id]))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("acknowledged sends not in the history exactly once: %v", missing)
	}
	if len(innocent) != rounds*innocents*2 || len(poisoned) != rounds*poisoners*2 {
		t.Errorf("recorded %d innocent and %d poisoned sends, want %d and %d", len(innocent), len(poisoned), rounds*innocents*2, rounds*poisoners*2)
	}
}
