// Package scenario implements the benchmark scenarios M1–M8 of
// BENCHMARKS.md against a private stack, each repeated and summarised as
// figures with median and spread.
package scenario

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/cobraspace/cobraspace/bench/internal/api"
	"github.com/cobraspace/cobraspace/bench/internal/chatload"
	"github.com/cobraspace/cobraspace/bench/internal/procstat"
	"github.com/cobraspace/cobraspace/bench/internal/profile"
	"github.com/cobraspace/cobraspace/bench/internal/report"
	"github.com/cobraspace/cobraspace/bench/internal/stack"
)

// Sizes are the knobs of one mode (quick or full).
type Sizes struct {
	Reps     int
	Accounts int

	M1Rooms, M1Members int
	M1Delivered        float64 // delivered msgs/s in total
	M1Warmup, M1Window time.Duration

	M2RoomSizes      []int
	M2Sockets        int     // sockets per room size (rounded to whole rooms)
	M2StartDelivered float64 // first step, delivered msgs/s
	M2Factor         float64 // rate multiplier per step
	M2MaxSteps       int
	M2Warmup         time.Duration
	M2Window         time.Duration

	M3Sockets []int
	M3Idle    time.Duration

	M4Sockets int
	M4Rate    float64 // sends/s during the storm
	M4Window  time.Duration
	// M4Jitter spreads each client's first reconnect attempt. Sockets /
	// jitter is the offered reconnect rate, and the measured connects/s
	// cannot exceed it: both modes offer 30,000/s, so that the figure is the
	// server's rate, not the clients'.
	M4Jitter time.Duration

	M5Concurrency, M5Rooms int
	M5Window               time.Duration

	M6Posts       int // in total
	M6APIPosts    int // of which written through the API (the rest bulk-loaded)
	M6SeedTimeout time.Duration
	M6Window      time.Duration

	M7Members int
	M7Rate    float64 // sends/s in the busy room
	M7Pad     int     // filler bytes per message: the room must push bytes fast enough to fill kernel buffers
	M7Window  time.Duration
	M7Slow    time.Duration // when the member stops reading

	M8Restarts int

	// S1–S3: side by side with Centrifugo (each run measures both).
	S1Rooms, S1Members int
	S1Rate             float64 // sends/s in total
	S2Members          int     // one room
	S2Rate             float64
	SWarmup, SWindow   time.Duration // S1 and S2
	S3Sockets, S3Rooms int
	S3Baseline         time.Duration // serving side measured before any socket
	S3Idle             time.Duration
}

// Quick is `make bench-quick`: every scenario at small sizes, once.
var Quick = Sizes{
	Reps: 1, Accounts: 120,
	M1Rooms: 10, M1Members: 50, M1Delivered: 10000, M1Warmup: time.Second, M1Window: 4 * time.Second,
	M2RoomSizes: []int{50}, M2Sockets: 1000, M2StartDelivered: 5000, M2Factor: 2, M2MaxSteps: 4,
	M2Warmup: time.Second, M2Window: 3 * time.Second,
	M3Sockets: []int{1000}, M3Idle: 10 * time.Second,
	M4Sockets: 1000, M4Rate: 50, M4Window: 6 * time.Second, M4Jitter: 33 * time.Millisecond,
	M5Concurrency: 64, M5Rooms: 20, M5Window: 3 * time.Second,
	M6Posts: 5000, M6APIPosts: 200, M6SeedTimeout: 60 * time.Second, M6Window: 3 * time.Second,
	M7Members: 50, M7Rate: 300, M7Pad: 1500, M7Window: 8 * time.Second, M7Slow: 2 * time.Second,
	M8Restarts: 1,
	// side by side (S1–S3)
	S1Rooms: 4, S1Members: 50, S1Rate: 200, S2Members: 100, S2Rate: 100,
	SWarmup: time.Second, SWindow: 5 * time.Second,
	S3Sockets: 1000, S3Rooms: 4, S3Baseline: 5 * time.Second, S3Idle: 10 * time.Second,
}

