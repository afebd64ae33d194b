// Command staff grants or withdraws the staff role of a user (staff may
// delete any chat message, mute members of any room and list reports). It
// is the only way to set the role: no API route does. It writes the user
// service's database directly (DATABASE_URL, as the service reads it):
//
//	DATABASE_URL=postgres://... staff -email mod@example.com -on
//	DATABASE_URL=postgres://... staff -email mod@example.com -off
//
// The chat service and gateways cache the role for up to 30 s (see
// services/user/README.md), so a change takes effect within that time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cobraspace/cobraspace/platform/pgdb"
	"github.com/cobraspace/cobraspace/platform/process"
	"github.com/cobraspace/cobraspace/services/user/internal/postgres"
)

func main() {
	process.Main("staff", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Getenv, os.Stdout) })
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("staff", flag.ContinueOnError)
	email := fs.String("email", "", "email of the user")
	on := fs.Bool("on", false, "grant the staff role")
	off := fs.Bool("off", false, "withdraw the staff role")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" || *on == *off {
		return errors.New("usage: staff -email <email> (-on | -off)")
	}
	url := getenv("DATABASE_URL")
	if url == "" {
		return errors.New("DATABASE_URL is not set")
	}
	pool, err := pgdb.Open(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	id, err := postgres.NewBlockStore(pool).SetStaff(ctx, *email, *on)
	if err != nil {
		return fmt.Errorf("%s: %w", *email, err)
	}
	_, err = fmt.Fprintf(stdout, "user %d (%s): staff=%t\n", id, *email, *on)
	return err
}
