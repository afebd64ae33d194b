// Command post is the Cobra Space post service: posts, categories, tags,
// search and hit counting over gRPC, with each post's chat room created and
// deleted through the chat service (see README.md).
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
	process.Main("post", func(ctx context.Context) error { return run(ctx, os.Args, os.Getenv, os.Stdout) })
}