// Full is `make bench`: the sizes of BENCHMARKS.md that fit one
// generator process (≤ 18,000 sockets), three runs each.
var Full = Sizes{
	Reps: 3, Accounts: 1000,
	M1Rooms: 20, M1Members: 50, M1Delivered: 50000, M1Warmup: 3 * time.Second, M1Window: 10 * time.Second,
	M2RoomSizes: []int{10, 50, 1000}, M2Sockets: 2000, M2StartDelivered: 5000, M2Factor: 1.5, M2MaxSteps: 12,
	M2Warmup: 2 * time.Second, M2Window: 5 * time.Second,
	M3Sockets: []int{5000, 18000}, M3Idle: 30 * time.Second,
	M4Sockets: 15000, M4Rate: 200, M4Window: 25 * time.Second, M4Jitter: 500 * time.Millisecond,
	M5Concurrency: 256, M5Rooms: 50, M5Window: 10 * time.Second,
	M6Posts: 100000, M6APIPosts: 1000, M6SeedTimeout: 3 * time.Minute, M6Window: 5 * time.Second,
	M7Members: 50, M7Rate: 400, M7Pad: 1500, M7Window: 15 * time.Second, M7Slow: 4 * time.Second,
	M8Restarts: 3,
	// side by side (S1–S3)
	S1Rooms: 4, S1Members: 50, S1Rate: 1000, S2Members: 1000, S2Rate: 100,
	SWarmup: 3 * time.Second, SWindow: 20 * time.Second,
	S3Sockets: 5000, S3Rooms: 4, S3Baseline: 10 * time.Second, S3Idle: 30 * time.Second,
}

// Env is what every scenario runs against.
type Env struct {
	Stack    *stack.Stack
	Accounts []api.Account
	Sizes    Sizes
	Mode     string // quick or full
	RunID    string
	Logf     func(format string, args ...any)
	// Profiler, when set, takes CPU profiles of every stack process over
	// each measured window (bench -profile DIR).
	Profiler *profile.Capturer
	// Scenario names the scenario running now, for profile file names.
	Scenario string
	windows  int
	// Centrifugo is the Centrifugo binary the side-by-side scenarios
	// compare against; WorkDir holds its configuration and logs.
	Centrifugo string
	WorkDir    string
}

// profileWindow starts CPU profiles of every stack process for d and returns
// the function that waits for them to be written.
func (e *Env) profileWindow(ctx context.Context, what string, d time.Duration) (wait func()) {
	if e.Profiler == nil {
		return func() {}
	}
	e.windows++
	var targets []profile.Target
	for _, p := range e.Stack.All() {
		targets = append(targets, profile.Target{Name: p.Name, Admin: p.Admin})
	}
	return e.Profiler.CPU(ctx, fmt.Sprintf("%s-%02d-%s", e.Scenario, e.windows, what), d, targets)
}

func (e *Env) command() string {
	if e.Mode == "full" {
		return "make bench"
	}
	return "make bench-quick"
}

// measured runs one load phase and samples every process over exactly the
// measured window.
func (e *Env) measured(ctx context.Context, s *chatload.Session, o chatload.RunOptions) (chatload.Result, []procstat.Usage, float64) {
	return e.measuredOn(ctx, s, o, e.Stack.Groups(), true)
}

