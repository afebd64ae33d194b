package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// httpClient has a deadline on every request so a hung replica fails the
// test instead of hanging it.
var httpClient = &http.Client{Timeout: 15 * time.Second}

// call is one REST request. body is marshalled as JSON unless it is a
// []byte (sent as is with contentType).
type call struct {
	method, url, token string
	body               any
	contentType        string
	header             map[string]string
}

// do sends c and returns the status and body; a transport error is
// returned as is (status 0).
func do(c call) (int, []byte, error) {
	var rd io.Reader
	ct := c.contentType
	switch b := c.body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(data)
		if ct == "" {
			ct = "application/json"
		}
	}
	req, err := http.NewRequest(c.method, c.url, rd)
	if err != nil {
		return 0, nil, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// must is do that fails the test on a transport error or a status other
// than want, and decodes the body into out (when not nil).
func must(t testing.TB, c call, want int, out any) []byte {
	t.Helper()
	code, body, err := do(c)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.url, err)
	}
	if code != want {
		t.Fatalf("%s %s: got %d %s, want %d", c.method, c.url, code, body, want)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: body %s: %v", c.method, c.url, body, err)
		}
	}
	return body
}

// account is a registered and logged-in user.
type account struct {
	ID       int64
	Email    string
	Password string
	Token    string
}

const password = "Quiet-Lantern-7431"

// signup registers a fresh user on base and logs in.
func signup(t testing.TB, base, name string) account {
	t.Helper()
	a := account{Email: name + testenv.ID() + "@example.com", Password: password}
	must(t, call{method: "POST", url: base + "/api/user/registration/", body: map[string]string{"email": a.Email, "password": a.Password}}, http.StatusCreated, nil)
	a.ID, a.Token = login(t, base, a.Email, a.Password)
	return a
}

// login returns the user id and access token of a successful login.
func login(t testing.TB, base, email, pw string) (int64, string) {
	t.Helper()
	var out struct {
		Access  string `json:"access"`
		Profile struct {
			User int64 `json:"user"`
		} `json:"profile"`
	}
	must(t, call{method: "POST", url: base + "/api/user/login/", body: map[string]string{"email": email, "password": pw}}, http.StatusOK, &out)
	if out.Access == "" || out.Profile.User == 0 {
		t.Fatalf("login of %s: no access token or user id", email)
	}
	return out.Profile.User, out.Access
}

// createRoom creates a chat room owned by token's user.
func createRoom(t testing.TB, base, token string) int64 {
	t.Helper()
	var r struct {
		ID int64 `json:"id"`
	}
	must(t, call{method: "POST", url: base + "/api/chat/room/", token: token, body: map[string]string{"name": "faults"}}, http.StatusCreated, &r)
	return r.ID
}

func roomURL(base string, room int64) string {
	return base + "/api/chat/room/" + strconv.FormatInt(room, 10) + "/"
}

// balancer plays the load balancer in front of the replicas: it sends
// clients only to replicas whose /readyz answers 200, as Kubernetes does.
type balancer struct {
	s     *stack.Stack
	probe *http.Client
	next  atomic.Int64
}

func newBalancer(s *stack.Stack) *balancer {
	return &balancer{s: s, probe: &http.Client{Timeout: 300 * time.Millisecond}}
}

// ready reports whether replica i answers /readyz with 200.
func (b *balancer) ready(i int) bool {
	resp, err := b.probe.Get(b.s.GatewayAdmin[i] + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// pick returns a ready replica, trying prefer first (-1: round robin).
func (b *balancer) pick(prefer int) (int, string, bool) {
	n := len(b.s.Gateways)
	start := prefer
	if start < 0 {
		start = int(b.next.Add(1))
	}
	for k := range n {
		i := (start + k) % n
		if b.ready(i) {
			return i, b.s.Gateways[i], true
		}
	}
	return 0, "", false
}

// waitUntil polls cond every 20 ms until it holds or within passes.
func waitUntil(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// contextFor returns a context cancelled at test cleanup.
func contextFor(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// metric reads one unlabelled gauge or counter from an admin /metrics page.
func metric(admin, name string) (float64, error) {
	resp, err := httpClient.Get(admin + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s: no metric %s", admin, name)
}
