// Package profile captures CPU profiles of the stack's processes from their
// admin ports (/debug/pprof/profile) over a scenario's measured window, and
// their heap at the window's end (/debug/pprof/heap), so a figure in
// BENCHMARKS.md can be traced to the code that costs it.
package profile

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Target is one process to profile.
type Target struct {
	Name  string // file name part, e.g. "gateway-a"
	Admin string // host:port of its admin HTTP server
}

// Capturer writes CPU profiles into Dir. A nil *Capturer captures nothing,
// so scenarios call it unconditionally.
type Capturer struct {
	Dir  string
	Logf func(format string, args ...any)
}

// CPU starts a d-long CPU profile of every target in the background and
// returns at once; wait blocks until they are written to
// <Dir>/<label>-<target>.cpu.pprof, each followed by the target's heap
// profile at the window's end, <label>-<target>.heap.pprof. Failures are
// logged, never fatal: a profile is an aid, not a figure.
func (c *Capturer) CPU(ctx context.Context, label string, d time.Duration, targets []Target) (wait func()) {
	if c == nil || d < time.Second {
		return func() {}
	}
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() {
			path := filepath.Join(c.Dir, fmt.Sprintf("%s-%s.cpu.pprof", label, t.Name))
			if err := fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.Admin, int(d.Seconds())), path, d); err != nil {
				c.Logf("profile %s: %v", path, err)
				return
			}
			path = filepath.Join(c.Dir, fmt.Sprintf("%s-%s.heap.pprof", label, t.Name))
			if err := fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/heap", t.Admin), path, 0); err != nil {
				c.Logf("profile %s: %v", path, err)
			}
		})
	}
	return wg.Wait
}

func fetch(ctx context.Context, url, path string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d+10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
