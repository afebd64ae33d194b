package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/batch"
	"github.com/cobraspace/cobraspace/platform/envconfig"
	"github.com/cobraspace/cobraspace/platform/gctune"
	"github.com/cobraspace/cobraspace/platform/grpcclient"
	"github.com/cobraspace/cobraspace/platform/grpcserver"
	"github.com/cobraspace/cobraspace/platform/grpcservice"
	"github.com/cobraspace/cobraspace/platform/natsconn"
	"github.com/cobraspace/cobraspace/platform/pgdb"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
	chatnats "github.com/cobraspace/cobraspace/services/chat/internal/nats"
	"github.com/cobraspace/cobraspace/services/chat/internal/postgres"
	"github.com/cobraspace/cobraspace/services/chat/internal/postgres/migrations"
	"github.com/cobraspace/cobraspace/services/chat/internal/redis"
	"github.com/cobraspace/cobraspace/services/chat/internal/rpc"
	"github.com/cobraspace/cobraspace/services/chat/internal/userclient"
)

// config is every setting, read from the environment once (README.md).
type config struct {
	grpcservice.Config
	nats            natsconn.Config
	natsPrefix      string
	userServiceAddr string
	presenceTTL     time.Duration
	batchMaxSize    int
	batchMaxWait    time.Duration
	commitLanes     int
	searchMerge     time.Duration
	// databaseReadURL, when set, is a read-only replica of DATABASE_URL's
	// database that serves history pages and room listings (README).
	databaseReadURL string
}

func loadConfig(getenv func(string) string) (config, error) {
	env := envconfig.New(getenv)
	c := config{
		natsPrefix:      env.String("NATS_PREFIX", ""),
		userServiceAddr: env.String("USER_SERVICE_ADDR", "127.0.0.1:9001"),
		presenceTTL:     env.Duration("PRESENCE_TTL", 30*time.Second),
		batchMaxSize:    env.Int("BATCH_MAX_SIZE", 256),
		batchMaxWait:    env.Duration("BATCH_MAX_WAIT", 0),
		commitLanes:     env.Int("COMMIT_LANES", 1),
		searchMerge:     env.Duration("SEARCH_MERGE_INTERVAL", 200*time.Millisecond),
		databaseReadURL: env.String("DATABASE_READ_URL", ""),
	}
	var err error
	if c.Config, err = grpcservice.LoadConfig(env, "chat", grpcserver.Addrs{GRPC: "127.0.0.1:9003", Admin: "127.0.0.1:9103"}); err != nil {
		return c, err
	}
	if c.nats, err = natsconn.Load(env); err != nil {
		return c, err
	}
	if c.presenceTTL < time.Second {
		return c, errors.New("configuration: PRESENCE_TTL must be at least 1s")
	}
	if c.batchMaxSize < 1 || c.batchMaxSize > 5000 {
		return c, errors.New("configuration: BATCH_MAX_SIZE must be between 1 and 5000")
	}
	if c.commitLanes < 1 || c.commitLanes > 64 {
		return c, errors.New("configuration: COMMIT_LANES must be between 1 and 64")
	}
	if c.searchMerge < 10*time.Millisecond {
		return c, errors.New("configuration: SEARCH_MERGE_INTERVAL must be at least 10ms")
	}
	return c, nil
}

// metrics are the service's own Prometheus metrics (gRPC metrics come
// from grpcserver).
type metrics struct {
	persisted      prometheus.Counter
	batchSize      prometheus.Histogram
	batchDuration  prometheus.Histogram
	batchFailures  prometheus.Counter
	publishFailed  *prometheus.CounterVec
	presenceFailed *prometheus.CounterVec
	searchMerged   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		persisted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chat_messages_persisted_total", Help: "New chat messages committed to PostgreSQL."}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "chat_batch_size", Help: "SendMessage requests per group commit.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}}),
		batchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "chat_batch_duration_seconds", Help: "Time to commit (and publish) one group commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12)}),
		batchFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chat_batch_failures_total", Help: "Group commits that failed (every waiter got UNAVAILABLE)."}),
		publishFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chat_publish_failures_total", Help: "NATS publishes that failed, by event."}, []string{"event"}),
		presenceFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chat_presence_failures_total", Help: "Redis presence calls that failed, by operation."}, []string{"op"}),
		searchMerged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chat_search_index_merged_pages_total", Help: "Pending-list pages of the message search index merged into it."}),
	}
	reg.MustRegister(m.persisted, m.batchSize, m.batchDuration, m.batchFailures, m.publishFailed, m.presenceFailed,
		m.searchMerged)
	return m
}

