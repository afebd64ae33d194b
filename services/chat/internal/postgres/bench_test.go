package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cobraspace/cobraspace/platform/batch"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// BenchmarkSendMessage measures persisted messages per second through the
// group commit, as SendMessage uses it: many concurrent senders (like
// concurrent gRPC calls), 100 rooms, a client_msg_id on every message, and
// each send acknowledged only after its batch committed. synchronous_commit
// is left at the server's setting (on by default).
//
//	go test -run '^$' -bench SendMessage -benchtime 5s ./internal/postgres/
func BenchmarkSendMessage(b *testing.B) {
	benchmarkSend(b, func(b *testing.B) *Store { return newStore(b) })
}

// BenchmarkSendMessageSchema compares the group commit on the messages
// table before (migration 00002, one table) and after partitioning by room
// (00003, 16 hash partitions).
//
//	go test -run '^$' -bench SendMessageSchema -benchtime 3s -count 3 ./internal/postgres/
func BenchmarkSendMessageSchema(b *testing.B) {
	for _, version := range []int64{partitionVersion - 1, partitionVersion} {
		b.Run(fmt.Sprintf("migration=%d", version), func(b *testing.B) {
			benchmarkSend(b, func(b *testing.B) *Store {
				pool, _ := migratedTo(b, version)
				return New(pool)
			})
		})
	}
}

func benchmarkSend(b *testing.B, open func(*testing.B) *Store) {
	for _, cfg := range []struct {
		senders int
		wait    time.Duration
	}{{64, 0}, {512, 0}, {512, 2 * time.Millisecond}} {
		b.Run(fmt.Sprintf("senders=%d/wait=%s", cfg.senders, cfg.wait), func(b *testing.B) {
			s := open(b)
			ctx := context.Background()
			var rooms []int64
			for range 100 {
				rooms = append(rooms, mustRoom(b, s, 1).ID)
			}
			var batches atomic.Int64
			bt := batch.New(batch.Config{MaxSize: 256, MaxWait: cfg.wait, Observe: func(int, time.Duration, error) { batches.Add(1) }}, s.StoreMessages)
			defer bt.Close()
			var next atomic.Int64
			b.SetParallelism(max(1, cfg.senders/max(1, testingProcs())))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := next.Add(1)
					st, err := bt.Do(ctx, chat.NewMessage{RoomID: rooms[n%int64(len(rooms))], SenderID: n%50 + 1,
						Text: "hello, this is a typical chat message", ClientMsgID: fmt.Sprintf("bench-%d", n)})
					if err == nil {
						err = st.Err
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(b.N)/float64(max(1, batches.Load())), "msgs/batch")
		})
	}
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }

