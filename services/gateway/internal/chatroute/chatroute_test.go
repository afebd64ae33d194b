package chatroute

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// fakeDNS answers lookups from a map the test changes.
type fakeDNS struct {
	mu    sync.Mutex
	hosts map[string][]string
	fail  bool
}

func (d *fakeDNS) lookup(_ context.Context, host string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail {
		return nil, errors.New("dns down")
	}
	return slices.Clone(d.hosts[host]), nil
}

func (d *fakeDNS) set(host string, ips ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hosts[host] = ips
}

// dialLog records dials and closes by address.
type dialLog struct {
	mu             sync.Mutex
	dialed, closed []string
	authority      map[string]string
}

func (l *dialLog) dial(addr, authority string) (chatv1.ChatServiceClient, func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dialed = append(l.dialed, addr)
	l.authority[addr] = authority
	return nil, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.closed = append(l.closed, addr)
	}, nil
}

func newRouter(t *testing.T, addrs string, dns *fakeDNS, l *dialLog) *Router {
	t.Helper()
	r := &Router{dial: l.dial, lookup: dns.lookup, log: slog.New(slog.NewTextHandler(io.Discard, nil)), closes: map[string]func(){}}
	var err error
	if r.entries, err = parseEntries(addrs); err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// Rooms spread over the pods; adding a pod moves only rooms to it, and
// removing it moves back exactly those; a failed lookup keeps the pods.
func TestRouterRendezvous(t *testing.T) {
	t.Parallel()
	dns := &fakeDNS{hosts: map[string][]string{"chat": {"10.0.0.1", "10.0.0.2"}}}
	l := &dialLog{authority: map[string]string{}}
	r := newRouter(t, "chat:9003", dns, l)
	if got := r.Pods(); !slices.Equal(got, []string{"10.0.0.1:9003", "10.0.0.2:9003"}) {
		t.Fatalf("pods %v", got)
	}
	if l.authority["10.0.0.1:9003"] != "chat" {
		t.Errorf("dialed with authority %q, want the host name", l.authority["10.0.0.1:9003"])
	}
	const rooms = 2000
	before := map[int64]string{}
	perPod := map[string]int{}
	for room := int64(1); room <= rooms; room++ {
		p := r.Pick(room).Addr
		if again := r.Pick(room).Addr; again != p {
			t.Fatalf("room %d picked %s then %s", room, p, again)
		}
		before[room] = p
		perPod[p]++
	}
	for pod, n := range perPod {
		if n < rooms*4/10 {
			t.Errorf("pod %s got %d of %d rooms, want about half", pod, n, rooms)
		}
	}

	dns.set("chat", "10.0.0.1", "10.0.0.2", "10.0.0.3")
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	moved := 0
	for room := int64(1); room <= rooms; room++ {
		if p := r.Pick(room).Addr; p != before[room] {
			if p != "10.0.0.3:9003" {
				t.Fatalf("room %d moved from %s to %s, not to the new pod", room, before[room], p)
			}
			moved++
		}
	}
	if moved < rooms/5 || moved > rooms/2 {
		t.Errorf("%d of %d rooms moved to the third pod, want about a third", moved, rooms)
	}

	var gone []string
	r.OnChange(func(g []string) { gone = g })
	dns.set("chat", "10.0.0.1", "10.0.0.2")
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gone, []string{"10.0.0.3:9003"}) || !slices.Contains(l.closed, "10.0.0.3:9003") {
		t.Errorf("gone %v, closed %v; want the third pod reported and closed", gone, l.closed)
	}
	for room := int64(1); room <= rooms; room++ {
		if p := r.Pick(room).Addr; p != before[room] {
			t.Fatalf("room %d on %s after the third pod left, want %s again", room, p, before[room])
		}
	}

	dns.fail = true
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.Pods(); len(got) != 2 {
		t.Errorf("after a failed lookup: pods %v, want the two kept", got)
	}
	if len(l.dialed) != 3 {
		t.Errorf("dialed %v, want each pod once", l.dialed)
	}
}

// Literal addresses are not looked up; an empty result changes nothing.
func TestRouterLiteralAndEmpty(t *testing.T) {
	t.Parallel()
	dns := &fakeDNS{hosts: map[string][]string{}}
	l := &dialLog{authority: map[string]string{}}
	r := newRouter(t, "127.0.0.1:9003, 127.0.0.1:9004", dns, l)
	if got := r.Pods(); !slices.Equal(got, []string{"127.0.0.1:9003", "127.0.0.1:9004"}) {
		t.Fatalf("pods %v", got)
	}
	empty := &Router{dial: l.dial, lookup: dns.lookup, log: r.log, closes: map[string]func(){},
		fallback: Endpoint{Addr: "fallback"}}
	empty.entries, _ = parseEntries("nowhere:1")
	if err := empty.Refresh(context.Background()); err == nil {
		t.Error("refresh with no address found: no error")
	}
	if got := empty.Pick(1).Addr; got != "fallback" {
		t.Errorf("no pod known: picked %q, want the fallback", got)
	}
	dns.set("nowhere", "10.1.1.1")
	if err := empty.Refresh(context.Background()); err != nil || empty.Pick(1).Addr != "10.1.1.1:1" {
		t.Errorf("once a pod appears: %v, picked %q", err, empty.Pick(1).Addr)
	}
	if _, err := parseEntries("no-port"); err == nil {
		t.Error("an address without a port was accepted")
	}
}
