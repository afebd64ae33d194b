// Command chat runs the Cobra Space chat service: rooms, messages with a
// gap-free per-room seq (group-committed to PostgreSQL), presence in Redis
// and live events on NATS. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version and commit identify the build; the image build sets them with
// -ldflags "-X main.version=... -X main.commit=..." (see Dockerfile). They
// are logged at start and exported as cobra_build_info.
var version, commit = "dev", "unknown"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout)
	stop() // before os.Exit, which skips deferred calls
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}
