// Package stack starts the whole Cobra Space back end as real processes for
// end-to-end tests of the gateway: the user, chat and post services and N
// gateway replicas, each on port 0 with a fresh database per service, one
// Redis/NATS prefix shared by all of them, a fresh JWT key pair and a fresh
// service key (SERVICE_KEY_FILE: the services know who calls them).
//
// Binaries are built once per test binary (go build from the workspace
// root). Each process's output is kept in memory and written to the test
// log only when the test fails. Everything is stopped at test cleanup.
//
//	s := stack.Start(t, stack.Options{Gateways: 2})
//	resp, err := http.Get(s.Gateways[0] + "/api/post/")
package stack

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/testenv"
)

// Service names, as used in Options.Services and Options.Env.
const (
	User    = "user"
	Chat    = "chat"
	Post    = "post"
	Gateway = "gateway"
)

// unreachable is the address given to a gateway for a service the test did
// not start: gRPC dials lazily, so the gateway starts and calls fail with
// UNAVAILABLE.
const unreachable = "127.0.0.1:1"

// Options choose what Start runs.
type Options struct {
	// Gateways is the number of gateway replicas (default 1).
	Gateways int
	// Services lists the back-end services to start (default: user, chat
	// and post). A service left out gets an unreachable address.
	Services []string
	// Env adds or overrides environment variables per process kind
	// (User, Chat, Post, Gateway), e.g. {Gateway: {"SHUTDOWN_GRACE": "5s"}}.
	Env map[string]map[string]string
	// GatewayEnv adds variables to one replica only (index → vars), applied
	// after Env[Gateway].
	GatewayEnv map[int]map[string]string
	// LogLevel is LOG_LEVEL for every process (default "info").
	LogLevel string
	// ChatReplicas is the number of chat service processes (default 1),
	// sharing one database; ChatAddr then lists them all, comma-separated.
	ChatReplicas int
}

// Env is what the processes of one stack share.
type Env struct {
	Prefix         string            // REDIS_PREFIX and NATS_PREFIX
	RedisURL       string            // REDIS_URL
	NATSURL        string            // NATS_URL
	PrivateKeyFile string            // JWT_PRIVATE_KEY_FILE (user service)
	PublicKeyFile  string            // JWT_PUBLIC_KEY_FILE
	ServiceKeyFile string            // SERVICE_KEY_FILE (platform/servicetrust)
	DatabaseURLs   map[string]string // DATABASE_URL per service
	// VAPID is the user service's Web Push identity (VAPID_PUBLIC_KEY,
	// VAPID_PRIVATE_KEY, base64url); it may push to http://127.0.0.1
	// (PUSH_ALLOW_LOOPBACK), where tests run their push endpoints.
	VAPIDPublicKey, VAPIDPrivateKey string
}

// Stack is a running set of processes.
type Stack struct {
	// Gateways are the base URLs of the gateway replicas ("http://127.0.0.1:PORT").
	Gateways []string
	// GatewayAdmin are the admin base URLs of the replicas (/readyz, /metrics).
	GatewayAdmin []string
	// UserAddr, ChatAddr and PostAddr are the services' gRPC addresses
	// (unreachable when not started).
	UserAddr, ChatAddr, PostAddr string
	// Env is the shared environment.
	Env Env

	t        testing.TB
	opts     Options
	bins     map[string]string
	services map[string]*Process
	mu       sync.Mutex
	gateways []*Process
	chats    []*Process // chat replicas beyond the first (Options.ChatReplicas)
	retired  []*Process // replaced by Restart; kept for their logs
}