// measuredOn is measured over the given process groups; profile takes CPU
// profiles of the stack's processes over the window.
func (e *Env) measuredOn(ctx context.Context, s *chatload.Session, o chatload.RunOptions, groups []procstat.Group, profile bool) (chatload.Result, []procstat.Usage, float64) {
	var mu sync.Mutex
	var before, after procstat.Reading
	var t0, t1 time.Time
	waitProfiles := func() {}
	defer func() { waitProfiles() }()
	o.At = append(o.At,
		chatload.Hook{After: 0, Do: func() {
			w := func() {}
			if profile {
				w = e.profileWindow(ctx, "window", o.Duration)
			}
			r := procstat.Take("/proc", groups)
			mu.Lock()
			before, t0, waitProfiles = r, time.Now(), w
			mu.Unlock()
		}},
		chatload.Hook{After: o.Duration, Do: func() {
			r := procstat.Take("/proc", groups)
			mu.Lock()
			after, t1 = r, time.Now()
			mu.Unlock()
		}},
	)
	res := s.Run(ctx, o)
	mu.Lock()
	defer mu.Unlock()
	if before == nil || after == nil {
		return res, nil, 0
	}
	return res, procstat.Diff(groups, before, after), t1.Sub(t0).Seconds()
}

// gatewayCPU and systemCPU sum CPU seconds over the gateways, and over the
// whole system under test (gateways, services, PostgreSQL, NATS, Redis —
// everything but the load generator).
func gatewayCPU(us []procstat.Usage) float64 {
	return procstat.Sum(us, func(l string) bool { return strings.HasPrefix(l, "gateway-") })
}

func systemCPU(us []procstat.Usage) float64 {
	return procstat.Sum(us, func(l string) bool { return l != "load-generator" })
}

func cpuOf(us []procstat.Usage, label string) float64 {
	return procstat.Sum(us, func(l string) bool { return l == label })
}

func violations(r chatload.Result) float64 {
	return float64(r.Check.Lost + r.Check.Duplicates + r.Check.OutOfOrder)
}

func nan() float64 { return math.NaN() }

func ratio(a, b float64) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return a / b
}

// sharedNote states what the whole-system CPU includes.
const sharedNote = "postgres, nats-server and redis-server are the machine's shared servers: their CPU includes any other work on this box during the window (other engineers' tests before ~10:40 UTC)."

// M1 measures send → receive latency at the target delivery rate over two
// gateway replicas, rooms split across them.
func M1(ctx context.Context, e *Env) report.Scenario {
	z := e.Sizes
	sends := z.M1Delivered / float64(z.M1Members)
	sc := report.Scenario{ID: "M1", Title: "send → receive latency (2 gateways, rooms of 50 split over both)",
		Params: map[string]any{"rooms": z.M1Rooms, "members": z.M1Members, "sends_per_s": sends,
			"target_delivered_per_s": z.M1Delivered, "warmup_s": z.M1Warmup.Seconds(), "window_s": z.M1Window.Seconds(), "runs": z.Reps}}
	cmd := fmt.Sprintf("%s (chatload -rooms %d -members %d -rate %.0f -warmup %v -duration %v)", e.command(), z.M1Rooms, z.M1Members, sends, z.M1Warmup, z.M1Window)
	s, err := chatload.Open(ctx, chatload.Config{Gateways: e.Stack.GatewayURLs(), Accounts: e.Accounts,
		Rooms: z.M1Rooms, Members: z.M1Members, RunID: e.RunID + "m1", Logf: e.Logf})
	if err != nil {
		sc.Error = err.Error()
		return sc
	}
	defer s.Close()
	var p50, p99, p999, pmax, dps, gw, sys, viol []float64
	for i := range z.Reps {
		r, us, win := e.measured(ctx, s, chatload.RunOptions{Rate: sends, Warmup: z.M1Warmup, Duration: z.M1Window})
		e.Logf("M1 run %d: delivered %.0f/s p50 %.2f ms p99 %.2f ms max %.1f ms failures %v", i+1, r.DeliveredPerS, r.Latency.P50Ms, r.Latency.P99Ms, r.Latency.MaxMs, r.Failures)
		sc.Runs = append(sc.Runs, map[string]any{"result": r, "processes": us, "window_s": win})
		p50, p99, p999, pmax = append(p50, r.Latency.P50Ms), append(p99, r.Latency.P99Ms), append(p999, r.Latency.P999Ms), append(pmax, r.Latency.MaxMs)
		dps = append(dps, r.DeliveredPerS)
		gw = append(gw, ratio(gatewayCPU(us), win))
		sys = append(sys, ratio(systemCPU(us), win))
		viol = append(viol, violations(r))
		if !r.OK() {
			sc.Notes = append(sc.Notes, fmt.Sprintf("run %d failed: %s", i+1, strings.Join(r.Failures, "; ")))
		}
		if i == z.Reps/2 || sc.Processes == nil {
			sc.Processes, sc.WindowS = us, win
		}
	}
	sc.Figures = []report.Figure{
		report.NewFigure("M1", "delivered msgs/s", "msg/s", dps, report.AtLeast(z.M1Delivered), cmd),
		report.NewFigure("M1", "latency p50", "ms", p50, report.AtMost(5), cmd),
		report.NewFigure("M1", "latency p99", "ms", p99, report.AtMost(20), cmd),
		report.NewFigure("M1", "latency p99.9", "ms", p999, nil, cmd),
		report.NewFigure("M1", "latency max", "ms", pmax, nil, cmd),
		report.NewFigure("M1", "gateway CPU (both replicas)", "cores", gw, nil, cmd),
		report.NewFigure("M1", "system CPU (all but the generator)", "cores", sys, nil, cmd),
		report.NewFigure("M1", "lost + duplicate + out-of-order", "msgs", viol, report.AtMost(0), cmd),
	}
	sc.Notes = append(sc.Notes, sharedNote)
	return sc
}

