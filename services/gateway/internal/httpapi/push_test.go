package httpapi_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/pushtest"
	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// TestPushRoutes runs /api/notifications/push/ end to end against the user
// service through two gateway replicas.
func TestPushRoutes(t *testing.T) {
	s := stack.Start(t, stack.Options{Gateways: 2, Services: []string{stack.User}, LogLevel: "warn"})
	gw0, gw1 := s.Gateways[0], s.Gateways[1]
	a := register(t, gw0, "push")

	for _, rq := range []req{
		{method: "GET", path: "/api/notifications/push/key/"},
		{method: "GET", path: "/api/notifications/push/"},
		{method: "POST", path: "/api/notifications/push/", json: map[string]any{}},
		{method: "DELETE", path: "/api/notifications/push/", json: map[string]any{}},
	} {
		wantStatus(t, rq.method+" "+rq.path+" anonymous", do(t, gw0, rq), http.StatusUnauthorized)
	}

	wantJSON(t, "key", do(t, gw1, req{method: "GET", path: "/api/notifications/push/key/", token: a.access}),
		http.StatusOK, `{"public_key":"`+s.Env.VAPIDPublicKey+`"}`)

	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256dh := base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes())
	auth := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef"))
	endpoint := "https://push.example.com/wpush/v2/abc"
	post := func(body any) *resp {
		return do(t, gw0, req{method: "POST", path: "/api/notifications/push/", json: body, token: a.access,
			header: map[string]string{"User-Agent": "Mozilla/5.0 Test"}})
	}

	// Validation: the gateway's (missing fields, unknown fields) and the
	// user service's (URL and keys).
	wantJSON(t, "empty", post(map[string]any{}), http.StatusBadRequest,
		`{"endpoint":["This field is required."],"keys":["This field is required."]}`)
	wantJSON(t, "empty keys", post(map[string]any{"endpoint": endpoint, "keys": map[string]any{}}), http.StatusBadRequest,
		`{"keys.p256dh":["This field is required."],"keys.auth":["This field is required."]}`)
	wantJSON(t, "bad values", post(map[string]any{"endpoint": "http://push.example.com/x", "keys": map[string]any{"p256dh": "abc", "auth": auth + "AA"}}),
		http.StatusBadRequest, `{"endpoint":["Enter a valid https URL."],"keys.p256dh":["Enter a valid base64url-encoded key."],"keys.auth":["Enter a valid base64url-encoded key."]}`)
	wantJSON(t, "private address", post(map[string]any{"endpoint": "https://192.168.1.1/x", "keys": map[string]any{"p256dh": p256dh, "auth": auth}}),
		http.StatusBadRequest, `{"endpoint":["Enter a valid https URL."]}`)
	wantStatus(t, "unknown field", post(map[string]any{"endpoint": endpoint, "keys": map[string]any{"p256dh": p256dh, "auth": auth}, "extra": 1}), http.StatusBadRequest)
	wantStatus(t, "unknown key field", post(map[string]any{"endpoint": endpoint, "keys": map[string]any{"p256dh": p256dh, "auth": auth, "x": "y"}}), http.StatusBadRequest)
	wantStatus(t, "keys not an object", post(map[string]any{"endpoint": endpoint, "keys": "k"}), http.StatusBadRequest)

	good := map[string]any{"endpoint": endpoint, "expirationTime": nil, "keys": map[string]any{"p256dh": p256dh, "auth": auth}}
	r := post(good)
	wantStatus(t, "subscribe", r, http.StatusCreated)
	var dev struct {
		CreatedAt string `json:"created_at"`
	}
	r.decode(t, &dev)
	r2 := post(good)
	wantStatus(t, "subscribe again", r2, http.StatusCreated)
	var again struct {
		CreatedAt string `json:"created_at"`
	}
	r2.decode(t, &again)
	if again.CreatedAt != dev.CreatedAt || dev.CreatedAt == "" {
		t.Errorf("resubscribing changed created_at: %q → %q", dev.CreatedAt, again.CreatedAt)
	}
	r = do(t, gw1, req{method: "GET", path: "/api/notifications/push/", token: a.access})
	var list []struct {
		Endpoint      string  `json:"endpoint"`
		UserAgent     string  `json:"user_agent"`
		LastSuccessAt *string `json:"last_success_at"`
	}
	wantStatus(t, "list", r, http.StatusOK)
	r.decode(t, &list)
	if len(list) != 1 || list[0].Endpoint != endpoint || list[0].UserAgent != "Mozilla/5.0 Test" || list[0].LastSuccessAt != nil {
		t.Errorf("list = %+v", list)
	}

	// Another user's DELETE of the endpoint changes nothing.
	b := register(t, gw1, "push")
	wantStatus(t, "delete by another", do(t, gw1, req{method: "DELETE", path: "/api/notifications/push/", json: map[string]any{"endpoint": endpoint}, token: b.access}), http.StatusNoContent)
	wantJSON(t, "delete without endpoint", do(t, gw1, req{method: "DELETE", path: "/api/notifications/push/", json: map[string]any{}, token: a.access}),
		http.StatusBadRequest, `{"endpoint":["This field is required."]}`)
	wantStatus(t, "delete", do(t, gw1, req{method: "DELETE", path: "/api/notifications/push", json: map[string]any{"endpoint": endpoint}, token: a.access}), http.StatusNoContent)
	wantJSON(t, "list after delete", do(t, gw0, req{method: "GET", path: "/api/notifications/push/", token: a.access}), http.StatusOK, `[]`)
}

