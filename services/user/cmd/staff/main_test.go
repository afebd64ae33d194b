package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/cobraspace/cobraspace/platform/pgdb"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/user/internal/postgres"
	"github.com/cobraspace/cobraspace/services/user/internal/postgres/migrations"
	"github.com/cobraspace/cobraspace/services/user/internal/user"
)

// TestStaffCommand grants and withdraws the role on a real database, and
// refuses bad invocations without touching it.
func TestStaffCommand(t *testing.T) {
	ctx := context.Background()
	url := testenv.Database(t)
	pool, err := pgdb.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pgdb.Migrate(ctx, pool, migrations.FS, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	p, err := postgres.NewUserStore(pool).CreateUser(ctx, user.NewUser{Email: "Mod@Example.com", PasswordHash: "x", Nickname: "mod"})
	if err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "DATABASE_URL" {
			return url
		}
		return ""
	}
	blocks := postgres.NewBlockStore(pool)
	staff := func() bool {
		r, err := blocks.Relation(ctx, p.UserID, 0)
		if err != nil {
			t.Fatal(err)
		}
		return r.IsStaff
	}
	for _, bad := range [][]string{{}, {"-email", "mod@example.com"}, {"-email", "mod@example.com", "-on", "-off"}, {"-on"}} {
		if err := run(ctx, bad, env, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", bad)
		}
	}
	if err := run(ctx, []string{"-email", "nobody@example.com", "-on"}, env, io.Discard); err == nil {
		t.Error("unknown email succeeded")
	}
	if staff() {
		t.Fatal("staff before the command")
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"-email", "mod@example.com", "-on"}, env, &out); err != nil {
		t.Fatal(err)
	}
	if !staff() || !strings.Contains(out.String(), "staff=true") {
		t.Fatalf("after -on: staff=%v, output %q", staff(), out.String())
	}
	if err := run(ctx, []string{"-email", "MOD@example.com", "-off"}, env, io.Discard); err != nil {
		t.Fatal(err)
	}
	if staff() {
		t.Fatal("still staff after -off")
	}
}
