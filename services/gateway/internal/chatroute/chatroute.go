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

type entry struct{ host, port string }

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
// A failed lookup keeps that entry's current pods (DNS hiccups must not
// empty the set); an empty result for every entry is an error and changes
// nothing.
func (r *Router) Refresh(ctx context.Context) error {
	r.mu.RLock()
	known := make(map[string]Endpoint, len(r.pods))
	for _, p := range r.pods {
		known[p.Addr] = p
	}
	r.mu.RUnlock()

	found := map[string]string{} // addr -> authority
	for _, e := range r.entries {
		ips := []string{e.host}
		if net.ParseIP(e.host) == nil {
			var err error
			if ips, err = r.lookup(ctx, e.host); err != nil {
				r.log.Warn("chat address lookup failed; keeping its pods", "host", e.host, "err", err)
				for addr, p := range known {
					if h, port, _ := net.SplitHostPort(addr); port == e.port && h != "" {
						found[p.Addr] = e.host
					}
				}
				continue
			}
		}
		for _, ip := range ips {
			found[net.JoinHostPort(ip, e.port)] = e.host
		}
	}
	if len(found) == 0 {
		return fmt.Errorf("no chat service address found in %v", r.entries)
	}

	var pods []Endpoint
	newCloses := map[string]func(){}
	for addr, authority := range found {
		if p, ok := known[addr]; ok {
			pods = append(pods, p)
			continue
		}
		c, closeFn, err := r.dial(addr, authority)
		if err != nil {
			return fmt.Errorf("chat pod %s: %w", addr, err)
		}
		pods = append(pods, Endpoint{Addr: addr, Client: c})
		newCloses[addr] = closeFn
	}
	slices.SortFunc(pods, func(a, b Endpoint) int { return strings.Compare(a.Addr, b.Addr) })

	r.mu.Lock()
	r.pods = pods
	maps := r.closes
	var gone []string
	var closing []func()
	for addr, fn := range maps {
		if _, ok := found[addr]; !ok {
			gone = append(gone, addr)
			closing = append(closing, fn)
			delete(maps, addr)
		}
	}
	for addr, fn := range newCloses {
		maps[addr] = fn
	}
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
