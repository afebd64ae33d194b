// Package stack starts a private Cobra Space system for benchmarks: the
// user, post and chat services and N gateway replicas as real processes
// (the binaries `make build` makes), on free loopback ports, with fresh
// databases and a unique Redis/NATS prefix, so a benchmark never disturbs
// tests or `make run` on the same machine. It records how long each process
// took from exec to ready (BENCHMARKS.md M8).
package stack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/bench/internal/procstat"
	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
)

// Options configure a Stack.
type Options struct {
	Root       string // repository root (holds go.work)
	BinDir     string // where the service binaries are (Build puts them there)
	WorkDir    string // keys and process logs
	Gateways   int    // replicas (default 2)
	PGAdminURL string // default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
	RedisURL   string // default redis://127.0.0.1:6379/0
	NATSURL    string // default nats://127.0.0.1:4222
	LogLevel   string // services' LOG_LEVEL (default warn: per-request logs would be measured too)
	RunID      string // names the databases and the Redis/NATS prefix
	Logf       func(format string, args ...any)
	// ChatReplicas is the number of chat service processes (default 1);
	// gateways and post get every address (CHAT_SERVICE_ADDR list).
	ChatReplicas int
	// Env adds KEY=VALUE settings per process kind ("user", "chat", "post",
	// "gateway"), after the stack's own (bench -env).
	Env map[string][]string
}

// Build compiles the service binaries into binDir.
func Build(ctx context.Context, root, binDir string) error {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", binDir+string(os.PathSeparator),
		"./services/user", "./services/post", "./services/chat", "./services/gateway")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("stack: go build: %w\n%s", err, out)
	}
	return nil
}

// Proc is one process of the stack. It keeps its ports across restarts so
// that the others keep reaching it.
type Proc struct {
	Name  string
	bin   string
	env   []string
	Addr  string // gRPC or HTTP listen address
	Admin string // admin HTTP address (/readyz)
	log   string

	cmd      *exec.Cmd
	exited   chan struct{}
	stopping atomic.Bool
	// OnExit is called when the process exits without Stop or Kill.
	OnExit func(p *Proc, err error)
	// ReadyIn is exec → /readyz answering 200, for the last start.
	ReadyIn time.Duration
}

