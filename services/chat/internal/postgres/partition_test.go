package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/cobraspace/cobraspace/platform/pgdb"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
	"github.com/cobraspace/cobraspace/services/chat/internal/postgres/migrations"
)

// partitionVersion is the migration that partitions messages by room.
const partitionVersion = 3

// Messages stored before the partitioning migration survive it, its Down
// and a second Up unchanged (every column they had), the identity keeps
// counting from where it was, and the store works on the migrated schema:
// sends, idempotent retries (the unique index's violation must still be
// recognised), edits and lookups with and without the room. The store
// needs the latest schema (replies and reactions, 00006), so the data
// before the first migration is written in SQL, and "up" goes to the
// latest version; replies stored before 00006 are counted by it.
func TestPartitionMigrationKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, p := migratedToBare(t, partitionVersion-1)
	s := New(pool)

	// Rooms enough to land in several partitions, with replies, retries'
	// keys, an edit and a deletion.
	const rooms = 6
	roomIDs := make([]int64, rooms)
	first := make([]int64, rooms)
	for i := range rooms {
		err := pool.QueryRow(ctx, `INSERT INTO rooms (name, owner_id, last_seq) VALUES ('room', 1, 3) RETURNING id`).Scan(&roomIDs[i])
		if err != nil {
			t.Fatal(err)
		}
		err = pool.QueryRow(ctx, `INSERT INTO messages (room_id, seq, sender_id, text, client_msg_id)
			VALUES ($1, 1, 1, 'hello', $2) RETURNING id`, roomIDs[i], fmt.Sprint("c", i)).Scan(&first[i])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO messages (room_id, seq, sender_id, text, parent_id)
			VALUES ($1, 2, 2, 'plain', NULL), ($1, 3, 2, 'reply', $2)`, roomIDs[i], first[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE messages SET text = 'edited', edited_at = now() WHERE id = $1`, first[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE messages SET deleted_at = now() WHERE id = $1`, first[1]); err != nil {
		t.Fatal(err)
	}
	before := messageRows(t, pool)

	step := func(name string, partitioned bool, migrate func() error) {
		t.Helper()
		if err := migrate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := messageRows(t, pool); !reflect.DeepEqual(got, before) {
			t.Fatalf("%s: rows changed:\n got %v\nwant %v", name, got, before)
		}
		if got := partitions(t, pool); partitioned != (got == 16) || !partitioned && got != 0 {
			t.Fatalf("%s: messages has %d partitions, want partitioned=%v (16)", name, got, partitioned)
		}
		wantKey := map[bool]string{false: "PRIMARY KEY (id)", true: "PRIMARY KEY (id, room_id)"}[partitioned]
		var key string
		if err := pool.QueryRow(ctx, `SELECT pg_get_constraintdef(oid) FROM pg_constraint
			WHERE conrelid = 'messages'::regclass AND contype = 'p'`).Scan(&key); err != nil || key != wantKey {
			t.Fatalf("%s: primary key %q, %v; want %q", name, key, err, wantKey)
		}
		if !partitioned {
			return // the store needs the latest schema
		}
		// Replies stored before 00006 were counted.
		if got, err := s.Message(ctx, roomIDs[2], first[2]); err != nil || got.ReplyCount != 1 {
			t.Fatalf("%s: parent %+v, %v; want reply_count 1", name, got, err)
		}
		// A retry of a stored send is recognised as one, not an error.
		retry := send(t, s, chat.NewMessage{RoomID: roomIDs[2], SenderID: 1, Text: "hello", ClientMsgID: "c2"})[0]
		if !retry.Duplicate || retry.Message.ID != first[2] {
			t.Fatalf("%s: retried send: got %+v, want a duplicate of %d", name, retry, first[2])
		}
		// New ids continue past every stored one.
		m := send(t, s, chat.NewMessage{RoomID: roomIDs[3], SenderID: 1, Text: name})[0].Message
		if last := before[len(before)-1].id; m.ID <= last {
			t.Fatalf("%s: new message id %d, not above the last stored %d", name, m.ID, last)
		}
		for _, room := range []int64{roomIDs[3], 0} {
			if got, err := s.Message(ctx, room, m.ID); err != nil || got.Text != name {
				t.Fatalf("%s: message %d in room %d: got %+v, %v", name, m.ID, room, got, err)
			}
		}
		if _, err := s.DeleteMessage(ctx, roomIDs[3], m.ID); err != nil {
			t.Fatal(err)
		}
		before = messageRows(t, pool)
	}
	step("up", true, func() error { _, err := p.Up(ctx); return err })
	step("down", false, func() error { _, err := p.DownTo(ctx, partitionVersion-1); return err })
	step("up again", true, func() error { _, err := p.Up(ctx); return err })
}

// conversationsVersion is the migration adding memberships and
// notifications, which the group commit writes.
const conversationsVersion = 4

// applyLaterSchema runs the Up part of every migration after the
// partitioning one on a database at an older version, outside goose's
// bookkeeping: what they add (memberships, notifications, replies,
// reactions) does not depend on how messages are partitioned, and the
// store needs it, so benchmarks can compare the store on both layouts.
func applyLaterSchema(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if v, _, _ := strings.Cut(name, "_"); v <= fmt.Sprintf("%05d", partitionVersion) {
			continue
		}
		src, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		_, up, _ := strings.Cut(string(src), "-- +goose Up")
		up, _, _ = strings.Cut(up, "-- +goose Down")
		if _, err := pool.Exec(context.Background(), up); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// migratedTo returns a pool on a fresh database migrated up to version,
// and the goose provider to move it further (not past partitionVersion
// when version is below it: the later schema is there already, see
// applyLaterSchema).
func migratedTo(tb testing.TB, version int64) (*pgxpool.Pool, *goose.Provider) {
	tb.Helper()
	pool, p := migratedToBare(tb, version)
	if version <= partitionVersion {
		applyLaterSchema(tb, pool)
	}
	return pool, p
}

// migratedToBare is migratedTo without the conversation tables.
func migratedToBare(tb testing.TB, version int64) (*pgxpool.Pool, *goose.Provider) {
	tb.Helper()
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, testenv.Database(tb)+"&pool_max_conns=24")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	db := stdlib.OpenDBFromPool(pool)
	tb.Cleanup(func() { _ = db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		tb.Fatal(err)
	}
	return pool, p
}

// row is one stored message, every column as text, by id.
type row struct {
	id   int64
	text string
}

func messageRows(t *testing.T, pool *pgxpool.Pool) []row {
	t.Helper()
	// The columns messages had before the partitioning; later migrations
	// add others.
	rows, err := pool.Query(context.Background(), `SELECT id, (id, room_id, seq, sender_id, text, parent_id,
		client_msg_id, created_at, edited_at, deleted_at)::text FROM messages m ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var out []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.text); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no messages stored")
	}
	return out
}