// Start builds the binaries (once per test binary), starts the services and
// gateways, waits until every process is ready and registers their stop at
// cleanup. It fails the test when anything does not come up within 30 s.
func Start(t testing.TB, opts Options) *Stack {
	t.Helper()
	if opts.Gateways <= 0 {
		opts.Gateways = 1
	}
	if opts.Services == nil {
		opts.Services = []string{User, Chat, Post}
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	names := append([]string{Gateway}, opts.Services...)
	bins, err := buildAll(names)
	if err != nil {
		t.Fatalf("stack: build: %v", err)
	}
	priv, pub := testenv.KeyPair(t)
	s := &Stack{
		t:        t,
		opts:     opts,
		bins:     bins,
		services: map[string]*Process{},
		UserAddr: unreachable, ChatAddr: unreachable, PostAddr: unreachable,
		Env: Env{
			Prefix:         testenv.Prefix(t),
			RedisURL:       testenv.RedisURL(),
			NATSURL:        testenv.NATSURL(),
			PrivateKeyFile: priv,
			PublicKeyFile:  pub,
			ServiceKeyFile: testenv.ServiceKey(t),
			DatabaseURLs:   map[string]string{},
		},
	}
	s.Env.VAPIDPrivateKey, s.Env.VAPIDPublicKey = vapidKeys(t)
	t.Cleanup(s.stopAll)
	want := map[string]bool{}
	for _, n := range opts.Services {
		want[n] = true
	}
	// Order matters only for the addresses: chat needs user's, post
	// needs both, gateways need all three.
	for _, name := range []string{User, Chat, Post} {
		if !want[name] {
			continue
		}
		s.Env.DatabaseURLs[name] = testenv.Database(t)
		p, err := s.startProcess(name, name, s.serviceEnv(name))
		if err != nil {
			t.Fatalf("stack: %v", err)
		}
		s.services[name] = p
		switch name {
		case User:
			s.UserAddr = p.GRPC
		case Chat:
			s.ChatAddr = p.GRPC
			for i := 1; i < opts.ChatReplicas; i++ {
				extra, err := s.startProcess(Chat, fmt.Sprintf("chat%d", i), s.serviceEnv(Chat))
				if err != nil {
					t.Fatalf("stack: %v", err)
				}
				s.chats = append(s.chats, extra)
				s.ChatAddr += "," + extra.GRPC
			}
		case Post:
			s.PostAddr = p.GRPC
		}
	}
	for i := range opts.Gateways {
		p, err := s.startProcess(Gateway, fmt.Sprintf("gateway%d", i), s.gatewayEnv(i, "127.0.0.1:0", "127.0.0.1:0"))
		if err != nil {
			t.Fatalf("stack: %v", err)
		}
		s.gateways = append(s.gateways, p)
		s.Gateways = append(s.Gateways, "http://"+p.HTTP)
		s.GatewayAdmin = append(s.GatewayAdmin, "http://"+p.Admin)
	}
	for _, p := range s.all() {
		if err := p.waitReady(30 * time.Second); err != nil {
			t.Fatalf("stack: %v", err)
		}
	}
	return s
}

// vapidKeys returns a fresh P-256 key pair as VAPID wants it: the private
// scalar and the uncompressed public point, base64url without padding.
func vapidKeys(t testing.TB) (priv, pub string) {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("stack: VAPID key: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(key.Bytes()), base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes())
}

func (s *Stack) common() map[string]string {
	return map[string]string{
		"REDIS_URL":           s.Env.RedisURL,
		"REDIS_PREFIX":        s.Env.Prefix,
		"NATS_URL":            s.Env.NATSURL,
		"NATS_PREFIX":         s.Env.Prefix,
		"JWT_PUBLIC_KEY_FILE": s.Env.PublicKeyFile,
		"SERVICE_KEY_FILE":    s.Env.ServiceKeyFile,
		"LOG_LEVEL":           s.opts.LogLevel,
		"ADMIN_ADDR":          "127.0.0.1:0",
		"DRAIN_DELAY":         "0s",
	}
}

func (s *Stack) serviceEnv(name string) map[string]string {
	env := s.common()
	env["GRPC_ADDR"] = "127.0.0.1:0"
	env["DATABASE_URL"] = s.Env.DatabaseURLs[name]
	switch name {
	case User:
		env["JWT_PRIVATE_KEY_FILE"] = s.Env.PrivateKeyFile
		env["VAPID_PUBLIC_KEY"] = s.Env.VAPIDPublicKey
		env["VAPID_PRIVATE_KEY"] = s.Env.VAPIDPrivateKey
		env["VAPID_SUBJECT"] = "mailto:tests@example.com"
		env["PUSH_ALLOW_LOOPBACK"] = "true"
	case Chat:
		env["USER_SERVICE_ADDR"] = s.UserAddr
	case Post:
		env["USER_SERVICE_ADDR"] = s.UserAddr
		env["CHAT_SERVICE_ADDR"] = s.ChatAddr
	}
	for k, v := range s.opts.Env[name] {
		env[k] = v
	}
	return env
}

func (s *Stack) gatewayEnv(i int, httpAddr, adminAddr string) map[string]string {
	env := s.common()
	env["HTTP_ADDR"] = httpAddr
	env["ADMIN_ADDR"] = adminAddr
	env["USER_SERVICE_ADDR"] = s.UserAddr
	env["CHAT_SERVICE_ADDR"] = s.ChatAddr
	env["POST_SERVICE_ADDR"] = s.PostAddr
	env["GATEWAY_ID"] = fmt.Sprintf("gw%d-%s", i, strings.TrimSuffix(s.Env.Prefix, "."))
	env["SHUTDOWN_GRACE"] = "10s"
	for k, v := range s.opts.Env[Gateway] {
		env[k] = v
	}
	for k, v := range s.opts.GatewayEnv[i] {
		env[k] = v
	}
	return env
}

// Process is one running (or stopped) child process.
type Process struct {
	Name  string
	HTTP  string // gateway only: public HTTP address
	GRPC  string // services only: gRPC address
	Admin string // admin address (/readyz, /metrics)
	Env   map[string]string

	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	err    error         // exit status, set before exited is closed
	logs   *ringLog
}

// ChatReplicas returns every chat service process, the first one first.
func (s *Stack) ChatReplicas() []*Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.services[Chat] == nil {
		return nil
	}
	return append([]*Process{s.services[Chat]}, s.chats...)
}

// Service returns a running back-end service process (nil when not started).
func (s *Stack) Service(name string) *Process { return s.services[name] }

// Gateway returns the i-th gateway process as currently running.
func (s *Stack) Gateway(i int) *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gateways[i]
}

