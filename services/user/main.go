// Command user is the Cobra Space user service: accounts, tokens, profiles,
// profile pictures and friends over gRPC (see README.md).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	goredis "github.com/redis/go-redis/v9"
)

// version and commit identify the build; the image build sets them with
// -ldflags "-X main.version=... -X main.commit=..." (see Dockerfile). They
// are logged at start and exported as cobra_build_info.
var version, commit = "dev", "unknown"

func main() {
	// go-redis logs through a process-wide logger; route it into the JSON
	// log stream instead of its default plain text on stderr.
	goredis.SetLogger(redisLogger{slog.New(slog.NewJSONHandler(os.Stdout, nil))})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout)
	stop() // before os.Exit, which skips deferred calls
	if err != nil {
		fmt.Fprintln(os.Stderr, "user:", err)
		os.Exit(1)
	}
}

// redisLogger adapts slog to go-redis's Printf-style logger.
type redisLogger struct{ l *slog.Logger }

// Printf logs one go-redis message as a warning (it only logs trouble).
func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
