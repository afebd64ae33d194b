// Command gateway is Cobra Space's public edge: the REST API and the chat
// WebSocket in front of the user, post and chat services (gRPC), and the
// browser client. It keeps no data; any replica serves any client.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/adminhttp"
	"github.com/cobraspace/cobraspace/platform/envconfig"
	"github.com/cobraspace/cobraspace/platform/gctune"
	"github.com/cobraspace/cobraspace/platform/grpcclient"
	"github.com/cobraspace/cobraspace/platform/natsconn"
	"github.com/cobraspace/cobraspace/platform/process"
	"github.com/cobraspace/cobraspace/platform/redisconn"
	"github.com/cobraspace/cobraspace/platform/revocation"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/platform/tracing"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	postv1 "github.com/cobraspace/cobraspace/proto/cobraspace/post/v1"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatroute"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/natsbridge"
	"github.com/cobraspace/cobraspace/services/gateway/internal/httpapi"
	"github.com/cobraspace/cobraspace/services/gateway/internal/ratelimit"
	"github.com/cobraspace/cobraspace/services/gateway/internal/web"
)

// version and commit identify the build; the image build sets them with
// -ldflags "-X main.version=... -X main.commit=..." (see deploy/Dockerfile). They
// are logged at start and exported as cobra_build_info.
var version, commit = "dev", "unknown"

func main() {
	process.Main("gateway", func(ctx context.Context) error { return run(ctx, os.Args, os.Getenv, os.Stdout) })
}

// verifiedTokens bounds the verified-token cache: 20,000 tokens of ~0.5 KB
// (text and claims) at most, ~10 MB.
const verifiedTokens = 20000

// defaultOrigins are the browser origins allowed by default: the gateway
// itself in local development (make run uses 8080 and 8081).
var defaultOrigins = []string{
	"http://localhost:8080", "http://localhost:8081",
	"http://127.0.0.1:8080", "http://127.0.0.1:8081",
}

type config struct {
	httpAddr, adminAddr                 string
	userAddr, postAddr, chatAddr        string
	redis                               redisconn.Config
	redisPrefix                         string
	nats                                natsconn.Config
	natsPrefix                          string
	publicKeyFile                       string
	allowedOrigins                      []string
	cookieSecure                        bool
	gatewayID                           string
	trustedProxies                      []netip.Prefix
	shutdownGrace, drainDelay           time.Duration
	logLevel                            slog.Level
	maxSocketsPerUser, socketSendQueue  int
	maxSocketsPerIP                     int
	userStreamRooms                     int
	pingInterval, pongTimeout           time.Duration
	kernelSendBuf                       int
	sendBatchWait                       time.Duration
	readTimeout, writeTimeout, idleTime time.Duration
	trust                               servicetrust.Config
}

