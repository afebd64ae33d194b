package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/cobraspace/cobraspace/platform/testenv"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
)

// slowUsers is a user service whose Register waits until released, to
// have a REST request in flight during shutdown.
type slowUsers struct {
	userv1.UnimplementedUserServiceServer
	started chan struct{}
	release chan struct{}
}

func (s *slowUsers) Register(_ context.Context, req *userv1.RegisterRequest) (*userv1.RegisterResponse, error) {
	close(s.started)
	<-s.release
	return &userv1.RegisterResponse{Profile: &userv1.Profile{UserId: 1, Email: req.GetEmail(), ProfilePictureUrl: "/media/x"}}, nil
}

// TestGracefulShutdown checks RELIABILITY.md F2 on run itself: after the
// stop signal readiness fails at once, the in-flight REST request still
// completes, and run returns without error.
func TestGracefulShutdown(t *testing.T) {
	fake := &slowUsers{started: make(chan struct{}), release: make(chan struct{})}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	userv1.RegisterUserServiceServer(gs, fake)
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()

	_, pub := testenv.KeyPair(t)
	env := map[string]string{
		"HTTP_ADDR":           "127.0.0.1:0",
		"ADMIN_ADDR":          "127.0.0.1:0",
		"USER_SERVICE_ADDR":   lis.Addr().String(),
		"POST_SERVICE_ADDR":   "127.0.0.1:1",
		"CHAT_SERVICE_ADDR":   "127.0.0.1:1",
		"JWT_PUBLIC_KEY_FILE": pub,
		"SERVICE_KEY_FILE":    testenv.ServiceKey(t),
		"REDIS_URL":           testenv.RedisURL(),
		"NATS_URL":            testenv.NATSURL(),
		"NATS_PREFIX":         testenv.Prefix(t),
		"DRAIN_DELAY":         "500ms",
		"SHUTDOWN_GRACE":      "10s",
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, nil, func(k string) string { return env[k] }, pw)
		pw.Close()
	}()
	var addrs struct{ HTTP, Admin string }
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"msg":"listening"`) {
			if err := json.Unmarshal(sc.Bytes(), &addrs); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if addrs.HTTP == "" {
		t.Fatalf("no listening line; run: %v", <-done)
	}
	ready := func() int {
		resp, err := http.Get("http://" + addrs.Admin + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("readyz before shutdown: got %d, want 200", got)
	}

	type result struct {
		status int
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+addrs.HTTP+"/api/user/registration/", "application/json",
			strings.NewReader(`{"email":"a@example.com","password":"correct-horse-battery"}`))
		if err != nil {
			inflight <- result{err: err}
			return
		}
		resp.Body.Close()
		inflight <- result{status: resp.StatusCode}
	}()
	<-fake.started

	stop() // SIGTERM
	deadline := time.Now().Add(400 * time.Millisecond)
	for ready() != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("readyz still not failing 400 ms after the stop signal")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The drain delay is not over yet: the server still takes requests.
	resp, err := http.Get("http://" + addrs.HTTP + "/api/nope/")
	if err != nil {
		t.Fatalf("request during the drain delay: %v", err)
	}
	resp.Body.Close()

	time.Sleep(700 * time.Millisecond) // past the drain delay: Shutdown waits for the request
	select {
	case err := <-done:
		t.Fatalf("run returned (%v) while a request was in flight", err)
	default:
	}
	close(fake.release)
	if r := <-inflight; r.err != nil || r.status != http.StatusCreated {
		t.Errorf("in-flight request: got %d, %v; want 201", r.status, r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after shutdown")
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{"JWT_PUBLIC_KEY_FILE": "/k", "SERVICE_KEY_FILE": testenv.ServiceKey(t),
		"TRUSTED_PROXY_CIDRS": "10.0.0.0/8, 192.168.1.7", "ALLOWED_ORIGINS": "https://a.example"}
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	// Listen on loopback unless told otherwise (deployments set the
	// addresses: the images' ENV, scripts/run.sh).
	if c.httpAddr != "127.0.0.1:8080" || c.adminAddr != "127.0.0.1:9180" || c.drainDelay != 2*time.Second || c.shutdownGrace != 25*time.Second || c.cookieSecure {
		t.Errorf("defaults: %+v", c)
	}
	if len(c.trustedProxies) != 2 || c.trustedProxies[1].String() != "192.168.1.7/32" {
		t.Errorf("trusted proxies: %v", c.trustedProxies)
	}
	if len(c.allowedOrigins) != 1 || c.allowedOrigins[0] != "https://a.example" {
		t.Errorf("origins: %v", c.allowedOrigins)
	}
	if c.maxSocketsPerIP != 500 || c.maxSocketsPerUser != 20 {
		t.Errorf("socket limits: per IP %d, per user %d, want 500 and 20", c.maxSocketsPerIP, c.maxSocketsPerUser)
	}
	if c.redis.Mode() != "single" {
		t.Errorf("redis: got %s, want the single node by default", c.redis.Mode())
	}
	env["REDIS_SENTINEL_ADDRS"], env["REDIS_SENTINEL_MASTER"] = "s1:26379,s2:26379", "cobra"
	if c, err = loadConfig(func(k string) string { return env[k] }); err != nil || c.redis.Mode() != "sentinel" {
		t.Errorf("redis with REDIS_SENTINEL_*: got %s, %v; want sentinel", c.redis.Mode(), err)
	}
	env = map[string]string{"TRUSTED_PROXY_CIDRS": "nonsense", "SHUTDOWN_GRACE": "soon", "LOG_LEVEL": "loud", "MAX_SOCKETS_PER_IP": "-1",
		"REDIS_SENTINEL_MASTER": "cobra"}
	_, err = loadConfig(func(k string) string { return env[k] })
	for _, want := range []string{"JWT_PUBLIC_KEY_FILE", "TRUSTED_PROXY_CIDRS", "SHUTDOWN_GRACE", "LOG_LEVEL", "MAX_SOCKETS_PER_IP", "SERVICE_KEY_FILE", "REDIS_SENTINEL_ADDRS"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad config: error %v does not name %s", err, want)
		}
	}
}
