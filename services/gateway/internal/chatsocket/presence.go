package chatsocket

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// A replica keeps its sockets present in the chat service with one lease
// per room: each heartbeat renews the lease of every room where the
// replica has sockets, with their number, so it costs the same for one
// socket as for thousands (it renewed each socket until 2026-12-06: ~30%
// of what idle sockets cost, BENCHMARKS.md S3). The chat service answers
// with the rooms whose count it sees differently, after a Join or Leave
// that is in flight or was lost (a Redis outage); for those the replica
// sends the list of its sockets there (reconcile), and joins again the
// ones the service does not know.

// newLease is a lease unique to this process: the gateway's id (as far as
// it holds the characters a lease may) and 64 random bits, so two
// processes with one GATEWAY_ID, or one restarted while its old lease
// lives, never share a lease.
func newLease(gatewayID string) string {
	id := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, gatewayID)
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return id[:min(len(id), 100)] + "-" + hex.EncodeToString(b[:])
}

// heartbeat renews the replica's lease in every room where it has sockets,
// and reconciles the rooms the chat service counts differently. The counts
// are the rooms' member lists, so it does not walk every socket.
func (h *Hub) heartbeat(ctx context.Context) {
	req := &chatv1.HeartbeatRequest{GatewayId: h.cfg.GatewayID, Lease: h.lease}
	h.mu.Lock()
	for id, r := range h.rooms {
		// A room held only by /ws/user/ watchers has no members.
		if n := len(*r.members.Load()); n > 0 {
			req.Rooms = append(req.Rooms, &chatv1.RoomSockets{RoomId: id, Sockets: int32(n)}) //nolint:gosec // G115: sockets per process are below the open-file limit
		}
	}
	h.mu.Unlock()
	if len(req.Rooms) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.RPCTimeout)
	resp, err := h.chat.Heartbeat(cctx, req)
	cancel()
	if err != nil {
		h.log.Warn("chat heartbeat failed", "err", err)
		return
	}
	if len(resp.GetRecount()) > 0 {
		h.reconcile(ctx, resp.GetRecount(), resp.GetAsOfMs())
	}
}

// reconcile sends the chat service the replica's sockets in rooms, listed
// after the heartbeat that named the rooms counted (asOfMs), and joins
// again the ones the service does not know.
func (h *Hub) reconcile(ctx context.Context, rooms []int64, asOfMs int64) {
	req := &chatv1.ReconcilePresenceRequest{Lease: h.lease, AsOfMs: asOfMs, RoomIds: rooms}
	h.mu.Lock()
	for _, id := range rooms {
		if r := h.rooms[id]; r != nil {
			for _, c := range *r.members.Load() {
				req.Connections = append(req.Connections, &chatv1.ConnectionRef{RoomId: id, ConnectionId: c.connID})
			}
		}
	}
	h.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, h.cfg.RPCTimeout)
	resp, err := h.chat.ReconcilePresence(cctx, req)
	cancel()
	if err != nil {
		h.log.Warn("chat presence reconcile failed", "err", err)
		return
	}
	var again []*client
	h.mu.Lock()
	for _, u := range resp.GetUnknown() {
		if c := h.conns[u.GetConnectionId()]; c != nil {
			again = append(again, c)
		}
	}
	h.mu.Unlock()
	for _, c := range again {
		if !c.isClosed() {
			go c.rejoin()
		}
	}
}