func loadConfig(getenv func(string) string) (config, error) {
	env := envconfig.New(getenv)
	c := config{
		httpAddr:          env.String("HTTP_ADDR", "127.0.0.1:8080"),
		adminAddr:         env.String("ADMIN_ADDR", "127.0.0.1:9180"),
		userAddr:          env.String("USER_SERVICE_ADDR", "127.0.0.1:9001"),
		postAddr:          env.String("POST_SERVICE_ADDR", "127.0.0.1:9002"),
		chatAddr:          env.String("CHAT_SERVICE_ADDR", "127.0.0.1:9003"),
		redisPrefix:       env.String("REDIS_PREFIX", ""),
		natsPrefix:        env.String("NATS_PREFIX", ""),
		publicKeyFile:     env.Required("JWT_PUBLIC_KEY_FILE"),
		allowedOrigins:    env.List("ALLOWED_ORIGINS", defaultOrigins),
		cookieSecure:      env.Bool("COOKIE_SECURE", false),
		gatewayID:         env.String("GATEWAY_ID", defaultGatewayID()),
		shutdownGrace:     env.Duration("SHUTDOWN_GRACE", 25*time.Second),
		drainDelay:        env.Duration("DRAIN_DELAY", 2*time.Second),
		maxSocketsPerUser: env.Int("MAX_SOCKETS_PER_USER", 20),
		maxSocketsPerIP:   env.Int("MAX_SOCKETS_PER_IP", 500),
		userStreamRooms:   env.Int("USER_STREAM_ROOMS", 100),
		socketSendQueue:   env.Int("SOCKET_SEND_QUEUE", 1024),
		pingInterval:      env.Duration("PING_INTERVAL", 25*time.Second),
		pongTimeout:       env.Duration("PONG_TIMEOUT", 60*time.Second),
		kernelSendBuf:     env.Int("SOCKET_KERNEL_SEND_BUFFER", 0),
		sendBatchWait:     env.Duration("CHAT_SEND_BATCH_WAIT", 3*time.Millisecond),
		readTimeout:       env.Duration("HTTP_READ_TIMEOUT", 30*time.Second),
		writeTimeout:      env.Duration("HTTP_WRITE_TIMEOUT", 30*time.Second),
		idleTime:          env.Duration("HTTP_IDLE_TIMEOUT", 120*time.Second),
	}
	var errs []error
	if c.maxSocketsPerIP < 0 {
		errs = append(errs, errors.New("MAX_SOCKETS_PER_IP: must be 0 (unlimited) or more"))
	}
	for _, s := range env.List("TRUSTED_PROXY_CIDRS", nil) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			// A single address is a /32 (or /128).
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("TRUSTED_PROXY_CIDRS: %q is not a CIDR or address", s))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.trustedProxies = append(c.trustedProxies, p.Masked())
	}
	if err := c.logLevel.UnmarshalText([]byte(env.String("LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %w", err))
	}
	if err := env.Err(); err != nil {
		errs = append([]error{err}, errs...)
	}
	trust, err := servicetrust.Load(env, "gateway")
	if err != nil {
		errs = append(errs, err)
	}
	c.trust = trust
	if c.nats, err = natsconn.Load(env); err != nil {
		errs = append(errs, err)
	}
	if c.redis, err = redisconn.Load(env); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// defaultGatewayID is hostname-random: unique per process, readable in
// logs and in the chat service's presence records.
func defaultGatewayID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "gateway"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// shutdownHooks are the closers run during graceful shutdown, in parallel
// with the HTTP server's Shutdown (which neither knows nor waits for
// hijacked WebSocket connections).
type shutdownHooks struct {
	mu  sync.Mutex
	fns []func(context.Context) error
}

