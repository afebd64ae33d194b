package postgres

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"reflect"
	"testing"

	"github.com/cobraspace/cobraspace/platform/pgdb"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/chat/internal/postgres/migrations"
)

// TestMigrationsReleased: databases already migrated know the chat schema
// by goose version in goose_db_version, so released files keep their names
// (versions) and a second run on a migrated database changes nothing.
func TestMigrationsReleased(t *testing.T) {
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	released := []string{"00001_rooms_messages.sql", "00002_drop_message_foreign_keys.sql"}
	if !reflect.DeepEqual(files[:min(len(files), len(released))], released) {
		t.Fatalf("migrations = %v, want the released %v first, unchanged", files, released)
	}

	ctx := context.Background()
	pool, err := pgdb.Open(ctx, testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for range 2 {
		if err := pgdb.Migrate(ctx, pool, migrations.FS, logger); err != nil {
			t.Fatal(err)
		}
	}
	var applied []int64
	rows, err := pool.Query(ctx, `SELECT version_id FROM goose_db_version WHERE is_applied AND version_id > 0 ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		applied = append(applied, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []int64{1, 2}; !reflect.DeepEqual(applied[:min(len(applied), 2)], want) || len(applied) != len(files) {
		t.Errorf("goose_db_version = %v, want %v then one row per later file, each once", applied, want)
	}
}
