package faults_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// F7: NATS nodes killed (SIGKILL) mid-chat in a 3-node cluster of the
// machine's nats-server, with gateway 0, gateway 1 and the chat service
// each connected to its own node: first the node of gateway 0 (its room
// subscriptions), then the node of the chat service (its publishes), each
// frozen just before the kill so that events are certainly lost. Each
// process is given its node's URL only and learns the others from it, as
// with one DNS name for the cluster. The processes move to a surviving
// node at once, sends are acknowledged throughout, what a gateway missed
// while it moved is repaired from history (the next message shows the
// gap), and the checker finds nothing lost or doubled and order kept.
//
// Members that only listen prove the failover: they never send (their
// own acks would reveal gaps without NATS) and keep their one socket, so
// everything they get after the first kill came through gateway 0's
// subscription on its new node.
func TestF7NATSNodeKilled(t *testing.T) {
	t.Parallel()
	cl := testenv.StartNATSCluster(t, 3)
	on := func(node int) map[string]string { return map[string]string{"NATS_URL": cl.Nodes[node].ClientURL} }
	s := stack.Start(t, stack.Options{Gateways: 2,
		// The post service uses no NATS.
		Env:        map[string]map[string]string{stack.User: on(2), stack.Chat: on(2)},
		GatewayEnv: map[int]map[string]string{0: on(0), 1: on(1)},
	})
	// Connection names (nats.Name) as the services set them.
	gw0 := "gateway " + s.Gateway(0).Env["GATEWAY_ID"]
	gw1 := "gateway " + s.Gateway(1).Env["GATEWAY_ID"]
	const chat = "chat"
	waitUntil(t, 10*time.Second, "gateway 0, gateway 1 and chat on nodes 0, 1 and 2", func() bool {
		return nodeOf(cl, gw0) == 0 && nodeOf(cl, gw1) == 1 && nodeOf(cl, chat) == 2
	})

	ctx := contextFor(t)
	c := newCast(t, ctx, s, 0, 0, 1, 1)
	var listeners []*participant
	for _, gw := range []int{0, 1} {
		a := signup(t, s.Gateways[gw], "listener")
		l := newParticipant(fmt.Sprintf("listener@gw%d", gw), a, c.room, c.bal, gw, c.h)
		l.start(t, ctx)
		listeners = append(listeners, l)
	}

	// The kills, while everyone sends every 100 ms.
	type kill struct {
		node      int
		client    string
		ackedSeq  int64         // highest acknowledged seq at the kill
		movedTo   int           // node the client reconnected to
		moveAfter time.Duration // from the kill to the client seen on movedTo
	}
	var kills []kill
	var killErr error
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		for _, k := range []kill{{node: 0, client: gw0}, {node: 2, client: chat}} {
			time.Sleep(time.Second)
			// The node to kill has the client: the kill must cut it off.
			if n := nodeOf(cl, k.client); n != k.node {
				killErr = fmt.Errorf("%q is on node %d before the kill of node %d", k.client, n, k.node)
				return
			}
			// Freeze the node until two more sends are acknowledged:
			// their events, routed to it or published on it, die with it.
			// Without this the failover (milliseconds) would rarely fall
			// between two sends, and gap repair would go untested.
			frozenAt := c.h.maxAcked()
			cl.Nodes[k.node].Freeze()
			for c.h.maxAcked() < frozenAt+2 {
				if time.Since(start) > 20*time.Second {
					killErr = fmt.Errorf("no sends acknowledged while node %d was frozen", k.node)
					cl.Nodes[k.node].Kill()
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
			k.ackedSeq = c.h.maxAcked()
			at := time.Now()
			cl.Nodes[k.node].Kill()
			for k.movedTo = nodeOf(cl, k.client); k.movedTo < 0; k.movedTo = nodeOf(cl, k.client) {
				if time.Since(at) > 10*time.Second {
					killErr = fmt.Errorf("%q not connected to any surviving node 10 s after node %d was killed", k.client, k.node)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			k.moveAfter = time.Since(at)
			kills = append(kills, k)
		}
	}()
	c.sendWhile(ctx, func(int) bool { return !isClosed(done) }, 100*time.Millisecond)
	// Keep chatting after the last kill: these messages come through the
	// new nodes, and show every receiver the gaps the kills left.
	c.sendAll(ctx, 8, 100*time.Millisecond)
	<-done
	if killErr != nil {
		t.Fatal(killErr)
	}

	for _, k := range kills {
		t.Logf("node %d killed at acked seq %d: %q reconnected to node %d, seen there %v later",
			k.node, k.ackedSeq, k.client, k.movedTo, k.moveAfter.Round(time.Millisecond))
		if k.movedTo == k.node {
			t.Errorf("%q is on node %d, which was killed", k.client, k.node)
		}
		// It moves at once (no reconnect wait for nodes not tried yet);
		// 5 s allows for a busy machine.
		if k.moveAfter > 5*time.Second {
			t.Errorf("%q took %v to reconnect after node %d was killed, want at once", k.client, k.moveAfter, k.node)
		}
	}
	if len(kills) != 2 {
		t.Fatalf("%d kills done, want 2", len(kills))
	}
	// Node 1 is the only one left: every process that uses NATS is there.
	for _, name := range []string{gw0, gw1, chat, "cobraspace-user"} {
		if n := nodeOf(cl, name); n != 1 {
			t.Errorf("%q on node %d after the kills, want node 1, the survivor", name, n)
		}
	}
	if n := c.h.ackedAfter(kills[1].ackedSeq); n < 4*8 {
		t.Errorf("%d sends acknowledged after the last kill, want at least %d (the chat went on)", n, 4*8)
	}
	for _, l := range listeners {
		l.report(t)
		l.mu.Lock()
		if l.connects != 1 {
			t.Errorf("%s: %d connections (closes %+v), want its one socket kept through the kills", l.name, l.connects, l.closes)
		}
		l.mu.Unlock()
	}
	// Events were lost with the nodes: gateway 0's subscription's (first
	// kill) and the chat service's publishes (second kill). A gateway's
	// room stream takes its own senders' messages from their acks (here
	// often before NATS, whose copy crosses a route between nodes) and
	// reads the others' from history: a gateway whose senders sent every
	// message lost with a node repairs nothing, but the messages the chat
	// service's node took with it were sent through one gateway and were
	// missing at the other.
	var total float64
	for gw, admin := range s.GatewayAdmin {
		repairs, err := metric(admin, "cobra_gateway_chat_gap_repairs_total")
		if err != nil {
			t.Fatal(err)
		}
		acks, err := metric(admin, "cobra_gateway_chat_ack_releases_total")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("gateway %d: %v gap repairs, %v messages from acks before NATS", gw, repairs, acks)
		total += repairs
	}
	if total < 1 {
		t.Error("no gateway made a gap repair, want at least 1 (events were lost with the killed nodes)")
	}
	c.wantAllAcked(t)
	// Every member, the listeners included, must end with every message
	// exactly once and in order.
	c.check(t, s.Gateways[1])
}

// nodeOf returns the index of the live node a client named name is
// connected to (-1: none).
func nodeOf(cl *testenv.NATSCluster, name string) int {
	for i, node := range cl.Nodes {
		if !node.Running() {
			continue
		}
		if clients, err := node.Clients(); err == nil && slices.Contains(clients, name) {
			return i
		}
	}
	return -1
}

// ackedAfter counts the message ids acknowledged with a seq above seq.
func (h *History) ackedAfter(seq int64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.sends {
		if r.final() == Acked && r.seq > seq {
			n++
		}
	}
	return n
}
