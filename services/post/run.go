package main

import (
	"context"
	"fmt"
	"io"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/envconfig"
	"github.com/cobraspace/cobraspace/platform/grpcclient"
	"github.com/cobraspace/cobraspace/platform/grpcserver"
	"github.com/cobraspace/cobraspace/platform/grpcservice"
	postv1 "github.com/cobraspace/cobraspace/proto/cobraspace/post/v1"
	"github.com/cobraspace/cobraspace/services/post/internal/chatclient"
	"github.com/cobraspace/cobraspace/services/post/internal/post"
	"github.com/cobraspace/cobraspace/services/post/internal/postgres"
	"github.com/cobraspace/cobraspace/services/post/internal/postgres/migrations"
	"github.com/cobraspace/cobraspace/services/post/internal/rpc"
)

// config is everything read from the environment (see README.md).
type config struct {
	grpcservice.Config
	chatServiceAddr string
}

func loadConfig(getenv func(string) string) (config, error) {
	env := envconfig.New(getenv)
	c := config{chatServiceAddr: env.String("CHAT_SERVICE_ADDR", "127.0.0.1:9003")}
	var err error
	c.Config, err = grpcservice.LoadConfig(env, "post", grpcserver.Addrs{GRPC: "127.0.0.1:9002", Admin: "127.0.0.1:9102"})
	return c, err
}

// run starts the service and blocks until ctx ends (then stops gracefully)
// or a server fails.
func run(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	pub, err := accesstoken.LoadPublicKeyFile(cfg.PublicKeyFile)
	if err != nil {
		return err
	}
	base, err := grpcservice.Start(ctx, cfg.Config, grpcservice.Spec{
		Version: version, Commit: commit, Migrations: migrations.FS,
		// Redis holds only the session denylist here, which fails open: a
		// slow or dead Redis must not stall calls (platform/revocation).
		TuneRedis: func(o *goredis.UniversalOptions) {
			o.DialTimeout, o.ReadTimeout, o.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
		},
	}, getenv, stdout)
	if err != nil {
		return err
	}
	defer base.Close()

	// The chat service is dialled lazily: the post service starts (and
	// serves reads) while it is down; writes then answer UNAVAILABLE.
	chatConn, err := grpcclient.Dial(cfg.chatServiceAddr, cfg.Trust)
	if err != nil {
		return fmt.Errorf("CHAT_SERVICE_ADDR: %w", err)
	}
	defer chatConn.Close()

	svc := post.NewService(postgres.NewStore(base.Pool), chatclient.New(chatConn, base.Logger), base.Logger)
	gs := base.NewServer(accesstoken.NewVerifier(pub), rpc.AnonymousMethods())
	postv1.RegisterPostServiceServer(gs, rpc.New(svc, base.Logger))
	return base.Serve(ctx, gs, base.PingDatabase)
}
