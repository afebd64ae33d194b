package auth_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
)

// fakeDenylist is a denylist with a fixed answer.
type fakeDenylist struct {
	mu      sync.Mutex
	revoked map[string]bool
	err     error
	calls   int
}

func (f *fakeDenylist) IsRevoked(_ context.Context, sessionID string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.revoked[sessionID], f.err
}

type keys struct {
	signer   *accesstoken.Signer
	verifier *accesstoken.Verifier
}

func newKeys(t *testing.T) keys {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return keys{signer: accesstoken.NewSigner(priv), verifier: accesstoken.NewVerifier(pub)}
}

// token signs a token of session fam.
func (k keys) token(t *testing.T, typ, jti, fam string) string {
	t.Helper()
	tok, err := k.signer.Sign(accesstoken.Claims{UserID: 7, Email: "a@example.com", Type: typ, ID: jti, Family: fam,
		ExpiresAt: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestAuthenticate(t *testing.T) {
	k := newKeys(t)
	var logs bytes.Buffer
	deny := &fakeDenylist{revoked: map[string]bool{"revoked-fam": true}}
	a := auth.New(k.verifier, deny, slog.New(slog.NewJSONHandler(&logs, nil)))
	good := k.token(t, accesstoken.TypeAccess, "good-jti", "good-fam")

	cases := []struct {
		name       string
		header     string
		cookie     string
		wantErr    error
		wantCookie bool
	}{
		{"bearer", "Bearer " + good, "", nil, false},
		{"bearer lower case scheme", "bearer " + good, "", nil, false},
		{"cookie", "", good, nil, true},
		{"header wins over cookie", "Bearer " + good, "garbage", nil, false},
		{"nothing", "", "", auth.ErrNoCredentials, false},
		{"other scheme ignored", "Basic dXNlcjpwdw==", "", auth.ErrNoCredentials, false},
		{"garbage", "Bearer abc", "", auth.ErrInvalidToken, false},
		{"refresh token", "Bearer " + k.token(t, accesstoken.TypeRefresh, "r1", "good-fam"), "", auth.ErrInvalidToken, false},
		// Any token of a revoked session, not only the one logged out with.
		{"session revoked in Redis", "Bearer " + k.token(t, accesstoken.TypeAccess, "other-jti", "revoked-fam"), "", auth.ErrInvalidToken, false},
		{"wrong key", "Bearer " + newKeys(t).token(t, accesstoken.TypeAccess, "x", "good-fam"), "", auth.ErrInvalidToken, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: auth.AccessCookie, Value: tc.cookie})
			}
			id, err := a.Authenticate(r)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err: got %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if id.UserID != 7 || id.Email != "a@example.com" || id.SessionID != "good-fam" || id.Token != good || id.ViaCookie != tc.wantCookie {
				t.Errorf("identity: got %+v", id)
			}
		})
	}
}

func TestAuthenticateFailsOpenWithoutRedis(t *testing.T) {
	k := newKeys(t)
	var logs bytes.Buffer
	deny := &fakeDenylist{err: errors.New("dial tcp: connection refused")}
	a := auth.New(k.verifier, deny, slog.New(slog.NewJSONHandler(&logs, nil)))

	// Redis down: a verified token is accepted, with a warning.
	if _, err := a.Verify(context.Background(), k.token(t, accesstoken.TypeAccess, "j1", "s1")); err != nil {
		t.Fatalf("Redis down: got %v, want the token accepted (fail open)", err)
	}
	if !strings.Contains(logs.String(), "denylist unavailable") {
		t.Errorf("no warning logged: %s", logs.String())
	}
	// During the outage Redis is not asked again for a while, and the
	// warning is not repeated per request.
	for range 5 {
		if _, err := a.Verify(context.Background(), k.token(t, accesstoken.TypeAccess, "j0", "s0")); err != nil {
			t.Fatal(err)
		}
	}
	if deny.calls != 1 || strings.Count(logs.String(), "denylist unavailable") != 1 {
		t.Errorf("after the first failure: %d Redis calls and %d warnings, want 1 and 1",
			deny.calls, strings.Count(logs.String(), "denylist unavailable"))
	}
	// A revocation announced over NATS still counts, for every token of
	// the session.
	var notified []string
	a.OnRevoked(func(uid int64, sessions []string) { notified = append(notified, fmt.Sprint(uid, sessions)) })
	a.Revoked(7, []string{"s1"})
	for _, jti := range []string{"j1", "j1-older"} {
		if _, err := a.Verify(context.Background(), k.token(t, accesstoken.TypeAccess, jti, "s1")); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("token %s of a session revoked in memory, Redis down: got %v, want ErrInvalidToken", jti, err)
		}
	}
	if len(notified) != 1 || notified[0] != "7 [s1]" {
		t.Errorf("OnRevoked listeners: got %v, want [7 [s1]]", notified)
	}
	// Other sessions of the user are unaffected.
	if _, err := a.Verify(context.Background(), k.token(t, accesstoken.TypeAccess, "j2", "s2")); err != nil {
		t.Errorf("another session: got %v, want accepted", err)
	}
}

