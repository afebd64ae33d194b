package profile

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCPUWritesOneFilePerTargetAndLogsFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/debug/pprof/profile" && r.URL.Query().Get("seconds") == "1":
			_, _ = w.Write([]byte("profile-bytes"))
		case r.URL.Path == "/debug/pprof/heap":
			_, _ = w.Write([]byte("heap-bytes"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	var logged []string
	c := &Capturer{Dir: dir, Logf: func(f string, _ ...any) { logged = append(logged, f) }}
	admin := strings.TrimPrefix(srv.URL, "http://")
	c.CPU(context.Background(), "M1-01-window", time.Second, []Target{{"gateway-a", admin}, {"down", "127.0.0.1:1"}})()

	got, err := os.ReadFile(filepath.Join(dir, "M1-01-window-gateway-a.cpu.pprof"))
	if err != nil || string(got) != "profile-bytes" {
		t.Fatalf("profile file = %q, %v; want the served bytes", got, err)
	}
	got, err = os.ReadFile(filepath.Join(dir, "M1-01-window-gateway-a.heap.pprof"))
	if err != nil || string(got) != "heap-bytes" {
		t.Fatalf("heap profile file = %q, %v; want the served bytes", got, err)
	}
	if len(logged) != 1 {
		t.Fatalf("logged %d failures, want 1 (the unreachable target)", len(logged))
	}
	var nilCapturer *Capturer
	nilCapturer.CPU(context.Background(), "x", time.Second, []Target{{"gateway-a", admin}})()
}
