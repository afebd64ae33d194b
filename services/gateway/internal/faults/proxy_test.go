package faults_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// proxy is a TCP test proxy on loopback. Freeze makes it stop forwarding
// in both directions while keeping every connection open, which is what
// a half-open connection (a peer that vanished without FIN or RST, e.g. a
// phone that lost its network) looks like to the server.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen bool
	thaw   *sync.Cond
	conns  []net.Conn
}

// newProxy listens on a random loopback port and forwards to target.
func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.thaw = sync.NewCond(&p.mu)
	t.Cleanup(p.close)
	go p.accept()
	return p
}

// Addr is the proxy's listening address.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

// Freeze stops forwarding bytes; connections stay open.
func (p *proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = false
	p.thaw.Broadcast()
	for _, c := range p.conns {
		c.Close()
	}
}

func (p *proxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

// pipe copies src to dst in small chunks, holding each chunk while the
// proxy is frozen (then nothing is read either, so the sender's buffers
// fill as with a dead peer).
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.frozen {
				p.thaw.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close()
			}
			return
		}
	}
}
