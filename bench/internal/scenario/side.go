package scenario

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cobraspace/cobraspace/bench/internal/centrifugo"
	"github.com/cobraspace/cobraspace/bench/internal/chatload"
	"github.com/cobraspace/cobraspace/bench/internal/procstat"
	"github.com/cobraspace/cobraspace/bench/internal/report"
)

// The side-by-side scenarios S1–S3 measure Cobra Space and Centrifugo in the
// same run, with the same generator and load shape, one system at a time
// (never both loaded at once). Each repetition measures both systems back to
// back and alternates which goes first, so that drift over the run favours
// neither; ratios are taken per repetition, then their median.

const centrifugoLabel = "centrifugo"

// sideSharedNote states what the shared servers' CPU includes.
const sideSharedNote = "PostgreSQL, NATS and Redis are the machine's shared servers (found by the ports the stack uses; PostgreSQL with every backend): their CPU includes any other work on this box during the window, which on a box shared with other agents makes Cobra Space's figures noisier than Centrifugo's."

// sidePhase is one system's measured window.
type sidePhase struct {
	System  string           `json:"system"`
	Result  chatload.Result  `json:"result"`
	Usage   []procstat.Usage `json:"processes"`
	WindowS float64          `json:"window_s"`
	Serving float64          `json:"serving_cpu_s"` // CPU-seconds of the whole serving side
	Client  float64          `json:"client_cpu_s"`  // CPU-seconds of the load generator
	Err     string           `json:"error,omitempty"`
}

// perServingCPU is deliveries per CPU-second of the serving side: the
// deliveries that arrived while its CPU was sampled, so that a system that
// falls behind is not credited with work it did after the window.
func (p sidePhase) perServingCPU() float64 {
	return ratio(float64(p.Result.ReceivedInWindow), p.Serving)
}

// cobraGroups are the processes of Cobra Space's serving side (the stack,
// PostgreSQL with every backend, NATS, Redis) and the generator.
func (e *Env) cobraGroups() []procstat.Group { return e.Stack.Groups() }

func centrifugoGroups(srv *centrifugo.Server) []procstat.Group {
	return []procstat.Group{
		{Label: centrifugoLabel, PIDs: []int{srv.PID()}},
		{Label: "load-generator", PIDs: []int{os.Getpid()}},
	}
}

// startCentrifugo starts a fresh Centrifugo whose files go under the run's
// work directory.
func (e *Env) startCentrifugo(ctx context.Context, what string) (*centrifugo.Server, error) {
	dir := filepath.Join(e.WorkDir, "centrifugo-"+what)
	srv, err := centrifugo.Start(ctx, e.Centrifugo, dir)
	if err != nil {
		return nil, err
	}
	e.Logf("centrifugo %s: ready in %v (pid %d, port %d)", what, srv.ReadyIn.Round(time.Millisecond), srv.PID(), srv.Port)
	return srv, nil
}

// dialFor bounds concurrent handshakes: Cobra Space announces every join to
// the whole room, so big rooms join a few sockets at a time (as in M2);
// Centrifugo announces nothing here.
func dialFor(system string, roomSize int) int {
	if system == "cobra" && roomSize >= 500 {
		return 2
	}
	return 256
}