// Kill sends SIGKILL to gateway i and waits for it to exit.
func (s *Stack) Kill(i int) { s.Gateway(i).signal(syscall.SIGKILL, 5*time.Second) }

// Stop sends SIGTERM to gateway i and waits (up to 30 s, then SIGKILL)
// for it to exit. It returns the process's exit error (nil for a clean
// exit).
func (s *Stack) Stop(i int) error {
	p := s.Gateway(i)
	p.signal(syscall.SIGTERM, 30*time.Second)
	return p.err
}

// Exited returns a channel closed when gateway i's current process exits.
func (s *Stack) Exited(i int) <-chan struct{} { return s.Gateway(i).exited }

// Restart stops gateway i if it still runs (SIGTERM) and starts it again
// on the same HTTP and admin ports, so s.Gateways[i] stays valid; it waits
// until the new process is ready.
func (s *Stack) Restart(i int) {
	s.t.Helper()
	old := s.Gateway(i)
	old.signal(syscall.SIGTERM, 30*time.Second)
	var p *Process
	var err error
	// The old listener's port is normally free at once; retry briefly in
	// case the kernel has not released it yet.
	for range 20 {
		p, err = s.startProcess(Gateway, old.Name, s.gatewayEnv(i, old.HTTP, old.Admin))
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("stack: restart gateway %d: %v", i, err)
	}
	s.mu.Lock()
	s.gateways[i] = p
	s.retired = append(s.retired, old)
	s.mu.Unlock()
	if err := p.waitReady(30 * time.Second); err != nil {
		s.t.Fatalf("stack: %v", err)
	}
}

// Logs returns the retained output of every process started so far.
func (s *Stack) Logs() string {
	var b strings.Builder
	s.mu.Lock()
	retired := append([]*Process(nil), s.retired...)
	s.mu.Unlock()
	for _, p := range append(retired, s.all()...) {
		fmt.Fprintf(&b, "===== %s =====\n%s", p.Name, p.logs.String())
	}
	return b.String()
}

func (s *Stack) all() []*Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps []*Process
	for _, n := range []string{User, Chat, Post} {
		if p := s.services[n]; p != nil {
			ps = append(ps, p)
		}
		if n == Chat {
			ps = append(ps, s.chats...)
		}
	}
	return append(ps, s.gateways...)
}

// stopAll stops every process and shows their logs if the test failed.
func (s *Stack) stopAll() {
	ps := s.all()
	// Gateways first, so services do not log errors about them.
	for i := len(ps) - 1; i >= 0; i-- {
		ps[i].signal(syscall.SIGTERM, 15*time.Second)
	}
	if s.t.Failed() {
		s.t.Logf("stack: process logs follow\n%s", s.Logs())
	}
}

