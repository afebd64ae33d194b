package redis

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// redisCPU is the Redis server's CPU time so far (INFO cpu), in seconds.
func redisCPU(b *testing.B, rdb goredis.UniversalClient) float64 {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(info, "\r\n") {
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				sum += f
			}
		}
	}
	return sum
}

// BenchmarkRenew: the Redis CPU of one presence heartbeat per connection
// (5,000 connections of one gateway's lease in 4 rooms), on the single
// node, whose INFO tells its CPU time. Run it on a quiet box: the figure is
// the server's, whoever else uses it. A heartbeat renewed each connection
// until 2026-12-06 (BenchmarkRefresh: 1.6–1.7 µs per connection); now it
// renews one lease per room.
//
//	go test -run '^$' -bench Renew -benchtime 100x -count 3 ./internal/redis/
func BenchmarkRenew(b *testing.B) {
	single := testenv.RedisTargets(b)[0]
	rdb := single.Client
	p := NewPresence(rdb, single.Prefix)
	ctx := context.Background()
	const conns = 5000
	sockets := map[int64]int{}
	for i := range conns {
		r := chat.ConnRef{RoomID: int64(1 + i%4), ConnectionID: "c" + strconv.Itoa(i), Lease: "gw-1"}
		if _, err := p.Join(ctx, r, int64(i), time.Now().Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
		sockets[r.RoomID]++
	}
	cpu0 := redisCPU(b, rdb)
	b.ResetTimer()
	for range b.N {
		if recount, _, err := p.Renew(ctx, "gw-1", sockets, time.Now().Add(time.Minute)); err != nil || len(recount) > 0 {
			b.Fatalf("renew: recount %v, %v", recount, err)
		}
	}
	b.StopTimer()
	b.ReportMetric((redisCPU(b, rdb)-cpu0)/float64(b.N*conns)*1e6, "redis-µs/conn")
}