// loadPhase opens the rooms on one system, runs the open-loop load and
// samples that system's serving side and the generator over the window.
func (e *Env) loadPhase(ctx context.Context, system, id string, rep, rooms, members int, rate float64) sidePhase {
	z := e.Sizes
	ph := sidePhase{System: system}
	o := chatload.RunOptions{Rate: rate, Warmup: z.SWarmup, Duration: z.SWindow}
	cfg := chatload.Config{Rooms: rooms, Members: members, DialParallel: dialFor(system, members),
		RunID: fmt.Sprintf("%s%sr%d%s", e.RunID, strings.ToLower(id), rep, system[:2]), Logf: e.Logf}
	var groups []procstat.Group
	if system == "cobra" {
		cfg.Gateways, cfg.Accounts = e.Stack.GatewayURLs(), e.Accounts
		groups = e.cobraGroups()
	} else {
		srv, err := e.startCentrifugo(ctx, fmt.Sprintf("%s-%d", id, rep))
		if err != nil {
			ph.Err = err.Error()
			return ph
		}
		defer srv.Stop()
		// As many distinct users as Cobra Space's run has.
		cfg.Gateways, cfg.Accounts = []string{srv.URL()}, srv.Accounts(len(e.Accounts), 2*time.Hour)
		cfg.Centrifugo = &chatload.Centrifugo{Namespace: centrifugo.Namespace}
		groups = centrifugoGroups(srv)
	}
	s, err := chatload.Open(ctx, cfg)
	if err != nil {
		ph.Err = err.Error()
		return ph
	}
	defer s.Close()
	ph.Result, ph.Usage, ph.WindowS = e.measuredOn(ctx, s, o, groups, system == "cobra")
	ph.Serving, ph.Client = systemCPU(ph.Usage), cpuOf(ph.Usage, "load-generator")
	e.Logf("%s run %d %s: %.0f delivered/s, p50 %.2f ms p99 %.2f ms max %.1f ms, %.0f per serving CPU-s (serving %.2f cores, generator %.2f cores), failures %v",
		id, rep+1, system, ph.Result.DeliveredPerS, ph.Result.Latency.P50Ms, ph.Result.Latency.P99Ms, ph.Result.Latency.MaxMs,
		ph.perServingCPU(), ratio(ph.Serving, ph.WindowS), ratio(ph.Client, ph.WindowS), ph.Result.Failures)
	return ph
}

// order is the systems in the order repetition rep measures them.
func order(rep int) []string {
	if rep%2 == 0 {
		return []string{"cobra", centrifugoLabel}
	}
	return []string{centrifugoLabel, "cobra"}
}

// S1 is busy rooms: 4 rooms of 50 (split over both gateway replicas for
// Cobra Space), 1,000 sends/s open loop = 50,000 deliveries/s.
func S1(ctx context.Context, e *Env) report.Scenario {
	z := e.Sizes
	return e.sideLoad(ctx, "S1", fmt.Sprintf("busy rooms: %d rooms of %d, %.0f sends/s, Cobra Space vs Centrifugo %s", z.S1Rooms, z.S1Members, z.S1Rate, centrifugo.Version),
		z.S1Rooms, z.S1Members, z.S1Rate)
}

// S2 is one hot room of 1,000 members at 100 sends/s = 100,000
// deliveries/s.
func S2(ctx context.Context, e *Env) report.Scenario {
	z := e.Sizes
	return e.sideLoad(ctx, "S2", fmt.Sprintf("one hot room of %d, %.0f sends/s, Cobra Space vs Centrifugo %s", z.S2Members, z.S2Rate, centrifugo.Version),
		1, z.S2Members, z.S2Rate)
}