func TestSubscribeRevocations(t *testing.T) {
	k := newKeys(t)
	nc, err := nats.Connect(testenv.NATSURL())
	if err != nil {
		t.Fatalf("NATS: %v", err)
	}
	defer nc.Close()
	subj := subjects.New(testenv.Prefix(t))
	a := auth.New(k.verifier, nil, slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)))
	got := make(chan string, 4)
	a.OnRevoked(func(uid int64, sessions []string) { got <- fmt.Sprint(uid, sessions) })
	unsub, err := a.SubscribeRevocations(nc, subj)
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	older, tok, other := k.token(t, accesstoken.TypeAccess, "j1", "nats-fam"), k.token(t, accesstoken.TypeAccess, "j2", "nats-fam"),
		k.token(t, accesstoken.TypeAccess, "j3", "other-fam")
	for _, tk := range []string{older, tok, other} {
		if _, err := a.Verify(context.Background(), tk); err != nil {
			t.Fatalf("before revocation: %v", err)
		}
	}
	event := []byte(`{"sessions":["nats-fam"],"jti":"j2","reason":"logout"}`)
	// Another prefix (another deployment or test) must not reach us.
	if err := nc.Publish(subjects.New("other.").UserRevoked(7), event); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(subj.UserRevoked(7), event); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev != "7 [nats-fam]" {
			t.Errorf("revoked: got %s, want user 7 session nats-fam", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no revocation within 5 s")
	}
	for name, tk := range map[string]string{"logged-out token": tok, "older token of the session": older} {
		if _, err := a.Verify(context.Background(), tk); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s after revocation: got %v, want ErrInvalidToken", name, err)
		}
	}
	if _, err := a.Verify(context.Background(), other); err != nil {
		t.Errorf("another session of the user after revocation: got %v, want accepted", err)
	}
	select {
	case ev := <-got:
		t.Errorf("unexpected second revocation %s", ev)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestCheckCSRF(t *testing.T) {
	o := auth.NewOrigins([]string{"https://app.example.com", "http://localhost:8080/", "http://plain.example.com"}, false)
	cases := []struct {
		name    string
		method  string
		host    string
		origin  string
		referer string
		want    bool
	}{
		{"same host and scheme", "POST", "api.example.com:8443", "http://api.example.com:8443", "", true},
		{"same host, other scheme", "DELETE", "api.example.com:8443", "https://api.example.com:8443", "", false},
		{"same host, default port written out", "POST", "api.example.com", "http://api.example.com:80", "", true},
		{"allowlisted host, other scheme", "POST", "api.example.com", "https://plain.example.com", "", false},
		{"allowlisted, default port written out", "POST", "api.example.com", "https://app.example.com:443", "", true},
		{"GET is safe", "GET", "api.example.com", "https://evil.example", "", true},
		{"HEAD is safe", "HEAD", "api.example.com", "", "", true},
		{"allowlisted origin", "POST", "api.example.com", "https://app.example.com", "", true},
		{"allowlisted, case and slash normalised", "PATCH", "api.example.com", "HTTP://LOCALHOST:8080", "", true},
		{"foreign origin", "POST", "api.example.com", "https://evil.example", "", false},
		{"foreign origin, allowed referer", "POST", "api.example.com", "https://evil.example", "https://app.example.com/x", false},
		{"port differs", "POST", "api.example.com", "https://app.example.com:444", "", false},
		{"suffix trick", "POST", "api.example.com", "https://app.example.com.evil.example", "", false},
		{"null origin", "PUT", "api.example.com", "null", "", false},
		{"no origin, allowed referer", "POST", "api.example.com", "", "https://app.example.com/profile/edit", true},
		{"no origin, foreign referer", "POST", "api.example.com", "", "https://evil.example/", false},
		{"neither", "POST", "api.example.com", "", "", false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(tc.method, "http://"+tc.host+"/api/user/profile/", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.referer != "" {
			r.Header.Set("Referer", tc.referer)
		}
		if got := o.CheckCSRF(r); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// The WebSocket handshake: no Origin (non-browser) is fine, a foreign one is not.
	r := httptest.NewRequest("GET", "http://api.example.com/ws/chat/1/chat/", nil)
	if !o.RequestAllowed(r) {
		t.Errorf("handshake without Origin refused")
	}
	r.Header.Set("Origin", "https://evil.example")
	if o.RequestAllowed(r) {
		t.Errorf("handshake from a foreign Origin allowed")
	}
}

// TestOwnOriginScheme: behind a proxy that ends TLS (COOKIE_SECURE) the
// gateway's own origin is https://<host>, and http://<host> is foreign.
func TestOwnOriginScheme(t *testing.T) {
	o := auth.NewOrigins(nil, true)
	r := httptest.NewRequest("GET", "http://chat.example.com/ws/chat/1/chat/", nil)
	for origin, want := range map[string]bool{
		"https://chat.example.com":     true,
		"https://chat.example.com:443": true,
		"http://chat.example.com":      false,
	} {
		r.Header.Set("Origin", origin)
		if got := o.RequestAllowed(r); got != want {
			t.Errorf("Origin %s: got %v, want %v", origin, got, want)
		}
	}
}
