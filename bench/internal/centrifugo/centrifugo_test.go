package centrifugo_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/bench/internal/centrifugo"
	"github.com/cobraspace/cobraspace/bench/internal/chatload"
)

// bin is the Centrifugo that scripts/bench.sh installs; the test needs it
// (CENTRIFUGO_BIN overrides the path) and is skipped without it, since
// building it takes minutes.
func bin(t *testing.T) string {
	p := os.Getenv("CENTRIFUGO_BIN")
	if p == "" {
		p, _ = filepath.Abs("../../.cache/bin/centrifugo")
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no Centrifugo binary at %s (scripts/bench.sh builds it)", p)
	}
	return p
}

// TestChatloadAgainstCentrifugo runs the generator's Centrifugo mode
// against a real server with the generated configuration: JWT connect,
// subscribe, client publish into a history namespace, offsets as seqs. Every
// message must reach every member once and in order, with its latency.
func TestChatloadAgainstCentrifugo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := centrifugo.Start(ctx, bin(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	s, err := chatload.Open(ctx, chatload.Config{Gateways: []string{srv.URL()}, Accounts: srv.Accounts(20, time.Hour),
		Rooms: 2, Members: 10, Centrifugo: &chatload.Centrifugo{Namespace: centrifugo.Namespace}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := s.Run(ctx, chatload.RunOptions{Rate: 200, Warmup: 200 * time.Millisecond, Duration: time.Second})
	if !r.OK() {
		t.Fatalf("run failed: %v (%+v)", r.Failures, r)
	}
	if r.Acked != r.Sent || r.Sent < 200 {
		t.Fatalf("sent %d, acknowledged %d", r.Sent, r.Acked)
	}
	// 1 s of sends at 200/s, each to the 10 members of its room.
	if r.Delivered < 1900 || r.Latency.Count != r.Delivered {
		t.Fatalf("delivered %d in the window, latency samples %d; want ~2000", r.Delivered, r.Latency.Count)
	}
	// Nothing falls behind here, so what arrived during the window is
	// about what was sent during it.
	if r.ReceivedInWindow < r.Delivered*9/10 || r.ReceivedInWindow > r.Delivered*11/10 {
		t.Fatalf("received %d during the window, delivered %d sent in it", r.ReceivedInWindow, r.Delivered)
	}
	// Each frame holds at least one message: a publication, or a publish
	// reply to its sender.
	if r.FramesInWindow <= 0 || r.FramesInWindow > r.ReceivedInWindow+r.Sent {
		t.Fatalf("%d frames in the window for %d receipts and %d sends", r.FramesInWindow, r.ReceivedInWindow, r.Sent)
	}
	if r.Check.Acked != r.Acked || r.Check.Received != r.Acked*10 {
		t.Fatalf("check %+v: want every acknowledged message received by all 10 members", r.Check)
	}
}

// TestRefusedToken: a token signed with another key is refused at connect,
// and Open reports it instead of waiting for the subscribe reply.
func TestRefusedToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := centrifugo.Start(ctx, bin(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	accts := srv.Accounts(2, time.Hour)
	accts[1].Token = centrifugo.Token([]byte("another key"), "2", time.Now().Add(time.Hour).Unix())
	t0 := time.Now()
	_, err = chatload.Open(ctx, chatload.Config{Gateways: []string{srv.URL()}, Accounts: accts,
		Rooms: 1, Members: 2, Centrifugo: &chatload.Centrifugo{Namespace: centrifugo.Namespace}})
	if err == nil {
		t.Fatal("Open succeeded with a forged token")
	}
	if time.Since(t0) > 10*time.Second {
		t.Fatalf("Open took %v to fail", time.Since(t0))
	}
}
