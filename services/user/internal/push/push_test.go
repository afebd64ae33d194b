package push_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/pgdb"
	"github.com/cobraspace/cobraspace/platform/pushtest"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/user/internal/postgres"
	"github.com/cobraspace/cobraspace/services/user/internal/postgres/migrations"
	"github.com/cobraspace/cobraspace/services/user/internal/push"
	"github.com/cobraspace/cobraspace/services/user/internal/user"
)

type env struct {
	pool  *pgxpool.Pool
	store *postgres.PushStore
	vapid push.VAPID
	reg   *push.Registry
}

func setup(t *testing.T) env {
	t.Helper()
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pgdb.Migrate(ctx, pool, migrations.FS, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	v, err := push.GenerateVAPID("mailto:ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(); err != nil {
		t.Fatalf("generated VAPID keys: %v", err)
	}
	store := postgres.NewPushStore(pool)
	return env{pool: pool, store: store, vapid: v, reg: push.NewRegistry(store, v.PublicKey, 3, true)}
}

var userSeq int

func (e env) newUser(t *testing.T) int64 {
	t.Helper()
	userSeq++
	p, err := postgres.NewUserStore(e.pool).CreateUser(context.Background(),
		user.NewUser{Email: fmt.Sprintf("u%d-%d@example.com", userSeq, time.Now().UnixNano()), PasswordHash: "x", Nickname: "n"})
	if err != nil {
		t.Fatal(err)
	}
	return p.UserID
}

// pushServer starts a push service for e's VAPID key and subscribes uid to it.
func (e env) pushServer(t *testing.T, uid int64) *pushtest.Server {
	t.Helper()
	srv, err := pushtest.NewServer(e.vapid.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if _, err := e.reg.Subscribe(context.Background(), uid, srv.URL(), srv.P256dh(), srv.Auth(), "Test/1.0"); err != nil {
		t.Fatal(err)
	}
	return srv
}

func fieldsOf(err error) map[string][]string {
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.CodeInvalid {
		return nil
	}
	return e.Fields
}

func TestSubscribeValidation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	uid := e.newUser(t)
	d := pushtest.NewDevice()
	good := "https://push.example.com/send/abc"
	offCurve := strings.Repeat("A", 87) // 65 zero bytes: not a point
	cases := []struct {
		name                   string
		endpoint, p256dh, auth string
		wantField              string
	}{
		{"no endpoint", "", d.P256dh(), d.Auth(), "endpoint"},
		{"http", "http://push.example.com/x", d.P256dh(), d.Auth(), "endpoint"},
		{"not a url", "https://%zz", d.P256dh(), d.Auth(), "endpoint"},
		{"ip literal", "https://10.0.0.1/x", d.P256dh(), d.Auth(), "endpoint"},
		{"localhost", "https://localhost/x", d.P256dh(), d.Auth(), "endpoint"},
		{"userinfo", "https://a:b@push.example.com/x", d.P256dh(), d.Auth(), "endpoint"},
		{"loopback elsewhere", "http://127.0.0.2:80/x", d.P256dh(), d.Auth(), "endpoint"},
		{"too long", "https://push.example.com/" + strings.Repeat("a", 2048), d.P256dh(), d.Auth(), "endpoint"},
		{"no p256dh", good, "", d.Auth(), "keys.p256dh"},
		{"short p256dh", good, d.P256dh()[:40], d.Auth(), "keys.p256dh"},
		{"p256dh off curve", good, offCurve, d.Auth(), "keys.p256dh"},
		{"p256dh not base64", good, "!" + d.P256dh()[1:], d.Auth(), "keys.p256dh"},
		{"no auth", good, d.P256dh(), "", "keys.auth"},
		{"auth of 15 bytes", good, d.P256dh(), "AAAAAAAAAAAAAAAAAAAA", "keys.auth"},
	}
	for _, c := range cases {
		_, err := e.reg.Subscribe(ctx, uid, c.endpoint, c.p256dh, c.auth, "")
		if f := fieldsOf(err); len(f) != 1 || len(f[c.wantField]) == 0 {
			t.Errorf("%s: err = %v (fields %v), want field %q", c.name, err, f, c.wantField)
		}
	}
	// Padded base64url and the test-only loopback allowance are accepted.
	if _, err := e.reg.Subscribe(ctx, uid, "http://127.0.0.1:9/x", d.P256dh()+"=", d.Auth()+"==", "UA\x01\u0085 ok"); err != nil {
		t.Fatal(err)
	}
	strict := push.NewRegistry(e.store, e.vapid.PublicKey, 3, false)
	if _, err := strict.Subscribe(ctx, uid, "http://127.0.0.1:9/y", d.P256dh(), d.Auth(), ""); fieldsOf(err)["endpoint"] == nil {
		t.Errorf("loopback without the allowance: %v", err)
	}
	subs, err := e.reg.List(ctx, uid)
	if err != nil || len(subs) != 1 || subs[0].UserAgent != "UA ok" || len(subs[0].P256dh) != 65 || len(subs[0].Auth) != 16 {
		t.Fatalf("List = %+v, %v", subs, err)
	}
	// Push off: NOT_FOUND everywhere.
	off := push.NewRegistry(e.store, "", 3, true)
	if _, err := off.PublicKey(); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Errorf("PublicKey with push off: %v", err)
	}
	if _, err := off.Subscribe(ctx, uid, good, d.P256dh(), d.Auth(), ""); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Errorf("Subscribe with push off: %v", err)
	}
}