func (e *Env) sideLoad(ctx context.Context, id, title string, rooms, members int, rate float64) report.Scenario {
	z := e.Sizes
	sc := report.Scenario{ID: id, Title: title,
		Params: map[string]any{"rooms": rooms, "members": members, "sends_per_s": rate, "deliveries_per_s": rate * float64(members),
			"warmup_s": z.SWarmup.Seconds(), "window_s": z.SWindow.Seconds(), "runs": z.Reps, "centrifugo": centrifugo.Version}}
	cmd := fmt.Sprintf("%s (chatload -rooms %d -members %d -rate %.0f -warmup %v -duration %v, against Cobra Space and Centrifugo in turn)", e.command(), rooms, members, rate, z.SWarmup, z.SWindow)
	type vals struct{ p50, p99, pmax, perS, perCPU, serving, client, perFrame, viol []float64 }
	got := map[string]*vals{"cobra": {}, centrifugoLabel: {}}
	for rep := range z.Reps {
		phases := map[string]sidePhase{}
		for _, system := range order(rep) {
			if ctx.Err() != nil {
				return sc
			}
			phases[system] = e.loadPhase(ctx, system, id, rep, rooms, members, rate)
		}
		for system, ph := range phases {
			v := got[system]
			if ph.Err != "" {
				sc.Notes = append(sc.Notes, fmt.Sprintf("run %d: %s not measured: %s", rep+1, system, ph.Err))
				v.p50, v.p99, v.pmax, v.perS = append(v.p50, nan()), append(v.p99, nan()), append(v.pmax, nan()), append(v.perS, nan())
				v.perCPU, v.serving, v.client, v.viol = append(v.perCPU, nan()), append(v.serving, nan()), append(v.client, nan()), append(v.viol, nan())
				v.perFrame = append(v.perFrame, nan())
				continue
			}
			r := ph.Result
			if !r.OK() {
				sc.Notes = append(sc.Notes, fmt.Sprintf("run %d: %s broke a guarantee or the generator fell behind: %s", rep+1, system, strings.Join(r.Failures, "; ")))
			}
			v.p50, v.p99, v.pmax = append(v.p50, r.Latency.P50Ms), append(v.p99, r.Latency.P99Ms), append(v.pmax, r.Latency.MaxMs)
			v.perS, v.perCPU = append(v.perS, r.DeliveredPerS), append(v.perCPU, ph.perServingCPU())
			v.serving, v.client = append(v.serving, ratio(ph.Serving, ph.WindowS)), append(v.client, ratio(ph.Client, ph.WindowS))
			v.viol = append(v.viol, violations(r))
			v.perFrame = append(v.perFrame, ratio(float64(r.ReceivedInWindow), float64(r.FramesInWindow)))
		}
		sc.Runs = append(sc.Runs, map[string]any{"run": rep + 1, "order": order(rep),
			"cobra": phases["cobra"], centrifugoLabel: phases[centrifugoLabel]})
		if rep == z.Reps/2 {
			sc.Processes, sc.WindowS = sideProcesses(phases["cobra"], phases[centrifugoLabel])
		}
	}
	c, o := got["cobra"], got[centrifugoLabel]
	sc.Compare = []report.Comparison{
		report.NewComparison(id, "latency p50", "ms", c.p50, o.p50, nil, cmd),
		report.NewComparison(id, "latency p99", "ms", c.p99, o.p99, report.AtMost(1.5), cmd),
		report.NewComparison(id, "latency max", "ms", c.pmax, o.pmax, nil, cmd),
		report.NewComparison(id, "deliveries/s", "msg/s", c.perS, o.perS, nil, cmd),
		report.NewComparison(id, "deliveries per CPU-second of the serving side", "msg/CPU-s", c.perCPU, o.perCPU, report.AtLeast(1.0), cmd),
		report.NewComparison(id, "serving side CPU", "cores", c.serving, o.serving, nil, cmd),
		report.NewComparison(id, "load generator CPU", "cores", c.client, o.client, nil, cmd),
		report.NewComparison(id, "deliveries per WebSocket frame received", "msgs", c.perFrame, o.perFrame, nil, cmd),
		report.NewComparison(id, "lost + duplicate + out-of-order", "msgs", c.viol, o.viol, nil, cmd),
	}
	sc.Figures = []report.Figure{
		sc.Compare[1].Ratio,
		sc.Compare[4].Ratio,
		report.NewFigure(id, "Cobra Space: lost + duplicate + out-of-order", "msgs", c.viol, report.AtMost(0), cmd),
		report.NewFigure(id, "Centrifugo: lost + duplicate + out-of-order", "msgs", o.viol, nil, cmd),
	}
	sc.Notes = append(sc.Notes,
		"Serving side: Cobra Space = both gateways, chat, post, user, PostgreSQL (every postgres process), NATS and Redis; Centrifugo = its one process (memory engine). "+
			"Cobra Space persists every message before delivering it; Centrifugo keeps a bounded in-memory history (1,000 per channel) that gives each publication an offset. "+
			"Both are driven by the same generator (one process, CPU reported separately) over WebSockets with JSON frames; a send counts as acknowledged when its sender sees it come back with its seq/offset, and every member checks once-and-in-order delivery of every acknowledged message.",
		sideSharedNote)
	return sc
}

// sideProcesses is the process table of one repetition: Cobra Space's
// processes, then Centrifugo's, each system's generator labelled apart.
func sideProcesses(cobra, other sidePhase) ([]procstat.Usage, float64) {
	var out []procstat.Usage
	for _, u := range cobra.Usage {
		if u.Label == "load-generator" {
			u.Label = "load-generator (Cobra Space phase)"
		}
		out = append(out, u)
	}
	for _, u := range other.Usage {
		if u.Label == "load-generator" {
			u.Label = "load-generator (Centrifugo phase)"
		}
		out = append(out, u)
	}
	return out, max(cobra.WindowS, other.WindowS)
}

