package faults_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// soakMetric is one series sampled from every process's /metrics.
type soakMetric struct {
	name  string  // Prometheus metric
	label string  // column title
	scale float64 // divide by
	// Growth over the run is a leak when the means of the three thirds of
	// the run rise monotonically and the last exceeds the first by more
	// than rel (fraction) plus abs (in scaled units).
	rel, abs float64
}

var soakMetrics = []soakMetric{
	{"go_goroutines", "goroutines", 1, 0.10, 25},
	{"process_open_fds", "fds", 1, 0.10, 10},
	{"process_resident_memory_bytes", "RSS MiB", 1 << 20, 0.25, 16},
}

// TestSoak is `make soak`, not part of `make test`: sustained chat load
// for SOAK_DURATION over two gateway replicas (3 rooms × 6 members, each
// sending 2 msgs/s, REST reads, and a forced reconnect every 15 s),
// sampling goroutines, open fds and RSS of every process every
// SOAK_SAMPLE (10 s). It fails on monotonic growth and, at the end, runs
// the history checker on every room.
func TestSoak(t *testing.T) {
	durStr := os.Getenv("SOAK_DURATION")
	if durStr == "" {
		t.Skip("set SOAK_DURATION (make soak) to run the soak test")
	}
	dur, err := time.ParseDuration(durStr)
	if err != nil {
		t.Fatalf("SOAK_DURATION: %v", err)
	}
	every := 10 * time.Second
	if v := os.Getenv("SOAK_SAMPLE"); v != "" {
		if every, err = time.ParseDuration(v); err != nil {
			t.Fatalf("SOAK_SAMPLE: %v", err)
		}
	}
	s := stack.Start(t, stack.Options{Gateways: 2, LogLevel: "warn"})
	ctx := contextFor(t)

	const rooms, members = 3, 6
	var casts []*cast
	var all []*participant
	for range rooms {
		prefer := make([]int, members)
		for i := range prefer {
			prefer[i] = i % 2
		}
		c := newCast(t, ctx, s, prefer...)
		casts = append(casts, c)
		all = append(all, c.ps...)
	}
	procs := []struct {
		name, admin string
	}{
		{"user", "http://" + s.Service(stack.User).Admin},
		{"chat", "http://" + s.Service(stack.Chat).Admin},
		{"post", "http://" + s.Service(stack.Post).Admin},
		{"gw0", "http://" + s.Gateway(0).Admin},
		{"gw1", "http://" + s.Gateway(1).Admin},
	}

	// samples[proc][metric] is the series.
	samples := make([][][]float64, len(procs))
	for i := range samples {
		samples[i] = make([][]float64, len(soakMetrics))
	}
	var times []time.Duration
	start := time.Now()
	sample := func() {
		times = append(times, time.Since(start).Round(time.Second))
		row := []string{fmt.Sprintf("%6s", times[len(times)-1])}
		for pi, p := range procs {
			var cells []string
			for mi, m := range soakMetrics {
				v, err := metric(p.admin, m.name)
				if err != nil {
					t.Errorf("sample %s: %v", p.name, err)
				}
				v /= m.scale
				samples[pi][mi] = append(samples[pi][mi], v)
				cells = append(cells, fmt.Sprintf("%.0f", v))
			}
			row = append(row, fmt.Sprintf("%s %s", p.name, strings.Join(cells, "/")))
		}
		t.Logf("%s", strings.Join(row, " | "))
	}
	t.Logf("each cell: goroutines/open fds/RSS MiB")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if o := p.send(ctx, fmt.Sprintf("%s soak %d", p.name, i)); o != Acked {
					t.Errorf("%s: send %d: %v", p.name, i, o)
				}
				time.Sleep(500 * time.Millisecond)
			}
		})
	}
	wg.Go(func() { // REST reads
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			_, base, ok := casts[0].bal.pick(-1)
			if !ok {
				continue
			}
			if code, body, err := do(call{method: "GET", url: base + "/api/post/?limit=5"}); err != nil || code != http.StatusOK {
				t.Errorf("GET /api/post/: %d %s %v", code, body, err)
			}
			c := casts[rand.IntN(len(casts))]
			if code, body, err := do(call{method: "GET", url: roomURL(base, c.room) + "messages/?limit=50", token: c.owner.Token}); err != nil || code != http.StatusOK {
				t.Errorf("GET messages/: %d %s %v", code, body, err)
			}
		}
	})
	wg.Go(func() { // churn: one socket dropped every 15 s (it resumes)
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Second):
			}
			all[rand.IntN(len(all))].drop()
		}
	})

	sample()
	deadline := time.After(dur)
	tick := time.NewTicker(every)
	defer tick.Stop()
loop:
	for {
		select {
		case <-tick.C:
			sample()
		case <-deadline:
			break loop
		}
	}
	close(stop)
	wg.Wait()
	sample()

	// Leak verdicts, on the samples after the first (warm-up).
	t.Logf("%-5s %-11s %10s %10s %10s %10s  %s", "proc", "metric", "first", "third 1", "third 2", "third 3", "verdict")
	for pi, p := range procs {
		for mi, m := range soakMetrics {
			series := samples[pi][mi]
			if len(series) < 7 {
				t.Logf("%-5s %-11s too few samples (%d) for a verdict", p.name, m.label, len(series))
				continue
			}
			body := series[1:]
			n := len(body) / 3
			a, b, c := mean(body[:n]), mean(body[n:2*n]), mean(body[2*n:])
			verdict := "flat"
			if b > a && c > b && c > a*(1+m.rel)+m.abs {
				verdict = "GROWING"
				t.Errorf("%s %s grows monotonically: %.1f → %.1f → %.1f", p.name, m.label, a, b, c)
			}
			t.Logf("%-5s %-11s %10.1f %10.1f %10.1f %10.1f  %s", p.name, m.label, series[0], a, b, c, verdict)
		}
	}
	var sent, attempts int
	for _, c := range casts {
		final, att := c.h.Counts()
		sent += final[Acked]
		for _, n := range att {
			attempts += n
		}
		c.wantAllAcked(t)
		c.check(t, s.Gateways[0])
	}
	t.Logf("soak: %v, %d messages acknowledged (%d attempts), %d samples every %v", dur, sent, attempts, len(times), every)
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// drop closes the participant's current socket; its loop reconnects with
// after_seq.
func (p *participant) drop() {
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if c != nil {
		c.ws.Close()
	}
}