// M2 raises the send rate step by step for each room size until p99 >
// 100 ms (or a guarantee breaks) and reports the highest passing step's
// delivered msgs per CPU-second of the gateways and of the whole system.
func M2(ctx context.Context, e *Env) report.Scenario {
	z := e.Sizes
	sc := report.Scenario{ID: "M2", Title: "delivery cost: rate ramp until p99 > 100 ms (2 gateways)",
		Params: map[string]any{"room_sizes": z.M2RoomSizes, "sockets_per_size": z.M2Sockets, "start_delivered_per_s": z.M2StartDelivered,
			"factor": z.M2Factor, "max_steps": z.M2MaxSteps, "warmup_s": z.M2Warmup.Seconds(), "window_s": z.M2Window.Seconds()}}
	for _, size := range z.M2RoomSizes {
		rooms := max(1, z.M2Sockets/size)
		cmd := fmt.Sprintf("%s (chatload -rooms %d -members %d, rate ×%.1f per step from %.0f delivered/s)", e.command(), rooms, size, z.M2Factor, z.M2StartDelivered)
		// Every join is announced to every member: in big rooms a burst of
		// joins alone can overflow members' send queues, so big rooms join
		// a few sockets at a time.
		dial := 256
		if size >= 500 {
			dial = 2
		}
		s, err := chatload.Open(ctx, chatload.Config{Gateways: e.Stack.GatewayURLs(), Accounts: e.Accounts,
			Rooms: rooms, Members: size, DialParallel: dial, RunID: fmt.Sprintf("%sm2s%d", e.RunID, size), Logf: e.Logf})
		if err != nil {
			sc.Notes = append(sc.Notes, fmt.Sprintf("rooms of %d: not measured: %v", size, err))
			continue
		}
		best := -1
		var steps []map[string]any
		var bestDel, bestGw, bestSys float64
		var bestUsage []procstat.Usage
		var bestWin float64
		delivered := z.M2StartDelivered
		retried := false
		for step := 0; step < z.M2MaxSteps; step++ {
			sends := delivered / float64(size)
			r, us, win := e.measured(ctx, s, chatload.RunOptions{Rate: sends, Warmup: z.M2Warmup, Duration: z.M2Window})
			gw, sys := gatewayCPU(us), systemCPU(us)
			perGw, perSys := ratio(float64(r.Delivered), gw), ratio(float64(r.Delivered), sys)
			e.Logf("M2 rooms of %d step %d: target %.0f delivered/s → %.0f/s p99 %.1f ms, %.0f per gateway CPU-s, %.0f per system CPU-s, failures %v",
				size, step+1, delivered, r.DeliveredPerS, r.Latency.P99Ms, perGw, perSys, r.Failures)
			steps = append(steps, map[string]any{"target_delivered_per_s": delivered, "result": r, "processes": us, "window_s": win,
				"per_gateway_cpu_s": perGw, "per_system_cpu_s": perSys})
			if r.Latency.P99Ms > 100 && r.OK() && !retried {
				// On a shared 2-core box one noisy step should not end the
				// ramp: a step over the bar is repeated once.
				retried = true
				step--
				continue
			}
			if r.Latency.P99Ms > 100 || !r.OK() {
				if !r.OK() {
					sc.Notes = append(sc.Notes, fmt.Sprintf("rooms of %d: step %d (%.0f delivered/s) stopped the ramp: %s", size, step+1, delivered, strings.Join(r.Failures, "; ")))
				}
				break
			}
			best, retried = step, false
			bestDel, bestGw, bestSys, bestUsage, bestWin = r.DeliveredPerS, perGw, perSys, us, win
			delivered *= z.M2Factor
		}
		s.Close()
		sc.Runs = append(sc.Runs, map[string]any{"room_size": size, "rooms": rooms, "steps": steps})
		label := fmt.Sprintf("rooms of %d: ", size)
		if best < 0 {
			sc.Notes = append(sc.Notes, label+"even the first step exceeded p99 100 ms or failed")
			sc.Figures = append(sc.Figures, report.NewFigure("M2", label+"max delivered msgs/s with p99 ≤ 100 ms", "msg/s", []float64{nan()}, nil, cmd))
			continue
		}
		if best == z.M2MaxSteps-1 {
			sc.Notes = append(sc.Notes, label+"the ramp ended at its last step without reaching p99 > 100 ms")
		}
		if size == z.M2RoomSizes[len(z.M2RoomSizes)/2] || sc.Processes == nil {
			sc.Processes, sc.WindowS = bestUsage, bestWin
		}
		sc.Figures = append(sc.Figures,
			report.NewFigure("M2", label+"max delivered msgs/s with p99 ≤ 100 ms", "msg/s", []float64{bestDel}, nil, cmd),
			report.NewFigure("M2", label+"delivered per gateway CPU-second", "msg/CPU-s", []float64{bestGw}, report.AtLeast(150000), cmd),
			report.NewFigure("M2", label+"delivered per system CPU-second", "msg/CPU-s", []float64{bestSys}, report.AtLeast(60000), cmd),
		)
	}
	sc.Notes = append(sc.Notes, "Per-CPU-second figures are taken at the highest step that kept p99 ≤ 100 ms and every guarantee (a step over 100 ms is repeated once before the ramp ends; every step is in the JSON); the process table is that step of the middle room size.", sharedNote)
	return sc
}

