package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
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
	"github.com/cobraspace/cobraspace/services/user/internal/push"
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
	push                  pushConfig
}

// pushConfig is the Web Push part of config; push is off without VAPID keys.
type pushConfig struct {
	vapid         push.VAPID
	maxDevices    int
	allowLoopback bool
	dispatch      push.DispatcherConfig
}

func loadPushConfig(env *envconfig.Reader) (pushConfig, error) {
	c := pushConfig{
		vapid: push.VAPID{
			PublicKey:  env.String("VAPID_PUBLIC_KEY", ""),
			PrivateKey: env.String("VAPID_PRIVATE_KEY", ""),
			Subject:    env.String("VAPID_SUBJECT", ""),
		},
		maxDevices:    env.Int("PUSH_MAX_DEVICES", 10),
		allowLoopback: env.Bool("PUSH_ALLOW_LOOPBACK", false),
		dispatch: push.DispatcherConfig{
			Workers:     env.Int("PUSH_WORKERS", 16),
			Queue:       env.Int("PUSH_QUEUE", 1024),
			MaxAttempts: env.Int("PUSH_MAX_ATTEMPTS", 4),
			BaseDelay:   env.Duration("PUSH_RETRY_BASE", time.Second),
			MaxDelay:    env.Duration("PUSH_RETRY_MAX", time.Minute),
		},
	}
	if c.maxDevices < 1 || c.dispatch.Workers < 1 || c.dispatch.Queue < 1 || c.dispatch.MaxAttempts < 1 ||
		c.dispatch.BaseDelay <= 0 || c.dispatch.MaxDelay < c.dispatch.BaseDelay {
		return pushConfig{}, errors.New("configuration: PUSH_MAX_DEVICES, PUSH_WORKERS, PUSH_QUEUE, PUSH_MAX_ATTEMPTS must be ≥ 1 and 0 < PUSH_RETRY_BASE ≤ PUSH_RETRY_MAX")
	}
	if c.vapid == (push.VAPID{Subject: c.vapid.Subject}) {
		return c, nil // push off
	}
	if err := c.vapid.Validate(); err != nil {
		return pushConfig{}, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

func (c pushConfig) enabled() bool { return c.vapid.PublicKey != "" }

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
	if c.push, err = loadPushConfig(env); err != nil {
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

	pushStore := postgres.NewPushStore(base.Pool)
	var publicKey string
	if cfg.push.enabled() {
		publicKey = cfg.push.vapid.PublicKey
	}
	registry := push.NewRegistry(pushStore, publicKey, cfg.push.maxDevices, cfg.push.allowLoopback)

	gs := base.NewServer(verifier, rpc.AnonymousMethods())
	userv1.RegisterUserServiceServer(gs, rpc.New(svc, registry, logger))

	// Refresh-token pruning and push delivery stop with the servers.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bg sync.WaitGroup
	if cfg.push.enabled() {
		d := cfg.push.dispatch
		d.Store, d.Sender, d.Logger = pushStore, push.NewWebPush(cfg.push.vapid, cfg.push.allowLoopback), logger
		if d.Outcomes, err = push.NewOutcomes(base.Metrics); err != nil {
			return err
		}
		dispatcher := push.NewDispatcher(d)
		sub, err := nats.SubscribePush(nc, subjects.New(cfg.natsPrefix), dispatcher, logger)
		if err != nil {
			return err
		}
		defer sub.Unsubscribe() //nolint:errcheck // the connection closes next anyway
		bg.Go(func() { dispatcher.Run(ctx) })
	}
	bg.Go(func() { pruneTokens(ctx, svc, logger) })
	err = base.Serve(ctx, gs, base.PingDatabase)
	cancel()
	bg.Wait()
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
