package scenario

import (
	"context"
	"fmt"

	"github.com/cobraspace/cobraspace/bench/internal/chatload"
	"github.com/cobraspace/cobraspace/bench/internal/report"
)

// S1N is the send-path cost of notifications (issue #12): S1's load (busy
// rooms, open loop) on Cobra Space alone, twice per run: plain messages,
// then every message mentioning one user ("@<nickname>" of the first
// benchmark account: api.Accounts names account i "b<run>n<i>"), which
// costs a nickname lookup in the user service, a notification row and
// counter update in the message's group commit, and a per-user NATS
// event per message. The two variants alternate their order per run.
func S1N(ctx context.Context, e *Env) report.Scenario {
	z := e.Sizes
	id := "S1N"
	rooms, members, rate := z.S1Rooms, z.S1Members, z.S1Rate
	mention := "@b" + e.RunID + "n0"
	sc := report.Scenario{ID: id,
		Title: fmt.Sprintf("send path with notifications: S1's %d rooms of %d at %.0f sends/s, plain vs a mention in every message", rooms, members, rate),
		Params: map[string]any{"rooms": rooms, "members": members, "sends_per_s": rate, "mention": mention,
			"warmup_s": z.SWarmup.Seconds(), "window_s": z.SWindow.Seconds(), "runs": z.Reps}}
	cmd := fmt.Sprintf("%s (chatload -rooms %d -members %d -rate %.0f, then the same with -suffix %s)", e.command(), rooms, members, rate, mention)
	type vals struct{ p50, p99, perS, serving, viol []float64 }
	got := map[bool]*vals{false: {}, true: {}}
	for rep := range z.Reps {
		for k, withMention := range []bool{rep%2 == 1, rep%2 == 0} {
			if ctx.Err() != nil {
				return sc
			}
			v := got[withMention]
			o := chatload.RunOptions{Rate: rate, Warmup: z.SWarmup, Duration: z.SWindow}
			if withMention {
				o.Suffix = mention
			}
			s, err := chatload.Open(ctx, chatload.Config{Gateways: e.Stack.GatewayURLs(), Accounts: e.Accounts,
				Rooms: rooms, Members: members, DialParallel: dialFor("cobra", members),
				RunID: fmt.Sprintf("%ss1n%d%d", e.RunID, rep, k), Logf: e.Logf})
			if err != nil {
				sc.Notes = append(sc.Notes, fmt.Sprintf("run %d (mention %v) not measured: %v", rep+1, withMention, err))
				v.p50, v.p99, v.perS, v.serving, v.viol = append(v.p50, nan()), append(v.p99, nan()), append(v.perS, nan()), append(v.serving, nan()), append(v.viol, nan())
				continue
			}
			r, usage, window := e.measuredOn(ctx, s, o, e.cobraGroups(), false)
			s.Close()
			if !r.OK() {
				sc.Notes = append(sc.Notes, fmt.Sprintf("run %d (mention %v): %v", rep+1, withMention, r.Failures))
			}
			v.p50, v.p99, v.perS = append(v.p50, r.Latency.P50Ms), append(v.p99, r.Latency.P99Ms), append(v.perS, r.DeliveredPerS)
			v.serving, v.viol = append(v.serving, ratio(systemCPU(usage), window)), append(v.viol, violations(r))
			e.Logf("%s run %d mention=%v: p50 %.2f ms p99 %.2f ms, %.0f delivered/s, serving %.2f cores", id, rep+1, withMention,
				r.Latency.P50Ms, r.Latency.P99Ms, r.DeliveredPerS, ratio(systemCPU(usage), window))
		}
	}
	plain, with := got[false], got[true]
	p99Ratio := make([]float64, len(with.p99))
	for i := range with.p99 {
		p99Ratio[i] = ratio(with.p99[i], plain.p99[i])
	}
	sc.Figures = []report.Figure{
		report.NewFigure(id, "latency p50, plain", "ms", plain.p50, nil, cmd),
		report.NewFigure(id, "latency p50, a mention in every message", "ms", with.p50, nil, cmd),
		report.NewFigure(id, "latency p99, plain", "ms", plain.p99, nil, cmd),
		report.NewFigure(id, "latency p99, a mention in every message", "ms", with.p99, nil, cmd),
		report.NewFigure(id, "latency p99, with mentions / plain", "x", p99Ratio, nil, cmd),
		report.NewFigure(id, "deliveries/s, plain", "msg/s", plain.perS, nil, cmd),
		report.NewFigure(id, "deliveries/s, a mention in every message", "msg/s", with.perS, nil, cmd),
		report.NewFigure(id, "serving side CPU, plain", "cores", plain.serving, nil, cmd),
		report.NewFigure(id, "serving side CPU, a mention in every message", "cores", with.serving, nil, cmd),
		report.NewFigure(id, "lost + duplicate + out-of-order, a mention in every message", "msgs", with.viol, report.AtMost(0), cmd),
	}
	sc.Notes = append(sc.Notes, "Every message of the mention variant notifies the same user, the worst case for that user's notification counter row (one per group commit); the plain variant is S1's load without Centrifugo.")
	return sc
}