// partitions counts the partitions of messages (0: not partitioned).
func partitions(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// partitionsRead runs EXPLAIN ANALYZE of sql on conn and counts the
// distinct messages partitions it actually read (a history page reads
// its replies' parents in the page's own partition): those pruned at plan or executor
// start do not appear, those pruned at run time show "never executed".
func partitionsRead(t *testing.T, q querier, sql string, args ...any) (n int, plan string) {
	t.Helper()
	rows, err := q.Query(context.Background(), `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) `+sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	for _, l := range lines {
		// "Update on messages_pNN" lists the partitions an UPDATE may
		// write; the scans below it say which it read.
		if strings.Contains(l, "Update on") {
			continue
		}
		if p := partitionScan.FindString(l); p != "" && !strings.Contains(l, "never executed") {
			read[p] = true
		}
	}
	return len(read), strings.Join(lines, "\n")
}

var partitionScan = regexp.MustCompile(`on messages_p\d\d\b`)

// Statements that name the room read one partition, with custom plans and
// with the generic plans PostgreSQL switches cached statements to; lookups
// by id alone probe all 16. The group commit's statement checks each
// reply's parent in the parent's room's partition only (run-time pruning
// on the correlated room_id).
func TestLookupsPrune(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	r := mustRoom(t, s, 1)
	m := send(t, s, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "parent"})[0].Message

	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			room int64
			want int
		}{{r.ID, 1}, {0, 16}} {
			cond, args := whereID(tc.room, m.ID)
			if n, plan := partitionsRead(t, conn, `SELECT `+messageColumns+` FROM messages WHERE `+cond, args...); n != tc.want {
				t.Errorf("%s, room %d: lookup read %d partitions, want %d:\n%s", mode, tc.room, n, tc.want, plan)
			}
		}
		if n, plan := partitionsRead(t, conn, pageSQL(chat.Page{Limit: 10}), pageArgs(r.ID, chat.Page{Limit: 10})...); n != 1 {
			t.Errorf("%s: history page read %d partitions, want 1:\n%s", mode, n, plan)
		}
		conn.Release()
	}

	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n, plan := partitionsRead(t, tx, insertSQL[batchShape{replies: true, notify: true}],
			[]int64{r.ID}, []int64{1}, []string{"reply"}, []int64{m.ID}, []string{""},
			[]int64{1}, []int64{2}, []string{chat.KindReply})
		// One partition for the parent check and its reply_count update;
		// the insert itself routes its row and is not a scan.
		if n != 1 {
			t.Errorf("group commit read %d partitions for one reply's parent, want 1:\n%s", n, plan)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
}

var errRollback = errors.New("rolled back on purpose")
