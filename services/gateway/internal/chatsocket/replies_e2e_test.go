package chatsocket_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// rawNext reads frames until one of type typ (within 10 s) and returns it
// decoded loosely.
func rawNext(t *testing.T, c *testConn, typ string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_ = c.ws.SetReadDeadline(deadline)
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		var f map[string]any
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("frame %s: %v", data, err)
		}
		if f["type"] == typ {
			return f
		}
	}
}

// call is e2eRequest with the body decoded (an object or an array).
func call(t *testing.T, method, url, token string, body any) (int, any) {
	t.Helper()
	code, data := e2eRequest(t, method, url, token, body)
	var out any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: body %s: %v", method, url, data, err)
		}
	}
	return code, out
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func num(v any) int64 { f, _ := v.(float64); return int64(f) }

// reactionsOf flattens a reactions list to "emoji:count[:me]" entries.
func reactionsOf(v any) string {
	list, _ := v.([]any)
	parts := make([]string, 0, len(list))
	for _, r := range list {
		m := obj(r)
		s := fmt.Sprintf("%v:%d", m["emoji"], num(m["count"]))
		if me, ok := m["me"]; ok {
			s += fmt.Sprintf(":%v", me)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// TestRepliesReactionsE2E drives replies and reactions through the real
// services and two gateway replicas: alice's socket is on one, bob's on
// the other, and every change made through either reaches both.
func TestRepliesReactionsE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	s := stack.Start(t, stack.Options{Gateways: 2})
	a, b := s.Gateways[0], s.Gateways[1]
	alice, bob := e2eSignup(t, a), e2eSignup(t, b)
	room, other := e2eRoom(t, a, alice), e2eRoom(t, a, alice)
	ac := mustE2E(t, a, room, alice, "")
	rawNext(t, ac, "chat.presence")
	bc := mustE2E(t, b, room, bob, "")
	rawNext(t, bc, "chat.presence")

	msg := func(base string, u e2eUser, roomID int64, text string, parent int64) (int, map[string]any) {
		body := map[string]any{"room": roomID, "message": text}
		if parent != 0 {
			body["parent_chat"] = parent
		}
		code, out := call(t, "POST", base+"/api/chat/message/", u.token, body)
		return code, obj(out)
	}
	code, parent := msg(a, alice, room, "What do you think of **Go**?", 0)
	if code != http.StatusCreated || num(parent["reply_count"]) != 0 || parent["parent"] != nil || reactionsOf(parent["reactions"]) != "" {
		t.Fatalf("parent: %d %v", code, parent)
	}
	pid := num(parent["id"])
	rawNext(t, ac, "chat.message")
	rawNext(t, bc, "chat.message")
	// Reactions share the per-user message rate: the cap and race tests
	// use users of their own.
	helpers := []e2eUser{e2eSignup(t, a), e2eSignup(t, b), e2eSignup(t, a), e2eSignup(t, b)}

	t.Run("reply", func(t *testing.T) {
		code, reply := msg(b, bob, room, "I like it", pid)
		p := obj(reply["parent"])
		if code != http.StatusCreated || num(p["id"]) != pid || num(p["seq"]) != num(parent["seq"]) || p["sender"] != alice.email ||
			p["excerpt"] != "What do you think of **Go**?" || p["deleted"] != any(false) {
			t.Fatalf("reply: %d %v", code, reply)
		}
		// Alice, on the other replica, sees the reply with its quoted
		// parent, then the parent's new reply count.
		f := rawNext(t, ac, "chat.message")
		if num(obj(f["parent"])["id"]) != pid || obj(f["parent"])["sender"] != alice.email || f["message"] != "I like it" {
			t.Fatalf("alice's reply frame: %v", f)
		}
		f = rawNext(t, ac, "chat.message.replies")
		if num(f["id"]) != pid || num(f["reply_count"]) != 1 || num(f["room"]) != room {
			t.Fatalf("alice's replies frame: %v", f)
		}
		rawNext(t, bc, "chat.message.replies")
		// A second reply, over the socket this time.
		bc.send(map[string]any{"type": "chat.message", "message": "me too", "parent_chat": pid, "client_msg_id": "r2"})
		if f := rawNext(t, ac, "chat.message.replies"); num(f["reply_count"]) != 2 {
			t.Fatalf("second replies frame: %v", f)
		}

		// The thread, paged, on either replica.
		code, page := call(t, "GET", a+"/api/chat/message/"+strconv.FormatInt(pid, 10)+"/replies/?limit=1", alice.token, nil)
		list, _ := page.([]any)
		if code != http.StatusOK || len(list) != 1 || obj(list[0])["message"] != "I like it" {
			t.Fatalf("replies page 1: %d %v", code, page)
		}
		code, data := e2eRequest(t, "GET", b+"/api/chat/message/"+strconv.FormatInt(pid, 10)+"/replies/?limit=5", bob.token, nil)
		var all []map[string]any
		_ = json.Unmarshal(data, &all)
		if code != http.StatusOK || len(all) != 2 || all[1]["message"] != "me too" || num(obj(all[1]["parent"])["id"]) != pid {
			t.Fatalf("replies: %d %s", code, data)
		}
		// History shows the count.
		_, hist := call(t, "GET", b+"/api/chat/room/"+strconv.FormatInt(room, 10)+"/messages/", bob.token, nil)
		if h, _ := hist.([]any); len(h) != 3 || num(obj(h[0])["reply_count"]) != 2 {
			t.Fatalf("history: %v", hist)
		}
	})

	t.Run("bad replies store nothing", func(t *testing.T) {
		_, replies := call(t, "GET", a+"/api/chat/message/"+strconv.FormatInt(pid, 10)+"/replies/", alice.token, nil)
		firstReply := num(obj(replies.([]any)[0])["id"])
		code, gone := msg(a, alice, room, "soon gone", 0)
		if code != http.StatusCreated {
			t.Fatal(code, gone)
		}
		if code, _ := call(t, "DELETE", a+"/api/chat/message/"+strconv.FormatInt(num(gone["id"]), 10)+"/", alice.token, nil); code != http.StatusNoContent {
			t.Fatalf("delete: %d", code)
		}
		_, elsewhere := msg(a, alice, other, "another room", 0)
		for name, parentID := range map[string]int64{
			"reply to a reply":       firstReply,
			"reply to a deleted one": num(gone["id"]),
			"parent in another room": num(elsewhere["id"]),
			"unknown parent":         1 << 40,
		} {
			code, body := e2eRequest(t, "POST", b+"/api/chat/message/", bob.token, map[string]any{"room": room, "message": name, "parent_chat": parentID})
			if code != http.StatusBadRequest || !strings.Contains(string(body), `"parent_chat"`) {
				t.Errorf("%s: %d %s, want 400 on parent_chat", name, code, body)
			}
		}
		code, hist := call(t, "GET", a+"/api/chat/room/"+strconv.FormatInt(room, 10)+"/messages/?limit=100", alice.token, nil)
		for _, m := range hist.([]any) {
			if strings.HasPrefix(obj(m)["message"].(string), "reply to") || obj(m)["message"] == "parent in another room" {
				t.Errorf("a refused reply was stored: %v", m)
			}
		}
		if code != http.StatusOK {
			t.Fatal(code)
		}
		for name, path := range map[string]string{
			"unknown":      "/api/chat/message/" + strconv.FormatInt(1<<40, 10) + "/replies/",
			"deleted":      "/api/chat/message/" + strconv.FormatInt(num(gone["id"]), 10) + "/replies/",
			"not a number": "/api/chat/message/abc/replies/",
		} {
			if code, body := e2eRequest(t, "GET", a+path, alice.token, nil); code != http.StatusNotFound {
				t.Errorf("replies of %s message: %d %s, want 404", name, code, body)
			}
		}
		if code, _ := e2eRequest(t, "GET", a+"/api/chat/message/"+strconv.FormatInt(pid, 10)+"/replies/?cursor=x", alice.token, nil); code != http.StatusBadRequest {
			t.Errorf("bad cursor: %d, want 400", code)
		}
		if code, _ := e2eRequest(t, "GET", a+"/api/chat/message/"+strconv.FormatInt(pid, 10)+"/replies/", "", nil); code != http.StatusUnauthorized {
			t.Errorf("anonymous replies: %d, want 401", code)
		}
	})

	react := func(base string, u e2eUser, id int64, emoji any) (int, map[string]any) {
		t.Helper()
		code, out := call(t, "POST", base+"/api/chat/message/"+strconv.FormatInt(id, 10)+"/reactions/", u.token, map[string]any{"emoji": emoji})
		return code, obj(out)
	}

	t.Run("reactions", func(t *testing.T) {
		code, r := react(b, bob, pid, "👍")
		if code != http.StatusOK || num(r["id"]) != pid || reactionsOf(r["reactions"]) != "👍:1:true" {
			t.Fatalf("bob's 👍: %d %v", code, r)
		}
		// Alice's socket, on the other replica, sees it, without "me".
		f := rawNext(t, ac, "chat.message.reaction")
		if num(f["id"]) != pid || num(f["seq"]) != num(parent["seq"]) || num(f["room"]) != room || reactionsOf(f["reactions"]) != "👍:1" {
			t.Fatalf("alice's reaction frame: %v", f)
		}
		rawNext(t, bc, "chat.message.reaction")
		if code, r = react(a, alice, pid, "👍"); code != http.StatusOK || reactionsOf(r["reactions"]) != "👍:2:true" {
			t.Fatalf("alice's 👍: %d %v", code, r)
		}
		if f := rawNext(t, bc, "chat.message.reaction"); reactionsOf(f["reactions"]) != "👍:2" {
			t.Fatalf("bob's frame: %v", f)
		}
		rawNext(t, ac, "chat.message.reaction")
		// The same emoji again removes bob's.
		if code, r = react(b, bob, pid, "👍"); code != http.StatusOK || reactionsOf(r["reactions"]) != "👍:1:false" || r["added"] != any(false) {
			t.Fatalf("bob's toggle off: %d %v", code, r)
		}
		if f := rawNext(t, ac, "chat.message.reaction"); reactionsOf(f["reactions"]) != "👍:1" {
			t.Fatalf("alice's frame after the toggle: %v", f)
		}
		// History and a new socket's chat.history mark "me" per viewer.
		_, hist := call(t, "GET", b+"/api/chat/room/"+strconv.FormatInt(room, 10)+"/messages/", alice.token, nil)
		if got := reactionsOf(obj(hist.([]any)[0])["reactions"]); got != "👍:1:true" {
			t.Errorf("alice's history reactions %q", got)
		}
		_, hist = call(t, "GET", a+"/api/chat/room/"+strconv.FormatInt(room, 10)+"/messages/", bob.token, nil)
		if got := reactionsOf(obj(hist.([]any)[0])["reactions"]); got != "👍:1:false" {
			t.Errorf("bob's history reactions %q", got)
		}
		nc := mustE2E(t, b, room, alice, "")
		h := rawNext(t, nc, "chat.history")
		first := obj(h["messages"].([]any)[0])
		if reactionsOf(first["reactions"]) != "👍:1:true" || num(first["reply_count"]) != 2 {
			t.Errorf("chat.history's first message: %v", first)
		}
		reply := obj(h["messages"].([]any)[1])
		if num(obj(reply["parent"])["id"]) != pid {
			t.Errorf("chat.history's reply: %v", reply)
		}
	})

	t.Run("bad reactions", func(t *testing.T) {
		for name, emoji := range map[string]any{
			"two emoji":     "👍👍",
			"over 16 bytes": "👨‍👩‍👧‍👦",
			"a letter":      "a",
			"hangul":        "가",
			"blank":         "",
			"not a string":  7,
		} {
			code, body := e2eRequest(t, "POST", a+"/api/chat/message/"+strconv.FormatInt(pid, 10)+"/reactions/", alice.token, map[string]any{"emoji": emoji})
			if code != http.StatusBadRequest || !strings.Contains(string(body), `"emoji"`) {
				t.Errorf("%s: %d %s, want 400 on emoji", name, code, body)
			}
		}
		code, body := e2eRequest(t, "POST", a+"/api/chat/message/"+strconv.FormatInt(pid, 10)+"/reactions/", alice.token, map[string]any{})
		if code != http.StatusBadRequest || !strings.Contains(string(body), `"emoji"`) {
			t.Errorf("no emoji: %d %s", code, body)
		}
		code, body = e2eRequest(t, "POST", a+"/api/chat/message/"+strconv.FormatInt(pid, 10)+"/reactions/", alice.token,
			map[string]any{"emoji": "👍", "user": 1})
		if code != http.StatusBadRequest {
			t.Errorf("unknown field: %d %s", code, body)
		}
		if code, _ := react(a, alice, 1<<40, "👍"); code != http.StatusNotFound {
			t.Errorf("unknown message: %d, want 404", code)
		}
		if code, _ := e2eRequest(t, "POST", a+"/api/chat/message/"+strconv.FormatInt(pid, 10)+"/reactions/", "", map[string]any{"emoji": "👍"}); code != http.StatusUnauthorized {
			t.Errorf("anonymous: %d, want 401", code)
		}
		// Nothing of that changed the reactions.
		_, hist := call(t, "GET", a+"/api/chat/room/"+strconv.FormatInt(room, 10)+"/messages/", alice.token, nil)
		if got := reactionsOf(obj(hist.([]any)[0])["reactions"]); got != "👍:1:true" {
			t.Errorf("reactions after bad input: %q", got)
		}
	})

	t.Run("cap of distinct emoji", func(t *testing.T) {
		_, m := msg(a, alice, room, "react a lot", 0)
		id := num(m["id"])
		emoji := []string{"😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰", "😗", "😙", "🥲", "😚", "🙂"}
		for i, e := range emoji {
			// Alternate replicas and users.
			base, u := a, helpers[i%4]
			if i%2 == 1 {
				base = b
			}
			if code, r := react(base, u, id, e); code != http.StatusOK {
				t.Fatalf("emoji %d: %d %v", i, code, r)
			}
		}
		code, body := e2eRequest(t, "POST", b+"/api/chat/message/"+strconv.FormatInt(id, 10)+"/reactions/", helpers[0].token, map[string]any{"emoji": "🤯"})
		if code != http.StatusConflict || !strings.Contains(string(body), "20 different reactions") {
			t.Fatalf("21st emoji: %d %s, want 409", code, body)
		}
		// An emoji already there still counts.
		if code, r := react(a, helpers[0], id, "😁"); code != http.StatusOK || !strings.Contains(reactionsOf(r["reactions"]), "😁:2:true") {
			t.Fatalf("existing emoji at the cap: %d %v", code, r)
		}
	})

	t.Run("one user toggling from both replicas at once", func(t *testing.T) {
		_, m := msg(b, bob, room, "race", 0)
		id := num(m["id"])
		var wg sync.WaitGroup
		for _, base := range []string{a, b, a, b} {
			wg.Go(func() {
				if code, body := e2eRequest(t, "POST", base+"/api/chat/message/"+strconv.FormatInt(id, 10)+"/reactions/", helpers[3].token,
					map[string]any{"emoji": "🚀"}); code != http.StatusOK {
					t.Errorf("toggle: %d %s", code, body)
				}
			})
		}
		wg.Wait()
		// Four toggles serialise: on, off, on, off.
		_, hist := call(t, "GET", a+"/api/chat/room/"+strconv.FormatInt(room, 10)+"/messages/?limit=1", helpers[3].token, nil)
		if got := reactionsOf(obj(hist.([]any)[0])["reactions"]); got != "" {
			t.Errorf("after four concurrent toggles: %q, want none", got)
		}
	})
}
