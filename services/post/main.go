// Command post is the Cobra Space post service: posts, categories, tags,
// search and hit counting over gRPC, with each post's chat room created and
// deleted through the chat service (see README.md).
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout)
	stop() // before os.Exit, which skips deferred calls
	if err != nil {
		fmt.Fprintln(os.Stderr, "post:", err)
		os.Exit(1)
	}
}
