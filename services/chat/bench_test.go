package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/grpcauth"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// BenchmarkSendMessageRPC measures SendMessage end to end through gRPC
// (token verification, interceptors, user cache, group commit, NATS
// publish) with many concurrent callers on one connection, the way
// gateways call it: 256 users, each call with its user's token (too many
// distinct tokens for HPACK's 4 KB header table, as from a busy gateway).
// The service and the benchmark share the machine.
//
//	go test -run '^$' -bench SendMessageRPC -benchtime 5s .
func BenchmarkSendMessageRPC(b *testing.B) {
	h := start(b)
	var rooms []int64
	for i := range 100 {
		r, err := h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: fmt.Sprint("bench ", i)})
		if err != nil {
			b.Fatal(err)
		}
		rooms = append(rooms, r.GetId())
	}
	ctxs := make([]context.Context, 256)
	for i := range ctxs {
		ctxs[i] = grpcauth.WithToken(context.Background(), h.sign(b, int64(i+1)))
	}
	var next atomic.Int64
	b.SetParallelism(128)
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			ctx, cancel := context.WithTimeout(ctxs[n%int64(len(ctxs))], 10*time.Second)
			_, err := h.client.SendMessage(ctx, &chatv1.SendMessageRequest{
				RoomId: rooms[n%int64(len(rooms))], Text: "hello, this is a typical chat message",
				ClientMsgId: fmt.Sprint("bench-", n),
			})
			cancel()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	// CPU of this process (service and its gRPC clients) per message.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
	if resp, err := http.Get("http://" + h.admin + "/metrics"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "chat_batch_size_sum") || strings.HasPrefix(line, "chat_batch_size_count") {
				b.Log(line)
			}
		}
	}
}

// cpuTime is the user+system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
