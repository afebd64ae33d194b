package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/adminhttp"
	"github.com/cobraspace/cobraspace/platform/envconfig"
	"github.com/cobraspace/cobraspace/platform/grpcserver"
	"github.com/cobraspace/cobraspace/platform/natsconn"
	"github.com/cobraspace/cobraspace/platform/pgdb"
	"github.com/cobraspace/cobraspace/platform/revocation"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/platform/tracing"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/user/internal/nats"
	"github.com/cobraspace/cobraspace/services/user/internal/postgres"
	"github.com/cobraspace/cobraspace/services/user/internal/postgres/migrations"
	"github.com/cobraspace/cobraspace/services/user/internal/redis"
	"github.com/cobraspace/cobraspace/services/user/internal/rpc"
	"github.com/cobraspace/cobraspace/services/user/internal/user"
)

// config is everything read from the environment (see README.md).
type config struct {
	grpcAddr, adminAddr       string
	databaseURL               string
	redisURL, redisPrefix     string
	nats                      natsconn.Config
	natsPrefix                string
	publicKeyFile, privateKey string
	logLevel                  slog.Level
	accessTTL, refreshTTL     time.Duration
	drainDelay                time.Duration
	loginLimits               redis.LoginLimits
	trust                     servicetrust.Config
}

func loadConfig(getenv func(string) string) (config, error) {
	env := envconfig.New(getenv)
	defLimits := redis.DefaultLoginLimits()
	c := config{
		grpcAddr:      env.String("GRPC_ADDR", "127.0.0.1:9001"),
		adminAddr:     env.String("ADMIN_ADDR", "127.0.0.1:9101"),
		databaseURL:   env.Required("DATABASE_URL"),
		redisURL:      env.String("REDIS_URL", "redis://127.0.0.1:6379/0"),
		redisPrefix:   env.String("REDIS_PREFIX", ""),
		natsPrefix:    env.String("NATS_PREFIX", ""),
		publicKeyFile: env.Required("JWT_PUBLIC_KEY_FILE"),
		privateKey:    env.Required("JWT_PRIVATE_KEY_FILE"),
		accessTTL:     env.Duration("ACCESS_TOKEN_TTL", 15*time.Minute),
		refreshTTL:    env.Duration("REFRESH_TOKEN_TTL", 14*24*time.Hour),
		drainDelay:    env.Duration("DRAIN_DELAY", 0),
		loginLimits: redis.LoginLimits{
			AccountIP: env.Int("LOGIN_MAX_FAILURES_PER_ACCOUNT_IP", defLimits.AccountIP),
			Account:   env.Int("LOGIN_MAX_FAILURES_PER_ACCOUNT", defLimits.Account),
			IP:        env.Int("LOGIN_MAX_FAILURES_PER_IP", defLimits.IP),
			Window:    env.Duration("LOGIN_FAILURE_WINDOW", defLimits.Window),
			BaseDelay: env.Duration("LOGIN_BACKOFF_BASE", defLimits.BaseDelay),
			MaxDelay:  env.Duration("LOGIN_BACKOFF_MAX", defLimits.MaxDelay),
		},
	}
	if err := c.logLevel.UnmarshalText([]byte(env.String("LOG_LEVEL", "info"))); err != nil {
		return config{}, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	if err := env.Err(); err != nil {
		return config{}, err
	}
	var err error
	if c.trust, err = servicetrust.Load(env, "user"); err != nil {
		return config{}, err
	}
	if c.nats, err = natsconn.Load(env); err != nil {
		return config{}, err
	}
	if c.accessTTL <= 0 || c.refreshTTL <= c.accessTTL {
		return config{}, errors.New("configuration: need 0 < ACCESS_TOKEN_TTL < REFRESH_TOKEN_TTL")
	}
	if err := c.loginLimits.Validate(); err != nil {
		return config{}, fmt.Errorf("configuration: %w", err)
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
	logger.Info("starting", "service", "user", "version", version, "commit", commit)
	stopTracing, err := tracing.Setup(ctx, "user", getenv)
	if err != nil {
		return err
	}
	defer tracing.Stop(ctx, stopTracing, logger)

	priv, err := accesstoken.LoadPrivateKeyFile(cfg.privateKey)
	if err != nil {
		return err
	}
	pub, err := accesstoken.LoadPublicKeyFile(cfg.publicKeyFile)
	if err != nil {
		return err
	}
	if !pub.Equal(priv.Public().(ed25519.PublicKey)) {
		return errors.New("JWT_PUBLIC_KEY_FILE is not the public key of JWT_PRIVATE_KEY_FILE")
	}

	pool, err := pgdb.Open(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pgdb.Migrate(ctx, pool, migrations.FS, logger); err != nil {
		return err
	}

	// Redis and NATS may be down at start or later: the service runs
	// degraded (README), so neither is dialled eagerly nor fatal. Short
	// timeouts keep a dead Redis from stalling logins.
	ropt, err := goredis.ParseURL(cfg.redisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	ropt.DialTimeout, ropt.ReadTimeout, ropt.WriteTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	ropt.MaxRetries, ropt.DialerRetries = 1, 1
	rdb := goredis.NewClient(ropt)
	defer rdb.Close()

	nc, err := natsconn.Connect(cfg.nats, "cobraspace-user", logger)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer nc.Close()

	// Twice the cores: hashing is CPU-bound, so more parallel hashes only
	// add memory; a caller queued for 3 s gets UNAVAILABLE.
	hasher, err := user.NewHasher(user.DefaultHashParams(), 2*runtime.GOMAXPROCS(0), 3*time.Second)
	if err != nil {
		return err
	}
	verifier := accesstoken.NewVerifier(pub)
	denylist := revocation.New(rdb, cfg.redisPrefix)
	svc := user.NewService(user.Config{
		Store:      postgres.NewUserStore(pool),
		Tokens:     postgres.NewTokenStore(pool),
		Media:      postgres.NewMediaStore(pool),
		Limiter:    redis.NewLoginLimiter(rdb, cfg.redisPrefix, cfg.loginLimits),
		Denylist:   denylist,
		Announcer:  nats.NewAnnouncer(nc, subjects.New(cfg.natsPrefix)),
		Hasher:     hasher,
		Passwords:  user.NewPasswordPolicy(),
		Signer:     accesstoken.NewSigner(priv),
		Verifier:   verifier,
		AccessTTL:  cfg.accessTTL,
		RefreshTTL: cfg.refreshTTL,
		Logger:     logger,
	})

	reg := adminhttp.NewRegistry()
	if err := pgdb.RegisterPoolMetrics(reg, pool); err != nil {
		return err
	}
	if err := adminhttp.RegisterBuildInfo(reg, version, commit); err != nil {
		return err
	}
	gs := grpcserver.New(grpcserver.Config{
		Logger: logger, Metrics: reg, Verifier: verifier, AnonymousMethods: rpc.AnonymousMethods(), Trust: cfg.trust,
		Revoked: revocation.NewChecker(denylist, logger).Revoked,
	})
	userv1.RegisterUserServiceServer(gs, rpc.New(svc, logger))

	// Refresh-token pruning stops with the servers.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pruned := make(chan struct{})
	go func() {
		defer close(pruned)
		pruneTokens(ctx, svc, logger)
	}()
	err = gs.ListenAndServe(ctx, grpcserver.Addrs{GRPC: cfg.grpcAddr, Admin: cfg.adminAddr}, cfg.drainDelay, reg,
		func(ctx context.Context) error { return pool.Ping(ctx) }, stdout)
	cancel()
	<-pruned
	logger.Info("stopped")
	return err
}

// pruneTokens deletes long-expired refresh-token families every hour.
func pruneTokens(ctx context.Context, svc *user.Service, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := svc.PruneTokens(ctx)
			if err != nil {
				logger.Warn("pruning refresh tokens failed", "err", err)
			} else if n > 0 {
				logger.Info("pruned expired refresh-token families", "count", n)
			}
		}
	}
}
