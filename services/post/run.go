package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/adminhttp"
	"github.com/cobraspace/cobraspace/platform/envconfig"
	"github.com/cobraspace/cobraspace/platform/grpcclient"
	"github.com/cobraspace/cobraspace/platform/grpcserver"
	"github.com/cobraspace/cobraspace/platform/pgdb"
	"github.com/cobraspace/cobraspace/platform/revocation"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/tracing"
	postv1 "github.com/cobraspace/cobraspace/proto/cobraspace/post/v1"
	"github.com/cobraspace/cobraspace/services/post/internal/chatclient"
	"github.com/cobraspace/cobraspace/services/post/internal/post"
	"github.com/cobraspace/cobraspace/services/post/internal/postgres"
	"github.com/cobraspace/cobraspace/services/post/internal/postgres/migrations"
	"github.com/cobraspace/cobraspace/services/post/internal/rpc"
)

// config is everything read from the environment (see README.md).
type config struct {
	grpcAddr, adminAddr   string
	databaseURL           string
	redisURL, redisPrefix string
	publicKeyFile         string
	chatServiceAddr       string
	logLevel              slog.Level
	drainDelay            time.Duration
	trust                 servicetrust.Config
}

func loadConfig(getenv func(string) string) (config, error) {
	env := envconfig.New(getenv)
	c := config{
		grpcAddr:        env.String("GRPC_ADDR", "127.0.0.1:9002"),
		adminAddr:       env.String("ADMIN_ADDR", "127.0.0.1:9102"),
		databaseURL:     env.Required("DATABASE_URL"),
		redisURL:        env.String("REDIS_URL", "redis://127.0.0.1:6379/0"),
		redisPrefix:     env.String("REDIS_PREFIX", ""),
		publicKeyFile:   env.Required("JWT_PUBLIC_KEY_FILE"),
		chatServiceAddr: env.String("CHAT_SERVICE_ADDR", "127.0.0.1:9003"),
		drainDelay:      env.Duration("DRAIN_DELAY", 0),
	}
	if err := c.logLevel.UnmarshalText([]byte(env.String("LOG_LEVEL", "info"))); err != nil {
		return config{}, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	if err := env.Err(); err != nil {
		return config{}, err
	}
	var err error
	if c.trust, err = servicetrust.Load(env, "post"); err != nil {
		return config{}, err
	}
	return c, nil
}

// run starts the service and blocks until ctx ends (then stops gracefully)
// or a server fails.
func run(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.logLevel}))
	logger.Info("starting", "service", "post", "version", version, "commit", commit)
	stopTracing, err := tracing.Setup(ctx, "post", getenv)
	if err != nil {
		return err
	}
	defer tracing.Stop(ctx, stopTracing, logger)

	pub, err := accesstoken.LoadPublicKeyFile(cfg.publicKeyFile)
	if err != nil {
		return err
	}
	pool, err := pgdb.Open(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pgdb.Migrate(ctx, pool, migrations.FS, logger); err != nil {
		return err
	}
	// The chat service is dialled lazily: the post service starts (and
	// serves reads) while it is down; writes then answer UNAVAILABLE.
	chatConn, err := grpcclient.Dial(cfg.chatServiceAddr, cfg.trust)
	if err != nil {
		return fmt.Errorf("CHAT_SERVICE_ADDR: %w", err)
	}
	defer chatConn.Close()

	// Redis holds only the session denylist here, which fails open: a slow
	// or dead Redis must not stall calls (platform/revocation).
	ropt, err := goredis.ParseURL(cfg.redisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	ropt.DialTimeout, ropt.ReadTimeout, ropt.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
	rdb := goredis.NewClient(ropt)
	defer rdb.Close()

	svc := post.NewService(postgres.NewStore(pool), chatclient.New(chatConn, logger), logger)

	reg := adminhttp.NewRegistry()
	if err := pgdb.RegisterPoolMetrics(reg, pool); err != nil {
		return err
	}
	if err := adminhttp.RegisterBuildInfo(reg, version, commit); err != nil {
		return err
	}
	gs := grpcserver.New(grpcserver.Config{
		Logger: logger, Metrics: reg, Verifier: accesstoken.NewVerifier(pub), AnonymousMethods: rpc.AnonymousMethods(),
		Revoked: revocation.NewChecker(revocation.New(rdb, cfg.redisPrefix), logger).Revoked,
		Trust:   cfg.trust,
	})
	postv1.RegisterPostServiceServer(gs, rpc.New(svc, logger))

	err = gs.ListenAndServe(ctx, grpcserver.Addrs{GRPC: cfg.grpcAddr, Admin: cfg.adminAddr}, cfg.drainDelay, reg,
		func(ctx context.Context) error { return pool.Ping(ctx) }, stdout)
	logger.Info("stopped")
	return err
}