// idlePhase is S3 on one system: the serving side alone, then with the
// idle sockets.
type idlePhase struct {
	System    string           `json:"system"`
	Sockets   int              `json:"sockets"`
	OpenAtEnd int              `json:"open_at_end"`
	BaselineS float64          `json:"baseline_s"`
	WindowS   float64          `json:"window_s"`
	Baseline  []procstat.Usage `json:"baseline_processes"`
	Idle      []procstat.Usage `json:"idle_processes"`
	// RSS of the processes that hold the sockets (the gateways; Centrifugo)
	// and of all the system's own processes (not the shared servers).
	HoldersBeforeKB int64  `json:"holders_rss_kb_before_sockets"`
	HoldersAfterKB  int64  `json:"holders_rss_kb_after_idle"`
	OwnBeforeKB     int64  `json:"own_rss_kb_before_sockets"`
	OwnAfterKB      int64  `json:"own_rss_kb_after_idle"`
	Err             string `json:"error,omitempty"`
}

// holdsSockets is whether a label is a process that terminates the
// clients' WebSockets.
func holdsSockets(label string) bool {
	return strings.HasPrefix(label, "gateway-") || label == centrifugoLabel
}

// pgRunLabel is the group of the PostgreSQL backends of this run's own
// databases, sampled in S3 beside the whole server.
const pgRunLabel = "postgres (this run's databases)"

// ownProcess is whether a label is a process of the system itself rather
// than a server shared with the rest of the machine (PostgreSQL, NATS,
// Redis), whose RSS cannot be attributed to our sockets.
func ownProcess(label string) bool {
	switch label {
	case "postgres", pgRunLabel, "nats-server", "redis-server", "load-generator":
		return false
	}
	return true
}

func rssOf(r procstat.Reading, keep func(string) bool) int64 {
	var kb int64
	for label, m := range r {
		if !keep(label) {
			continue
		}
		for _, s := range m {
			kb += s.RSSKB
		}
	}
	return kb
}

// perSocketKB is the RSS the sockets added to the processes holding them,
// and to all the system's own processes.
func (p idlePhase) perSocketKB() (holders, own float64) {
	return float64(p.HoldersAfterKB-p.HoldersBeforeKB) / float64(p.Sockets), float64(p.OwnAfterKB-p.OwnBeforeKB) / float64(p.Sockets)
}

// perSocketCPU is the CPU (µs per second) the idle sockets added to the
// processes keep selects, over the baseline without sockets.
func (p idlePhase) perSocketCPU(keep func(string) bool) float64 {
	idle := procstat.Sum(p.Idle, keep) / p.WindowS
	base := procstat.Sum(p.Baseline, keep) / p.BaselineS
	return (idle - base) / float64(p.Sockets) * 1e6
}

// servingAll is the serving side with every PostgreSQL process, as in S1
// and S2.
func servingAll(label string) bool { return label != "load-generator" && label != pgRunLabel }

// servingRun is the serving side with only the PostgreSQL backends of this
// run's databases: an idle socket's cost is a few µs/s, less than the
// noise other clients of the shared server add to a 30 s window.
func servingRun(label string) bool { return label != "load-generator" && label != "postgres" }

