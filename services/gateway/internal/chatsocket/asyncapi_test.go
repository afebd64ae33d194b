package chatsocket_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// The socket protocol is documented in docs/asyncapi.yaml (AsyncAPI 3.0).
// TestAsyncAPIFrames checks that document against the running system: it
// drives real sockets through every server frame it describes and validates
// each frame received against the JSON Schema of its type.

// asyncAPIURL is the resource name the document is compiled under.
const asyncAPIURL = "file:///docs/asyncapi.yaml"

// frameSchemas are the payload schemas of one direction, by message name
// (the frame's "type"; "error" for error frames).
type frameSchemas map[string]*jsonschema.Schema

// protocol is the compiled AsyncAPI document: what the server sends and
// what a client may send.
type protocol struct {
	server, client frameSchemas
	// channel is the channel (socket) of each server frame: "room" for
	// /ws/chat/…, "user" for /ws/user/ (TestUserStream covers those).
	channel map[string]string
}

// loadAsyncAPI reads docs/asyncapi.yaml from the repository root and compiles the payload schema of every message
// of its send (server) and receive (client) operations.
func loadAsyncAPI(t *testing.T) protocol {
	t.Helper()
	root, err := stack.WorkspaceRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "docs", "asyncapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var y any
	if err := yaml.Unmarshal(raw, &y); err != nil {
		t.Fatalf("asyncapi.yaml: %v", err)
	}
	// Through JSON, so that the schema library gets the value types it
	// expects (json.Number, map[string]any).
	j, err := json.Marshal(y)
	if err != nil {
		t.Fatalf("asyncapi.yaml is not JSON-compatible: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	if v := lookup(doc, "/asyncapi"); v != "3.0.0" {
		t.Fatalf("asyncapi.yaml: asyncapi is %v, want 3.0.0", v)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7) // the AsyncAPI schema format is a superset of draft 7
	c.AssertFormat()
	if err := c.AddResource(asyncAPIURL, doc); err != nil {
		t.Fatal(err)
	}
	p := protocol{server: frameSchemas{}, client: frameSchemas{}, channel: map[string]string{}}
	ops, _ := lookup(doc, "/operations").(map[string]any)
	for opName, op := range ops {
		var into frameSchemas
		switch action := lookup(op, "/action"); action {
		case "send":
			into = p.server
		case "receive":
			into = p.client
		default:
			t.Fatalf("operation %s: action %v", opName, action)
		}
		refs, _ := lookup(op, "/messages").([]any)
		for _, ref := range refs {
			ptr, msg := resolve(t, doc, ref)
			name, _ := lookup(msg, "/name").(string)
			if name == "" || lookup(msg, "/payload") == nil {
				t.Fatalf("operation %s: message %s has no name or payload", opName, ptr)
			}
			if into[name] != nil {
				t.Fatalf("operation %s: two messages named %q", opName, name)
			}
			sch, err := c.Compile(asyncAPIURL + "#" + ptr + "/payload")
			if err != nil {
				t.Fatalf("message %s: %v", ptr, err)
			}
			into[name] = sch
			ch, _ := lookup(op, "/channel/$ref").(string)
			p.channel[name] = strings.TrimPrefix(ch, "#/channels/")
		}
	}
	if len(p.server) == 0 || len(p.client) == 0 {
		t.Fatalf("asyncapi.yaml describes %d server and %d client frames", len(p.server), len(p.client))
	}
	return p
}

// resolve follows a {"$ref": "#/..."} chain inside doc and returns the
// final JSON pointer and value.
func resolve(t *testing.T, doc, v any) (string, any) {
	t.Helper()
	ptr := ""
	for range 10 {
		ref, ok := lookup(v, "/$ref").(string)
		if !ok {
			return ptr, v
		}
		p, ok := strings.CutPrefix(ref, "#")
		if !ok {
			t.Fatalf("asyncapi.yaml: only local references are supported, got %q", ref)
		}
		ptr, v = p, lookup(doc, p)
		if v == nil {
			t.Fatalf("asyncapi.yaml: %q points nowhere", ref)
		}
	}
	t.Fatalf("asyncapi.yaml: reference loop at %s", ptr)
	return "", nil
}

// lookup returns the value at JSON pointer ptr in v (nil when absent).
func lookup(v any, ptr string) any {
	if ptr == "" {
		return v
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// frameName is the message name of a frame: its "type", or "error" for an
// error frame.
func frameName(f map[string]any) string {
	if _, ok := f["error_type"]; ok {
		return "error"
	}
	s, _ := f["type"].(string)
	return s
}

// validate checks one frame against the schemas of its direction and
// returns its name; a frame whose type has no schema is an error.
func (fs frameSchemas) validate(data []byte) (map[string]any, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	sch := fs[frameName(obj)]
	if sch == nil {
		return obj, fmt.Errorf("frame type %q has no schema in asyncapi.yaml", frameName(obj))
	}
	if err := sch.Validate(v); err != nil {
		return obj, err
	}
	return obj, nil
}

// specConn is a socket whose every received frame is validated against
// the server schemas (and recorded by name) as it arrives.
type specConn struct {
	t      *testing.T
	name   string
	ws     *websocket.Conn
	frames chan map[string]any
	done   chan struct{}
}

// seen collects, over all sockets of the test, the names of the valid
// frames received and the error types of error frames.
type seen struct {
	mu         sync.Mutex
	names      map[string]int
	errorTypes map[string]int
}

func (s *seen) add(f map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[frameName(f)]++
	if et, ok := f["error_type"].(string); ok {
		s.errorTypes[et]++
	}
}

func dialSpec(t *testing.T, p protocol, rec *seen, base string, room int64, u e2eUser, name, query string) *specConn {
	t.Helper()
	url := "ws" + strings.TrimPrefix(base, "http") + "/ws/chat/" + strconv.FormatInt(room, 10) + "/chat/" + query
	ws, resp, err := websocket.DefaultDialer.Dial(url, map[string][]string{"Authorization": {"Bearer " + u.token}})
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("%s: dial: %v (%d)", name, err, code)
	}
	c := &specConn{t: t, name: name, ws: ws, frames: make(chan map[string]any, 4096), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer close(c.frames)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			f, err := p.server.validate(data)
			if err != nil {
				t.Errorf("%s: server frame %s does not match asyncapi.yaml: %v", name, data, err)
				continue
			}
			rec.add(f)
			c.frames <- f
		}
	}()
	t.Cleanup(c.close)
	return c
}

// close closes the socket cleanly and waits for its reader.
func (c *specConn) close() {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
	}
	c.ws.Close()
	<-c.done
}

