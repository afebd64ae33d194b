// Package centrifugo runs Centrifugo v6 (built from the Go module proxy by
// scripts/bench.sh) as the comparison target of the side-by-side scenarios
// S1–S3: one process on a free loopback port with the memory engine, a
// channel namespace that keeps history (so every publication carries an
// offset, like our seq) and lets subscribers publish over their sockets, and
// clients authenticated with HS256 connection JWTs, as Cobra Space's are
// with its access tokens.
package centrifugo

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/cobraspace/cobraspace/bench/internal/api"
)

// Version is the release the scenarios compare against; scripts/bench.sh
// installs exactly this one.
const Version = "v6.9.1"

// Namespace is the channel namespace the load generator's rooms live in.
const Namespace = "chat"

// Server is one running Centrifugo process.
type Server struct {
	Port    int
	Secret  []byte
	ReadyIn time.Duration
	log     string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Config returns Centrifugo v6's configuration (JSON) for a server on port
// whose connection tokens are signed with secret.
func Config(port int, secret []byte) ([]byte, error) {
	cfg := map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		// Per-connection logs would be measured too (our services run at warn).
		"log":    map[string]any{"level": "error"},
		"engine": map[string]any{"type": "memory"},
		"health": map[string]any{"enabled": true},
		"client": map[string]any{"token": map[string]any{"hmac_secret_key": string(secret)}},
		"channel": map[string]any{"namespaces": []map[string]any{{
			"name": Namespace,
			// History is what gives each publication an offset; its size
			// is a few seconds of the busiest room, like a bounded recent
			// history (ours is the whole database).
			"history_size": 1000, "history_ttl": "300s",
			"allow_subscribe_for_client":   true,
			"allow_publish_for_subscriber": true,
		}}},
	}
	return json.MarshalIndent(cfg, "", "  ")
}

// Start writes the configuration into dir and starts bin, waiting until its
// health endpoint answers.
func Start(ctx context.Context, bin, dir string) (*Server, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("centrifugo: binary %s: %w (scripts/bench.sh builds it with go install github.com/centrifugal/centrifugo/v6@%s)", bin, err, Version)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	secret = []byte(hex.EncodeToString(secret))
	cfg, err := Config(port, secret)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "centrifugo.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, err
	}
	s := &Server{Port: port, Secret: secret, log: filepath.Join(dir, "centrifugo.log"), exited: make(chan struct{})}
	lf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	cmd.Stdout, cmd.Stderr = lf, lf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("centrifugo: starting: %w", err)
	}
	s.cmd = cmd
	go func() {
		_ = cmd.Wait()
		lf.Close()
		close(s.exited)
	}()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("centrifugo: exited during start; see %s", s.log)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		default:
		}
		resp, err := client.Get(s.URL() + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.ReadyIn = time.Since(start)
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("centrifugo: not healthy within 30 s; see %s", s.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// URL is the server's base URL.
func (s *Server) URL() string { return "http://127.0.0.1:" + strconv.Itoa(s.Port) }

// PID is the process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop sends SIGTERM and waits (SIGKILL after 10 s).
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// Accounts returns n users with Centrifugo connection tokens valid for ttl.
func (s *Server) Accounts(n int, ttl time.Duration) []api.Account {
	out := make([]api.Account, n)
	exp := time.Now().Add(ttl).Unix()
	for i := range out {
		id := int64(i + 1)
		out[i] = api.Account{ID: id, Email: fmt.Sprintf("user%d@centrifugo.bench", id), Token: Token(s.Secret, strconv.FormatInt(id, 10), exp)}
	}
	return out
}

// Token is an HS256 connection JWT for user sub expiring at exp (Unix
// seconds): the claims Centrifugo requires of a connection token.
func Token(secret []byte, sub string, exp int64) string {
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]any{"sub": sub, "exp": exp})
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
