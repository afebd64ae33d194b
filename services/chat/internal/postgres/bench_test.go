package postgres

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

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
	for _, cfg := range []struct {
		senders int
		wait    time.Duration
	}{{64, 0}, {512, 0}, {512, 2 * time.Millisecond}} {
		b.Run(fmt.Sprintf("senders=%d/wait=%s", cfg.senders, cfg.wait), func(b *testing.B) {
			s := newStore(b)
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
