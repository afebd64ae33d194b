// Package batch groups concurrent requests into one call of a flush
// function (group commit): the chat service's message commits and the
// gateway's calls to it. One worker flushes at a time: while a batch is
// being committed the next one gathers, so batches grow with load and a lone
// request waits for nobody. Flushing from a single worker also keeps commit
// order (and so publish order) equal to seq order within this process.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("batch: closed")

// DefaultFlushTimeout bounds one flush unless Config.FlushTimeout is set; it
// does not depend on any caller's context because a batch serves many
// callers.
const DefaultFlushTimeout = 10 * time.Second

// Flush handles one batch: it returns one result per request, in order, or
// an error that fails every request of the batch.
type Flush[Req, Res any] func(ctx context.Context, reqs []Req) ([]Res, error)

// Config tunes a Batcher.
type Config struct {
	// MaxSize is the most requests per batch (default 256).
	MaxSize int
	// MaxWait is how long a batch may wait for more requests once it has
	// one, when requests are arriving closer together than that (a request
	// after a quiet spell is flushed at once: waiting would only delay
	// it). Zero flushes whatever is queued at once, the lowest latency.
	MaxWait time.Duration
	// FlushTimeout bounds one flush [DefaultFlushTimeout].
	FlushTimeout time.Duration
	// Observe, if set, is told the size, flush duration and outcome of
	// every batch (and of every part of a split batch, see Isolate).
	Observe func(size int, took time.Duration, err error)
	// Isolate, if set, reports whether a failed flush was refused because
	// of the data of some of its requests (e.g. text the database cannot
	// store) and changed nothing, so that smaller batches of the same
	// requests can be flushed again. The batch is then split in halves,
	// and halves again, until only the requests at fault fail: one
	// user's bad input never fails the others sharing its batch. Errors
	// of unknown outcome (a connection lost during the commit) must not be
	// isolated: they fail the whole batch, whose callers retry.
	Isolate func(err error) bool
}

// Batcher runs batches of Req through a Flush.
type Batcher[Req, Res any] struct {
	flush Flush[Req, Res]
	cfg   Config
	in    chan call[Req, Res]
	done  chan struct{}

	mu     sync.RWMutex // guards closed against sends on a closed channel
	closed bool

	// replies recycles the callers' reply channels: one per request was a
	// measurable share of the allocations of a sent message.
	replies sync.Pool
}

type call[Req, Res any] struct {
	req   Req
	reply chan result[Res] // buffered, so the worker never blocks on a gone caller
}

type result[Res any] struct {
	res Res
	err error
}

// New starts a Batcher's worker; Close stops it.
func New[Req, Res any](cfg Config, flush Flush[Req, Res]) *Batcher[Req, Res] {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = 256
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = DefaultFlushTimeout
	}
	b := &Batcher[Req, Res]{
		flush: flush,
		cfg:   cfg,
		in:    make(chan call[Req, Res], cfg.MaxSize*4),
		done:  make(chan struct{}),
	}
	b.replies.New = func() any { return make(chan result[Res], 1) }
	go b.loop()
	return b
}

// Do queues req and waits for its batch to be flushed. When ctx ends first
// it returns ctx.Err(), but the request may still be flushed (callers make
// retries safe, e.g. with an idempotency key).
func (b *Batcher[Req, Res]) Do(ctx context.Context, req Req) (Res, error) {
	var zero Res
	reply := b.replies.Get().(chan result[Res])
	c := call[Req, Res]{req: req, reply: reply}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		b.replies.Put(reply)
		return zero, ErrClosed
	}
	select {
	case b.in <- c:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		b.replies.Put(reply)
		return zero, ctx.Err()
	}
	select {
	case r := <-reply:
		b.replies.Put(reply) // the worker answers once, so it is empty and done with
		return r.res, r.err
	case <-ctx.Done():
		// The worker still owns reply and will answer into it: not reused.
		return zero, ctx.Err()
	}
}

