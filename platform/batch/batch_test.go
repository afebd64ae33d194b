package batch

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBatcherGroupsConcurrentRequests(t *testing.T) {
	t.Parallel()
	var flushes, biggest atomic.Int64
	release := make(chan struct{})
	b := New(Config{MaxSize: 64}, func(_ context.Context, reqs []int) ([]int, error) {
		if flushes.Add(1) == 1 {
			<-release // hold the first batch so the others queue up
		}
		if n := int64(len(reqs)); n > biggest.Load() {
			biggest.Store(n)
		}
		out := make([]int, len(reqs))
		for i, r := range reqs {
			out[i] = r * 2
		}
		return out, nil
	})
	defer b.Close()

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			got, err := b.Do(context.Background(), i)
			if err == nil && got != i*2 {
				err = errors.New("wrong result")
			}
			errs <- err
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
	}
	if got := flushes.Load(); got >= n {
		t.Errorf("got %d flushes for %d requests, want fewer (batched)", got, n)
	}
	if got := biggest.Load(); got < 2 {
		t.Errorf("got biggest batch %d, want > 1", got)
	}
}

func TestBatcherFailsEveryWaiterOfAFailedBatch(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	var sizes []int
	var mu sync.Mutex
	b := New(Config{MaxSize: 8, MaxWait: 20 * time.Millisecond, Observe: func(size int, _ time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		if !errors.Is(err, boom) {
			t.Errorf("Observe got err %v, want boom", err)
		}
		sizes = append(sizes, size)
	}}, func(context.Context, []string) ([]string, error) { return nil, boom })
	defer b.Close()

	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := b.Do(context.Background(), "x"); !errors.Is(err, boom) {
				t.Errorf("got %v, want boom", err)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, s := range sizes {
		total += s
	}
	if total != 5 {
		t.Errorf("got %d requests observed, want 5", total)
	}
}

func TestBatcherRespectsMaxSize(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	b := New(Config{MaxSize: 3}, func(_ context.Context, reqs []int) ([]int, error) {
		<-release
		mu.Lock()
		sizes = append(sizes, len(reqs))
		mu.Unlock()
		return make([]int, len(reqs)), nil
	})
	defer b.Close()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { _, _ = b.Do(context.Background(), i) })
	}
	time.Sleep(30 * time.Millisecond)
	close(release)
	wg.Wait()
	for _, s := range sizes {
		if s > 3 {
			t.Errorf("got batch of %d, want at most 3", s)
		}
	}
}

func TestBatcherCloseDrainsQueueThenRefuses(t *testing.T) {
	t.Parallel()
	var flushed atomic.Int64
	release := make(chan struct{})
	b := New(Config{MaxSize: 4}, func(_ context.Context, reqs []int) ([]int, error) {
		<-release
		flushed.Add(int64(len(reqs)))
		return make([]int, len(reqs)), nil
	})
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if _, err := b.Do(context.Background(), i); err != nil {
				t.Errorf("Do before Close: %v", err)
			}
		})
	}
	time.Sleep(30 * time.Millisecond)
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	close(release)
	<-closed
	wg.Wait()
	if got := flushed.Load(); got != 10 {
		t.Errorf("got %d flushed, want 10", got)
	}
	if _, err := b.Do(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close: got %v, want ErrClosed", err)
	}
}

func TestBatcherDoHonoursContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := New(Config{}, func(_ context.Context, reqs []int) ([]int, error) {
		<-release
		return make([]int, len(reqs)), nil
	})
	defer b.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Do(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want DeadlineExceeded", err)
	}
}

