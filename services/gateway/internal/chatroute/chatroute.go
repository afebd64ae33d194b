// Package chatroute sends every room's messages to one chat service pod
// while the set of pods is stable, so that pods do not take turns on a
// room's row lock (each commit of a room locks its row: sends of one room
// committed by two pods wait for each other) and each pod's group commit
// gathers whole rooms.
//
// CHAT_SERVICE_ADDR names the pods: a comma-separated list of host:port,
// each host resolved to every address DNS returns for it (a headless
// Kubernetes Service lists every ready pod) and resolved again
// periodically. A room's pod is chosen by rendezvous hashing of the room
// id over the pods' addresses: every gateway replica that sees the same
// pods picks the same one for a room, and when a pod comes or goes only
// the rooms it gains or loses move. A room whose sends reach two pods for
// a moment (one replica resolved the change before another) is still
// correct, only slower: the row lock orders the commits.
package chatroute

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// Endpoint is one chat pod: its address ("ip:port") and its client.
type Endpoint struct {
	Addr   string
	Client chatv1.ChatServiceClient
}

// Dial connects to one pod; authority is the host name it was found
// under (for TLS verification), addr its resolved "ip:port".
type Dial func(addr, authority string) (client chatv1.ChatServiceClient, closeConn func(), err error)

// Router keeps the current pods and picks one per room.
type Router struct {
	entries []entry
	dial    Dial
	lookup  func(ctx context.Context, host string) ([]string, error)
	log     *slog.Logger
	// onChange is told the addresses of pods that went away (after they
	// were removed, before their connections are closed).
	onChange func(gone []string)
	fallback Endpoint // while no pod is known

	mu     sync.RWMutex
	pods   []Endpoint // sorted by Addr
	closes map[string]func()
}

// entry is one configured host:port; last holds what its host resolved to
// the last time a lookup succeeded (Refresh's goroutine only).
type entry struct {
	host, port string
	last       []string
}

// New parses addrs (comma-separated host:port), resolves them once and
// dials every pod. Until some pod is found (the chat service may start
// after the gateway, and a headless Service without ready pods has no
// address), Pick answers fallback, a client balanced over whatever the
// addresses resolve to when it calls.
func New(ctx context.Context, addrs string, dial Dial, fallback chatv1.ChatServiceClient, log *slog.Logger) (*Router, error) {
	r := &Router{dial: dial, log: log, closes: map[string]func(){},
		lookup: net.DefaultResolver.LookupHost, fallback: Endpoint{Client: fallback}}
	var err error
	if r.entries, err = parseEntries(addrs); err != nil {
		return nil, err
	}
	if err := r.Refresh(ctx); err != nil {
		log.Warn("no chat pod found yet; sends are balanced until one is", "err", err)
	}
	return r, nil
}

func parseEntries(addrs string) ([]entry, error) {
	var entries []entry
	for _, a := range strings.Split(addrs, ",") {
		host, port, err := net.SplitHostPort(strings.TrimSpace(a))
		if err != nil {
			return nil, fmt.Errorf("chat address %q: %w", a, err)
		}
		entries = append(entries, entry{host: host, port: port})
	}
	return entries, nil
}

// OnChange registers fn, told the addresses of pods that went away.
func (r *Router) OnChange(fn func(gone []string)) { r.onChange = fn }

// Pick returns the pod of roomID (the fallback while no pod is known).
func (r *Router) Pick(roomID int64) Endpoint {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.pods) == 0 {
		return r.fallback
	}
	return pick(r.pods, roomID)
}

// pick is rendezvous (highest random weight) hashing: the pod whose hash
// of (address, room) is highest.
func pick(pods []Endpoint, roomID int64) Endpoint {
	var best Endpoint
	var bestScore uint64
	var room [8]byte
	binary.BigEndian.PutUint64(room[:], uint64(roomID)) //nolint:gosec // G115: the bits, not the value
	for i, p := range pods {
		h := fnv.New64a()
		_, _ = h.Write([]byte(p.Addr))
		_, _ = h.Write(room[:])
		if s := mix(h.Sum64()); i == 0 || s > bestScore {
			best, bestScore = p, s
		}
	}
	return best
}

// mix is SplitMix64's finaliser: FNV's low bits vary little for inputs
// that differ only in their last bytes, which would skew the choice.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Pods returns the current pods' addresses, sorted.
func (r *Router) Pods() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, len(r.pods))
	for i, p := range r.pods {
		out[i] = p.Addr
	}
	return out
}

// Refresh resolves the entries again, dials new pods and drops gone ones.
// A failed lookup keeps the pods that entry resolved to last time (DNS
// hiccups must not empty the set); an empty result for every entry is an
// error and changes nothing.
func (r *Router) Refresh(ctx context.Context) error {
	found := r.resolve(ctx)
	if len(found) == 0 {
		return fmt.Errorf("no chat service address found in %v", r.entries)
	}

	r.mu.RLock()
	known := make(map[string]Endpoint, len(r.pods))
	for _, p := range r.pods {
		known[p.Addr] = p
	}
	r.mu.RUnlock()
	pods := make([]Endpoint, 0, len(found))
	dialed := map[string]func(){}
	for addr, authority := range found {
		if p, ok := known[addr]; ok {
			pods = append(pods, p)
			continue
		}
		c, closeConn, err := r.dial(addr, authority)
		if err != nil {
			for _, fn := range dialed {
				fn()
			}
			return fmt.Errorf("chat pod %s: %w", addr, err)
		}
		pods = append(pods, Endpoint{Addr: addr, Client: c})
		dialed[addr] = closeConn
	}
	slices.SortFunc(pods, func(a, b Endpoint) int { return strings.Compare(a.Addr, b.Addr) })

	r.mu.Lock()
	r.pods = pods
	var gone []string
	var closing []func()
	for addr, fn := range r.closes {
		if _, ok := found[addr]; !ok {
			gone = append(gone, addr)
			closing = append(closing, fn)
			delete(r.closes, addr)
		}
	}
	maps.Copy(r.closes, dialed)
	r.mu.Unlock()

	if len(gone) > 0 {
		r.log.Info("chat pods changed", "pods", len(pods), "gone", gone)
		if r.onChange != nil {
			r.onChange(gone)
		}
	}
	for _, fn := range closing {
		fn()
	}
	return nil
}

// resolve returns every pod address ("ip:port") the entries name now, each
// with the host name it was found under.
func (r *Router) resolve(ctx context.Context) map[string]string {
	found := map[string]string{}
	for i, e := range r.entries {
		ips := []string{e.host}
		if net.ParseIP(e.host) == nil {
			var err error
			if ips, err = r.lookup(ctx, e.host); err != nil {
				r.log.Warn("chat address lookup failed; keeping its pods", "host", e.host, "err", err)
				ips = e.last
			}
		}
		r.entries[i].last = ips
		for _, ip := range ips {
			found[net.JoinHostPort(ip, e.port)] = e.host
		}
	}
	return found
}

// Run refreshes every interval until ctx ends.
func (r *Router) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("chat pods not refreshed", "err", err)
			}
		}
	}
}

// Close closes every pod's connection.
func (r *Router) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for addr, fn := range r.closes {
		fn()
		delete(r.closes, addr)
	}
	r.pods = nil
}