func (m *metrics) hooks() chat.Hooks {
	return chat.Hooks{
		Batch: func(size int, took time.Duration, err error) {
			m.batchSize.Observe(float64(size))
			m.batchDuration.Observe(took.Seconds())
			if err != nil {
				m.batchFailures.Inc()
			}
		},
		Persisted:      func(n int) { m.persisted.Add(float64(n)) },
		PublishFailed:  func(event string) { m.publishFailed.WithLabelValues(event).Inc() },
		PresenceFailed: func(op string) { m.presenceFailed.WithLabelValues(op).Inc() },
	}
}

func run(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	pub, err := accesstoken.LoadPublicKeyFile(cfg.PublicKeyFile)
	if err != nil {
		return fmt.Errorf("JWT_PUBLIC_KEY_FILE: %w", err)
	}
	gc := gctune.Throughput(getenv)
	base, err := grpcservice.Start(ctx, cfg.Config, grpcservice.Spec{
		Version: version, Commit: commit, Migrations: migrations.FS,
		// Short timeouts: presence is best effort, and a dead Redis must
		// not stall joins (they degrade instead).
		TuneRedis: func(o *goredis.UniversalOptions) {
			o.DialTimeout, o.ReadTimeout, o.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
			o.MaxRetries, o.DialerRetries, o.DialerRetryTimeout = 1, 1, 50*time.Millisecond
		},
		StartAttrs: []any{"gogc", gc.GOGC, "memory_limit", gc.MemoryLimit},
	}, getenv, stdout)
	if err != nil {
		return err
	}
	defer base.Close()
	logger := base.Logger

	// NATS may be down at start or later: the client keeps reconnecting and
	// buffers publishes meanwhile; sends never depend on it.
	nc, err := natsconn.Connect(cfg.nats, "chat", logger)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer nc.Close()

	userConn, err := grpcclient.Dial(cfg.userServiceAddr, cfg.Trust)
	if err != nil {
		return fmt.Errorf("USER_SERVICE_ADDR: %w", err)
	}
	defer userConn.Close()

	store := postgres.New(base.Pool)
	if cfg.databaseReadURL != "" {
		// Not migrated: a replica follows the primary's schema.
		read, err := pgdb.Open(ctx, cfg.databaseReadURL)
		if err != nil {
			return fmt.Errorf("DATABASE_READ_URL: %w", err)
		}
		defer read.Close()
		store = store.WithReadPool(read)
	}

	m := newMetrics(base.Metrics)
	publisher := chatnats.NewPublisher(nc, cfg.natsPrefix)
	// Blocks and staff: 10 s bounds how late a staff change (no event) or
	// a block change whose event was lost takes effect here.
	relations := userclient.NewRelations(userv1.NewUserServiceClient(userConn), 10*time.Second, 100000)
	users := userclient.New(userv1.NewUserServiceClient(userConn), 30*time.Second, 10000)
	svc := chat.NewService(chat.Config{
		Store:       store,
		Presence:    redis.NewPresence(base.Redis, cfg.RedisPrefix),
		Publisher:   publisher,
		Users:       users,
		Nicknames:   users,
		UserEvents:  chatnats.NewUserPublisher(nc, cfg.natsPrefix),
		Logger:      logger,
		PresenceTTL: cfg.presenceTTL,
		Batch:       batch.Config{MaxSize: cfg.batchMaxSize, MaxWait: cfg.batchMaxWait},
		CommitLanes: cfg.commitLanes,
		Hooks:       m.hooks(),

		Relations:     relations,
		Moderation:    store,
		MutePublisher: publisher,
	})
	if err := chatnats.SubscribeInvalidations(nc, cfg.natsPrefix, logger, svc.ForgetMutes, relations.Forget); err != nil {
		return err
	}

	srv := base.NewServer(accesstoken.NewVerifier(pub).WithCache(100000), nil)
	chatv1.RegisterChatServiceServer(srv, rpc.New(svc, logger))

	// Background jobs: the presence sweeper and the search index merger.
	bgCtx, stopBackground := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Go(func() { svc.RunSweeper(bgCtx, sweepInterval(cfg.presenceTTL)) })
	bg.Go(func() {
		store.RunSearchIndexMerger(bgCtx, cfg.searchMerge, logger, func(pages int64) { m.searchMerged.Add(float64(pages)) })
	})

	// Serve until ctx ends; it drains in-flight calls (which wait for their
	// group commit) before returning.
	serveErr := base.Serve(ctx, srv, func(context.Context) error { return nil })
	svc.Close() // commits and publishes anything still queued
	stopBackground()
	bg.Wait()
	if !nc.IsConnected() {
		logger.Warn("nats not connected at shutdown; receivers repair gaps from history")
	} else if err := nc.FlushTimeout(2 * time.Second); err != nil {
		logger.Warn("nats flush at shutdown", "err", err)
	}
	return serveErr
}

// sweepInterval runs the presence sweeper often enough that a dead
// gateway's users leave soon after their TTL.
func sweepInterval(ttl time.Duration) time.Duration {
	return min(max(ttl/6, 100*time.Millisecond), 5*time.Second)
}
