package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/cobraspace/cobraspace/platform/subjects"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

type myRoom struct {
	ID          int64  `json:"id"`
	Kind        string `json:"kind"`
	UnreadCount int64  `json:"unread_count"`
	LastReadSeq int64  `json:"last_read_seq"`
	LastMessage *struct {
		ID      int64  `json:"id"`
		Seq     int64  `json:"seq"`
		Message string `json:"message"`
	} `json:"last_message"`
}

type notification struct {
	ID        int64  `json:"id"`
	Kind      string `json:"kind"`
	Room      *int64 `json:"room"`
	MessageID *int64 `json:"message_id"`
	Seq       *int64 `json:"seq"`
	Actor     struct {
		ID       int64  `json:"id"`
		Nickname string `json:"nickname"`
	} `json:"actor"`
	Excerpt string `json:"excerpt"`
	Read    bool   `json:"read"`
}

// TestConversations drives the conversation routes through a real stack of
// two gateways and two chat replicas: my rooms with exact unread counts
// under concurrent sends from both gateways, read markers (forward only,
// announced on the user's NATS subject), mentions (case-insensitive,
// Korean, never oneself), reply and friend notifications, and the bad
// input of every route.
func TestConversations(t *testing.T) {
	s := stack.Start(t, stack.Options{Gateways: 2, ChatReplicas: 2, LogLevel: "warn"})
	gw0, gw1 := api{t: t, base: s.Gateways[0]}, api{t: t, base: s.Gateways[1]}
	aliceAcc, bobAcc, carolAcc := register(t, s.Gateways[0], "alice"), register(t, s.Gateways[1], "bob"), register(t, s.Gateways[0], "carol")
	alice0, alice1 := gw0.as(aliceAcc.access), gw1.as(aliceAcc.access)
	bob0, bob1 := gw0.as(bobAcc.access), gw1.as(bobAcc.access)
	carol := gw0.as(carolAcc.access)
	for who, nick := range map[api]string{alice0: "Alice", bob1: "밥스", carol: "carol_k"} {
		who.want(http.StatusOK, "PATCH", "/api/user/profile/", map[string]any{"nickname": nick}, nil)
	}

	// Bob's live events, straight from NATS (the per-user stream reads the
	// same subject).
	nc, err := nats.Connect(s.Env.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bobEvents, err := nc.SubscribeSync(subjects.New(s.Env.Prefix).UserEvents(bobAcc.id))
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	var room struct {
		ID int64 `json:"id"`
	}
	alice0.want(http.StatusCreated, "POST", "/api/chat/room/", map[string]any{"name": "conversations"}, &room)
	send := func(as api, text string, parent int64) int64 {
		t.Helper()
		body := map[string]any{"room": room.ID, "message": text}
		if parent > 0 {
			body["parent_chat"] = parent
		}
		var m struct {
			ID int64 `json:"id"`
		}
		as.want(http.StatusCreated, "POST", "/api/chat/message/", body, &m)
		return m.ID
	}
	mine := func(as api) myRoom {
		t.Helper()
		var rooms []myRoom
		as.want(http.StatusOK, "GET", "/api/chat/rooms/mine/", nil, &rooms)
		for _, r := range rooms {
			if r.ID == room.ID {
				return r
			}
		}
		t.Fatalf("room %d is not among my rooms %+v", room.ID, rooms)
		return myRoom{}
	}
	nextEvent := func(what string) *chatv1.UserEvent {
		t.Helper()
		m, err := bobEvents.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: no event on bob's subject: %v", what, err)
		}
		var ev chatv1.UserEvent
		if err := proto.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		return &ev
	}

	// Bob joins by sending (through the other gateway) and mentions carol
	// in another case; alice mentions herself.
	bobFirst := send(bob1, "hi @CAROL_K, how are you", 0)
	if ev := nextEvent("bob's first message"); ev.GetJoined().GetRoomId() != room.ID {
		t.Fatalf("bob's first event %v, want joined room %d", ev, room.ID)
	}
	send(alice0, "talking to @alice myself", 0)

	// Alice and bob send concurrently through both gateways.
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() { send([]api{alice0, alice1}[i%2], fmt.Sprintf("a%d", i), 0) })
		wg.Go(func() { send([]api{bob0, bob1}[i%2], fmt.Sprintf("b%d", i), 0) })
	}
	wg.Wait()
	r := mine(bob0)
	// Bob's marker is where he joined (seq 1); after it: alice's 7, his 6.
	if r.UnreadCount != 7 || r.LastReadSeq != 1 || r.Kind != "post" || r.LastMessage == nil || r.LastMessage.Seq != 14 {
		t.Fatalf("bob's room %+v, want unread 7 from marker 1, last message seq 14", r)
	}
	if r := mine(alice1); r.UnreadCount != 6 {
		t.Fatalf("alice's room %+v, want unread 6 (bob's messages after she joined)", r)
	}

	// Read markers: forward only, announced to bob on any replica.
	path := fmt.Sprintf("/api/chat/room/%d/read/", room.ID)
	var marker struct {
		Room        int64 `json:"room"`
		LastReadSeq int64 `json:"last_read_seq"`
		UnreadCount int64 `json:"unread_count"`
	}
	bob0.want(http.StatusOK, "POST", path, map[string]any{"seq": 10}, &marker)
	if marker.Room != room.ID || marker.LastReadSeq != 10 || marker.UnreadCount != trueUnreadAfter(t, alice0, room.ID, bobAcc.email, 10) {
		t.Fatalf("marker %+v after reading to 10", marker)
	}
	if ev := nextEvent("read to 10"); ev.GetRead().GetLastReadSeq() != 10 || ev.GetRead().GetRoomId() != room.ID {
		t.Fatalf("event %v, want read marker 10", ev)
	}
	bob1.want(http.StatusOK, "POST", strings.TrimSuffix(path, "/"), map[string]any{"seq": 3}, &marker)
	if marker.LastReadSeq != 10 {
		t.Fatalf("reading to 3 after 10 moved the marker to %d", marker.LastReadSeq)
	}
	nextEvent("read to 3")
	bob1.want(http.StatusOK, "POST", path, map[string]any{"seq": 14}, &marker)
	if marker.UnreadCount != 0 || mine(bob0).UnreadCount != 0 {
		t.Fatalf("after reading everything: %+v", marker)
	}
	for _, tc := range []struct {
		what, path string
		as         api
		body       any
		status     int
		want       string
	}{
		{"seq missing", path, bob0, map[string]any{}, 400, `{"seq":["This field is required."]}`},
		{"negative seq", path, bob0, map[string]any{"seq": -1}, 400, `{"seq":["Ensure this value is greater than or equal to 0."]}`},
		{"seq past the end", path, bob0, map[string]any{"seq": 15}, 400, ""},
		{"seq as text", path, bob0, `{"seq":"x"}`, 400, ""},
		{"unknown field", path, bob0, `{"seq":1,"x":1}`, 400, ""},
		{"not a member", path, carol, map[string]any{"seq": 1}, 403, ""},
		{"unknown room", fmt.Sprintf("/api/chat/room/%d/read/", room.ID+1000), bob0, map[string]any{"seq": 1}, 404, ""},
		{"non-numeric room", "/api/chat/room/abc/read/", bob0, map[string]any{"seq": 1}, 404, ""},
		{"no token", path, gw0, map[string]any{"seq": 1}, 401, ""},
	} {
		got := tc.as.do("POST", tc.path, tc.body)
		if tc.want != "" {
			wantJSON(t, tc.what, got, tc.status, tc.want)
		} else {
			wantStatus(t, tc.what, got, tc.status)
		}
	}

	// Notifications: carol was mentioned (case-insensitively); alice's
	// self-mention notified nobody; a reply notifies the parent's sender;
	// being added as a friend notifies the friend.
	var list []notification
	carol.want(http.StatusOK, "GET", "/api/notifications/", nil, &list)
	if len(list) != 1 || list[0].Kind != "mention" || list[0].Actor.ID != bobAcc.id || list[0].Actor.Nickname != "밥스" ||
		list[0].Excerpt != "hi @CAROL_K, how are you" || list[0].MessageID == nil || *list[0].MessageID != bobFirst || list[0].Read {
		t.Fatalf("carol's notifications %+v, want bob's mention", list)
	}
	alice0.want(http.StatusOK, "GET", "/api/notifications/", nil, &list)
	if len(list) != 0 {
		t.Fatalf("alice's notifications %+v: her own mention notified her", list)
	}
	send(alice1, "@밥스 answering you", bobFirst)
	alice0.want(http.StatusOK, "POST", "/api/user/add-friend/", map[string]any{"email": bobAcc.email}, nil)
	var bobs []notification
	bob0.want(http.StatusOK, "GET", "/api/notifications/?unread=1", nil, &bobs)
	if len(bobs) != 2 || bobs[0].Kind != "friend" || bobs[0].Room != nil || bobs[0].Actor.ID != aliceAcc.id ||
		bobs[1].Kind != "reply" || bobs[1].ID != 1 || bobs[0].ID != 2 {
		t.Fatalf("bob's notifications %+v, want friend (2) then reply (1)", bobs)
	}
	// Paging: one per page, the next in Link.
	h := bob0.want(http.StatusOK, "GET", "/api/notifications/?limit=1", nil, &list)
	link := h.Get("Link")
	if len(list) != 1 || list[0].ID != 2 || !strings.Contains(link, "cursor=2") {
		t.Fatalf("first page %+v, Link %q", list, link)
	}
	var unread struct {
		Unread int64 `json:"unread"`
	}
	bob1.want(http.StatusOK, "POST", "/api/notifications/read/", map[string]any{"ids": []int64{1, 999}}, &unread)
	if unread.Unread != 1 {
		t.Fatalf("unread after marking 1: %d", unread.Unread)
	}
	bob0.want(http.StatusOK, "GET", "/api/notifications/?unread=true", nil, &list)
	if len(list) != 1 || list[0].ID != 2 {
		t.Fatalf("unread list %+v", list)
	}
	bob0.want(http.StatusOK, "POST", "/api/notifications/read", map[string]any{"all": true}, &unread)
	if unread.Unread != 0 {
		t.Fatalf("unread after all: %d", unread.Unread)
	}
	for _, tc := range []struct {
		what string
		body any
		want string
	}{
		{"neither ids nor all", map[string]any{}, `{"ids":["Give ids or \"all\": true."]}`},
		{"id 0", map[string]any{"ids": []int64{0}}, `{"ids":["Invalid pk - object does not exist."]}`},
		{"ids not a list", `{"ids":"1"}`, ""},
		{"unknown field", `{"all":true,"x":1}`, ""},
		{"too many ids", map[string]any{"ids": make101()}, `{"ids":["Ensure this field has no more than 100 elements."]}`},
	} {
		got := bob0.do("POST", "/api/notifications/read/", tc.body)
		if tc.want != "" {
			wantJSON(t, tc.what, got, 400, tc.want)
		} else {
			wantStatus(t, tc.what, got, 400)
		}
	}
	wantJSON(t, "unread=x", bob0.do("GET", "/api/notifications/?unread=x", nil), 400, `{"unread":["Must be 1 or 0."]}`)
	wantStatus(t, "bad cursor", bob0.do("GET", "/api/notifications/?cursor=abc", nil), 400)
	wantStatus(t, "bad my-rooms cursor", bob0.do("GET", "/api/chat/rooms/mine/?cursor=abc", nil), 400)
	wantStatus(t, "my rooms without a token", gw1.do("GET", "/api/chat/rooms/mine/", nil), 401)

	// My rooms page by activity with a Link header.
	var other struct {
		ID int64 `json:"id"`
	}
	bob0.want(http.StatusCreated, "POST", "/api/chat/room/", map[string]any{"name": "second"}, &other)
	bob0.want(http.StatusCreated, "POST", "/api/chat/message/", map[string]any{"room": other.ID, "message": "newest"}, nil)
	var page []myRoom
	h = bob1.want(http.StatusOK, "GET", "/api/chat/rooms/mine?limit=1", nil, &page)
	if len(page) != 1 || page[0].ID != other.ID || h.Get("Link") == "" {
		t.Fatalf("first page %+v (Link %q), want the newest room %d", page, h.Get("Link"), other.ID)
	}
	next := strings.TrimSuffix(strings.TrimPrefix(h.Get("Link"), "<"), `>; rel="next"`)
	bob1.want(http.StatusOK, "GET", next, nil, &page)
	if len(page) != 1 || page[0].ID != room.ID {
		t.Fatalf("second page %+v, want room %d", page, room.ID)
	}

	// Opening the room's socket makes carol a member, with everything so
	// far read; a later message of bob's is unread for her.
	wsURL := "ws" + strings.TrimPrefix(s.Gateways[1], "http") + fmt.Sprintf("/ws/chat/%d/chat/", room.ID)
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": {"Bearer " + carolAcc.access}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if _, _, err := ws.ReadMessage(); err != nil { // the first frame comes after the join
		t.Fatal(err)
	}
	if r := mine(carol); r.UnreadCount != 0 || r.LastReadSeq != 15 {
		t.Fatalf("carol's room after opening its socket: %+v, want read up to 15", r)
	}
	send(bob0, "one more", 0)
	if r := mine(carol); r.UnreadCount != 1 {
		t.Fatalf("carol's room after bob's message: %+v, want unread 1", r)
	}
	carol.want(http.StatusOK, "POST", path, map[string]any{"seq": 16}, &marker)
	if marker.UnreadCount != 0 {
		t.Fatalf("carol's marker %+v", marker)
	}
}

// trueUnreadAfter counts, from the room's history, the messages after seq
// not sent by email.
func trueUnreadAfter(t *testing.T, as api, roomID int64, email string, seq int64) int64 {
	t.Helper()
	var msgs []struct {
		Sender string `json:"sender"`
	}
	as.want(http.StatusOK, "GET", fmt.Sprintf("/api/chat/room/%d/messages/?after=%d&limit=200", roomID, seq), nil, &msgs)
	var n int64
	for _, m := range msgs {
		if m.Sender != email {
			n++
		}
	}
	return n
}

func make101() []int64 {
	ids := make([]int64, 101)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	return ids
}
