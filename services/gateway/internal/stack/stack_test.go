package stack_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

func TestMain(m *testing.M) { stack.Main(m) }

// TestStartStopRestart starts a stack without the post service, checks both
// replicas answer, then stops and restarts one on the same address.
func TestStartStopRestart(t *testing.T) {
	s := stack.Start(t, stack.Options{Gateways: 2, Services: []string{stack.User, stack.Chat}})
	if got, want := len(s.Gateways), 2; got != want {
		t.Fatalf("gateways: got %d, want %d", got, want)
	}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, gw := range s.Gateways {
		if code, body := get(gw + "/api/nope/"); code != http.StatusNotFound || !strings.Contains(body, `"detail"`) {
			t.Errorf("GET %s/api/nope/: got %d %s, want 404 JSON", gw, code, body)
		}
	}
	if err := s.Stop(0); err != nil {
		t.Errorf("stop gateway 0: exit %v, want clean", err)
	}
	if _, err := http.Get(s.Gateways[0] + "/api/nope/"); err == nil {
		t.Errorf("gateway 0 still answers after Stop")
	}
	s.Restart(0)
	if code, _ := get(s.Gateways[0] + "/api/nope/"); code != http.StatusNotFound {
		t.Errorf("after restart: got %d, want 404", code)
	}
	s.Kill(1)
	if s.Gateway(1).Running() {
		t.Errorf("gateway 1 runs after Kill")
	}
	// The post service was not started: its address points to nothing.
	if s.PostAddr == "" || s.UserAddr == s.PostAddr {
		t.Errorf("addresses: user %q post %q", s.UserAddr, s.PostAddr)
	}
}