// BenchmarkGroupCommitCPU measures PostgreSQL's own CPU per stored message
// (the backend's user+system time from /proc, so it needs PostgreSQL on
// this machine) for batches of 32 messages over 2 or 20 rooms, one batch
// at a time on one connection, before (migration 00002) and after (00003)
// partitioning, with and without replies (whose parents the statement
// checks). CPU time is far less disturbed by other work on a shared box
// than throughput is. Partitioning costs per partition a statement
// touches, so 2 rooms (at most 2 partitions per batch) and 20 rooms (most
// of the 16) bound it.
//
//	go test -run '^$' -bench GroupCommitCPU -benchtime 2000x -count 3 ./internal/postgres/
func BenchmarkGroupCommitCPU(b *testing.B) {
	for _, version := range []int64{partitionVersion - 1, partitionVersion} {
		for _, cfg := range []struct {
			rooms   int
			replies bool
		}{{2, false}, {20, false}, {20, true}} {
			rooms, replies := cfg.rooms, cfg.replies
			b.Run(fmt.Sprintf("migration=%d/rooms=%d/replies=%v", version, rooms, replies), func(b *testing.B) {
				pool, _ := migratedTo(b, version)
				s := New(pool)
				ctx := context.Background()
				var batchRooms []chat.Room
				var parents []int64 // one message per room
				for range rooms {
					r := mustRoom(b, s, 1)
					batchRooms = append(batchRooms, r)
					parents = append(parents, send(b, s, chat.NewMessage{RoomID: r.ID, SenderID: 1, Text: "parent"})[0].Message.ID)
					// History, and statistics that match it, so that plans
					// are the ones a running service gets.
					old := make([]chat.NewMessage, 500)
					for i := range old {
						old[i] = chat.NewMessage{RoomID: r.ID, SenderID: 2, Text: "older message"}
					}
					send(b, s, old...)
				}
				if _, err := pool.Exec(ctx, `ANALYZE rooms, messages`); err != nil {
					b.Fatal(err)
				}
				conn, err := pool.Acquire(ctx)
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
				next := 0 // batches made, so that every client_msg_id is new
				batch := func() []chat.NewMessage {
					n := next
					next++
					msgs := make([]chat.NewMessage, size)
					for i := range msgs {
						k := (n*size + i) % len(batchRooms)
						msgs[i] = chat.NewMessage{RoomID: batchRooms[k].ID, SenderID: int64(i + 1),
							Text: "hello, this is a typical chat message", ClientMsgID: fmt.Sprintf("b-%d-%d", n, i)}
						if replies && i%4 == 0 {
							msgs[i].ParentID = parents[k]
						}
					}
					return msgs
				}
				for range 50 { // warm up: plans cached, pages in memory
					if _, err := insertBatch(ctx, conn, batch()); err != nil {
						b.Fatal(err)
					}
				}
				before, _ := backendCPU(pid)
				b.ResetTimer()
				for range b.N {
					if _, err := insertBatch(ctx, conn, batch()); err != nil {
						b.Fatal(err)
					}
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
}

// backendCPU is the user+system CPU time of PostgreSQL backend pid.
func backendCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start at
	// field 3; utime and stime are fields 14 and 15, in clock ticks.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux.
const clockTicks = 100

// BenchmarkSearchIndexCPU measures PostgreSQL's CPU per stored message
// (backend CPU from /proc, as BenchmarkGroupCommitCPU) with the trigram
// index taking each message's trigrams inside the send's commit
// (migration 6: fastupdate off) and through the pending list merged
// about once per 1,000 messages by another connection (migration 7; the
// merging backend's CPU is included; the service merges every
// SEARCH_MERGE_INTERVAL, every ~200 messages at 1,000 messages/s). Texts are 6-13 words from a small mixed
// Korean and English vocabulary plus a number, so trigrams repeat across
// messages as in chat; batches go to 4 rooms like the busy-rooms
// benchmark's.
//
//	go test -run '^$' -bench SearchIndexCPU -benchtime 2000x ./internal/postgres/
func BenchmarkSearchIndexCPU(b *testing.B) {
	vocab := strings.Fields(`golang rust python kubernetes docker postgres redis grpc websocket latency
		goroutine channel mutex deadlock 개발자 서울 코드 리뷰 배포 테스트 서버 hello thanks question
		error panic stack trace compile build deploy merge rebase commit branch`)
	for _, version := range []int64{6, 7} {
		for _, size := range []int{4, 32} {
			b.Run(fmt.Sprintf("migration=%d/batch=%d", version, size), func(b *testing.B) {
				pool, _ := migratedTo(b, version)
				s := New(pool)
				ctx := context.Background()
				var rooms []int64
				for range 4 {
					rooms = append(rooms, mustRoom(b, s, 1).ID)
				}
				var pids [2]int
				conns := make([]*pgxpool.Conn, 2) // sender, merger
				for i := range conns {
					c, err := pool.Acquire(ctx)
					if err != nil {
						b.Fatal(err)
					}
					defer c.Release()
					if err := c.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pids[i]); err != nil {
						b.Fatal(err)
					}
					conns[i] = c
				}
				if _, err := backendCPU(pids[0]); err != nil {
					b.Skipf("PostgreSQL backend not visible in /proc (not on this machine?): %v", err)
				}
				rng := rand.New(rand.NewPCG(1, 2))
				next := 0
				store := func() {
					msgs := make([]chat.NewMessage, size)
					for i := range msgs {
						words := make([]string, 6+rng.IntN(8))
						for w := range words {
							words[w] = vocab[rng.IntN(len(vocab))]
						}
						next++
						msgs[i] = chat.NewMessage{RoomID: rooms[i%len(rooms)], SenderID: int64(i + 1),
							Text: strings.Join(words, " ") + " #" + strconv.Itoa(next), ClientMsgID: "m" + strconv.Itoa(next)}
					}
					if _, err := insertBatch(ctx, conns[0], msgs); err != nil {
						b.Fatal(err)
					}
					if version >= 7 && next%1000 < size {
						if _, err := conns[1].Exec(ctx, `SELECT gin_clean_pending_list(inhrelid::regclass)
							FROM pg_inherits WHERE inhparent = to_regclass('messages_text_trgm')`); err != nil {
							b.Fatal(err)
						}
					}
				}
				for range 100 { // warm up: plans cached, pages in memory
					store()
				}
				cpu := func() (total time.Duration) {
					for _, pid := range pids {
						d, err := backendCPU(pid)
						if err != nil {
							b.Fatal(err)
						}
						total += d
					}
					return total
				}
				before := cpu()
				b.ResetTimer()
				for range b.N {
					store()
				}
				b.StopTimer()
				b.ReportMetric(float64((cpu()-before).Microseconds())/float64(b.N*size), "pg-cpu-µs/msg")
			})
		}
	}
}