// M3 opens idle authenticated sockets on one freshly started gateway and
// reports its RSS and CPU per socket.
func M3(ctx context.Context, e *Env) report.Scenario {
	z := e.Sizes
	sc := report.Scenario{ID: "M3", Title: "idle sockets on one gateway: memory and CPU per socket",
		Params: map[string]any{"sockets": z.M3Sockets, "idle_s": z.M3Idle.Seconds(), "room_size": 50}}
	gwA := e.Stack.Gateways[0]
	for _, n := range z.M3Sockets {
		cmd := fmt.Sprintf("%s (chatload -rooms %d -members 50 -rate 0 -first-gateway-only, idle %v)", e.command(), n/50, z.M3Idle)
		label := fmt.Sprintf("%d sockets: ", n)
		// A fresh process, so the baseline holds no heap left over from
		// earlier scenarios.
		gwA.Stop()
		if err := gwA.Start(ctx); err != nil {
			sc.Notes = append(sc.Notes, label+"gateway restart failed: "+err.Error())
			continue
		}
		time.Sleep(time.Second)
		g := []procstat.Group{{Label: "gateway-a", PIDs: []int{gwA.PID()}}}
		base := procstat.Take("/proc", g)
		s, err := chatload.Open(ctx, chatload.Config{Gateways: e.Stack.GatewayURLs(), Accounts: e.Accounts,
			Rooms: n / 50, Members: 50, FirstGatewayOnly: true, RunID: fmt.Sprintf("%sm3n%d", e.RunID, n), Logf: e.Logf})
		if err != nil {
			sc.Notes = append(sc.Notes, label+"not measured: "+err.Error())
			continue
		}
		time.Sleep(5 * time.Second) // joins, presence and history settle
		groups := e.Stack.Groups()
		r1 := procstat.Take("/proc", groups)
		t0 := time.Now()
		select {
		case <-ctx.Done():
		case <-time.After(z.M3Idle):
		}
		r2 := procstat.Take("/proc", groups)
		win := time.Since(t0).Seconds()
		open := s.SocketsOn(0)
		s.Close()
		us := procstat.Diff(groups, r1, r2)
		var rssBase int64
		for _, smp := range base["gateway-a"] {
			rssBase = smp.RSSKB
		}
		var rssEnd int64
		for _, u := range us {
			if u.Label == "gateway-a" {
				rssEnd = u.RSSKBEnd
			}
		}
		perSocketKB := float64(rssEnd-rssBase) / float64(n)
		cpuPerSocket := cpuOf(us, "gateway-a") / win / float64(n) * 1e6 // µs of CPU per second per socket
		e.Logf("M3 %d sockets: %.1f KB RSS per socket, %.2f µs/s CPU per socket (open %d)", n, perSocketKB, cpuPerSocket, open)
		sc.Runs = append(sc.Runs, map[string]any{"sockets": n, "open_at_end": open, "rss_kb_baseline": rssBase, "processes": us, "window_s": win})
		if open != n {
			sc.Notes = append(sc.Notes, fmt.Sprintf("%s%d of %d sockets still open at the end", label, open, n))
		}
		sc.Processes, sc.WindowS = us, win
		sc.Figures = append(sc.Figures,
			report.NewFigure("M3", label+"gateway RSS per socket", "KB", []float64{perSocketKB}, report.AtMost(10), cmd),
			report.NewFigure("M3", label+"gateway CPU per idle socket", "µs/s", []float64{cpuPerSocket}, report.AtMost(2), cmd),
		)
	}
	sc.Notes = append(sc.Notes, "RSS per socket = (gateway RSS after the idle window − RSS of the fresh gateway before any socket) / sockets; KB = KiB. CPU comes from each thread's nanoseconds on a CPU in /proc (schedstat), or from 10 ms ticks for a process whose thread exited during the window. The process table is the idle window of the last size.")
	return sc
}

