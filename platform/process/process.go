// Package process is the main function every Cobra Space command shares:
// run the command with a context that ends on SIGINT or SIGTERM (so it
// stops gracefully), and exit 1 with the error on stderr when it fails.
package process

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Main runs run with a context cancelled by SIGINT or SIGTERM. When run
// fails it prints "name: error" to stderr and exits with status 1; when it
// returns nil, Main returns and the process exits 0.
func Main(name string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