// send writes a client frame, which must itself match the client schemas.
func (c *specConn) send(p protocol, frame string) {
	c.t.Helper()
	if _, err := p.client.validate([]byte(frame)); err != nil {
		c.t.Fatalf("%s: client frame %s does not match asyncapi.yaml: %v", c.name, frame, err)
	}
	c.sendRaw(frame)
}

// sendRaw writes a frame without checking it (for frames the server must
// refuse).
func (c *specConn) sendRaw(frame string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

// await returns the first frame (skipping others) for which match is true.
func (c *specConn) await(what string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("%s: socket closed while waiting for %s", c.name, what)
			}
			if match(f) {
				return f
			}
		case <-deadline:
			c.t.Fatalf("%s: no %s within 10 s", c.name, what)
		}
	}
}

func (c *specConn) awaitType(typ string) map[string]any {
	c.t.Helper()
	return c.await(typ, func(f map[string]any) bool { return f["type"] == typ })
}

func (c *specConn) awaitError(errType string) map[string]any {
	c.t.Helper()
	return c.await("error "+errType, func(f map[string]any) bool { return f["error_type"] == errType })
}

// number reads an integer field of a validated frame.
func number(t *testing.T, f map[string]any, key string) int64 {
	t.Helper()
	n, ok := f[key].(json.Number)
	if !ok {
		t.Fatalf("frame %v: %s is not a number", f, key)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("frame %v: %s: %v", f, key, err)
	}
	return i
}

// TestAsyncAPIDocument checks that the document compiles and that frames
// the server refuses are refused by the client schemas too.
func TestAsyncAPIDocument(t *testing.T) {
	p := loadAsyncAPI(t)
	for _, frame := range []string{
		`{"type":"chat.message","message":"hi","client_msg_id":"a","parent_chat":null}`,
		`{"type":"chat.typing"}`,
		`{"type":"chat.message.edit","id":3,"message":"new"}`,
		`{"type":"chat.message.delete","id":3}`,
	} {
		if _, err := p.client.validate([]byte(frame)); err != nil {
			t.Errorf("accepted frame %s: %v", frame, err)
		}
	}
	for _, frame := range []string{
		`{"type":"chat.message"}`,
		`{"type":"chat.message","message":"   "}`,
		`{"type":"chat.message","message":"` + strings.Repeat("é", 2001) + `"}`,
		`{"type":"chat.message","message":"hi","parent_chat":0}`,
		`{"type":"chat.message","message":"hi","client_msg_id":"` + strings.Repeat("k", 65) + `"}`,
		`{"type":"chat.message.edit","message":"x"}`,
		`{"type":"chat.message.delete","id":"3"}`,
		`{"type":"chat.unknown"}`,
		`["chat.typing"]`,
	} {
		if _, err := p.client.validate([]byte(frame)); err == nil {
			t.Errorf("frame %s: the server refuses it, the schema accepts it", frame)
		}
	}
}