// M4 puts every socket on gateway A, kills it with SIGKILL mid-chat and
// measures how long the clients take to resume on gateway B with
// after_seq, and that nothing acknowledged was lost.
func M4(ctx context.Context, e *Env) report.Scenario {
	z := e.Sizes
	rooms := z.M4Sockets / 50
	sc := report.Scenario{ID: "M4", Title: "reconnect storm: kill -9 the gateway holding every socket",
		Params: map[string]any{"sockets": z.M4Sockets, "rooms": rooms, "members": 50, "sends_per_s": z.M4Rate, "window_s": z.M4Window.Seconds(), "kill_at_s": 2,
			"client_first_retry_jitter_s": z.M4Jitter.Seconds(), "client_backoff": "refused replica skipped at once; otherwise 0.1 s doubling to 5 s, ±50 %"}}
	cmd := fmt.Sprintf("%s (chatload -rooms %d -members 50 -rate %.0f, all on gateway-a, kill -9 at 2 s, reconnect with after_seq)", e.command(), rooms, z.M4Rate)
	gwA := e.Stack.Gateways[0]
	s, err := chatload.Open(ctx, chatload.Config{Gateways: e.Stack.GatewayURLs(), Accounts: e.Accounts,
		Rooms: rooms, Members: 50, FirstGatewayOnly: true, Reconnect: true, ReconnectJitter: z.M4Jitter, DialParallel: 2048,
		RunID: e.RunID + "m4", Logf: e.Logf})
	if err != nil {
		sc.Error = err.Error()
		return sc
	}
	r, us, win := e.measured(ctx, s, chatload.RunOptions{Rate: z.M4Rate, Warmup: time.Second, Duration: z.M4Window, Drain: 60 * time.Second,
		At: []chatload.Hook{{After: 2 * time.Second, Do: gwA.Kill}}})
	onB := s.SocketsOn(1)
	s.Close()
	e.Logf("M4: %d reconnects, resumed all in %.2f s (%.0f connects/s), on B %d, failures %v", r.Reconnects, r.ResumedAllS, r.ReconnectPerS, onB, r.Failures)
	if err := gwA.Start(ctx); err != nil {
		sc.Notes = append(sc.Notes, "restarting gateway-a after the crash failed: "+err.Error())
	} else {
		sc.Notes = append(sc.Notes, fmt.Sprintf("gateway-a restarted after the crash, ready in %v", gwA.ReadyIn.Round(time.Millisecond)))
	}
	sc.Runs = append(sc.Runs, map[string]any{"result": r, "processes": us, "window_s": win, "sockets_on_b": onB})
	sc.Processes, sc.WindowS = us, win
	if !r.OK() {
		sc.Notes = append(sc.Notes, "run failed: "+strings.Join(r.Failures, "; "))
	}
	if len(r.ErrorFrames) > 0 {
		sc.Notes = append(sc.Notes, fmt.Sprintf("error frames received by senders during the storm (those sends were not stored): %v", r.ErrorFrames))
	}
	resumed := r.ResumedAllS
	if r.NotResumed > 0 {
		sc.Notes = append(sc.Notes, fmt.Sprintf("%d of %d sockets had not resumed 60 s after the window", r.NotResumed, z.M4Sockets))
		resumed = nan()
	}
	if r.Reconnects > int64(z.M4Sockets) || len(r.ReconnectErrors) > 0 {
		sc.Notes = append(sc.Notes, fmt.Sprintf("%d successful reconnects for %d sockets (more means sockets were closed again while resuming); close codes seen %v; failed reconnect attempts %v",
			r.Reconnects, z.M4Sockets, r.CloseCodes, r.ReconnectErrors))
	}
	sc.Figures = []report.Figure{
		report.NewFigure("M4", "time until every socket resumed (first drop → last chat.resume)", "s", []float64{resumed}, report.AtMost(20), cmd),
		report.NewFigure("M4", "reconnect handshakes per second", "conn/s", []float64{r.ReconnectPerS}, report.AtLeast(2000), cmd),
		report.NewFigure("M4", "sockets resumed", "sockets", []float64{float64(int64(z.M4Sockets) - r.NotResumed)}, report.AtLeast(float64(z.M4Sockets)), cmd),
		report.NewFigure("M4", "acknowledged messages lost + duplicated + out of order", "msgs", []float64{violations(r)}, report.AtMost(0), cmd),
	}
	sc.Notes = append(sc.Notes, fmt.Sprintf("sends during the storm: %d sent, %d acknowledged, %d failed writes (socket down), %d unknown (written just before the crash); only acknowledged ones must arrive", r.Sent, r.Acked, r.Failed, r.Unacked))
	return sc
}

