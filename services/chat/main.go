// Command chat runs the Cobra Space chat service: rooms, messages with a
// gap-free per-room seq (group-committed to PostgreSQL), presence in Redis
// and live events on NATS. See README.md.
package main

import (
	"context"
	"os"

	"github.com/cobraspace/cobraspace/platform/process"
)

// version and commit identify the build; the image build sets them with
// -ldflags "-X main.version=... -X main.commit=..." (see deploy/Dockerfile). They
// are logged at start and exported as cobra_build_info.
var version, commit = "dev", "unknown"

func main() {
	process.Main("chat", func(ctx context.Context) error { return run(ctx, os.Args, os.Getenv, os.Stdout) })
}