func TestSubscribeIdempotentCappedAndOwned(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	alice, bob := e.newUser(t), e.newUser(t)
	d := pushtest.NewDevice()
	first, err := e.reg.Subscribe(ctx, alice, "https://push.example.com/1", d.P256dh(), d.Auth(), "A")
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.reg.Subscribe(ctx, alice, "https://push.example.com/1", d.P256dh(), d.Auth(), "A2")
	if err != nil || again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) || again.UserAgent != "A2" {
		t.Fatalf("resubscribing: %+v, %v (first %+v)", again, err, first)
	}
	// The cap (3) drops the least recently used: endpoint 1 had a push
	// accepted most recently, so 2 goes.
	for _, n := range []string{"2", "3"} {
		time.Sleep(2 * time.Millisecond)
		if _, err := e.reg.Subscribe(ctx, alice, "https://push.example.com/"+n, d.P256dh(), d.Auth(), ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.MarkSuccess(ctx, first.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.Subscribe(ctx, alice, "https://push.example.com/4", d.P256dh(), d.Auth(), ""); err != nil {
		t.Fatal(err)
	}
	if got := endpoints(t, e, alice); got != "4,3,1" {
		t.Errorf("alice's endpoints = %s, want 4,3,1", got)
	}
	// Bob cannot delete Alice's subscription; subscribing from her browser
	// moves it to him.
	if err := e.reg.Unsubscribe(ctx, bob, "https://push.example.com/3"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.Subscribe(ctx, bob, "https://push.example.com/1", d.P256dh(), d.Auth(), ""); err != nil {
		t.Fatal(err)
	}
	if got, gotB := endpoints(t, e, alice), endpoints(t, e, bob); got != "4,3" || gotB != "1" {
		t.Errorf("after the move: alice %s, bob %s", got, gotB)
	}
	if err := e.reg.Unsubscribe(ctx, alice, "https://push.example.com/3"); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.Unsubscribe(ctx, alice, ""); fieldsOf(err)["endpoint"] == nil {
		t.Errorf("Unsubscribe without endpoint: %v", err)
	}
	if got := endpoints(t, e, alice); got != "4" {
		t.Errorf("after unsubscribing: %s", got)
	}
}

func endpoints(t *testing.T, e env, uid int64) string {
	t.Helper()
	subs, err := e.reg.List(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range subs {
		out = append(out, strings.TrimPrefix(s.Endpoint, "https://push.example.com/"))
	}
	return strings.Join(out, ",")
}

func (e env) dispatcher(maxAttempts int, maxDelay time.Duration) *push.Dispatcher {
	return e.dispatcherCounting(maxAttempts, maxDelay, nil)
}

func (e env) dispatcherCounting(maxAttempts int, maxDelay time.Duration, outcomes *prometheus.CounterVec) *push.Dispatcher {
	return push.NewDispatcher(push.DispatcherConfig{
		Store: e.store, Sender: push.NewWebPush(e.vapid, true),
		MaxAttempts: maxAttempts, BaseDelay: 20 * time.Millisecond, MaxDelay: maxDelay, Outcomes: outcomes,
	})
}

// wantOutcomes checks the counters of c (accepted, retried, gone, failed).
func wantOutcomes(t *testing.T, c *prometheus.CounterVec, want ...float64) {
	t.Helper()
	for i, o := range []string{push.OutcomeAccepted, push.OutcomeRetried, push.OutcomeGone, push.OutcomeFailed} {
		if got := testutil.ToFloat64(c.WithLabelValues(o)); got != want[i] {
			t.Errorf("%s sends = %v, want %v", o, got, want[i])
		}
	}
}

func TestDeliverEncryptsAndSigns(t *testing.T) {
	t.Parallel()
	e := setup(t)
	uid := e.newUser(t)
	srv := e.pushServer(t, uid)
	msg := push.Message{Payload: []byte(`{"kind":"mention","excerpt":"안녕 @bob"}`), TTL: time.Hour, Urgency: push.UrgencyHigh, Topic: "room-7"}
	if n := e.dispatcher(3, time.Second).Deliver(context.Background(), uid, msg); n != 1 {
		t.Fatalf("Deliver = %d", n)
	}
	pushes, errs := srv.Pushes()
	if len(errs) > 0 || len(pushes) != 1 {
		t.Fatalf("pushes %+v, errors %v", pushes, errs)
	}
	p := pushes[0]
	if string(p.Payload) != string(msg.Payload) || p.TTL != 3600 || p.Urgency != "high" || p.Topic != "room-7" ||
		p.Subject != "mailto:ops@example.com" {
		t.Errorf("push = %+v (payload %s)", p, p.Payload)
	}
	subs, _ := e.reg.List(context.Background(), uid)
	if len(subs) != 1 || subs[0].LastSuccessAt.IsZero() {
		t.Errorf("last success not recorded: %+v", subs)
	}
	// A payload that cannot fit one record is refused before sending.
	big := push.Message{Payload: make([]byte, push.MaxPayload+1), TTL: time.Hour}
	if n := e.dispatcher(3, time.Second).Deliver(context.Background(), uid, big); n != 0 || srv.Requests() != 1 {
		t.Errorf("oversized payload: delivered %d, requests %d", n, srv.Requests())
	}
	// The largest payload does fit.
	largest := push.Message{Payload: []byte(strings.Repeat("x", push.MaxPayload)), TTL: time.Hour}
	if n := e.dispatcher(3, time.Second).Deliver(context.Background(), uid, largest); n != 1 {
		_, errs := srv.Pushes()
		t.Errorf("largest payload: delivered %d, errors %v", n, errs)
	}
}

func TestDeliverRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	e := setup(t)
	uid := e.newUser(t)
	srv := e.pushServer(t, uid)
	srv.Respond(pushtest.Response{Status: 500}, pushtest.Response{Status: 503},
		pushtest.Response{Status: http.StatusTooManyRequests, RetryAfter: "1"})
	outcomes, err := push.NewOutcomes(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if n := e.dispatcherCounting(4, 5*time.Second, outcomes).Deliver(context.Background(), uid, push.Message{Payload: []byte("hi"), TTL: time.Minute}); n != 1 {
		t.Fatalf("Deliver = %d", n)
	}
	pushes, errs := srv.Pushes()
	if srv.Requests() != 4 || len(pushes) != 1 || len(errs) > 0 || string(pushes[0].Payload) != "hi" {
		t.Errorf("requests %d, pushes %+v, errors %v", srv.Requests(), pushes, errs)
	}
	// 20 ms + ~40 ms of backoff, then the 1 s the 429 asked for.
	if took := time.Since(start); took < time.Second+30*time.Millisecond {
		t.Errorf("took %v: Retry-After not respected", took)
	}
	wantOutcomes(t, outcomes, 1, 3, 0, 0)

	// Bounded: after MaxAttempts 5xx it gives up, and keeps the subscription.
	srv.Respond(pushtest.Response{Status: 502}, pushtest.Response{Status: 502}, pushtest.Response{Status: 502})
	if n := e.dispatcherCounting(3, time.Second, outcomes).Deliver(context.Background(), uid, push.Message{Payload: []byte("x")}); n != 0 || srv.Requests() != 7 {
		t.Errorf("after 3 failures: delivered %d, requests %d", n, srv.Requests())
	}
	// A Retry-After beyond MaxDelay is not waited for.
	srv.Respond(pushtest.Response{Status: 503, RetryAfter: "3600"})
	if n := e.dispatcher(3, time.Second).Deliver(context.Background(), uid, push.Message{Payload: []byte("x")}); n != 0 || srv.Requests() != 8 {
		t.Errorf("long Retry-After: delivered %d, requests %d", n, srv.Requests())
	}
	// A client error is final: one request.
	srv.Respond(pushtest.Response{Status: http.StatusForbidden})
	if n := e.dispatcher(3, time.Second).Deliver(context.Background(), uid, push.Message{Payload: []byte("x")}); n != 0 || srv.Requests() != 9 {
		t.Errorf("403: delivered %d, requests %d", n, srv.Requests())
	}
	if got := endpoints(t, e, uid); got == "" {
		t.Error("a failing subscription was deleted")
	}
	wantOutcomes(t, outcomes, 1, 5, 0, 1)
}

func TestGoneSubscriptionsAreDeleted(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, status := range []int{http.StatusGone, http.StatusNotFound} {
		uid := e.newUser(t)
		srv := e.pushServer(t, uid)
		keep := e.pushServer(t, uid)
		srv.Respond(pushtest.Response{Status: status})
		if n := e.dispatcher(3, time.Second).Deliver(context.Background(), uid, push.Message{Payload: []byte("x")}); n != 1 {
			t.Errorf("%d: delivered %d, want 1 (the other device)", status, n)
		}
		subs, _ := e.reg.List(context.Background(), uid)
		if srv.Requests() != 1 || len(subs) != 1 || subs[0].Endpoint != keep.URL() {
			t.Errorf("%d: requests %d, left %+v", status, srv.Requests(), subs)
		}
	}
}

func TestSenderRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	e := setup(t)
	srv, err := pushtest.NewServer(e.vapid.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sub := push.Subscription{Endpoint: srv.URL(), P256dh: mustKey(t, srv.P256dh()), Auth: mustKey(t, srv.Auth())}
	err = push.NewWebPush(e.vapid, false).Send(context.Background(), sub, push.Message{Payload: []byte("x")})
	var retry *push.RetryError
	if err == nil || errors.As(err, &retry) || srv.Requests() != 0 {
		t.Errorf("Send to loopback without the allowance: %v (requests %d)", err, srv.Requests())
	}
	// An unreachable endpoint is worth retrying.
	srv.Close()
	err = push.NewWebPush(e.vapid, true).Send(context.Background(), sub, push.Message{Payload: []byte("x")})
	if !errors.As(err, &retry) {
		t.Errorf("Send to a closed port: %v, want a RetryError", err)
	}
}

func mustKey(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	if err := json.Unmarshal([]byte(`"`+strings.NewReplacer("-", "+", "_", "/").Replace(s)+strings.Repeat("=", (4-len(s)%4)%4)+`"`), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDispatcherQueueIsBounded(t *testing.T) {
	t.Parallel()
	e := setup(t)
	d := push.NewDispatcher(push.DispatcherConfig{Store: e.store, Sender: push.NewWebPush(e.vapid, true), Queue: 2, Workers: 1})
	// No workers run yet: the third waits for nobody and is dropped.
	first, second, third := d.Enqueue(1, push.Message{}), d.Enqueue(1, push.Message{}), d.Enqueue(1, push.Message{})
	if !first || !second || third {
		t.Error("queue of 2 took a third message")
	}
	uid := e.newUser(t)
	srv := e.pushServer(t, uid)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	d.Enqueue(uid, push.Message{Payload: []byte("queued")})
	if !srv.Wait(1, 10*time.Second) {
		t.Error("queued message not delivered")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestVAPIDValidate(t *testing.T) {
	t.Parallel()
	a, _ := push.GenerateVAPID("https://example.com/contact")
	b, _ := push.GenerateVAPID("mailto:x@example.com")
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]push.VAPID{
		"mismatched pair": {PublicKey: a.PublicKey, PrivateKey: b.PrivateKey, Subject: a.Subject},
		"bad private key": {PublicKey: a.PublicKey, PrivateKey: "!!", Subject: a.Subject},
		"no subject":      {PublicKey: a.PublicKey, PrivateKey: a.PrivateKey},
		"plain e-mail":    {PublicKey: a.PublicKey, PrivateKey: a.PrivateKey, Subject: "x@example.com"},
	} {
		if v.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
