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

// BenchmarkRefresh: the Redis CPU of one presence heartbeat per connection
// (5,000 connections in 4 rooms, as one gateway's batched heartbeat), on
// the single node, whose INFO tells its CPU time. Run it on a quiet box:
// the figure is the server's, whoever else uses it.
//
//	go test -run '^$' -bench Refresh -benchtime 100x -count 3 ./internal/redis/
func BenchmarkRefresh(b *testing.B) {
	single := testenv.RedisTargets(b)[0]
	rdb := single.Client
	p := NewPresence(rdb, single.Prefix)
	ctx := context.Background()
	var refs []chat.ConnRef
	for i := range 5000 {
		r := chat.ConnRef{RoomID: int64(1 + i%4), ConnectionID: "c" + strconv.Itoa(i)}
		if _, err := p.Join(ctx, r, int64(i), time.Now().Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
		refs = append(refs, r)
	}
	cpu0 := redisCPU(b, rdb)
	b.ResetTimer()
	for range b.N {
		if _, err := p.Refresh(ctx, refs, time.Now().Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric((redisCPU(b, rdb)-cpu0)/float64(b.N*len(refs))*1e6, "redis-µs/conn")
}