// Add registers fn to run at shutdown with the grace period's context.
func (h *shutdownHooks) Add(fn func(context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fns = append(h.fns, fn)
}

func (h *shutdownHooks) run(ctx context.Context) error {
	h.mu.Lock()
	fns := append([]func(context.Context) error(nil), h.fns...)
	h.mu.Unlock()
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { errs[i] = fn(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func run(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	gcCtx, stopGC := context.WithCancel(ctx)
	defer stopGC()
	go gctune.LowerWhenIdle(gcCtx, getenv)
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.logLevel})).With("service", "gateway", "gateway_id", cfg.gatewayID)
	log.Info("starting", "version", version, "commit", commit, "redis", cfg.redis.Mode())
	stopTracing, err := tracing.Setup(ctx, "gateway", getenv)
	if err != nil {
		return err
	}
	defer tracing.Stop(ctx, stopTracing, log)

	pub, err := accesstoken.LoadPublicKeyFile(cfg.publicKeyFile)
	if err != nil {
		return err
	}
	// Each socket handshake and REST call verifies its access token; a
	// client's sockets and calls share one token, so remembering verified
	// tokens skips most Ed25519 checks (a reconnect storm re-verifies every
	// socket: BENCHMARKS.md M4). Revocation is still checked per request
	// (auth.Authenticator), so a cached token is refused once its session
	// is revoked.
	verifier := accesstoken.NewVerifier(pub).WithCache(verifiedTokens)

	userConn, err := grpcclient.Dial(cfg.userAddr, cfg.trust)
	if err != nil {
		return err
	}
	defer userConn.Close()
	postConn, err := grpcclient.Dial(cfg.postAddr, cfg.trust)
	if err != nil {
		return err
	}
	defer postConn.Close()
	chatConn, err := grpcclient.Dial(cfg.chatAddr, cfg.trust)
	if err != nil {
		return err
	}
	defer chatConn.Close()
	chatClient := chatv1.NewChatServiceClient(chatConn)
	// Socket sends go to one chat pod per room (internal/chatroute); every
	// other chat call is balanced over the pods by chatConn.
	chatPods, err := chatroute.New(ctx, cfg.chatAddr, func(addr, authority string) (chatv1.ChatServiceClient, func(), error) {
		conn, err := grpcclient.DialPod(addr, authority, cfg.trust)
		if err != nil {
			return nil, nil, err
		}
		return chatv1.NewChatServiceClient(conn), func() { _ = conn.Close() }, nil
	}, chatClient, log)
	if err != nil {
		return err
	}
	defer chatPods.Close()

	// Short timeouts: Redis holds the revocation denylist and the per-user
	// chat send limit here, which both fail open; a slow Redis must not
	// stall requests.
	rdb, err := redisconn.New(cfg.redis, func(o *redis.UniversalOptions) {
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
	})
	if err != nil {
		return err
	}
	defer rdb.Close()

	nc, err := natsconn.Connect(cfg.nats, "gateway "+cfg.gatewayID, log)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer nc.Close()

	reg := adminhttp.NewRegistry()
	if err := adminhttp.RegisterBuildInfo(reg, version, commit); err != nil {
		return err
	}
	authn := auth.New(verifier, revocation.New(rdb, cfg.redisPrefix), log)
	unsubRevoked, err := authn.SubscribeRevocations(nc, subjects.New(cfg.natsPrefix))
	if err != nil {
		return fmt.Errorf("nats: subscribe revocations: %w", err)
	}
	defer unsubRevoked()
	origins := auth.NewOrigins(cfg.allowedOrigins, cfg.cookieSecure)
	// One chat send limit per user for sockets and REST, on every replica.
	sendLimit := ratelimit.NewUsers(rdb, cfg.redisPrefix, log)
	if err := sendLimit.Register(reg); err != nil {
		return err
	}

	// Chat sockets: the hub bridges this replica's sockets to NATS; a
	// logout anywhere closes the user's sockets here.
	socketMetrics, err := chatsocket.NewMetrics(reg)
	if err != nil {
		return err
	}
	bridge := natsbridge.New(nc, cfg.natsPrefix)
	userClient := userv1.NewUserServiceClient(userConn)
	if err := bridge.RegisterMetrics(reg); err != nil {
		return err
	}
	hub := chatsocket.NewHub(chatsocket.Config{
		GatewayID:         cfg.gatewayID,
		MaxSocketsPerUser: cfg.maxSocketsPerUser,
		MaxSocketsPerIP:   cfg.maxSocketsPerIP,
		SendQueue:         cfg.socketSendQueue,
		PingInterval:      cfg.pingInterval,
		PongTimeout:       cfg.pongTimeout,
		KernelSendBuffer:  cfg.kernelSendBuf,
		SendBatchWait:     cfg.sendBatchWait,
		Route:             chatPods.Pick,
		SendLimit:         sendLimit,
		BlockedIDs: func(ctx context.Context, userID int64) ([]int64, error) {
			resp, err := userClient.GetBlockedIds(ctx, &userv1.GetBlockedIdsRequest{UserId: userID})
			return resp.GetUserIds(), err
		},
		UserRooms: cfg.userStreamRooms,
	}, chatClient, bridge, log, socketMetrics)
	unsubBlocks, err := bridge.SubscribeBlocks(hub.BlockChanged)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer unsubBlocks()
	authn.OnRevoked(func(userID int64, sessionIDs []string) { hub.CloseSessions(userID, sessionIDs, "logged out") })
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHub()
	go hub.Run(hubCtx)
	chatPods.OnChange(hub.ForgetChatPods)
	go chatPods.Run(hubCtx, 10*time.Second)

	var hooks shutdownHooks
	hooks.Add(hub.Shutdown)

	handshake := chatsocket.Handshake{
		Authenticate: func(r *http.Request) (chatsocket.Principal, error) {
			id, err := authn.Authenticate(r)
			if err != nil {
				return chatsocket.Principal{}, err
			}
			return chatsocket.Principal{UserID: id.UserID, Email: id.Email, Token: id.Token, SessionID: id.SessionID, ExpiresAt: id.ExpiresAt}, nil
		},
		OriginAllowed: origins.RequestAllowed,
		Error:         httpapi.WriteError,
		ClientIP:      func(r *http.Request) string { return httpapi.ClientIP(cfg.trustedProxies, r) },
	}
	socket := chatsocket.NewHandler(hub, handshake)
	userSocket := chatsocket.NewUserHandler(hub, handshake)
	webHandler, err := web.Handler()
	if err != nil {
		return err
	}
	api, err := httpapi.NewServer(httpapi.Config{
		Logger:         log,
		Auth:           authn,
		Origins:        origins,
		Users:          userClient,
		Posts:          postv1.NewPostServiceClient(postConn),
		Chat:           chatClient,
		CookieSecure:   cfg.cookieSecure,
		TrustedProxies: cfg.trustedProxies,
		ChatSocket:     socket,
		UserSocket:     userSocket,
		Web:            webHandler,
		Metrics:        reg,
		SendLimit:      sendLimit,
	})
	if err != nil {
		return err
	}

	lis, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return err
	}
	alis, err := net.Listen("tcp", cfg.adminAddr)
	if err != nil {
		lis.Close()
		return err
	}
	// The listening line is written whatever LOG_LEVEL says: harnesses
	// read the ports from it.
	slog.New(slog.NewJSONHandler(stdout, nil)).Info("listening",
		"http", lis.Addr().String(), "admin", alis.Addr().String(), "gateway_id", cfg.gatewayID)

	var draining atomic.Bool
	ready := func() error {
		if draining.Load() {
			return errors.New("draining")
		}
		return nil
	}
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAdmin()
	adminDone := make(chan error, 1)
	go func() { adminDone <- adminhttp.Serve(adminCtx, alis, adminhttp.Handler(reg, ready)) }()

	var handler http.Handler = api
	if tracing.Enabled(getenv) {
		// Server spans for REST calls, continued by the gRPC client spans.
		// Chat sockets are left out: a span open for the socket's hours of
		// life tells nothing (their messages are traced from the chat
		// service through NATS instead).
		handler = otelhttp.NewHandler(api, "gateway", otelhttp.WithFilter(func(r *http.Request) bool {
			return !strings.HasPrefix(r.URL.Path, "/ws/")
		}))
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		// Whole-request limits suited to REST (a 5 MiB picture over a slow
		// link still fits); the WebSocket upgrade clears them when it
		// hijacks the connection.
		ReadTimeout:    cfg.readTimeout,
		WriteTimeout:   cfg.writeTimeout,
		IdleTimeout:    cfg.idleTime,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case err := <-adminDone:
		return fmt.Errorf("admin server: %w", err)
	case <-ctx.Done():
	}

	// Graceful stop (RELIABILITY.md F2): fail readiness first so balancers
	// stop sending new clients, wait for them to notice, then finish
	// in-flight REST requests and close the sockets (1012) in parallel.
	log.Info("shutting down", "drain_delay", cfg.drainDelay.String(), "grace", cfg.shutdownGrace.String())
	draining.Store(true)
	time.Sleep(cfg.drainDelay)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
	defer cancel()
	var wg sync.WaitGroup
	var httpErr, hookErr error
	wg.Go(func() { httpErr = srv.Shutdown(sctx) })
	wg.Go(func() { hookErr = hooks.run(sctx) })
	wg.Wait()
	stopHub()
	stopAdmin()
	if err := <-adminDone; err != nil {
		log.Warn("admin server stopped with an error", "err", err)
	}
	if err := errors.Join(httpErr, hookErr); err != nil {
		log.Warn("shutdown incomplete", "err", err)
		return err
	}
	log.Info("stopped")
	return nil
}