// TestPushOff: without VAPID keys the routes are 404.
func TestPushOff(t *testing.T) {
	s := stack.Start(t, stack.Options{Services: []string{stack.User}, LogLevel: "warn",
		Env: map[string]map[string]string{stack.User: {"VAPID_PUBLIC_KEY": "", "VAPID_PRIVATE_KEY": ""}}})
	a := register(t, s.Gateways[0], "pushoff")
	wantJSON(t, "key with push off", do(t, s.Gateways[0], req{method: "GET", path: "/api/notifications/push/key/", token: a.access}),
		http.StatusNotFound, `{"detail":"Push notifications are not enabled on this server."}`)
}

// TestPushOfMention: the whole path. Bob mentions Alice in a room; the chat
// service stores the notification and publishes it on Alice's events
// subject; the user service pushes it to the device Alice subscribed
// through the gateway, where the local push service decrypts it.
func TestPushOfMention(t *testing.T) {
	s := stack.Start(t, stack.Options{Gateways: 2, LogLevel: "warn"})
	gw0, gw1 := s.Gateways[0], s.Gateways[1]
	nick := fmt.Sprintf("al%d", time.Now().UnixNano()%1e9)
	alice := &account{email: uniqueEmail("pushal"), password: goodPassword}
	wantStatus(t, "register alice", do(t, gw0, req{method: "POST", path: "/api/user/registration/",
		json: map[string]string{"email": alice.email, "password": alice.password, "nickname": nick}}), http.StatusCreated)
	login(t, gw0, alice)
	bob := register(t, gw1, "pushbob")

	device, err := pushtest.NewServer(s.Env.VAPIDPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	defer device.Close()
	wantStatus(t, "subscribe", do(t, gw0, req{method: "POST", path: "/api/notifications/push/", token: alice.access,
		json: map[string]any{"endpoint": device.URL(), "keys": map[string]string{"p256dh": device.P256dh(), "auth": device.Auth()}}}), http.StatusCreated)

	r := do(t, gw1, req{method: "POST", path: "/api/chat/room/", token: bob.access, json: map[string]string{"name": "push room"}})
	wantStatus(t, "create room", r, http.StatusCreated)
	var room struct{ ID int64 }
	r.decode(t, &room)
	wantStatus(t, "mention", do(t, gw1, req{method: "POST", path: "/api/chat/message/", token: bob.access,
		json: map[string]any{"room": room.ID, "message": "hello @" + nick + " look"}}), http.StatusCreated)

	if !device.Wait(1, 15*time.Second) {
		t.Fatalf("no push within 15 s; logs:\n%s", s.Logs())
	}
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive by now
	pushes, errs := device.Pushes()
	if len(errs) > 0 || len(pushes) != 1 {
		t.Fatalf("pushes %d, errors %v", len(pushes), errs)
	}
	var got struct {
		ID               int64
		Kind, Actor, URL string
		Excerpt          string
		Room, Seq        int64
	}
	if err := json.Unmarshal(pushes[0].Payload, &got); err != nil {
		t.Fatalf("payload %q: %v", pushes[0].Payload, err)
	}
	if got.Kind != "mention" || got.Actor != bob.nickname || got.Room != room.ID || got.Seq != 1 || got.ID < 1 ||
		!strings.Contains(got.Excerpt, "@"+nick) || got.URL != fmt.Sprintf("/rooms/%d/?seq=1", room.ID) {
		t.Errorf("push payload %s", pushes[0].Payload)
	}
	// The device list shows the accepted push.
	var list []struct {
		LastSuccessAt *string `json:"last_success_at"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		do(t, gw1, req{method: "GET", path: "/api/notifications/push/", token: alice.access}).decode(t, &list)
		if len(list) == 1 && list[0].LastSuccessAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("devices after a push: %+v", list)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
