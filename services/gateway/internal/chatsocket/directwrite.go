package chatsocket

import (
	"bytes"
	"errors"
	"runtime"
	"time"
)

// Live frames are written by the goroutine that releases them (a room's
// stream, a room's event, a user's stream, the pinger) rather than by a
// writer goroutine per socket, whenever the socket has no writer running
// and the kernel takes the bytes without waiting, which is nearly always.
// Waking a socket's writer for every event (a channel send, a scheduler
// wake-up, a park and a timer reset per socket) cost ~8 % of a gateway's
// CPU in a room of 1,000, where the write system call itself is two thirds
// (BENCHMARKS.md, "Direct writes"). What the kernel has no room for now (a slow
// peer) goes to a writer goroutine, which waits for room within the write
// deadline, so one slow socket never holds up the goroutine that serves
// the others.
//
// Order is kept by the same rule as before: at most one writer per socket
// at a time (c.writing). A producer that finds a writer running only
// queues; the writer takes the queue when it is done. Control frames (a
// ping, the pong to a client's ping, the close) go through the same writer,
// so none lands inside a data frame the kernel took only in part.

// minFlushChunk is the fewest sockets per goroutine when flushAll spreads a
// big room's writes over the cores: starting a goroutine costs about a few
// writes.
const minFlushChunk = 64

// fanOut queues frames on every socket of socks (queue, which must not
// start a writer: deliverMessages, deliverEvent) and then writes them: the
// queueing in order, by the caller, the writes by flushAll.
func fanOut(socks []*client, queue func(*client)) {
	for _, c := range socks {
		queue(c)
	}
	flushAll(socks)
}

// flushAll flushes socks (frames already queued, in order, by the caller),
// on up to GOMAXPROCS goroutines for big rooms so a fan-out uses every core,
// the calling goroutine taking one share.
func flushAll(socks []*client) {
	if len(socks) <= minFlushChunk {
		flushEach(socks)
		return
	}
	procs := runtime.GOMAXPROCS(0)
	per := max(minFlushChunk, (len(socks)+procs-1)/procs)
	for len(socks) > per {
		go flushEach(socks[len(socks)-per:])
		socks = socks[:len(socks)-per]
	}
	flushEach(socks)
}

func flushEach(socks []*client) {
	for _, c := range socks {
		c.flush()
	}
}

// flush writes c's queued frames from the calling goroutine when no writer
// runs (writeDirect); a running writer takes them itself.
func (c *client) flush() {
	c.mu.Lock()
	if c.writing || c.closed || len(c.queue) == 0 {
		c.mu.Unlock()
		return
	}
	c.writing = true // this goroutine is the writer for one batch
	q := c.takeQueueLocked()
	c.mu.Unlock()
	c.writeDirect(q, false, nil)
}

// writeDirect writes q's frames (then a ping, if ping, and the pong pong)
// as c's writer, in one system call that never waits. What it could not
// write goes to a writer goroutine started here: the frames back to the
// head of the queue (the ping to pingDue, the pong to c.pong) when nothing
// was written, else the rest of the batch in c.wr.rest, which that goroutine
// finishes before anything else. The caller set c.writing; this clears it,
// or hands it to that goroutine when there is more to do (frames queued
// meanwhile, the close).
func (c *client) writeDirect(q [][]byte, ping bool, pong []byte) {
	written := false
	err := c.dropStaleWriteDeadline()
	if err == nil {
		bp := c.hub.buffers.Get().(*[]byte)
		buf := controlFrames(appendTextFrames((*bp)[:0], q), ping, pong)
		var n int
		n, err = writeSome(c.nc, buf)
		switch {
		case errors.Is(err, errWouldBlock) && n > 0:
			c.wr.rest, err, written = bytes.Clone(buf[n:]), nil, true
			c.hub.metrics.handoffs.Inc()
		case errors.Is(err, errWouldBlock):
			err = nil
		default:
			written = err == nil
		}
		putBuffer(c.hub.buffers, bp, buf)
	}
	switch {
	case err != nil:
		if len(q) > 0 {
			c.hub.metrics.deliveryErrors.Inc()
		}
		c.close(0, "")
	case !written:
		c.hub.metrics.handoffs.Inc()
	case len(q) > 0:
		c.hub.metrics.framesSent.Add(float64(len(q)))
		if c.wr.rest == nil && c.stalled(time.Now()) && c.close(CloseSlow, "slow") {
			c.hub.metrics.slowCloses.Inc()
		}
	}
	c.mu.Lock()
	if err == nil && !written {
		c.queue = append(q, c.queue...)
		c.pingDue = c.pingDue || ping
		if c.pong == nil {
			c.pong = pong
		}
	} else {
		c.giveBackLocked(q)
	}
	if !c.closed && c.wr.rest == nil && !c.pingDue && c.pong == nil && len(c.queue) == 0 {
		c.writing = false
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	go c.writeLoop()
}

// writeRest writes what a direct write left in c.wr.rest, waiting for room
// up to the write deadline. Writer goroutine.
func (c *client) writeRest() error {
	if err := c.extendWriteDeadline(); err != nil {
		c.wr.rest = nil
		return err
	}
	_, err := c.nc.Write(c.wr.rest)
	c.wr.rest = nil
	return err
}