// TestAsyncAPIFrames drives real sockets (user and chat services and a
// gateway, internal/stack) through every server frame of asyncapi.yaml and
// validates each frame received against the schema of its type.
func TestAsyncAPIFrames(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	p := loadAsyncAPI(t)
	s := stack.Start(t, stack.Options{Services: []string{stack.User, stack.Chat}})
	base := s.Gateways[0]
	alice := e2eSignup(t, base)
	bob := e2eSignup(t, base)
	room := e2eRoom(t, base, alice)
	rec := &seen{names: map[string]int{}, errorTypes: map[string]int{}}

	// A fresh socket: history, then presence.
	a := dialSpec(t, p, rec, base, room, alice, "alice", "")
	a.awaitType("chat.history")
	a.awaitType("chat.presence")

	// A send is acknowledged with the committed message.
	a.send(p, `{"type":"chat.message","message":"first","client_msg_id":"m1"}`)
	first := a.await("ack of m1", func(f map[string]any) bool { return f["type"] == "chat.message" && f["client_msg_id"] == "m1" })
	firstID := number(t, first, "id")

	// Bob comes in: history with alice's message; alice sees the join.
	b := dialSpec(t, p, rec, base, room, bob, "bob", "")
	if h := b.awaitType("chat.history"); len(h["messages"].([]any)) != 1 {
		t.Fatalf("bob's history: %v, want one message", h)
	}
	b.awaitType("chat.presence")
	a.awaitType("chat.user.join")

	// Typing, a reply, an edit: everyone sees them.
	b.send(p, `{"type":"chat.typing"}`)
	a.awaitType("chat.typing")
	b.send(p, fmt.Sprintf(`{"type":"chat.message","message":"reply","client_msg_id":"m2","parent_chat":%d}`, firstID))
	reply := a.await("bob's reply", func(f map[string]any) bool { return f["type"] == "chat.message" && f["client_msg_id"] == "m2" })
	if f := a.awaitType("chat.message.replies"); number(t, f, "reply_count") != 1 {
		t.Fatalf("replies frame %v, want reply_count 1", f)
	}
	a.send(p, fmt.Sprintf(`{"type":"chat.message.edit","id":%d,"message":"first, edited"}`, firstID))
	b.awaitType("chat.message.edit")
	// A reaction (REST) reaches every socket of the room.
	if code, body := e2eRequest(t, "POST", fmt.Sprintf("%s/api/chat/message/%d/reactions/", base, firstID), bob.token,
		map[string]string{"emoji": "👍"}); code != 200 {
		t.Fatalf("reaction: %d %s", code, body)
	}
	a.awaitType("chat.message.reaction")

	// A resume from 0 replays both messages (the edited one with its
	// edited_at); a caught-up resume sends chat.resume alone.
	r0 := dialSpec(t, p, rec, base, room, bob, "bob-resume-0", "?after_seq=0")
	r0.awaitType("chat.message")
	r0.awaitType("chat.message")
	if f := r0.awaitType("chat.resume"); f["recovered"] != any(true) {
		t.Fatalf("resume from 0: %v, want recovered", f)
	}
	r0.awaitType("chat.presence")
	last := number(t, reply, "seq")
	rl := dialSpec(t, p, rec, base, room, bob, "bob-resume-last", "?after_seq="+strconv.FormatInt(last, 10))
	rl.awaitType("chat.resume")
	rl.awaitType("chat.presence")

	// Error frames the client can cause.
	b.sendRaw(`{"type":"chat.unknown"}`)
	b.awaitError("invalid_request")
	b.sendRaw(`{"type":"chat.message","message":"` + strings.Repeat("x", 2001) + `"}`)
	b.awaitError("message_too_long")
	b.send(p, fmt.Sprintf(`{"type":"chat.message.edit","id":%d,"message":"not mine"}`, firstID))
	b.awaitError("forbidden")
	b.send(p, `{"type":"chat.message.delete","id":999999999999}`)
	b.awaitError("not_found")

	// Bob deletes his reply: everyone sees it.
	b.send(p, fmt.Sprintf(`{"type":"chat.message.delete","id":%d}`, number(t, reply, "id")))
	a.awaitType("chat.message.delete")

	// A burst over the rate limit (burst 20) on a socket of its own.
	flood := dialSpec(t, p, rec, base, room, bob, "bob-flood", "?after_seq="+strconv.FormatInt(last, 10))
	flood.awaitType("chat.presence")
	for range 25 {
		flood.send(p, `{"type":"chat.typing"}`)
	}
	flood.awaitError("rate_limited")

	// Bob's last socket closes: alice sees him leave.
	for _, c := range []*specConn{b, r0, rl, flood} {
		c.close()
	}
	a.awaitType("chat.user.leave")
	a.close()

	// Every server frame the document describes was received and valid
	// (the readers already failed the test on any frame without a schema).
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for name := range p.server {
		if rec.names[name] == 0 && p.channel[name] == "room" {
			t.Errorf("no %q frame was received: the test does not exercise it", name)
		}
	}
	for _, et := range []string{"invalid_request", "message_too_long", "forbidden", "not_found", "rate_limited"} {
		if rec.errorTypes[et] == 0 {
			t.Errorf("no %q error frame was received", et)
		}
	}
	names := make([]string, 0, len(rec.names))
	for n := range rec.names {
		names = append(names, n)
	}
	slices.Sort(names)
	t.Logf("validated frame types: %v; error types: %v", names, rec.errorTypes)
}