// M7 stops reading on one extra member of a busy room and checks that the
// others do not notice and that the server cuts it off (4008) within 5 s.
func M7(ctx context.Context, e *Env) report.Scenario {
	z := e.Sizes
	sc := report.Scenario{ID: "M7", Title: "slow consumer in a busy room",
		Params: map[string]any{"members": z.M7Members, "slow_members": 1, "sends_per_s": z.M7Rate, "message_bytes": z.M7Pad + 30, "window_s": z.M7Window.Seconds(), "slow_after_s": z.M7Slow.Seconds(), "runs": z.Reps}}
	cmd := fmt.Sprintf("%s (chatload -rooms 1 -members %d -rate %.0f -pad %d -slow 1 -slow-after %v)", e.command(), z.M7Members, z.M7Rate, z.M7Pad, z.M7Slow)
	var before, after, cut, viol, rssGrowth []float64
	for i := range z.Reps {
		slow := e.Accounts[len(e.Accounts)-1-i]
		s, err := chatload.Open(ctx, chatload.Config{Gateways: e.Stack.GatewayURLs(), Accounts: e.Accounts[:z.M7Members],
			Rooms: 1, Members: z.M7Members, SlowAccounts: []api.Account{slow}, RunID: fmt.Sprintf("%sm7r%d", e.RunID, i), Logf: e.Logf})
		if err != nil {
			sc.Error = err.Error()
			return sc
		}
		r, us, win := e.measured(ctx, s, chatload.RunOptions{Rate: z.M7Rate, Warmup: time.Second, Duration: z.M7Window,
			Split: z.M7Slow, SlowAfter: z.M7Slow, Drain: 3 * time.Second, Pad: z.M7Pad})
		s.Close()
		e.Logf("M7 run %d: p99 before %.2f ms after %.2f ms, cut off after %.2f s, slow close codes %v, failures %v",
			i+1, r.LatencyBefore.P99Ms, r.LatencyAfter.P99Ms, r.SlowCutoffS, r.SlowCloseCodes, r.Failures)
		sc.Runs = append(sc.Runs, map[string]any{"result": r, "processes": us, "window_s": win})
		before, after = append(before, r.LatencyBefore.P99Ms), append(after, r.LatencyAfter.P99Ms)
		c := r.SlowCutoffS
		if c < 0 {
			c = nan()
			sc.Notes = append(sc.Notes, fmt.Sprintf("run %d: the slow member was not cut off during the run (close codes seen afterwards: %v)", i+1, r.SlowCloseCodes))
		}
		cut = append(cut, c)
		viol = append(viol, violations(r))
		var growth int64
		for _, u := range us {
			if strings.HasPrefix(u.Label, "gateway-") {
				growth += u.RSSKBEnd - u.RSSKBStart
			}
		}
		rssGrowth = append(rssGrowth, float64(growth)/1024)
		if !r.OK() {
			sc.Notes = append(sc.Notes, fmt.Sprintf("run %d failed: %s", i+1, strings.Join(r.Failures, "; ")))
		}
		sc.Notes = append(sc.Notes, fmt.Sprintf("run %d: slow socket's close code(s) %v (4008 expected)", i+1, r.SlowCloseCodes))
		sc.Processes, sc.WindowS = us, win
	}
	sc.Figures = []report.Figure{
		report.NewFigure("M7", "others' latency p99 before the slow member", "ms", before, nil, cmd),
		report.NewFigure("M7", "others' latency p99 while it is slow / cut off", "ms", after, nil, cmd),
		report.NewFigure("M7", "time until the slow member is cut off", "s", cut, report.AtMost(5), cmd),
		report.NewFigure("M7", "gateway RSS growth over the window (both)", "MiB", rssGrowth, nil, cmd),
		report.NewFigure("M7", "others: lost + duplicate + out-of-order", "msgs", viol, report.AtMost(0), cmd),
	}
	sc.Notes = append(sc.Notes, fmt.Sprintf("The slow socket has a 4 KiB kernel receive buffer and stops reading; messages carry %d filler bytes so the room pushes ~%.0f KB/s at it (the server's kernel send buffer may grow to net.ipv4.tcp_wmem max, 4 MiB here, before the gateway's own queue sees anything); the cut-off time is when another member sees its chat.user.leave.", z.M7Pad, z.M7Rate*float64(z.M7Pad+250)/1000))
	return sc
}
