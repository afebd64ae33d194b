package pgdb

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cobraspace/cobraspace/platform/testenv"
)

// TestMigrateConcurrently starts several "replicas" migrating one database
// at once: the advisory lock must let exactly one apply the migration.
func TestMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	url := testenv.Database(t)
	migrations, err := fs.Sub(os.DirFS("testdata"), "migrations")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := Open(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			errs <- Migrate(ctx, pool, migrations, logger)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	pool, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM goose_db_version WHERE version_id = 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("migration 1 recorded %d times, want 1", n)
	}
}

func TestOpenBadURL(t *testing.T) {
	if _, err := Open(context.Background(), "postgres://postgres@127.0.0.1:1/none?connect_timeout=1"); err == nil {
		t.Error("Open on a closed port: got nil error")
	}
}

// TestOpenPoolSize: an unsized URL gets DefaultMaxConns, an explicit
// pool_max_conns wins.
func TestOpenPoolSize(t *testing.T) {
	ctx := context.Background()
	url := testenv.Database(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	for _, tc := range []struct {
		url  string
		want int32
	}{
		{url, DefaultMaxConns},
		{url + sep + "pool_max_conns=3", 3},
	} {
		pool, err := Open(ctx, tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := pool.Config().MaxConns; got != tc.want {
			t.Errorf("Open(%q): MaxConns %d, want %d", tc.url, got, tc.want)
		}
		pool.Close()
	}
}

// TestTerminatedIdleConnection: a connection the server terminates while
// it sits idle in the pool (for less than the second after which pgx pings)
// is replaced before use, so the next statement succeeds.
func TestTerminatedIdleConnection(t *testing.T) {
	ctx := context.Background()
	url := testenv.Database(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	pool, err := Open(ctx, url+sep+"pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var pid int32
	if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed bool
	if err := admin.QueryRow(ctx, "SELECT pg_terminate_backend($1, 5000)", pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("pg_terminate_backend(%d): %v, %v", pid, killed, err)
	}
	var next int32
	if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&next); err != nil {
		t.Fatalf("the first statement after the pool's connection was terminated: %v", err)
	}
	if next == pid {
		t.Fatalf("the pool kept the terminated backend %d", pid)
	}
}
