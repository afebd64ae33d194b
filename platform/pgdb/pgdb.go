// Package pgdb opens a service's PostgreSQL pool and applies its embedded
// migrations at start-up. Migrations run under a PostgreSQL advisory lock
// (goose's session locker), so replicas starting together migrate once.
package pgdb

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// DefaultMaxConns is the pool size when the URL sets no pool_max_conns.
// pgx's own default (max(4, cores)) suits CPU-bound work, but our requests
// mostly wait: every write holds its connection until the commit is flushed
// to disk. With 4 on two cores, the M6 detail benchmark (one counted view per
// request) found the post pool empty on 3,756 of ~4,000 acquires, and the chat
// pool empty 31,801 times; with 16, PostgreSQL flushes the concurrent commits
// together and the queueing went away (BENCHMARKS.md, M6 notes).
const DefaultMaxConns = 16

// Open connects a pool to url and checks it answers within 10 s. Pool sizes
// come from the URL (pool_max_conns=...), DefaultMaxConns otherwise.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 15 * time.Second
	cfg.ShouldPing = shouldPing
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database not reachable: %w", err)
	}
	return pool, nil
}

// shouldPing decides whether the pool pings a connection before handing it
// out. pgx pings those idle for over a second; one the server closed sooner
// (a terminated backend, a restart) would fail the next statement sent on
// it, so a connection whose socket has anything to read is pinged too: an
// idle connection has nothing to read, unless the server sent an error
// before closing (or a notification). A failed ping discards the
// connection and the pool hands out another. The check is one
// non-blocking peek, no round trip.
func shouldPing(_ context.Context, p pgxpool.ShouldPingParams) bool {
	return p.IdleDuration > time.Second || hasPending(p.Conn.PgConn().Conn())
}

// Migrate applies every pending migration in migrations (goose-annotated
// .sql files at its root) to the pool's database.
func Migrate(ctx context.Context, pool *pgxpool.Pool, migrations fs.FS, logger *slog.Logger) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return migrate(ctx, db, migrations, logger)
}

func migrate(ctx context.Context, db *sql.DB, migrations fs.FS, logger *slog.Logger) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	for _, r := range results {
		logger.Info("migration applied", "version", r.Source.Version, "path", r.Source.Path, "duration", r.Duration)
	}
	return nil
}
