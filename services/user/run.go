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
	"github.com/cobraspace/cobraspace/platform/envconfig"
	"github.com/cobraspace/cobraspace/platform/grpcserver"
	"github.com/cobraspace/cobraspace/platform/grpcservice"
	"github.com/cobraspace/cobraspace/platform/natsconn"
	"github.com/cobraspace/cobraspace/platform/subjects"
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
	grpcservice.Config
	nats                  natsconn.Config
	natsPrefix            string
	privateKey            string
	accessTTL, refreshTTL time.Duration
	loginLimits           redis.LoginLimits
}

func loadConfig(getenv func(string) string) (config, error) {
	env := envconfig.New(getenv)
	defLimits := redis.DefaultLoginLimits()
	c := config{
		natsPrefix: env.String("NATS_PREFIX", ""),
		privateKey: env.Required("JWT_PRIVATE_KEY_FILE"),
		accessTTL:  env.Duration("ACCESS_TOKEN_TTL", 15*time.Minute),
		refreshTTL: env.Duration("REFRESH_TOKEN_TTL", 14*24*time.Hour),
		loginLimits: redis.LoginLimits{
			AccountIP: env.Int("LOGIN_MAX_FAILURES_PER_ACCOUNT_IP", defLimits.AccountIP),
			Account:   env.Int("LOGIN_MAX_FAILURES_PER_ACCOUNT", defLimits.Account),
			IP:        env.Int("LOGIN_MAX_FAILURES_PER_IP", defLimits.IP),
			Window:    env.Duration("LOGIN_FAILURE_WINDOW", defLimits.Window),
			BaseDelay: env.Duration("LOGIN_BACKOFF_BASE", defLimits.BaseDelay),
			MaxDelay:  env.Duration("LOGIN_BACKOFF_MAX", defLimits.MaxDelay),
		},
	}
	var err error
	if c.Config, err = grpcservice.LoadConfig(env, "user", grpcserver.Addrs{GRPC: "127.0.0.1:9001", Admin: "127.0.0.1:9101"}); err != nil {
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
	priv, err := accesstoken.LoadPrivateKeyFile(cfg.privateKey)
	if err != nil {
		return err
	}
	pub, err := accesstoken.LoadPublicKeyFile(cfg.PublicKeyFile)
	if err != nil {
		return err
	}
	if !pub.Equal(priv.Public().(ed25519.PublicKey)) {
		return errors.New("JWT_PUBLIC_KEY_FILE is not the public key of JWT_PRIVATE_KEY_FILE")
	}

	// Redis and NATS may be down at start or later: the service runs
	// degraded (README), so neither is dialled eagerly nor fatal. Short
	// timeouts keep a dead Redis from stalling logins.
	base, err := grpcservice.Start(ctx, cfg.Config, grpcservice.Spec{
		Version: version, Commit: commit, Migrations: migrations.FS,
		TuneRedis: func(o *goredis.UniversalOptions) {
			o.DialTimeout, o.ReadTimeout, o.WriteTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
			o.MaxRetries, o.DialerRetries = 1, 1
		},
	}, getenv, stdout)
	if err != nil {
		return err
	}
	defer base.Close()
	logger := base.Logger

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
	announcer := nats.NewAnnouncer(nc, subjects.New(cfg.natsPrefix))
	svc := user.NewService(user.Config{
		Store:      postgres.NewUserStore(base.Pool),
		Tokens:     postgres.NewTokenStore(base.Pool),
		Media:      postgres.NewMediaStore(base.Pool),
		Limiter:    redis.NewLoginLimiter(base.Redis, cfg.RedisPrefix, cfg.loginLimits),
		Denylist:   base.Denylist,
		Announcer:  announcer,
		Hasher:     hasher,
		Passwords:  user.NewPasswordPolicy(),
		Signer:     accesstoken.NewSigner(priv),
		Verifier:   verifier,
		AccessTTL:  cfg.accessTTL,
		RefreshTTL: cfg.refreshTTL,
		Logger:     logger,

		Blocks:         postgres.NewBlockStore(base.Pool),
		BlockAnnouncer: announcer,
	})

	gs := base.NewServer(verifier, rpc.AnonymousMethods())
	userv1.RegisterUserServiceServer(gs, rpc.New(svc, logger))

	// Refresh-token pruning stops with the servers.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pruned := make(chan struct{})
	go func() {
		defer close(pruned)
		pruneTokens(ctx, svc, logger)
	}()
	err = base.Serve(ctx, gs, base.PingDatabase)
	cancel()
	<-pruned
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