// DoAll queues every request of reqs at once, in order, and waits for
// their batches: one caller handing over many requests (e.g. a batch
// received from elsewhere) costs no goroutine per request. Each request
// gets its own result or error, as from Do; when ctx ends first the
// requests not yet answered get ctx.Err() (and may still be flushed).
func (b *Batcher[Req, Res]) DoAll(ctx context.Context, reqs []Req) ([]Res, []error) {
	res := make([]Res, len(reqs))
	errs := make([]error, len(reqs))
	replies := make([]chan result[Res], len(reqs))
	b.mu.RLock()
	for i, req := range reqs {
		if b.closed {
			errs[i] = ErrClosed
			continue
		}
		reply := b.replies.Get().(chan result[Res])
		select {
		case b.in <- call[Req, Res]{req: req, reply: reply}:
			replies[i] = reply
		case <-ctx.Done():
			b.replies.Put(reply)
			errs[i] = ctx.Err()
		}
	}
	b.mu.RUnlock()
	for i, reply := range replies {
		if reply == nil {
			continue
		}
		select {
		case r := <-reply:
			b.replies.Put(reply)
			res[i], errs[i] = r.res, r.err
		case <-ctx.Done():
			// The worker still owns reply and will answer into it.
			errs[i] = ctx.Err()
		}
	}
	return res, errs
}

// Close stops accepting requests, flushes every queued one and waits for
// the worker to finish.
func (b *Batcher[Req, Res]) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.in)
	}
	b.mu.Unlock()
	<-b.done
}

func (b *Batcher[Req, Res]) loop() {
	defer close(b.done)
	calls := make([]call[Req, Res], 0, b.cfg.MaxSize)
	var lastArrival time.Time // of the previous batch's last request
	for {
		first, ok := <-b.in
		if !ok {
			return
		}
		now := time.Now()
		busy := now.Sub(lastArrival) < b.cfg.MaxWait
		calls = b.gather(append(calls[:0], first), busy)
		lastArrival = now
		if len(calls) > 1 {
			lastArrival = time.Now()
		}
		b.run(calls)
	}
}

// gather adds queued calls to calls until MaxSize, or until the queue is
// empty (and, when wait is set, MaxWait has passed).
func (b *Batcher[Req, Res]) gather(calls []call[Req, Res], wait bool) []call[Req, Res] {
	var deadline <-chan time.Time
	if wait && b.cfg.MaxWait > 0 {
		t := time.NewTimer(b.cfg.MaxWait)
		defer t.Stop()
		deadline = t.C
	}
	for len(calls) < b.cfg.MaxSize {
		select {
		case c, ok := <-b.in:
			if !ok {
				return calls
			}
			calls = append(calls, c)
			continue
		default:
		}
		if deadline == nil {
			return calls
		}
		select {
		case c, ok := <-b.in:
			if !ok {
				return calls
			}
			calls = append(calls, c)
		case <-deadline:
			return calls
		}
	}
	return calls
}

// run flushes calls and answers every caller.
func (b *Batcher[Req, Res]) run(calls []call[Req, Res]) {
	err := b.flushAndAnswer(calls)
	switch {
	case err == nil:
	case len(calls) > 1 && b.cfg.Isolate != nil && b.cfg.Isolate(err):
		// Refused for some requests' data: flush each half again, in
		// order, so the others are stored (in the same order as before)
		// and only the requests at fault get the error. Bisecting costs
		// about 2·log2(n) flushes per bad request instead of n for
		// one-by-one retries.
		mid := len(calls) / 2
		b.run(calls[:mid])
		b.run(calls[mid:])
	default:
		for _, c := range calls {
			c.reply <- result[Res]{err: err}
		}
	}
}

// flushAndAnswer flushes calls once. On success it answers every caller;
// on failure it answers none and returns the error.
func (b *Batcher[Req, Res]) flushAndAnswer(calls []call[Req, Res]) error {
	reqs := make([]Req, len(calls))
	for i, c := range calls {
		reqs[i] = c.req
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.FlushTimeout)
	res, err := b.flush(ctx, reqs)
	cancel()
	took := time.Since(start)
	if err == nil && len(res) != len(reqs) {
		err = fmt.Errorf("batch: flush returned %d results for %d requests", len(res), len(reqs))
	}
	if b.cfg.Observe != nil {
		b.cfg.Observe(len(reqs), took, err)
	}
	if err != nil {
		return err
	}
	for i, c := range calls {
		c.reply <- result[Res]{res: res[i]}
	}
	return nil
}
