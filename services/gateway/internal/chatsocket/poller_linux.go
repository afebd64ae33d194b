//go:build linux

package chatsocket

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// readsOnReadiness: a reader returns once it has read what came, and the
// poller starts the next (reader.go).
const readsOnReadiness = true

// poller watches a replica's idle sockets for bytes to read with an epoll
// instance of its own, beside the Go runtime's: each socket is watched
// once (EPOLLONESHOT) until its reader has run and watches it again, so at
// most one event per socket is ever pending. One goroutine waits on it
// while sockets are watched and ends, closing the instance, once none have
// been for pollIdle; the next socket starts another.
type poller struct {
	mu    sync.Mutex
	epfd  int               // -1: no instance (no waiter)
	socks map[int32]*client // watched sockets by file descriptor
	gen   int32             // last registration number given out
}

// pollIdle is how long the waiter waits for an event before it checks
// whether any socket is still watched.
const pollIdle = time.Second

func newPoller() *poller { return &poller{epfd: -1, socks: make(map[int32]*client)} }

// watch has the poller start c's reader when bytes (or the peer's close)
// arrive. It fails for a socket that is closed. A connection without
// a file descriptor of its own gets a reader at once, which waits in its
// read as gorilla's did.
func (p *poller) watch(c *client) error {
	rc, ok, err := rawConn(c)
	if !ok {
		c.startReader()
		return nil
	}
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.isClosed() {
		// closeConn (which runs after the close) may already have
		// forgotten the socket: registered now, it would stay in socks.
		return net.ErrClosed
	}
	if p.epfd < 0 {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return err
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			_ = unix.Close(fd)
			return err
		}
		p.epfd = fd
		go p.wait(fd)
	}
	var ctlErr error
	// Control keeps the descriptor open meanwhile: it cannot be closed and
	// reused by another connection under the registration.
	err = rc.Control(func(ufd uintptr) {
		fd := int32(ufd) //nolint:gosec // G115: a file descriptor, below the open-file limit
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: fd}
		op := unix.EPOLL_CTL_MOD
		if c.pollGen == 0 {
			// The registration number tells an event for this
			// connection from a stale one for an earlier connection
			// that had the same descriptor.
			p.gen++
			if p.gen <= 0 {
				p.gen = 1
			}
			c.pollGen, c.pollFD = p.gen, fd
			p.socks[c.pollFD] = c
			op = unix.EPOLL_CTL_ADD
		}
		ev.Pad = c.pollGen
		ctlErr = unix.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if err == nil {
		err = ctlErr
	}
	if err != nil {
		p.forgetLocked(c)
	}
	return err
}

// forget stops watching c; the connection is about to close (closeConn).
func (p *poller) forget(c *client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.pollGen == 0 {
		return
	}
	if rc, ok, err := rawConn(c); ok && err == nil {
		// A descriptor already closed left the instance with it.
		_ = rc.Control(func(fd uintptr) { _ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil) })
	}
	p.forgetLocked(c)
}

// rawConn is c's connection's descriptor access; ok is false for a
// connection without a descriptor of its own.
func rawConn(c *client) (rc syscall.RawConn, ok bool, err error) {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return nil, false, nil
	}
	rc, err = sc.SyscallConn()
	return rc, true, err
}

func (p *poller) forgetLocked(c *client) {
	if c.pollGen != 0 && p.socks[c.pollFD] == c {
		delete(p.socks, c.pollFD)
	}
	c.pollGen = 0
}

// wait starts the reader of each socket that has bytes to read. The
// instance is itself waited for in the Go runtime's poller (an epoll
// descriptor is readable while it has events), so the waiting goroutine
// parks like any socket read instead of holding a thread in epoll_wait:
// with a blocking epoll_wait per event, each send cost the gateway ~50 µs
// of CPU more than a parked reader did (S1 A/B, BENCHMARKS.md).
func (p *poller) wait(epfd int) {
	ep := os.NewFile(uintptr(epfd), "epoll")
	rc, err := ep.SyscallConn()
	events := make([]unix.EpollEvent, 256)
	var ready []*client
	for {
		n := 0
		if err == nil {
			// Wait up to pollIdle for events, then see whether any
			// socket is still watched.
			_ = ep.SetReadDeadline(time.Now().Add(pollIdle))
			err = rc.Read(func(fd uintptr) bool {
				var werr error
				n, werr = unix.EpollWait(int(fd), events, 0)
				return n > 0 || (werr != nil && !errors.Is(werr, unix.EINTR))
			})
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = nil
			}
		}
		p.mu.Lock()
		if err != nil || (n == 0 && len(p.socks) == 0) {
			// err: the instance is unusable (it cannot be, short of a
			// bug); each of its sockets gets a reader, which waits in
			// its read and then watches the socket in a new instance.
			for _, c := range p.socks {
				ready = append(ready, c)
				p.forgetLocked(c)
			}
			p.epfd = -1
			p.mu.Unlock()
			_ = ep.Close()
			for _, c := range ready {
				c.startReader()
			}
			return
		}
		for _, ev := range events[:n] {
			if c := p.socks[ev.Fd]; c != nil && c.pollGen == ev.Pad {
				ready = append(ready, c)
			}
		}
		p.mu.Unlock()
		for _, c := range ready {
			c.startReader()
		}
		clear(ready)
		ready = ready[:0]
	}
}