// startProcess runs the binary of kind with env and waits for its
// listening line.
func (s *Stack) startProcess(kind, name string, env map[string]string) (*Process, error) {
	cmd := exec.Command(s.bins[kind])
	cmd.Env = baseEnv()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// Own process group: a signal to the test does not reach the children,
	// and the children die with us only through cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Process{Name: name, Env: env, cmd: cmd, exited: make(chan struct{}), logs: newRingLog(5000)}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	listening := make(chan listenLine, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = p.logs.Write(append(append([]byte(nil), line...), '\n'))
			if !sent && bytes.Contains(line, []byte(`"listening"`)) {
				var l listenLine
				if json.Unmarshal(line, &l) == nil && l.Msg == "listening" {
					listening <- l
					sent = true
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		<-scanned // Wait must not run before the pipe is drained
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case l := <-listening:
		p.HTTP, p.GRPC, p.Admin = l.HTTP, l.GRPC, l.Admin
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before listening (%w):\n%s", name, p.err, p.logs.String())
	case <-time.After(30 * time.Second):
		p.signal(syscall.SIGKILL, 5*time.Second)
		return nil, fmt.Errorf("%s: no listening line within 30 s:\n%s", name, p.logs.String())
	}
	return p, nil
}

type listenLine struct {
	Msg   string `json:"msg"`
	HTTP  string `json:"http"`
	GRPC  string `json:"grpc"`
	Admin string `json:"admin"`
}

// signal sends sig and waits up to timeout for the exit, then SIGKILLs.
func (p *Process) signal(sig syscall.Signal, timeout time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Logs returns the retained output of the process.
func (p *Process) Logs() string { return p.logs.String() }

// Running reports whether the process has not exited.
func (p *Process) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func (p *Process) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + p.Admin + "/readyz"
	var last string
	for time.Now().Before(deadline) {
		if !p.Running() {
			return fmt.Errorf("%s exited (%w) before ready:\n%s", p.Name, p.err, p.logs.String())
		}
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %v (last: %s):\n%s", p.Name, timeout, last, p.logs.String())
}

// baseEnv is the child's environment without the variables the stack sets,
// so the developer's shell (e.g. a DATABASE_URL) cannot leak in.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "HOME", "TMPDIR", "GOCOVERDIR", "GORACE", "GODEBUG", "GOMAXPROCS", "GOGC", "GOMEMLIMIT":
			env = append(env, kv)
		}
	}
	return env
}

// ringLog keeps the last max lines written to it.
type ringLog struct {
	mu      sync.Mutex
	max     int
	lines   [][]byte
	partial []byte
	dropped int
}

func newRingLog(lines int) *ringLog { return &ringLog{max: lines} }

func (r *ringLog) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.partial = append(r.partial, b...)
	data := r.partial
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		r.lines = append(r.lines, append([]byte(nil), data[:i+1]...))
		data = data[i+1:]
		if len(r.lines) > r.max {
			r.lines = r.lines[1:]
			r.dropped++
		}
	}
	r.partial = append([]byte(nil), data...)
	return len(b), nil
}

func (r *ringLog) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	if r.dropped > 0 {
		fmt.Fprintf(&b, "... %d earlier lines dropped\n", r.dropped)
	}
	for _, l := range r.lines {
		b.Write(l)
	}
	b.Write(r.partial)
	return b.String()
}

// builds caches the binaries built by this test binary.
var builds = struct {
	mu   sync.Mutex
	dir  string
	bins map[string]string
}{bins: map[string]string{}}

// buildAll returns the paths of the binaries of names, building the ones
// not built yet by this test binary.
func buildAll(names []string) (map[string]string, error) {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	var missing []string
	for _, n := range names {
		if builds.bins[n] == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		root, err := workspaceRoot()
		if err != nil {
			return nil, err
		}
		if builds.dir == "" {
			dir, err := os.MkdirTemp("", "cobraspace-stack-")
			if err != nil {
				return nil, err
			}
			builds.dir = dir
		}
		args := []string{"build", "-o", builds.dir + string(filepath.Separator)}
		for _, n := range missing {
			args = append(args, "./services/"+n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		for _, n := range missing {
			builds.bins[n] = filepath.Join(builds.dir, n)
		}
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		out[n] = builds.bins[n]
	}
	return out, nil
}

// Main runs the tests of a package that uses the stack and then removes
// the built binaries; call it from TestMain:
//
//	func TestMain(m *testing.M) { stack.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	builds.mu.Lock()
	if builds.dir != "" {
		_ = os.RemoveAll(builds.dir)
	}
	builds.mu.Unlock()
	os.Exit(code)
}

// workspaceRoot is the directory of go.work (go env GOWORK), or the first
// parent of the working directory holding a go.work.
func workspaceRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err == nil {
		if p := strings.TrimSpace(string(out)); p != "" && p != "off" {
			return filepath.Dir(p), nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work found (go env GOWORK is empty)")
		}
		dir = parent
	}
}