func (e *Env) idle(ctx context.Context, system string, rep int) idlePhase {
	z := e.Sizes
	ph := idlePhase{System: system, Sockets: z.S3Sockets}
	members := z.S3Sockets / z.S3Rooms
	cfg := chatload.Config{Rooms: z.S3Rooms, Members: members, DialParallel: dialFor(system, members),
		RunID: fmt.Sprintf("%ss3r%d%s", e.RunID, rep, system[:2]), Logf: e.Logf}
	var groups []procstat.Group
	if system == "cobra" {
		// Fresh processes, as Centrifugo's is, so that the baseline holds
		// no heap left over from earlier scenarios (chat keeps hundreds of
		// MiB after S2). Stopped in reverse start order, started in order.
		all := e.Stack.All()
		for i := len(all) - 1; i >= 0; i-- {
			all[i].Stop()
		}
		for _, p := range all {
			if err := p.Start(ctx); err != nil {
				ph.Err = "restarting " + p.Name + ": " + err.Error()
				return ph
			}
		}
		cfg.Gateways, cfg.Accounts = e.Stack.GatewayURLs(), e.Accounts
		groups = e.cobraGroups()
		g, ok := e.Stack.RunBackends(pgRunLabel)
		if !ok {
			ph.Err = "the PostgreSQL server's pid was not found (its listening port)"
			return ph
		}
		groups = append(groups, g)
	} else {
		srv, err := e.startCentrifugo(ctx, fmt.Sprintf("S3-%d", rep))
		if err != nil {
			ph.Err = err.Error()
			return ph
		}
		defer srv.Stop()
		cfg.Gateways, cfg.Accounts = []string{srv.URL()}, srv.Accounts(len(e.Accounts), 2*time.Hour)
		cfg.Centrifugo = &chatload.Centrifugo{Namespace: centrifugo.Namespace}
		groups = centrifugoGroups(srv)
	}
	sleep := func(d time.Duration) {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	sleep(5 * time.Second) // past the start-up work of fresh processes and their pools
	r0, t0 := procstat.Take("/proc", groups), time.Now()
	sleep(z.S3Baseline)
	r1 := procstat.Take("/proc", groups)
	ph.BaselineS = time.Since(t0).Seconds()
	ph.Baseline = procstat.Diff(groups, r0, r1)
	ph.HoldersBeforeKB, ph.OwnBeforeKB = rssOf(r1, holdsSockets), rssOf(r1, ownProcess)

	s, err := chatload.Open(ctx, cfg)
	if err != nil {
		ph.Err = err.Error()
		return ph
	}
	defer s.Close()
	sleep(5 * time.Second) // joins, presence and history settle
	waitProfiles := func() {}
	if system == "cobra" {
		waitProfiles = e.profileWindow(ctx, "idle", z.S3Idle)
	}
	r2, t2 := procstat.Take("/proc", groups), time.Now()
	sleep(z.S3Idle)
	r3 := procstat.Take("/proc", groups)
	waitProfiles()
	ph.WindowS = time.Since(t2).Seconds()
	ph.Idle = procstat.Diff(groups, r2, r3)
	ph.HoldersAfterKB, ph.OwnAfterKB = rssOf(r3, holdsSockets), rssOf(r3, ownProcess)
	for i := range cfg.Gateways {
		ph.OpenAtEnd += s.SocketsOn(i)
	}
	holders, own := ph.perSocketKB()
	e.Logf("S3 run %d %s: %d of %d sockets open, %.1f KB RSS per socket (all own processes %.1f), %.2f µs/s CPU per socket (serving side; with every PostgreSQL process %.2f; own processes %.2f), generator %.2f cores",
		rep+1, system, ph.OpenAtEnd, ph.Sockets, holders, own, ph.perSocketCPU(servingRun), ph.perSocketCPU(servingAll), ph.perSocketCPU(ownProcess),
		ratio(procstat.Sum(ph.Idle, func(l string) bool { return l == "load-generator" }), ph.WindowS))
	return ph
}

// S3 opens idle authenticated sockets in 4 rooms on each system and
// reports the RSS and CPU they add per socket.
func S3(ctx context.Context, e *Env) report.Scenario {
	z := e.Sizes
	sc := report.Scenario{ID: "S3", Title: fmt.Sprintf("%d idle sockets in %d rooms, Cobra Space vs Centrifugo %s", z.S3Sockets, z.S3Rooms, centrifugo.Version),
		Params: map[string]any{"sockets": z.S3Sockets, "rooms": z.S3Rooms, "baseline_s": z.S3Baseline.Seconds(), "idle_s": z.S3Idle.Seconds(), "runs": z.Reps, "centrifugo": centrifugo.Version}}
	cmd := fmt.Sprintf("%s (chatload -rooms %d -members %d -rate 0, idle %v, against Cobra Space and Centrifugo in turn)", e.command(), z.S3Rooms, z.S3Sockets/z.S3Rooms, z.S3Idle)
	type vals struct{ rss, rssOwn, cpu, cpuAll, cpuOwn, client []float64 }
	got := map[string]*vals{"cobra": {}, centrifugoLabel: {}}
	for rep := range z.Reps {
		phases := map[string]idlePhase{}
		for _, system := range order(rep) {
			if ctx.Err() != nil {
				return sc
			}
			phases[system] = e.idle(ctx, system, rep)
		}
		for system, ph := range phases {
			v := got[system]
			if ph.Err != "" || ph.WindowS == 0 {
				sc.Notes = append(sc.Notes, fmt.Sprintf("run %d: %s not measured: %s", rep+1, system, ph.Err))
				v.rss, v.rssOwn, v.client = append(v.rss, nan()), append(v.rssOwn, nan()), append(v.client, nan())
				v.cpu, v.cpuAll, v.cpuOwn = append(v.cpu, nan()), append(v.cpuAll, nan()), append(v.cpuOwn, nan())
				continue
			}
			if ph.OpenAtEnd != ph.Sockets {
				sc.Notes = append(sc.Notes, fmt.Sprintf("run %d: %s had %d of %d sockets open at the end", rep+1, system, ph.OpenAtEnd, ph.Sockets))
			}
			holders, own := ph.perSocketKB()
			if cpu := ph.perSocketCPU(servingRun); cpu < 0 {
				sc.Notes = append(sc.Notes, fmt.Sprintf("run %d: %s's CPU per idle socket came out below its baseline (%.2f µs/s): within the noise, so that run has no CPU ratio", rep+1, system, cpu))
			}
			v.rss, v.rssOwn = append(v.rss, holders), append(v.rssOwn, own)
			v.cpu, v.cpuAll, v.cpuOwn = append(v.cpu, ph.perSocketCPU(servingRun)), append(v.cpuAll, ph.perSocketCPU(servingAll)), append(v.cpuOwn, ph.perSocketCPU(ownProcess))
			v.client = append(v.client, procstat.Sum(ph.Idle, func(l string) bool { return l == "load-generator" })/ph.WindowS/float64(ph.Sockets)*1e6)
		}
		sc.Runs = append(sc.Runs, map[string]any{"run": rep + 1, "order": order(rep), "cobra": phases["cobra"], centrifugoLabel: phases[centrifugoLabel]})
		if rep == z.Reps/2 {
			sc.Processes, sc.WindowS = sideProcesses(sidePhase{Usage: phases["cobra"].Idle, WindowS: phases["cobra"].WindowS},
				sidePhase{Usage: phases[centrifugoLabel].Idle, WindowS: phases[centrifugoLabel].WindowS})
		}
	}
	c, o := got["cobra"], got[centrifugoLabel]
	sc.Compare = []report.Comparison{
		report.NewComparison("S3", "RSS per idle socket (gateways / Centrifugo)", "KB", c.rss, o.rss, report.AtMost(0.2), cmd),
		report.NewComparison("S3", "RSS per idle socket, all own processes", "KB", c.rssOwn, o.rssOwn, nil, cmd),
		report.NewComparison("S3", "CPU per idle socket, serving side", "µs/s", c.cpu, o.cpu, report.AtMost(0.2), cmd),
		report.NewComparison("S3", "CPU per idle socket, serving side with every PostgreSQL process", "µs/s", c.cpuAll, o.cpuAll, nil, cmd),
		report.NewComparison("S3", "CPU per idle socket, own processes only", "µs/s", c.cpuOwn, o.cpuOwn, nil, cmd),
		report.NewComparison("S3", "load generator CPU per idle socket", "µs/s", c.client, o.client, nil, cmd),
	}
	sc.Figures = []report.Figure{sc.Compare[0].Ratio, sc.Compare[2].Ratio}
	sc.Notes = append(sc.Notes,
		fmt.Sprintf("Each system is measured alone for %v (baseline), then %d sockets are opened (authenticated: Cobra Space access tokens, Centrifugo connection JWTs) and subscribed to %d rooms, and after 5 s to settle it is measured idle for %v. "+
			"RSS per socket = (RSS after the idle window − RSS before any socket) / sockets, of the processes holding the sockets (Cobra Space: both gateways; Centrifugo: its process) and of all the system's own processes (adding chat, post and user for Cobra Space); every one of them is started fresh for each run; KB = KiB. "+
			"CPU per socket = (CPU rate while idle − CPU rate of the baseline) / sockets, from each thread's nanoseconds on a CPU in /proc (schedstat; 10 ms ticks for a process whose thread exited during the window); for Cobra Space the serving side adds to its own processes NATS, Redis and the PostgreSQL backends of this run's databases (the row \"with every PostgreSQL process\" counts the whole shared server, as S1 and S2 do: other clients' work there is larger than what idle sockets cost, so that row is mostly noise). Both systems ping idle sockets every 25 s and the clients answer.",
			z.S3Baseline, z.S3Sockets, z.S3Rooms, z.S3Idle),
		sideSharedNote)
	return sc
}
