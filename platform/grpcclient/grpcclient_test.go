package grpcclient

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/cobraspace/cobraspace/platform/servicetrust"
)

// countingHealth answers health checks and counts them.
type countingHealth struct {
	*health.Server
	calls atomic.Int64
}

func (c *countingHealth) Check(ctx context.Context, in *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	c.calls.Add(1)
	return c.Server.Check(ctx, in)
}

func serve(t *testing.T) (string, *countingHealth) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	h := &countingHealth{Server: health.NewServer()}
	healthpb.RegisterHealthServer(srv, h)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), h
}

// A comma-separated address list is balanced round robin over its members
// (how tests and local runs point a gateway at several chat replicas).
func TestDialAddressList(t *testing.T) {
	t.Parallel()
	a, ha := serve(t)
	b, hb := serve(t)
	conn, err := Dial(a+", "+b, servicetrust.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	// Round robin uses the addresses that are connected: the first calls
	// may all go to the one that connected first.
	deadline := time.Now().Add(5 * time.Second)
	for ha.calls.Load() == 0 || hb.calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("calls %d and %d after 5 s, want both addresses used", ha.calls.Load(), hb.calls.Load())
		}
		if _, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	a0, b0 := ha.calls.Load(), hb.calls.Load()
	for range 40 {
		if _, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if da, db := ha.calls.Load()-a0, hb.calls.Load()-b0; da != 20 || db != 20 {
		t.Errorf("once both are connected: %d and %d of 40 calls, want 20 each", da, db)
	}

	// DialPod reaches one address under another name (TLS would check it).
	pod, err := DialPod(b, "chat.internal", servicetrust.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer pod.Close()
	before := hb.calls.Load()
	if _, err := healthpb.NewHealthClient(pod).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if hb.calls.Load() != before+1 {
		t.Error("DialPod's call did not reach its address")
	}
}
