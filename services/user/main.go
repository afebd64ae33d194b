// Command user is the Cobra Space user service: accounts, tokens, profiles,
// profile pictures and friends over gRPC (see README.md).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/process"
)

// version and commit identify the build; the image build sets them with
// -ldflags "-X main.version=... -X main.commit=..." (see deploy/Dockerfile). They
// are logged at start and exported as cobra_build_info.
var version, commit = "dev", "unknown"

func main() {
	// go-redis logs through a process-wide logger; route it into the JSON
	// log stream instead of its default plain text on stderr.
	goredis.SetLogger(redisLogger{slog.New(slog.NewJSONHandler(os.Stdout, nil))})
	process.Main("user", func(ctx context.Context) error { return run(ctx, os.Args, os.Getenv, os.Stdout) })
}

// redisLogger adapts slog to go-redis's Printf-style logger.
type redisLogger struct{ l *slog.Logger }

// Printf logs one go-redis message as a warning (it only logs trouble).
func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
