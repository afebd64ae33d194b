package postgres

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/batch"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// BenchmarkSendNotifications measures the send path of the chat service
// (chat.Service.Send: recipients, group commit, publish) on a real
// database with and without notifications: 64 concurrent senders over 10
// rooms, each message plain, a mention of one user ("@kim", resolved by an
// in-process directory, so the user service's round trip is not in it) or
// a reply (its parent's sender looked up, then notified). It reports the
// send latency percentiles an S1-like load sees and messages per second.
//
//	go test -run '^$' -bench SendNotifications -benchtime 3000x ./internal/postgres/
func BenchmarkSendNotifications(b *testing.B) {
	for _, kind := range []string{"none", "mention", "reply"} {
		b.Run("notify="+kind, func(b *testing.B) {
			s := newStore(b)
			ctx := context.Background()
			svc := chat.NewService(chat.Config{
				Store: s, Publisher: &publications{}, Users: directory{}, Nicknames: nicknames{"kim": {9999}},
				UserEvents: &userEvents{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Batch: batch.Config{MaxSize: 256},
			})
			defer svc.Close()
			var rooms, parents []int64
			for range 10 {
				r := mustRoom(b, s, 1)
				rooms = append(rooms, r.ID)
				parents = append(parents, send(b, s, chat.NewMessage{RoomID: r.ID, SenderID: 9999, Text: "parent"})[0].Message.ID)
			}
			var next atomic.Int64
			var mu sync.Mutex
			lat := make([]time.Duration, 0, b.N)
			b.SetParallelism(max(1, 64/max(1, testingProcs())))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := next.Add(1)
					k := n % int64(len(rooms))
					m := chat.NewMessage{RoomID: rooms[k], Text: "hello, this is a typical chat message"}
					switch kind {
					case "mention":
						m.Text = "@kim hello, this is a typical chat message"
					case "reply":
						m.ParentID = parents[k]
					}
					start := time.Now()
					if _, err := svc.Send(ctx, chat.Caller{ID: n%50 + 1}, m); err != nil {
						b.Error(err)
						return
					}
					took := time.Since(start)
					mu.Lock()
					lat = append(lat, took)
					mu.Unlock()
				}
			})
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// insertBatchSQLBefore is the group commit's statement before memberships
// and notifications (issue #12), kept here only so that
// BenchmarkGroupCommitCPUConversations can measure what they added.
const insertBatchSQLBefore = `
WITH v AS (
	SELECT v.*, (v.p = 0 OR EXISTS (
		SELECT 1 FROM messages pm WHERE pm.id = v.p AND pm.room_id = v.r AND pm.deleted_at IS NULL)) AS ok
	FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[])
		WITH ORDINALITY AS v(r, u, t, p, c, i)
), locked AS (
	SELECT id FROM rooms WHERE id = ANY($1) ORDER BY id FOR UPDATE
), counts AS (
	SELECT locked.id, count(v.i) AS n FROM locked LEFT JOIN v ON v.r = locked.id AND v.ok GROUP BY locked.id
), bump AS (
	UPDATE rooms SET last_seq = rooms.last_seq + counts.n
	FROM counts WHERE rooms.id = counts.id
	RETURNING rooms.id, rooms.last_seq - counts.n AS base
), ins AS (
	INSERT INTO messages (room_id, seq, sender_id, text, parent_id, client_msg_id)
	SELECT v.r, bump.base + row_number() OVER (PARTITION BY v.r ORDER BY v.i), v.u, v.t, nullif(v.p, 0), v.c
	FROM v JOIN bump ON bump.id = v.r
	WHERE v.ok
	ORDER BY 1, 2
	RETURNING id, room_id, seq, created_at
)
SELECT id, room_id, seq, created_at FROM ins
UNION ALL SELECT 0, id, 0, now() FROM bump
UNION ALL SELECT -i, r, 0, now() FROM v WHERE NOT ok`

// BenchmarkGroupCommitCPUConversations measures PostgreSQL's CPU per
// stored message (as BenchmarkGroupCommitCPU: batches of 32 over 20 rooms,
// one at a time, backend CPU from /proc) for the statement before issue
// #12, the current one without notifications (the sender's membership row
// is upserted per batch), and the current one with a mention in one
// message of four.
//
//	go test -run '^$' -bench GroupCommitCPUConversations -benchtime 2000x -count 3 ./internal/postgres/
func BenchmarkGroupCommitCPUConversations(b *testing.B) {
	for _, variant := range []string{"before", "members", "members+mentions"} {
		b.Run(variant, func(b *testing.B) {
			s := newStore(b)
			ctx := context.Background()
			var rooms []int64
			for range 20 {
				rooms = append(rooms, mustRoom(b, s, 1).ID)
			}
			if _, err := s.pool.Exec(ctx, `ANALYZE rooms, messages`); err != nil {
				b.Fatal(err)
			}
			conn, err := s.pool.Acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Release()
			var pid int
			if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
				b.Fatal(err)
			}
			if _, err := backendCPU(pid); err != nil {
				b.Skipf("PostgreSQL backend not visible in /proc (not on this machine?): %v", err)
			}
			const size = 32
			next := 0
			run := func() {
				n := next
				next++
				msgs := make([]chat.NewMessage, size)
				for i := range msgs {
					msgs[i] = chat.NewMessage{RoomID: rooms[(n*size+i)%len(rooms)], SenderID: int64(i + 1),
						Text: "hello, this is a typical chat message", ClientMsgID: fmt.Sprintf("b-%d-%d", n, i)}
					if variant == "members+mentions" && i%4 == 0 {
						msgs[i].Notify = []chat.Recipient{{UserID: int64(1000 + i), Kind: chat.KindMention}}
					}
				}
				if variant != "before" {
					if _, err := insertBatch(ctx, conn, msgs); err != nil {
						b.Fatal(err)
					}
					return
				}
				var r, u, p []int64
				var t, c []string
				for _, m := range msgs {
					r, u, t, p, c = append(r, m.RoomID), append(u, m.SenderID), append(t, m.Text), append(p, 0), append(c, m.ClientMsgID)
				}
				rows, err := conn.Query(ctx, insertBatchSQLBefore, r, u, t, p, c)
				if err != nil {
					b.Fatal(err)
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
			}
			for range 50 { // warm up
				run()
			}
			before, _ := backendCPU(pid)
			b.ResetTimer()
			for range b.N {
				run()
			}
			b.StopTimer()
			after, err := backendCPU(pid)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64((after-before).Microseconds())/float64(b.N*size), "pg-cpu-µs/msg")
		})
	}
}
