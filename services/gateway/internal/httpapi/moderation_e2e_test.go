package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// TestBlocksModerationSearchDM runs blocks, moderation, message search and
// direct messages end to end: real user, chat and post services on
// PostgreSQL, Redis and NATS, behind two gateway replicas (each subtest
// writes through one replica and reads through the other).
func TestBlocksModerationSearchDM(t *testing.T) {
	s := stack.Start(t, stack.Options{Gateways: 2})
	gw0, gw1 := s.Gateways[0], s.Gateways[1]
	setStaff := func(t *testing.T, a *account) {
		t.Helper()
		conn, err := pgx.Connect(context.Background(), s.Env.DatabaseURLs[stack.User])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		// What `go run ./services/user/cmd/staff -email ... -on` does.
		if _, err := conn.Exec(context.Background(), `UPDATE users SET is_staff = true WHERE id = $1`, a.id); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("blocks", func(t *testing.T) {
		t.Parallel()
		testBlocks(t, gw0, gw1)
	})
	t.Run("moderation", func(t *testing.T) {
		t.Parallel()
		testModeration(t, gw0, gw1, setStaff, s.Env.DatabaseURLs[stack.Chat])
	})
	t.Run("search", func(t *testing.T) {
		t.Parallel()
		testMessageSearch(t, gw0, gw1)
	})
	t.Run("hidden messages", func(t *testing.T) {
		t.Parallel()
		testHiddenMessages(t, gw0, gw1)
	})
	t.Run("direct messages", func(t *testing.T) {
		t.Parallel()
		testDirectMessages(t, gw0, gw1)
	})
}

// room creates a room owned by a through gw and returns its id.
func room(t *testing.T, gw string, a *account) int64 {
	t.Helper()
	r := do(t, gw, req{method: "POST", path: "/api/chat/room/", token: a.access, json: map[string]any{"name": "mod room"}})
	wantStatus(t, "create room", r, http.StatusCreated)
	if k := r.object(t)["kind"]; k != "post" {
		t.Fatalf("room kind = %v, want post", k)
	}
	return int64(r.object(t)["id"].(float64))
}

// post sends text to a room through gw and returns the message object.
func post(t *testing.T, gw string, a *account, roomID int64, text string) map[string]any {
	t.Helper()
	r := do(t, gw, req{method: "POST", path: "/api/chat/message/", token: a.access, json: map[string]any{"room": roomID, "message": text}})
	wantStatus(t, "send "+text, r, http.StatusCreated)
	return r.object(t)
}

// dial opens a room socket as a through gw; it fails the test unless the
// upgrade succeeds.
func dial(t *testing.T, gw string, a *account, roomID int64) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL(gw, roomID), http.Header{"Authorization": {"Bearer " + a.access}})
	if err != nil {
		t.Fatalf("socket: %v (%v)", err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func wsURL(gw string, roomID int64) string {
	return "ws" + strings.TrimPrefix(gw, "http") + fmt.Sprintf("/ws/chat/%d/chat/", roomID)
}

// readUntil reads frames until one satisfies ok (5 s at most).
func readUntil(t *testing.T, conn *websocket.Conn, what string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var f map[string]any
		if err := conn.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok(f) {
			return f
		}
	}
}

func testModeration(t *testing.T, gw0, gw1 string, setStaff func(*testing.T, *account), chatDB string) {
	owner, member, other, staff := register(t, gw0, "modo"), register(t, gw1, "modm"), register(t, gw0, "modx"), register(t, gw1, "mods")
	setStaff(t, staff)
	// The own profile tells the client who may moderate everywhere; the
	// update takes the field back and ignores it.
	for _, c := range []struct {
		a    *account
		want bool
	}{{staff, true}, {owner, false}} {
		p := do(t, gw1, req{method: "GET", path: "/api/user/profile/", token: c.a.access})
		wantStatus(t, "own profile", p, http.StatusOK)
		if got := p.object(t)["is_staff"]; got != c.want {
			t.Fatalf("%s: is_staff = %v, want %v", c.a.email, got, c.want)
		}
	}
	back := do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: owner.access, json: map[string]any{"is_staff": true, "bio": "x"}})
	wantStatus(t, "profile update with is_staff", back, http.StatusOK)
	if p := do(t, gw0, req{method: "GET", path: "/api/user/profile/", token: owner.access}).object(t); p["is_staff"] != any(false) || p["bio"] != "x" {
		t.Fatalf("after sending is_staff back: %v", p)
	}
	if p := do(t, gw0, req{method: "GET", path: fmt.Sprintf("/api/user/friend-profile/%d/", staff.id), token: owner.access}).object(t); p["is_staff"] != nil {
		t.Fatalf("another's profile tells is_staff: %v", p)
	}
	roomID := room(t, gw0, owner)
	m1 := post(t, gw1, member, roomID, "first from member")
	m2 := post(t, gw1, member, roomID, "second from member")
	m3 := post(t, gw0, other, roomID, "from other")
	msgPath := func(m map[string]any, suffix string) string {
		return fmt.Sprintf("/api/chat/message/%d/%s", int64(m["id"].(float64)), suffix)
	}

	// Deleting another's message: others 403, the owner and staff 204.
	wantStatus(t, "other deletes member's", do(t, gw0, req{method: "DELETE", path: msgPath(m1, ""), token: other.access}), http.StatusForbidden)
	wantStatus(t, "owner deletes member's", do(t, gw1, req{method: "DELETE", path: msgPath(m1, ""), token: owner.access}), http.StatusNoContent)
	wantStatus(t, "staff deletes other's", do(t, gw0, req{method: "DELETE", path: msgPath(m3, ""), token: staff.access}), http.StatusNoContent)
	wantStatus(t, "deleted twice", do(t, gw0, req{method: "DELETE", path: msgPath(m1, ""), token: owner.access}), http.StatusNotFound)
	// Over the socket too: the owner deletes m4 from a socket on gw0, the
	// member's socket on gw1 sees it go.
	m4 := post(t, gw1, member, roomID, "fourth from member")
	ownerSock, memberSock := dial(t, gw0, owner, roomID), dial(t, gw1, member, roomID)
	for _, c := range []*websocket.Conn{ownerSock, memberSock} {
		readUntil(t, c, "presence", func(f map[string]any) bool { return f["type"] == "chat.presence" })
	}
	if err := ownerSock.WriteJSON(map[string]any{"type": "chat.message.delete", "id": m4["id"]}); err != nil {
		t.Fatal(err)
	}
	f := readUntil(t, memberSock, "the delete", func(f map[string]any) bool { return f["type"] == "chat.message.delete" || f["error_type"] != nil })
	if f["id"] != m4["id"] {
		t.Fatalf("member's socket got %v, want the delete of m4", f)
	}
	// ... and editing stays the sender's.
	wantStatus(t, "owner edits member's", do(t, gw0, req{method: "PATCH", path: msgPath(m2, ""), token: owner.access, json: map[string]any{"message": "x"}}), http.StatusForbidden)
	var hist []map[string]any
	r := do(t, gw0, req{method: "GET", path: fmt.Sprintf("/api/chat/room/%d/messages/", roomID), token: other.access})
	r.decode(t, &hist)
	if len(hist) != 1 || hist[0]["id"] != m2["id"] {
		t.Fatalf("history after moderation = %v, want only m2", hist)
	}

	// Mutes: bad input, then the rule, then the effect on REST and socket.
	mute := func(gw string, as *account, body map[string]any) *resp {
		return do(t, gw, req{method: "POST", path: fmt.Sprintf("/api/chat/room/%d/mute/", roomID), token: as.access, json: body})
	}
	for _, bad := range []map[string]any{{"user": member.id, "minutes": 10081}, {"user": member.id, "minutes": -1}, {"user": member.id}, {"minutes": 5}, {"user": member.id, "minutes": "5"}} {
		wantStatus(t, fmt.Sprint("mute ", bad), mute(gw0, owner, bad), http.StatusBadRequest)
	}
	wantJSON(t, "mute self", mute(gw0, owner, map[string]any{"user": owner.id, "minutes": 5}), http.StatusBadRequest, `{"user":["You cannot mute yourself."]}`)
	wantStatus(t, "member mutes", mute(gw0, other, map[string]any{"user": member.id, "minutes": 5}), http.StatusForbidden)
	wantStatus(t, "mute unknown room", do(t, gw0, req{method: "POST", path: "/api/chat/room/999999999/mute/", token: owner.access, json: map[string]any{"user": member.id, "minutes": 5}}), http.StatusNotFound)

	sock := dial(t, gw0, member, roomID) // on the replica the mute does not go through
	readUntil(t, sock, "presence", func(f map[string]any) bool { return f["type"] == "chat.presence" })
	r = mute(gw1, owner, map[string]any{"user": member.id, "minutes": 5})
	wantStatus(t, "owner mutes", r, http.StatusOK)
	if r.object(t)["until"] == nil {
		t.Fatalf("mute answered %s, want an until", r)
	}
	wantJSON(t, "muted REST send", do(t, gw0, req{method: "POST", path: "/api/chat/message/", token: member.access, json: map[string]any{"room": roomID, "message": "hi"}}),
		http.StatusForbidden, `{"detail":"You are muted in this room."}`)
	if err := sock.WriteJSON(map[string]any{"type": "chat.message", "message": "still here?"}); err != nil {
		t.Fatal(err)
	}
	f = readUntil(t, sock, "muted error", func(f map[string]any) bool { return f["error_type"] != nil || f["type"] == "chat.message" })
	if f["error_type"] != "muted" {
		t.Fatalf("muted socket send got %v, want error_type muted", f)
	}
	post(t, gw1, other, roomID, "others still talk")
	wantStatus(t, "staff unmutes", mute(gw0, staff, map[string]any{"user": member.id, "minutes": 0}), http.StatusOK)
	post(t, gw1, member, roomID, "unmuted again")

	// Reports.
	report := func(gw string, as *account, m map[string]any, reason any) *resp {
		return do(t, gw, req{method: "POST", path: msgPath(m, "report/"), token: as.access, json: map[string]any{"reason": reason}})
	}
	wantStatus(t, "report too long", report(gw0, other, m2, strings.Repeat("가", 501)), http.StatusBadRequest)
	wantStatus(t, "report blank", report(gw0, other, m2, "  "), http.StatusBadRequest)
	wantStatus(t, "report missing", do(t, gw0, req{method: "POST", path: msgPath(m2, "report/"), token: other.access, json: map[string]any{}}), http.StatusBadRequest)
	wantStatus(t, "report deleted", report(gw0, other, m1, "spam"), http.StatusNotFound)
	wantStatus(t, "report", report(gw0, other, m2, strings.Repeat("나", 500)), http.StatusCreated)
	wantStatus(t, "report again", report(gw1, other, m2, "again"), http.StatusOK)
	wantStatus(t, "second reporter", report(gw1, owner, m2, "spam"), http.StatusCreated)

	wantStatus(t, "reports by member", do(t, gw0, req{method: "GET", path: "/api/chat/reports/", token: other.access}), http.StatusForbidden)
	wantStatus(t, "reports by owner", do(t, gw0, req{method: "GET", path: "/api/chat/reports/", token: owner.access}), http.StatusForbidden)
	var reports []map[string]any
	r = do(t, gw1, req{method: "GET", path: "/api/chat/reports/?limit=100", token: staff.access})
	wantStatus(t, "reports by staff", r, http.StatusOK)
	r.decode(t, &reports)
	mine := 0
	for _, rep := range reports {
		if rep["message"] == m2["id"] {
			mine++
			if rep["message_text"] != "second from member" || rep["sender"] != float64(member.id) {
				t.Errorf("report %v does not keep the message", rep)
			}
		}
	}
	if mine != 2 {
		t.Fatalf("staff see %d reports of m2, want 2: %v", mine, reports)
	}

	// The audit: both moderated deletes, the mute and the unmute; not the
	// refused attempts, nor anything a sender did to their own message.
	conn, err := pgx.Connect(context.Background(), chatDB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT actor_id, action, target_user_id, coalesce(message_id, 0), detail
		FROM moderation_audit WHERE room_id = $1 ORDER BY id`, roomID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var actor, target, msg int64
		var action, detail string
		if err := rows.Scan(&actor, &action, &target, &msg, &detail); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %d %d %s", actor, action, target, msg, detail))
	}
	want := []string{
		fmt.Sprintf("%d delete %d %d ", owner.id, member.id, int64(m1["id"].(float64))),
		fmt.Sprintf("%d delete %d %d ", staff.id, other.id, int64(m3["id"].(float64))),
		fmt.Sprintf("%d delete %d %d ", owner.id, member.id, int64(m4["id"].(float64))),
		fmt.Sprintf("%d mute %d 0 minutes=5", owner.id, member.id),
		fmt.Sprintf("%d unmute %d 0 ", staff.id, member.id),
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("audit = %q, want %q", got, want)
	}
}

func testMessageSearch(t *testing.T, gw0, gw1 string) {
	a, b := register(t, gw0, "srcha"), register(t, gw1, "srchb")
	roomID := room(t, gw0, a)
	texts := []string{"안녕하세요 여러분", "Hello World", "100% sure", "snake_case name", `back\slash`, "HELLO again", "반갑습니다 안녕"}
	for _, text := range texts {
		post(t, gw1, b, roomID, text)
	}
	other := room(t, gw1, b)
	post(t, gw0, a, other, "hello from another room")

	search := func(gw, q string, extra string) []string {
		t.Helper()
		r := do(t, gw, req{method: "GET", path: fmt.Sprintf("/api/chat/room/%d/messages/?search=%s%s", roomID, query(q), extra), token: a.access})
		wantStatus(t, "search "+q, r, http.StatusOK)
		var msgs []map[string]any
		r.decode(t, &msgs)
		out := make([]string, len(msgs))
		for i, m := range msgs {
			out[i] = m["message"].(string)
		}
		return out
	}
	for q, want := range map[string]string{
		"안녕":    "반갑습니다 안녕|안녕하세요 여러분",      // newest first
		"hello": "HELLO again|Hello World", // case-insensitive
		"%":     "100% sure",               // literal
		"_":     "snake_case name",
		`\`:     `back\slash`,
		`k\s`:   `back\slash`,
		"e_c":   "snake_case name",
		"o%":    "",
		"없는말":   "",
		"l":     "HELLO again|back\\slash|Hello World", // shorter than a trigram
	} {
		if got := strings.Join(search(gw0, q, ""), "|"); got != want {
			t.Errorf("search %q = %q, want %q", q, got, want)
		}
	}
	// Paged like history: newest first, Link to the older page.
	r := do(t, gw1, req{method: "GET", path: fmt.Sprintf("/api/chat/room/%d/messages/?search=%s&limit=1", roomID, query("hello")), token: a.access})
	var page []map[string]any
	r.decode(t, &page)
	link := r.header.Get("Link")
	if len(page) != 1 || page[0]["message"] != "HELLO again" || !strings.Contains(link, "before=") {
		t.Fatalf("page 1 = %v, Link %q", page, link)
	}
	path := link[strings.Index(link, "/api/"):strings.Index(link, ">")]
	if got := do(t, gw0, req{method: "GET", path: path, token: a.access}); !strings.Contains(string(got.body), "Hello World") {
		t.Fatalf("page 2 = %s", got)
	}
	// Bad input: 400, never a crash.
	for _, bad := range []string{"", "+++", "%00", "a%00b", strings.Repeat("x", 201), "%FF"} {
		r := do(t, gw0, req{method: "GET", path: fmt.Sprintf("/api/chat/room/%d/messages/?search=%s", roomID, bad), token: a.access})
		wantStatus(t, fmt.Sprintf("search %q", bad), r, http.StatusBadRequest)
		if !strings.Contains(string(r.body), `"search"`) {
			t.Errorf("search %q answered %s, want a search field error", bad, r)
		}
	}
	wantStatus(t, "search with after", do(t, gw0, req{method: "GET", path: fmt.Sprintf("/api/chat/room/%d/messages/?search=a&after=1", roomID), token: a.access}), http.StatusBadRequest)
	wantStatus(t, "search unknown room", do(t, gw0, req{method: "GET", path: "/api/chat/room/999999999/messages/?search=a", token: a.access}), http.StatusNotFound)
}

func testBlocks(t *testing.T, gw0, gw1 string) {
	a, b, c := register(t, gw0, "blka"), register(t, gw0, "blkb"), register(t, gw1, "blkc")

	// Bad input: nothing changes.
	wantJSON(t, "block self", do(t, gw0, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{"user": a.id}}),
		http.StatusBadRequest, `{"user":["You cannot block yourself."]}`)
	wantJSON(t, "block unknown", do(t, gw0, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{"user": 1 << 50}}),
		http.StatusNotFound, `{"detail":"User not found."}`)
	wantJSON(t, "block missing", do(t, gw0, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{}}),
		http.StatusBadRequest, `{"user":["This field is required."]}`)
	wantStatus(t, "block string", do(t, gw0, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{"user": "x"}}), http.StatusBadRequest)
	wantStatus(t, "block anonymous", do(t, gw0, req{method: "POST", path: "/api/user/block/", json: map[string]any{"user": b.id}}), http.StatusUnauthorized)
	wantStatus(t, "unblock unknown", do(t, gw0, req{method: "DELETE", path: fmt.Sprintf("/api/user/block/%d/", int64(1)<<50), token: a.access}), http.StatusNotFound)

	// b's profile is private and b has not added a: its email stays hidden.
	wantStatus(t, "b private", do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: b.access, json: map[string]any{"is_private": true}}), http.StatusOK)
	r := do(t, gw0, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{"user": b.id}})
	wantStatus(t, "block b", r, http.StatusCreated)
	if got := r.object(t); got["id"] != float64(b.id) || got["email"] != "" || got["nickname"] != b.nickname {
		t.Fatalf("block b answered %v, want id %d, blank email", got, b.id)
	}
	wantStatus(t, "block b again", do(t, gw1, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{"user": b.id}}), http.StatusCreated)
	wantStatus(t, "block c", do(t, gw1, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{"user": c.id}}), http.StatusCreated)

	var list []map[string]any
	r = do(t, gw1, req{method: "GET", path: "/api/user/blocks/?limit=1", token: a.access})
	wantStatus(t, "blocks page 1", r, http.StatusOK)
	r.decode(t, &list)
	if len(list) != 1 || list[0]["id"] != float64(c.id) || list[0]["email"] != c.email {
		t.Fatalf("blocks page 1 = %v, want c (latest first)", list)
	}
	next := r.header.Get("Link")
	if !strings.Contains(next, `rel="next"`) {
		t.Fatalf("blocks page 1 Link = %q", next)
	}
	path := next[strings.Index(next, "/api/"):strings.Index(next, ">")]
	r = do(t, gw0, req{method: "GET", path: path, token: a.access})
	wantStatus(t, "blocks page 2", r, http.StatusOK)
	r.decode(t, &list)
	if len(list) != 1 || list[0]["id"] != float64(b.id) {
		t.Fatalf("blocks page 2 = %v, want b", list)
	}
	wantStatus(t, "blocks bad cursor", do(t, gw0, req{method: "GET", path: "/api/user/blocks/?cursor=zz", token: a.access}), http.StatusBadRequest)

	wantStatus(t, "unblock c", do(t, gw0, req{method: "DELETE", path: fmt.Sprintf("/api/user/block/%d/", c.id), token: a.access}), http.StatusNoContent)
	wantStatus(t, "unblock c again", do(t, gw1, req{method: "DELETE", path: fmt.Sprintf("/api/user/block/%d", c.id), token: a.access}), http.StatusNoContent)
	r = do(t, gw1, req{method: "GET", path: "/api/user/blocks/", token: a.access})
	r.decode(t, &list)
	if len(list) != 1 || list[0]["id"] != float64(b.id) {
		t.Fatalf("blocks after unblock = %v, want only b", list)
	}
	// Blocks are one-directional: b blocks nobody.
	r = do(t, gw1, req{method: "GET", path: "/api/user/blocks/", token: b.access})
	wantJSON(t, "b's blocks", r, http.StatusOK, `[]`)
}

func testDirectMessages(t *testing.T, gw0, gw1 string) {
	a, b, c, p := register(t, gw0, "dma"), register(t, gw1, "dmb"), register(t, gw0, "dmc"), register(t, gw1, "dmp")
	dm := func(gw string, as *account, user any) *resp {
		return do(t, gw, req{method: "POST", path: "/api/chat/dm/", token: as.access, json: map[string]any{"user": user}})
	}
	wantJSON(t, "dm self", dm(gw0, a, a.id), http.StatusBadRequest, `{"user":["You cannot send a direct message to yourself."]}`)
	wantStatus(t, "dm unknown", dm(gw0, a, 1<<50), http.StatusNotFound)
	wantStatus(t, "dm missing", do(t, gw0, req{method: "POST", path: "/api/chat/dm/", token: a.access, json: map[string]any{}}), http.StatusBadRequest)
	wantStatus(t, "dm anonymous", do(t, gw0, req{method: "POST", path: "/api/chat/dm/", json: map[string]any{"user": b.id}}), http.StatusUnauthorized)

	// Concurrent first creation from both replicas: one room.
	var first [2]*resp
	done := make(chan int, 2)
	go func() { first[0] = dm(gw0, a, b.id); done <- 0 }()
	go func() { first[1] = dm(gw1, b, a.id); done <- 1 }()
	<-done
	<-done
	codes := []int{first[0].status, first[1].status}
	if (codes[0] != 201 || codes[1] != 200) && (codes[0] != 200 || codes[1] != 201) {
		t.Fatalf("concurrent DMs answered %v, want one 201 and one 200", codes)
	}
	roomA, roomB := first[0].object(t), first[1].object(t)
	if roomA["id"] != roomB["id"] || roomA["kind"] != "dm" || roomA["owner"] != float64(0) {
		t.Fatalf("DM rooms %v and %v, want one dm room without owner", roomA, roomB)
	}
	roomID := int64(roomA["id"].(float64))
	wantStatus(t, "dm again", dm(gw1, a, b.id), http.StatusOK)

	// p's profile is private: a may DM p only once p added a.
	wantStatus(t, "p private", do(t, gw1, req{method: "PATCH", path: "/api/user/profile/", token: p.access, json: map[string]any{"is_private": true}}), http.StatusOK)
	wantStatus(t, "dm private", dm(gw0, a, p.id), http.StatusForbidden)
	wantStatus(t, "p adds a", do(t, gw1, req{method: "POST", path: "/api/user/add-friend/", token: p.access, json: map[string]any{"email": a.email}}), http.StatusOK)
	wantStatus(t, "dm private friend", dm(gw0, a, p.id), http.StatusCreated)

	// The two talk; c sees nothing of it on any route.
	msg := post(t, gw0, a, roomID, "just between us")
	post(t, gw1, b, roomID, "indeed")
	msgID := int64(msg["id"].(float64))
	for _, rt := range []struct {
		method, path string
		body         any
	}{
		{"GET", fmt.Sprintf("/api/chat/room/%d/", roomID), nil},
		{"GET", fmt.Sprintf("/api/chat/room/%d/messages/", roomID), nil},
		{"GET", fmt.Sprintf("/api/chat/room/%d/messages/?search=us", roomID), nil},
		{"PATCH", fmt.Sprintf("/api/chat/room/%d/", roomID), map[string]any{"name": "mine"}},
		{"DELETE", fmt.Sprintf("/api/chat/room/%d/", roomID), nil},
		{"POST", "/api/chat/message/", map[string]any{"room": roomID, "message": "let me in"}},
		{"PATCH", fmt.Sprintf("/api/chat/message/%d/", msgID), map[string]any{"message": "edited"}},
		{"DELETE", fmt.Sprintf("/api/chat/message/%d/", msgID), nil},
		{"POST", fmt.Sprintf("/api/chat/message/%d/report/", msgID), map[string]any{"reason": "x"}},
		{"POST", fmt.Sprintf("/api/chat/room/%d/mute/", roomID), map[string]any{"user": a.id, "minutes": 5}},
		{"POST", fmt.Sprintf("/api/chat/room/%d/read/", roomID), map[string]any{"seq": 1}},
		{"GET", fmt.Sprintf("/api/chat/message/%d/replies/", msgID), nil},
		{"POST", fmt.Sprintf("/api/chat/message/%d/reactions/", msgID), map[string]any{"emoji": "👍"}},
	} {
		for _, gw := range []string{gw0, gw1} {
			r := do(t, gw, req{method: rt.method, path: rt.path, token: c.access, json: rt.body})
			if r.status != http.StatusNotFound {
				t.Errorf("outsider %s %s = %s, want 404", rt.method, rt.path, r)
			}
		}
	}
	var rooms []map[string]any
	do(t, gw0, req{method: "GET", path: "/api/chat/room/?limit=100", token: c.access}).decode(t, &rooms)
	for _, r := range rooms {
		if r["id"] == float64(roomID) || r["kind"] == "dm" {
			t.Fatalf("the room list shows DM room %v", r)
		}
	}
	// The socket: 404 without upgrade, also on a replica where a member's
	// socket of the room is open.
	member := dial(t, gw1, b, roomID)
	readUntil(t, member, "presence", func(f map[string]any) bool { return f["type"] == "chat.presence" })
	for _, gw := range []string{gw0, gw1} {
		_, resp, err := websocket.DefaultDialer.Dial(wsURL(gw, roomID), http.Header{"Authorization": {"Bearer " + c.access}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("outsider socket on %s: err %v, resp %v, want 404", gw, err, resp)
		}
	}
	// Both are members (the room is in their rooms), and b got a "dm"
	// notification from a.
	notes := notifications(t, gw1, b)
	if len(notes) == 0 || notes[0]["kind"] != "dm" || notes[0]["room"] != float64(roomID) {
		t.Fatalf("b's notifications = %v, want a dm from a first", notes)
	}
	for _, who := range []*account{a, b} {
		var mine []map[string]any
		do(t, gw0, req{method: "GET", path: "/api/chat/rooms/mine/", token: who.access}).decode(t, &mine)
		found := false
		for _, r := range mine {
			found = found || (r["id"] == float64(roomID) && r["kind"] == "dm")
		}
		if !found {
			t.Fatalf("user %d's rooms %v lack the DM room", who.id, mine)
		}
	}
	// The members read it.
	var hist []map[string]any
	do(t, gw1, req{method: "GET", path: fmt.Sprintf("/api/chat/room/%d/messages/", roomID), token: b.access}).decode(t, &hist)
	if len(hist) != 2 {
		t.Fatalf("member history = %v", hist)
	}
	// A block closes the DM both ways: no new room, no new message.
	wantStatus(t, "b blocks a", do(t, gw1, req{method: "POST", path: "/api/user/block/", token: b.access, json: map[string]any{"user": a.id}}), http.StatusCreated)
	wantStatus(t, "blocked dm", dm(gw0, a, b.id), http.StatusForbidden)
	wantStatus(t, "blocker dm", dm(gw1, b, a.id), http.StatusForbidden)
	wantStatus(t, "blocked send", do(t, gw0, req{method: "POST", path: "/api/chat/message/", token: a.access, json: map[string]any{"room": roomID, "message": "hello?"}}), http.StatusForbidden)
	wantStatus(t, "b unblocks a", do(t, gw1, req{method: "DELETE", path: fmt.Sprintf("/api/user/block/%d/", a.id), token: b.access}), http.StatusNoContent)
	// The unblock reaches the chat service's block cache by an event
	// (RELIABILITY.md: blocks are cached, with stated staleness), so the
	// DM opens again within moments, not necessarily at once; a refused
	// send stores nothing, so trying again is safe.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := do(t, gw0, req{method: "POST", path: "/api/chat/message/", token: a.access, json: map[string]any{"room": roomID, "message": "back again"}})
		if r.status == http.StatusCreated {
			break
		}
		if r.status != http.StatusForbidden || time.Now().After(deadline) {
			wantStatus(t, "send after the unblock", r, http.StatusCreated)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testHiddenMessages: a blocks b; b's messages reach a as hidden without
// text in history, search and live frames on both replicas, while c sees
// them; an unblock shows them again.
func testHiddenMessages(t *testing.T, gw0, gw1 string) {
	a, b, c := register(t, gw0, "hida"), register(t, gw1, "hidb"), register(t, gw0, "hidc")
	roomID := room(t, gw0, c)
	before := post(t, gw1, b, roomID, "before the block")

	aLive := dial(t, gw0, a, roomID) // open before the block: the event updates it
	readUntil(t, aLive, "presence", func(f map[string]any) bool { return f["type"] == "chat.presence" })
	cLive := dial(t, gw0, c, roomID)
	readUntil(t, cLive, "presence", func(f map[string]any) bool { return f["type"] == "chat.presence" })

	wantStatus(t, "a blocks b", do(t, gw1, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{"user": b.id}}), http.StatusCreated)
	aLater := dial(t, gw1, a, roomID) // opened after: loads the block, history hidden
	f := readUntil(t, aLater, "history", func(f map[string]any) bool { return f["type"] == "chat.history" })
	hist := f["messages"].([]any)
	if m := hist[len(hist)-1].(map[string]any); m["hidden"] != any(true) || m["message"] != "" || m["id"] != before["id"] {
		t.Fatalf("history for the blocker ends with %v, want b's message hidden", m)
	}

	// The block event reaches aLive's replica asynchronously: send until a
	// frame arrives hidden (at most a few).
	deadline := time.Now().Add(5 * time.Second)
	var live map[string]any
	for time.Now().Before(deadline) {
		sent := post(t, gw1, b, roomID, "after the block")
		live = readUntil(t, aLive, "b's message", func(f map[string]any) bool { return f["type"] == "chat.message" && f["id"] == sent["id"] })
		if live["hidden"] == any(true) {
			break
		}
	}
	if live["hidden"] != any(true) || live["message"] != "" {
		t.Fatalf("live frame for the blocker = %v, want hidden without text", live)
	}
	f = readUntil(t, aLater, "b's message", func(f map[string]any) bool { return f["type"] == "chat.message" && f["id"] == live["id"] })
	if f["hidden"] != any(true) || f["message"] != "" {
		t.Fatalf("live frame on the other replica = %v, want hidden", f)
	}
	f = readUntil(t, cLive, "b's message", func(f map[string]any) bool { return f["type"] == "chat.message" && f["id"] == live["id"] })
	if f["hidden"] != nil || f["message"] != "after the block" {
		t.Fatalf("live frame for a bystander = %v, want the text", f)
	}
	// a's user stream: the newest message of the room's chat.unread is b's,
	// and comes without its text. The stream follows the room once its
	// snapshot is read, so b sends until a frame for the room arrives.
	aStream, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(gw1, "http")+"/ws/user/",
		http.Header{"Authorization": {"Bearer " + a.access}})
	if err != nil {
		t.Fatalf("user stream: %v (%v)", err, resp)
	}
	t.Cleanup(func() { aStream.Close() })
	var unread map[string]any
	for deadline := time.Now().Add(10 * time.Second); unread == nil && time.Now().Before(deadline); {
		post(t, gw0, b, roomID, "unread secret")
		_ = aStream.SetReadDeadline(time.Now().Add(time.Second))
		for {
			var f map[string]any
			if aStream.ReadJSON(&f) != nil {
				break // none within a second: send again
			}
			if f["type"] == "chat.unread" && f["room"] == float64(roomID) && f["last_message"] != nil {
				unread = f
				break
			}
		}
		if unread == nil { // a read timeout leaves the connection unusable: dial again
			aStream.Close()
			if aStream, _, err = websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(gw1, "http")+"/ws/user/",
				http.Header{"Authorization": {"Bearer " + a.access}}); err != nil {
				t.Fatalf("user stream: %v", err)
			}
		}
	}
	if unread == nil {
		t.Fatal("no chat.unread for the room on the blocker's user stream")
	}
	if lm := unread["last_message"].(map[string]any); lm["hidden"] != any(true) || lm["message"] != "" {
		t.Fatalf("chat.unread for the blocker = %v, want its last message hidden", unread)
	}
	// An edit of b's message: hidden for a, shown to c.
	wantStatus(t, "b edits", do(t, gw1, req{method: "PATCH", path: fmt.Sprintf("/api/chat/message/%d/", int64(live["id"].(float64))),
		token: b.access, json: map[string]any{"message": "edited secret"}}), http.StatusOK)
	f = readUntil(t, aLive, "b's edit", func(f map[string]any) bool { return f["type"] == "chat.message.edit" })
	if f["hidden"] != any(true) || f["message"] != "" {
		t.Fatalf("edit frame for the blocker = %v, want hidden without text", f)
	}
	f = readUntil(t, cLive, "b's edit", func(f map[string]any) bool { return f["type"] == "chat.message.edit" })
	if f["hidden"] != nil || f["message"] != "edited secret" {
		t.Fatalf("edit frame for a bystander = %v, want the text", f)
	}

	var msgs []map[string]any
	for _, path := range []string{fmt.Sprintf("/api/chat/room/%d/messages/", roomID), fmt.Sprintf("/api/chat/room/%d/messages/?search=block", roomID)} {
		do(t, gw0, req{method: "GET", path: path, token: a.access}).decode(t, &msgs)
		for _, m := range msgs {
			if m["hidden"] != any(true) || m["message"] != "" {
				t.Fatalf("%s for the blocker has %v, want hidden", path, m)
			}
		}
		msgs = nil // decoding into the old maps would keep a's "hidden" keys
		do(t, gw1, req{method: "GET", path: path, token: c.access}).decode(t, &msgs)
		for _, m := range msgs {
			if m["hidden"] != nil || m["message"] == "" {
				t.Fatalf("%s for a bystander has %v, want the text", path, m)
			}
		}
	}

	// A mention by a blocked user notifies nobody; c's own mention of a does.
	nick := fmt.Sprintf("hid%d", a.id) // registration's default has a "." that ends a mention
	wantStatus(t, "a's nickname", do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: a.access, json: map[string]any{"nickname": nick}}), http.StatusOK)
	post(t, gw1, b, roomID, "hey @"+nick+" from b")
	post(t, gw0, c, roomID, "hey @"+nick+" from c")
	deadline = time.Now().Add(5 * time.Second)
	var notes []map[string]any
	for time.Now().Before(deadline) {
		if notes = notifications(t, gw0, a); len(notes) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(notes) != 1 || notes[0]["kind"] != "mention" || notes[0]["actor"].(map[string]any)["id"] != float64(c.id) {
		t.Fatalf("a's notifications = %v, want only c's mention", notes)
	}

	wantStatus(t, "a unblocks b", do(t, gw0, req{method: "DELETE", path: fmt.Sprintf("/api/user/block/%d/", b.id), token: a.access}), http.StatusNoContent)
	deadline = time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		sent := post(t, gw1, b, roomID, "unblocked")
		live = readUntil(t, aLive, "b's message", func(f map[string]any) bool { return f["type"] == "chat.message" && f["id"] == sent["id"] })
		if live["hidden"] == nil {
			break
		}
	}
	if live["hidden"] != nil || live["message"] != "unblocked" {
		t.Fatalf("live frame after the unblock = %v, want the text", live)
	}
	msgs = nil
	do(t, gw0, req{method: "GET", path: fmt.Sprintf("/api/chat/room/%d/messages/", roomID), token: a.access}).decode(t, &msgs)
	if msgs[0]["message"] != "before the block" || msgs[0]["hidden"] != nil {
		t.Fatalf("history after the unblock starts with %v", msgs[0])
	}
}

// notifications lists a's notifications through gw, newest first.
func notifications(t *testing.T, gw string, a *account) []map[string]any {
	t.Helper()
	r := do(t, gw, req{method: "GET", path: "/api/notifications/", token: a.access})
	wantStatus(t, "notifications", r, http.StatusOK)
	var out []map[string]any
	r.decode(t, &out)
	return out
}