// PID is the process id of the running process (0 when stopped).
func (p *Proc) PID() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Start execs the process and waits until it is ready.
func (p *Proc) Start(ctx context.Context) error {
	lf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = lf, lf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("stack: starting %s: %w", p.Name, err)
	}
	p.cmd = cmd
	p.exited = make(chan struct{})
	p.stopping.Store(false)
	go func() {
		err := cmd.Wait()
		if !p.stopping.Load() {
			// Not asked to stop: a crash (or someone else's signal) that
			// would otherwise only show up as refused connections.
			fmt.Fprintf(lf, "stack: %s (pid %d) exited unexpectedly: %v (%s)\n", p.Name, cmd.Process.Pid, err, cmd.ProcessState)
			if p.OnExit != nil {
				p.OnExit(p, err)
			}
		}
		lf.Close()
		close(p.exited)
	}()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("stack: %s exited during start; see %s", p.Name, p.log)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get("http://" + p.Admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.ReadyIn = time.Since(start)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stack: %s not ready within 60 s; see %s", p.Name, p.log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits (SIGKILL after 15 s).
func (p *Proc) Stop() {
	if p.PID() == 0 {
		return
	}
	p.stopping.Store(true)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

// Kill sends SIGKILL (a crash) and waits for the process to be gone.
func (p *Proc) Kill() {
	if p.PID() == 0 {
		return
	}
	p.stopping.Store(true)
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

// Stack is a running system.
type Stack struct {
	opts      Options
	User      *Proc
	Post      *Proc
	Chat      *Proc
	Chats     []*Proc // chat replicas beyond the first (Options.ChatReplicas)
	Gateways  []*Proc
	Databases map[string]string // service → database URL
	Signer    *accesstoken.Signer
	Prefix    string
	// shared are the pids of the PostgreSQL server (postmaster), NATS and
	// Redis the stack uses, found by their listening ports (0: unknown).
	shared map[string]int
}

// Start creates the databases and key pair and starts every process in
// dependency order (user, chat, post, gateways).
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.Gateways <= 0 {
		o.Gateways = 2
	}
	if o.PGAdminURL == "" {
		o.PGAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	if o.RedisURL == "" {
		o.RedisURL = "redis://127.0.0.1:6379/0"
	}
	if o.NATSURL == "" {
		o.NATSURL = "nats://127.0.0.1:4222"
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return nil, err
	}
	s := &Stack{opts: o, Databases: map[string]string{}, Prefix: "bench" + o.RunID + "."}
	priv, pub := filepath.Join(o.WorkDir, "jwt.key"), filepath.Join(o.WorkDir, "jwt.pub")
	if err := accesstoken.WriteKeyFiles(priv, pub); err != nil {
		return nil, err
	}
	serviceKey := s.ServiceKeyFile()
	if err := servicetrust.WriteKeyFile(serviceKey); err != nil {
		return nil, err
	}
	key, err := accesstoken.LoadPrivateKeyFile(priv)
	if err != nil {
		return nil, err
	}
	s.Signer = accesstoken.NewSigner(key)
	s.shared = map[string]int{
		"postgres":     procstat.ListenerPID("/proc", urlPort(o.PGAdminURL, 5432)),
		"nats-server":  procstat.ListenerPID("/proc", urlPort(o.NATSURL, 4222)),
		"redis-server": procstat.ListenerPID("/proc", urlPort(o.RedisURL, 6379)),
	}

	for _, svc := range []string{"user", "post", "chat"} {
		name := "bench_" + o.RunID + "_" + svc
		if err := s.createDB(ctx, name); err != nil {
			s.Stop()
			return nil, err
		}
		s.Databases[svc] = dbURL(o.PGAdminURL, name)
	}

	if o.ChatReplicas <= 0 {
		o.ChatReplicas = 1
	}
	ports, err := freePorts(8 + 2*o.Gateways + 2*(o.ChatReplicas-1))
	if err != nil {
		s.Stop()
		return nil, err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	common := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"REDIS_URL=" + o.RedisURL, "NATS_URL=" + o.NATSURL,
		"REDIS_PREFIX=" + s.Prefix, "NATS_PREFIX=" + s.Prefix,
		"JWT_PUBLIC_KEY_FILE=" + pub, "SERVICE_KEY_FILE=" + serviceKey, "LOG_LEVEL=" + o.LogLevel,
	}
	proc := func(name, bin, grpc, admin string, extra ...string) *Proc {
		env := append(append(append([]string{}, common...), extra...), o.Env[bin]...)
		env = append(env, "ADMIN_ADDR="+admin)
		if grpc != "" {
			env = append(env, "GRPC_ADDR="+grpc)
		}
		return &Proc{Name: name, bin: filepath.Join(o.BinDir, bin), env: env, Addr: grpc, Admin: admin,
			log: filepath.Join(o.WorkDir, name+".log"), OnExit: func(p *Proc, err error) {
				o.Logf("stack: %s exited unexpectedly: %v; see %s", p.Name, err, p.log)
			}}
	}
	s.User = proc("user", "user", addr(0), addr(1),
		"DATABASE_URL="+s.Databases["user"], "JWT_PRIVATE_KEY_FILE="+priv)
	s.Chat = proc("chat", "chat", addr(2), addr(3),
		"DATABASE_URL="+s.Databases["chat"], "USER_SERVICE_ADDR="+addr(0))
	chatAddrs := addr(2)
	for i := 1; i < o.ChatReplicas; i++ {
		grpc, admin := addr(8+2*o.Gateways+2*(i-1)), addr(9+2*o.Gateways+2*(i-1))
		s.Chats = append(s.Chats, proc("chat-"+strconv.Itoa(i), "chat", grpc, admin,
			"DATABASE_URL="+s.Databases["chat"], "USER_SERVICE_ADDR="+addr(0)))
		chatAddrs += "," + grpc
	}
	s.Post = proc("post", "post", addr(4), addr(5),
		"DATABASE_URL="+s.Databases["post"], "CHAT_SERVICE_ADDR="+chatAddrs, "USER_SERVICE_ADDR="+addr(0))
	var origins []string
	for g := range o.Gateways {
		origins = append(origins, "http://"+addr(8+2*g))
	}
	for g := range o.Gateways {
		name := "gateway-" + string(rune('a'+g))
		p := proc(name, "gateway", "", addr(9+2*g),
			"HTTP_ADDR="+addr(8+2*g), "USER_SERVICE_ADDR="+addr(0), "POST_SERVICE_ADDR="+addr(4),
			"CHAT_SERVICE_ADDR="+chatAddrs, "ALLOWED_ORIGINS="+strings.Join(origins, ","), "GATEWAY_ID=bench-"+name,
			// Every load-generator socket comes from 127.0.0.1.
			"MAX_SOCKETS_PER_IP=0")
		p.Addr = addr(8 + 2*g)
		s.Gateways = append(s.Gateways, p)
	}
	for _, p := range s.All() {
		if err := p.Start(ctx); err != nil {
			s.Stop()
			return nil, err
		}
		o.Logf("stack: %s ready in %v (pid %d)", p.Name, p.ReadyIn.Round(time.Millisecond), p.PID())
	}
	return s, nil
}

// ServiceKeyFile is the pre-shared service key the stack's processes
// prove their identity with (a caller presenting it as "gateway" may use
// the gateway-only RPCs, e.g. SendMessages).
func (s *Stack) ServiceKeyFile() string { return filepath.Join(s.opts.WorkDir, "service.key") }

// All is every process in start order.
func (s *Stack) All() []*Proc {
	var out []*Proc
	for _, p := range []*Proc{s.User, s.Chat, s.Post} {
		if p != nil {
			out = append(out, p)
		}
	}
	out = append(out, s.Chats...)
	return append(out, s.Gateways...)
}

// GatewayURLs are the gateways' base URLs.
func (s *Stack) GatewayURLs() []string {
	out := make([]string, len(s.Gateways))
	for i, g := range s.Gateways {
		out[i] = "http://" + g.Addr
	}
	return out
}

// Groups are the process groups to sample: each process of the stack, and
// the shared PostgreSQL (the server and all its backends), NATS and Redis
// servers the stack uses — found by their listening ports, so that other
// servers of the same name on the box (a test's own NATS) are left out; they
// still include other users of these servers, which is stated with the
// figures. A server whose pid could not be found is sampled by name.
func (s *Stack) Groups() []procstat.Group {
	var gs []procstat.Group
	for _, p := range s.All() {
		if pid := p.PID(); pid != 0 {
			gs = append(gs, procstat.Group{Label: p.Name, PIDs: []int{pid}})
		}
	}
	for _, name := range []string{"postgres", "nats-server", "redis-server"} {
		g := procstat.Group{Label: name, Comm: name}
		if pid := s.shared[name]; pid != 0 {
			g.Comm = ""
			if name == "postgres" {
				g.Tree = pid
			} else {
				g.PIDs = []int{pid}
			}
		}
		gs = append(gs, g)
	}
	return append(gs, procstat.Group{Label: "load-generator", PIDs: []int{os.Getpid()}})
}

// RunBackends is the group of the PostgreSQL backends serving this stack's
// own databases (their process titles name the database), leaving out the
// server's other clients; ok is false when the server's pid is unknown.
func (s *Stack) RunBackends(label string) (procstat.Group, bool) {
	pid := s.shared["postgres"]
	return procstat.Group{Label: label, Tree: pid, Match: " bench_" + s.opts.RunID + "_"}, pid != 0
}

// urlPort is the port of a server URL, or def when it names none.
func urlPort(raw string, def int) int {
	u, err := url.Parse(raw)
	if err != nil {
		return def
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		return def
	}
	return p
}

// Stop stops every process, drops the databases and deletes the Redis keys
// under the prefix.
func (s *Stack) Stop() {
	all := s.All()
	for i := len(all) - 1; i >= 0; i-- {
		all[i].Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, svc := range []string{"user", "post", "chat"} {
		if _, ok := s.Databases[svc]; ok {
			if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{"bench_" + s.opts.RunID + "_" + svc}.Sanitize()+" WITH (FORCE)"); err != nil {
				s.opts.Logf("stack: dropping database: %v", err)
			}
		}
	}
	if opt, err := goredis.ParseURL(s.opts.RedisURL); err == nil {
		rdb := goredis.NewClient(opt)
		iter := rdb.Scan(ctx, 0, s.Prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	}
}

func (s *Stack) createDB(ctx context.Context, name string) error {
	return s.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

func (s *Stack) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.opts.PGAdminURL)
	if err != nil {
		return fmt.Errorf("stack: connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// dbURL replaces the database name of an admin URL.
func dbURL(admin, db string) string {
	i := strings.Index(admin, "://")
	if i < 0 {
		return admin
	}
	rest := admin[i+3:]
	slash := strings.IndexByte(rest, '/')
	q := ""
	if j := strings.IndexByte(rest, '?'); j >= 0 {
		q = rest[j:]
	}
	if slash < 0 {
		return admin[:i+3] + rest + "/" + db + q
	}
	return admin[:i+3] + rest[:slash] + "/" + db + q
}

// freePorts asks the kernel for n distinct free ports. They are released
// before the services bind them; a collision in between fails the start
// loudly rather than silently.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}
