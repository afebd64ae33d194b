// Command chatload is the chat load generator on its own, against a system
// that is already running (e.g. `make run`): it registers users, creates
// rooms, opens sockets over the gateway replicas and sends at a fixed
// open-loop rate, then prints delivered msgs/s, latency percentiles and
// delivery violations (any of which makes it exit 1), plus the CPU and RSS
// of the processes it was told to watch.
//
//	go run ./bench/cmd/chatload -gateways http://127.0.0.1:8080,http://127.0.0.1:8081 \
//	    -users 200 -rooms 20 -members 50 -rate 1000 -duration 10s -procs gateway,chat,postgres
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cobraspace/cobraspace/bench/internal/api"
	"github.com/cobraspace/cobraspace/bench/internal/chatload"
	"github.com/cobraspace/cobraspace/bench/internal/procstat"
	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/process"
)

func main() {
	process.Main("chatload", func(ctx context.Context) error { return run(ctx, os.Args, os.Stdout, os.Stderr) })
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	gateways := fs.String("gateways", "http://127.0.0.1:8080,http://127.0.0.1:8081", "comma-separated gateway base URLs")
	users := fs.Int("users", 200, "accounts to register (sockets of one user per gateway must stay ≤ 20)")
	rooms := fs.Int("rooms", 20, "rooms to create")
	members := fs.Int("members", 50, "sockets per room")
	rate := fs.Float64("rate", 1000, "chat.message sends per second in total (0: idle sockets)")
	warmup := fs.Duration("warmup", 3*time.Second, "load before the measured window")
	duration := fs.Duration("duration", 10*time.Second, "measured window")
	drain := fs.Duration("drain", 5*time.Second, "longest wait for acks and deliveries after the last send")
	keyFile := fs.String("key", "", "Ed25519 private key (PEM) of the system under test: sign access tokens instead of logging in (argon2) per user")
	firstOnly := fs.Bool("first-gateway-only", false, "open every socket on the first gateway")
	reconnect := fs.Bool("reconnect", false, "reconnect dropped sockets to the next gateway with after_seq")
	slow := fs.Int("slow", 0, "extra members of the first room that stop reading at -slow-after")
	slowAfter := fs.Duration("slow-after", 2*time.Second, "when the slow members stop reading (from the window start)")
	pad := fs.Int("pad", 0, "filler bytes added to each message text")
	suffix := fs.String("suffix", "", "text appended to each message (e.g. \"@nickname\" to mention a user in every message)")
	procs := fs.String("procs", "", "command names of processes to sample from /proc (e.g. gateway,chat,postgres)")
	pids := fs.String("pids", "", "label=pid pairs to sample (e.g. gw-a=123,gw-b=456)")
	jsonOut := fs.String("json", "", "also write the result as JSON to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	total := *rooms**members + *slow
	if total > chatload.MaxSockets {
		return fmt.Errorf("%d sockets > %d per process (open-file limit 20,000): run several chatload processes", total, chatload.MaxSockets)
	}
	gws := strings.Split(*gateways, ",")
	var signer *accesstoken.Signer
	if *keyFile != "" {
		k, err := accesstoken.LoadPrivateKeyFile(*keyFile)
		if err != nil {
			return err
		}
		signer = accesstoken.NewSigner(k)
	}
	groups, err := parseGroups(*procs, *pids)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	runID := api.RunID()
	t0 := time.Now()
	accts, err := api.Accounts(ctx, api.New(gws[0]), runID, *users+*slow, 8, signer)
	if err != nil {
		return fmt.Errorf("registering accounts: %w", err)
	}
	logf("chatload: %d accounts ready in %.1fs", len(accts), time.Since(t0).Seconds())
	s, err := chatload.Open(ctx, chatload.Config{
		Gateways: gws, Accounts: accts[:*users], SlowAccounts: accts[*users:], Rooms: *rooms, Members: *members,
		FirstGatewayOnly: *firstOnly, Reconnect: *reconnect, ReconnectJitter: 500 * time.Millisecond,
		RunID: runID, Logf: logf,
	})
	if err != nil {
		return err
	}
	defer s.Close()

	var before, after procstat.Reading
	var w0, w1 time.Time
	res := s.Run(ctx, chatload.RunOptions{
		Rate: *rate, Warmup: *warmup, Duration: *duration, Drain: *drain, SlowAfter: *slowAfter, Pad: *pad, Suffix: *suffix,
		At: []chatload.Hook{
			{After: 0, Do: func() { before, w0 = procstat.Take("/proc", groups), time.Now() }},
			{After: *duration, Do: func() { after, w1 = procstat.Take("/proc", groups), time.Now() }},
		},
	})
	var usage []procstat.Usage
	if before != nil && after != nil {
		usage = procstat.Diff(groups, before, after)
	}
	win := w1.Sub(w0).Seconds()
	printTable(stdout, res, usage, win)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(map[string]any{"result": res, "processes": usage, "window_s": win, "args": args[1:]}, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	if !res.OK() {
		return errors.New("run failed: " + strings.Join(res.Failures, "; "))
	}
	return nil
}

func parseGroups(procs, pids string) ([]procstat.Group, error) {
	var gs []procstat.Group
	for _, name := range strings.Split(procs, ",") {
		if name = strings.TrimSpace(name); name != "" {
			gs = append(gs, procstat.Group{Label: name, Comm: name})
		}
	}
	for _, kv := range strings.Split(pids, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		label, p, ok := strings.Cut(kv, "=")
		pid, err := strconv.Atoi(p)
		if !ok || err != nil {
			return nil, fmt.Errorf("-pids: %q is not label=pid", kv)
		}
		gs = append(gs, procstat.Group{Label: label, PIDs: []int{pid}})
	}
	return append(gs, procstat.Group{Label: "chatload", PIDs: []int{os.Getpid()}}), nil
}

func printTable(w io.Writer, r chatload.Result, us []procstat.Usage, win float64) {
	fmt.Fprintf(w, "sockets %d (rooms %d × %d members, %d gateways), target %.0f sends/s, window %.1f s\n",
		r.Sockets, r.Rooms, r.Members, r.Gateways, r.TargetRate, r.DurationS)
	fmt.Fprintf(w, "delivered      %12.0f msgs/s (%d in the window)\n", r.DeliveredPerS, r.Delivered)
	fmt.Fprintf(w, "latency p50    %12.3f ms\n", r.Latency.P50Ms)
	fmt.Fprintf(w, "latency p99    %12.3f ms\n", r.Latency.P99Ms)
	fmt.Fprintf(w, "latency p99.9  %12.3f ms\n", r.Latency.P999Ms)
	fmt.Fprintf(w, "latency max    %12.3f ms\n", r.Latency.MaxMs)
	fmt.Fprintf(w, "sent %d  acked %d  failed %d  unacked %d  overflow %d\n", r.Sent, r.Acked, r.Failed, r.Unacked, r.Overflow)
	fmt.Fprintf(w, "lost %d  duplicates %d  out-of-order %d\n", r.Check.Lost, r.Check.Duplicates, r.Check.OutOfOrder)
	if r.Reconnects > 0 {
		fmt.Fprintf(w, "reconnects %d, all resumed after %.2f s (%.0f connects/s)\n", r.Reconnects, r.ResumedAllS, r.ReconnectPerS)
	}
	if len(r.SlowCloseCodes) > 0 {
		fmt.Fprintf(w, "slow members cut off after %.2f s, close codes %v\n", r.SlowCutoffS, r.SlowCloseCodes)
	}
	if len(us) > 0 {
		sort.Slice(us, func(i, j int) bool { return us[i].Label < us[j].Label })
		fmt.Fprintf(w, "%-16s %10s %8s %12s\n", "process", "CPU s", "cores", "RSS end KiB")
		for _, u := range us {
			fmt.Fprintf(w, "%-16s %10.2f %8.2f %12d\n", u.Label, u.CPUSeconds, u.CPUSeconds/win, u.RSSKBEnd)
		}
	}
	if r.OK() {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintln(w, "FAIL: "+strings.Join(r.Failures, "; "))
	}
}