// TestBatcherAnswersEachCallerOwnResult: reply channels are reused, but
// never one a worker may still answer into (a caller that gave up), so
// every caller gets its own request's result.
func TestBatcherAnswersEachCallerOwnResult(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var held atomic.Bool
	b := New(Config{}, func(_ context.Context, reqs []int) ([]int, error) {
		if held.CompareAndSwap(false, true) {
			<-release // the first batch answers after its caller gave up
		}
		out := make([]int, len(reqs))
		for i, r := range reqs {
			out[i] = r * 10
		}
		return out, nil
	})
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Do(ctx, -1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	close(release)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				req := w*1000 + i
				got, err := b.Do(context.Background(), req)
				if err != nil || got != req*10 {
					t.Errorf("Do(%d): got %d, %v, want %d", req, got, err, req*10)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestBatcherIsolatesRequestsAtFault: a flush refused for the data of some
// requests (Isolate) is split until only those fail; the others are
// stored exactly once each, in their original order. Other errors still
// fail the whole batch.
func TestBatcherIsolatesRequestsAtFault(t *testing.T) {
	t.Parallel()
	errBad := errors.New("bad data")
	var (
		mu      sync.Mutex
		batches [][]int // what each flush was given
		stored  []int
	)
	started := make(chan struct{})
	release := make(chan struct{})
	b := New(Config{MaxSize: 64, Isolate: func(err error) bool { return errors.Is(err, errBad) }},
		func(_ context.Context, reqs []int) ([]int, error) {
			mu.Lock()
			batches = append(batches, append([]int(nil), reqs...))
			first := len(batches) == 1
			mu.Unlock()
			if first {
				close(started)
				<-release // hold the first batch so the others gather into one
			}
			for _, r := range reqs {
				if r%10 == 3 { // all or nothing, like a transaction
					return nil, errBad
				}
			}
			mu.Lock()
			stored = append(stored, reqs...)
			mu.Unlock()
			return reqs, nil
		})
	defer b.Close()

	var wg sync.WaitGroup
	wg.Go(func() { _, _ = b.Do(context.Background(), 0) })
	<-started
	const n = 40
	for i := 1; i <= n; i++ {
		wg.Go(func() {
			got, err := b.Do(context.Background(), i)
			switch {
			case i%10 == 3 && !errors.Is(err, errBad):
				t.Errorf("request %d at fault: got %v, want bad data", i, err)
			case i%10 != 3 && (err != nil || got != i):
				t.Errorf("request %d: got %d, %v; want its own result", i, got, err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()

	if len(batches) < 2 || len(batches[1]) != n {
		t.Fatalf("flushes %v: want the %d requests in one batch after the held one", batches, n)
	}
	var want []int
	for _, r := range batches[1] {
		if r%10 != 3 {
			want = append(want, r)
		}
	}
	if got := stored[1:]; !slices.Equal(got, want) {
		t.Errorf("stored %v, want %v (every good request once, in batch order)", got, want)
	}
	// 4 bad requests among 40: bisecting needs far fewer flushes than
	// one per request.
	if len(batches) > 1+n {
		t.Errorf("%d flushes for %d requests", len(batches), n)
	}

	// An error Isolate does not claim fails the whole batch, unsplit.
	var flushes atomic.Int64
	lost := errors.New("connection lost")
	b2 := New(Config{MaxSize: 8, MaxWait: 20 * time.Millisecond, Isolate: func(err error) bool { return errors.Is(err, errBad) }},
		func(context.Context, []int) ([]int, error) { flushes.Add(1); return nil, lost })
	defer b2.Close()
	var wg2 sync.WaitGroup
	for i := range 4 {
		wg2.Go(func() {
			if _, err := b2.Do(context.Background(), i); !errors.Is(err, lost) {
				t.Errorf("got %v, want connection lost", err)
			}
		})
	}
	wg2.Wait()
	if got := flushes.Load(); got > 4 {
		t.Errorf("%d flushes for 4 requests failing with an unisolated error, want no splitting", got)
	}
}

// DoAll hands many requests over at once: each gets its own result (or its
// own error from an isolated flush), in order, and they share flushes.
func TestBatcherDoAllAnswersEachRequest(t *testing.T) {
	t.Parallel()
	bad := errors.New("odd")
	var flushes atomic.Int64
	b := New(Config{MaxSize: 16, Isolate: func(err error) bool { return errors.Is(err, bad) }},
		func(_ context.Context, reqs []int) ([]int, error) {
			flushes.Add(1)
			out := make([]int, len(reqs))
			for i, r := range reqs {
				if r == 13 {
					return nil, bad // refused for one request's data
				}
				out[i] = r * 10
			}
			return out, nil
		})
	defer b.Close()

	reqs := make([]int, 40)
	for i := range reqs {
		reqs[i] = i
	}
	res, errs := b.DoAll(context.Background(), reqs)
	for i := range reqs {
		switch {
		case i == 13 && !errors.Is(errs[i], bad):
			t.Errorf("request 13: err %v, want the isolated error", errs[i])
		case i != 13 && (errs[i] != nil || res[i] != i*10):
			t.Errorf("request %d: got %d, %v; want %d", i, res[i], errs[i], i*10)
		}
	}
	if f := flushes.Load(); f >= 40 {
		t.Errorf("%d flushes for 40 requests handed over at once, want them grouped", f)
	}

	b.Close()
	if _, errs := b.DoAll(context.Background(), []int{1}); !errors.Is(errs[0], ErrClosed) {
		t.Errorf("DoAll after Close: %v, want ErrClosed", errs[0])
	}
}

// MaxWait applies only while requests arrive closer together than it: a
// request after a quiet spell is flushed at once, a steady stream is
// gathered into batches.
func TestBatcherWaitsOnlyWhenBusy(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var sizes []int
	b := New(Config{MaxSize: 64, MaxWait: 100 * time.Millisecond}, func(_ context.Context, reqs []int) ([]int, error) {
		mu.Lock()
		sizes = append(sizes, len(reqs))
		mu.Unlock()
		return reqs, nil
	})
	defer b.Close()

	start := time.Now()
	if _, err := b.Do(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("a lone request took %v, want it flushed without waiting 100 ms", took)
	}

	// A stream, one request every 10 ms: each batch waits for the next ones.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { _, _ = b.Do(context.Background(), i) })
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	mu.Lock()
	if len(sizes) > 10 {
		t.Errorf("20 requests 10 ms apart made %d batches (%v), want them gathered", len(sizes)-1, sizes[1:])
	}
	mu.Unlock()

	time.Sleep(150 * time.Millisecond) // quiet again
	start = time.Now()
	if _, err := b.Do(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("a request after a quiet spell took %v, want no wait", took)
	}
}
