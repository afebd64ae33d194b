package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/cobraspace/cobraspace/platform/pushtest"
	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/platform/testenv"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/user/internal/push"
)

// TestPushEndToEnd: two replicas share a database and NATS prefix; a
// notification published on the user's events subject reaches the local
// push service once, decrypted, whichever replica's pusher takes it.
func TestPushEndToEnd(t *testing.T) {
	t.Parallel()
	vapid, err := push.GenerateVAPID("mailto:ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	priv, pub := testenv.KeyPair(t)
	prefix := testenv.Prefix(t)
	env := map[string]string{
		"DATABASE_URL": testenv.Database(t), "NATS_PREFIX": prefix, "REDIS_PREFIX": prefix,
		"JWT_PRIVATE_KEY_FILE": priv, "JWT_PUBLIC_KEY_FILE": pub, "SERVICE_KEY_FILE": testenv.ServiceKey(t),
		"VAPID_PUBLIC_KEY": vapid.PublicKey, "VAPID_PRIVATE_KEY": vapid.PrivateKey, "VAPID_SUBJECT": vapid.Subject,
		"PUSH_ALLOW_LOOPBACK": "true", "PUSH_RETRY_BASE": "50ms",
	}
	a, b := start(t, env), start(t, env)

	reg, err := a.client.Register(a.ctx, &userv1.RegisterRequest{Email: "pushy@example.com", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	uid := reg.GetProfile().GetUserId()
	login, err := b.client.Login(b.ctx, &userv1.LoginRequest{Email: "pushy@example.com", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	ctxA, ctxB := a.authed(login.GetTokens().GetAccess()), b.authed(login.GetTokens().GetAccess())

	_, err = a.client.GetPushKey(a.authed(""), &userv1.GetPushKeyRequest{})
	wantCode(t, "GetPushKey without a token", err, codes.Unauthenticated, "")
	key, err := b.client.GetPushKey(ctxB, &userv1.GetPushKeyRequest{})
	if err != nil || key.GetPublicKey() != vapid.PublicKey {
		t.Fatalf("GetPushKey = %v, %v", key, err)
	}
	srv, err := pushtest.NewServer(vapid.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, err = a.client.SubscribePush(ctxA, &userv1.SubscribePushRequest{Subscription: &userv1.PushSubscription{
		Endpoint: "ftp://example.com/x", P256Dh: srv.P256dh(), Auth: "short"}})
	wantFields(t, "bad endpoint", err, "endpoint", push.MsgEndpointInvalid)
	wantFields(t, "bad auth", err, "keys.auth", push.MsgKeyInvalid)
	sub, err := a.client.SubscribePush(ctxA, &userv1.SubscribePushRequest{Subscription: &userv1.PushSubscription{
		Endpoint: srv.URL(), P256Dh: srv.P256dh(), Auth: srv.Auth(), UserAgent: "Firefox"}})
	if err != nil || sub.GetSubscription().GetEndpoint() != srv.URL() || sub.GetSubscription().GetCreatedAt() == nil {
		t.Fatalf("SubscribePush = %v, %v", sub, err)
	}

	nc, err := natsgo.Connect(testenv.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subj := subjects.New(prefix)
	publish := func(user int64, ev *chatv1.UserEvent) {
		t.Helper()
		data, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish(subj.UserEvents(user), data); err != nil {
			t.Fatal(err)
		}
	}
	// Both replicas' pushers are in the queue group: run subscribes (and
	// flushes) before it prints "listening", which start waited for.
	const n = 10
	for i := range n {
		publish(uid, &chatv1.UserEvent{Event: &chatv1.UserEvent_Notification{Notification: &chatv1.Notification{
			Id: int64(i + 1), Kind: "mention", RoomId: 7, MessageId: 100 + int64(i), Seq: int64(i + 1),
			Actor: &chatv1.NotificationActor{Id: 99, Nickname: "bob"}, Excerpt: "hi @pushy 안녕", UserId: uid,
		}}})
	}
	// Neither read markers nor other users' notifications are pushed here.
	publish(uid, &chatv1.UserEvent{Event: &chatv1.UserEvent_Read{Read: &chatv1.ReadMarker{RoomId: 7, LastReadSeq: 3}}})
	publish(uid+1000, &chatv1.UserEvent{Event: &chatv1.UserEvent_Notification{Notification: &chatv1.Notification{Id: 1, Kind: "dm", RoomId: 8}}})
	nc.Publish(subj.UserEvents(uid), []byte("not protobuf")) //nolint:errcheck // checked by what arrives
	if !srv.Wait(n, 15*time.Second) {
		t.Fatalf("%d of %d pushes arrived", srv.Requests(), n)
	}
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive by now
	pushes, errs := srv.Pushes()
	if len(errs) > 0 || len(pushes) != n || srv.Requests() != n {
		t.Fatalf("requests %d, pushes %d, errors %v", srv.Requests(), len(pushes), errs)
	}
	seen := map[int64]bool{}
	for _, p := range pushes {
		var got struct {
			ID                   int64
			Kind, Actor, Excerpt string
			Room, Seq            int64
			URL                  string
		}
		if err := json.Unmarshal(p.Payload, &got); err != nil {
			t.Fatalf("payload %q: %v", p.Payload, err)
		}
		if got.Kind != "mention" || got.Actor != "bob" || got.Excerpt != "hi @pushy 안녕" || got.Room != 7 ||
			got.URL != "/rooms/7/?seq="+strconv.FormatInt(got.Seq, 10) || p.Topic != "room-7" || p.Urgency != "high" || p.TTL != 86400 {
			t.Errorf("push %+v, payload %+v", p, got)
		}
		if seen[got.ID] {
			t.Errorf("notification %d pushed twice", got.ID)
		}
		seen[got.ID] = true
	}

	list, err := b.client.ListPushSubscriptions(ctxB, &userv1.ListPushSubscriptionsRequest{})
	if err != nil || len(list.GetSubscriptions()) != 1 || list.GetSubscriptions()[0].GetLastSuccessAt() == nil ||
		list.GetSubscriptions()[0].GetUserAgent() != "Firefox" {
		t.Fatalf("ListPushSubscriptions = %v, %v", list, err)
	}

	// A push service answering 410: the subscription is deleted.
	srv.Respond(pushtest.Response{Status: 410})
	publish(uid, &chatv1.UserEvent{Event: &chatv1.UserEvent_Notification{Notification: &chatv1.Notification{Id: 11, Kind: "friend", Actor: &chatv1.NotificationActor{Id: 99}}}})
	if !srv.Wait(n+1, 10*time.Second) {
		t.Fatal("the push answered 410 never arrived")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		list, err = a.client.ListPushSubscriptions(ctxA, &userv1.ListPushSubscriptionsRequest{})
		if err == nil && len(list.GetSubscriptions()) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 410: %v, %v", list, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Unsubscribed (here: gone) devices get nothing more.
	publish(uid, &chatv1.UserEvent{Event: &chatv1.UserEvent_Notification{Notification: &chatv1.Notification{Id: 12, Kind: "dm", RoomId: 9}}})
	time.Sleep(500 * time.Millisecond)
	if srv.Requests() != n+1 {
		t.Errorf("requests after deletion: %d", srv.Requests())
	}
	if _, err := a.client.UnsubscribePush(ctxA, &userv1.UnsubscribePushRequest{Endpoint: srv.URL()}); err != nil {
		t.Errorf("UnsubscribePush of a deleted endpoint: %v", err)
	}
}

func TestPushConfig(t *testing.T) {
	t.Parallel()
	v, _ := push.GenerateVAPID("mailto:ops@example.com")
	other, _ := push.GenerateVAPID("mailto:ops@example.com")
	keyFile := testenv.ServiceKey(t)
	base := func() map[string]string {
		return map[string]string{"DATABASE_URL": "postgres://x", "JWT_PRIVATE_KEY_FILE": "k", "JWT_PUBLIC_KEY_FILE": "p",
			"SERVICE_KEY_FILE": keyFile}
	}
	load := func(env map[string]string) (config, error) {
		return loadConfig(func(k string) string { return env[k] })
	}
	c, err := load(base())
	if err != nil || c.push.enabled() {
		t.Fatalf("without VAPID keys: enabled %v, %v", c.push.enabled(), err)
	}
	env := base()
	env["VAPID_PUBLIC_KEY"], env["VAPID_PRIVATE_KEY"], env["VAPID_SUBJECT"] = v.PublicKey, v.PrivateKey, v.Subject
	if c, err := load(env); err != nil || !c.push.enabled() || c.push.maxDevices != 10 {
		t.Fatalf("with VAPID keys: %+v, %v", c.push, err)
	}
	for name, change := range map[string]func(map[string]string){
		"VAPID_PUBLIC_KEY":  func(e map[string]string) { e["VAPID_PUBLIC_KEY"] = other.PublicKey },
		"VAPID_PRIVATE_KEY": func(e map[string]string) { delete(e, "VAPID_PRIVATE_KEY") },
		"VAPID_SUBJECT":     func(e map[string]string) { e["VAPID_SUBJECT"] = "ops@example.com" },
		"PUSH_MAX_DEVICES":  func(e map[string]string) { e["PUSH_MAX_DEVICES"] = "0" },
	} {
		e := map[string]string{}
		for k, val := range env {
			e[k] = val
		}
		change(e)
		if _, err := load(e); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("bad %s: %v", name, err)
		}
	}
}
