// Command bench runs the performance scenarios M1–M8 of
// BENCHMARKS.md against a private Cobra Space stack it starts itself (two
// gateway replicas, fresh databases, its own Redis/NATS prefix), and S1–S3
// against that stack and Centrifugo in turn, writes
// bench/results/<date>T<time>Z[-quick].json and the tables of BENCHMARKS.md.
//
// Usage (from the repository root, normally through make):
//
//	go run ./bench/cmd/bench -mode quick   # make bench-quick, about a minute
//	go run ./bench/cmd/bench -mode full    # make bench, up to ~30 minutes
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/cobraspace/cobraspace/bench/internal/api"
	"github.com/cobraspace/cobraspace/bench/internal/centrifugo"
	"github.com/cobraspace/cobraspace/bench/internal/profile"
	"github.com/cobraspace/cobraspace/bench/internal/report"
	"github.com/cobraspace/cobraspace/bench/internal/scenario"
	"github.com/cobraspace/cobraspace/bench/internal/stack"
	"github.com/cobraspace/cobraspace/platform/process"
)

func main() {
	process.Main("bench", func(ctx context.Context) error { return run(ctx, os.Args, os.Stdout) })
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	mode := fs.String("mode", "quick", "quick (about a minute) or full")
	root := fs.String("root", ".", "repository root")
	only := fs.String("scenarios", "M1,M2,M3,M4,M5,M6,M7,M8,S1,S1N,S2,S3", "comma-separated scenarios to run")
	tree := fs.Bool("working-tree", false, "build the services from the working tree instead of a clean export of HEAD")
	profDir := fs.String("profile", "", "directory for CPU profiles of every stack process over each measured window, and heap profiles at its end (empty: none)")
	mdPath := fs.String("markdown", "BENCHMARKS.md", "Markdown file whose bench section is replaced (relative to -root; empty: none)")
	section := fs.String("section", "", "name of the Markdown section to replace (default bench-<mode>)")
	chatReplicas := fs.Int("chat-replicas", 1, "chat service processes (gateways route each room's sends to one of them)")
	extraEnv := envFlag{}
	fs.Var(extraEnv, "env", "KIND:KEY=VALUE, added to the environment of every process of KIND (user, chat, post, gateway); repeatable, e.g. -env gateway:CHAT_SEND_BATCH_WAIT=2ms")
	centrifugoBin := fs.String("centrifugo", "bench/.cache/bin/centrifugo", "Centrifugo "+centrifugo.Version+" binary for S1–S3 (relative to -root; scripts/bench.sh builds it)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var sizes scenario.Sizes
	switch *mode {
	case "quick":
		sizes = scenario.Quick
	case "full":
		sizes = scenario.Full
	default:
		return fmt.Errorf("unknown -mode %q", *mode)
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		want[strings.TrimSpace(strings.ToUpper(s))] = true
	}
	absRoot, err := filepath.Abs(*root)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stdout, nil))
	logf := func(format string, a ...any) { logger.Info(fmt.Sprintf(format, a...)) }

	began := time.Now()
	rep := report.Report{
		Date: began.UTC().Format("2006-01-02T15:04Z"), Mode: *mode, Commit: commit(absRoot, *tree),
		Host:       host(),
		Conditions: "load average at start " + loadavg(),
		Command:    map[string]string{"quick": "make bench-quick", "full": "make bench"}[*mode],
	}
	if *only != fs.Lookup("scenarios").DefValue {
		rep.Command += " (scenarios " + *only + ")"
	}
	if *chatReplicas != 1 {
		rep.Command += fmt.Sprintf(", %d chat replicas", *chatReplicas)
	}
	if len(extraEnv) > 0 {
		rep.Command += ", env " + extraEnv.String()
	}

	work := filepath.Join(absRoot, "bench", ".work")
	runID := api.RunID()
	// Binaries per run, so that two bench runs at once never overwrite each
	// other's executables.
	bin := filepath.Join(work, "bin-"+runID)
	defer os.RemoveAll(bin)
	src := absRoot
	if !*tree {
		// Measure exactly the commit named in the report, not whatever is
		// half-edited in a shared working tree.
		// Outside the repository, so that tools walking bench/ (gofmt)
		// never see a second copy of the tree.
		tmp, err := os.MkdirTemp("", "cobra-bench-src-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		src = tmp
		logf("exporting HEAD (%s) into %s", rep.Commit, src)
		if err := exportHead(ctx, absRoot, src); err != nil {
			return err
		}
	}
	logf("building the service binaries into %s", bin)
	if err := stack.Build(ctx, src, bin); err != nil {
		return err
	}
	logs := filepath.Join(work, "run-"+runID)
	st, err := stack.Start(ctx, stack.Options{Root: absRoot, BinDir: bin, WorkDir: logs, Gateways: 2, RunID: runID, Logf: logf,
		ChatReplicas: *chatReplicas, Env: extraEnv})
	if err != nil {
		return err
	}
	defer func() {
		logf("stopping the stack and dropping its databases")
		st.Stop()
	}()
	firstStart := map[string]time.Duration{}
	for _, p := range st.All() {
		firstStart[p.Name] = p.ReadyIn
	}

	logf("registering %d accounts", sizes.Accounts)
	t0 := time.Now()
	accounts, err := api.Accounts(ctx, api.New(st.GatewayURLs()[0]), runID, sizes.Accounts, 8, st.Signer)
	if err != nil {
		return fmt.Errorf("registering accounts: %w", err)
	}
	logf("registered %d accounts in %.1f s (tokens signed with the stack's own key; no login per account)", len(accounts), time.Since(t0).Seconds())

	cbin := *centrifugoBin
	if !filepath.IsAbs(cbin) {
		cbin = filepath.Join(absRoot, cbin)
	}
	env := &scenario.Env{Stack: st, Accounts: accounts, Sizes: sizes, Mode: *mode, RunID: runID, Logf: logf,
		Centrifugo: cbin, WorkDir: logs}
	if *profDir != "" {
		dir, err := filepath.Abs(*profDir)
		if err != nil {
			return err
		}
		env.Profiler = &profile.Capturer{Dir: filepath.Join(dir, runID), Logf: logf}
		logf("CPU profiles of every window go to %s (go tool pprof <file>)", env.Profiler.Dir)
	}
	steps := []struct {
		id string
		fn func() report.Scenario
	}{
		{"M5", func() report.Scenario { return scenario.M5(ctx, env) }},
		{"M1", func() report.Scenario { return scenario.M1(ctx, env) }},
		{"M2", func() report.Scenario { return scenario.M2(ctx, env) }},
		{"M7", func() report.Scenario { return scenario.M7(ctx, env) }},
		{"M3", func() report.Scenario { return scenario.M3(ctx, env) }},
		{"M4", func() report.Scenario { return scenario.M4(ctx, env) }},
		{"M6", func() report.Scenario { return scenario.M6(ctx, env) }},
		{"M8", func() report.Scenario { return scenario.M8(ctx, env, firstStart) }},
		{"S1", func() report.Scenario { return scenario.S1(ctx, env) }},
		{"S1N", func() report.Scenario { return scenario.S1N(ctx, env) }},
		{"S2", func() report.Scenario { return scenario.S2(ctx, env) }},
		{"S3", func() report.Scenario { return scenario.S3(ctx, env) }},
	}
	failed := false
	for _, s := range steps {
		if !want[s.id] || ctx.Err() != nil {
			continue
		}
		logf("scenario %s", s.id)
		env.Scenario = s.id
		t := time.Now()
		sc := s.fn()
		logf("scenario %s done in %.0f s", s.id, time.Since(t).Seconds())
		if sc.Error != "" {
			failed = true
			logf("scenario %s not measured: %s", s.id, sc.Error)
		}
		for _, f := range sc.Figures {
			if strings.Contains(f.Name, "lost") && f.Met != nil && !*f.Met {
				failed = true
			}
		}
		rep.Scenarios = append(rep.Scenarios, sc)
	}
	rep.DurationS = time.Since(began).Seconds()
	rep.Conditions += ", at end " + loadavg()

	resDir := filepath.Join(absRoot, "bench", "results")
	if err := os.MkdirAll(resDir, 0o755); err != nil {
		return err
	}
	out := filepath.Join(resDir, rep.FileName())
	if err := rep.WriteJSON(out); err != nil {
		return err
	}
	md := rep.Markdown()
	fmt.Fprintln(stdout, "\n"+md)
	if *mdPath != "" {
		p := filepath.Join(absRoot, *mdPath)
		doc, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		section := *section
		if section == "" {
			section = "bench-" + *mode
		}
		if err := os.WriteFile(p, []byte(report.ReplaceSection(string(doc), section, md)), 0o644); err != nil {
			return err
		}
		logf("wrote %s and the %s section of %s", out, section, p)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if failed {
		return errors.New("a scenario was not measured or broke a delivery guarantee (see the table)")
	}
	return nil
}

func commit(root string, tree bool) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if !tree {
		return c
	}
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += " (working tree with uncommitted changes)"
	}
	return c
}

// exportHead writes the files of HEAD into dir (git archive; the
// repository itself is not touched).
func exportHead(ctx context.Context, root, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", `git -C "$1" archive HEAD | tar -x -C "$2"`, "sh", root, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("exporting HEAD: %w\n%s", err, out)
	}
	return nil
}

func host() string {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%d CPUs, Linux %s, %s", runtime.NumCPU(), strings.TrimSpace(string(kernel)), runtime.Version())
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// envFlag collects -env KIND:KEY=VALUE settings by process kind.
type envFlag map[string][]string

func (e envFlag) String() string { return fmt.Sprint(map[string][]string(e)) }

func (e envFlag) Set(v string) error {
	kind, kv, ok := strings.Cut(v, ":")
	if !ok || !strings.Contains(kv, "=") {
		return fmt.Errorf("want KIND:KEY=VALUE, got %q", v)
	}
	switch kind {
	case "user", "chat", "post", "gateway":
	default:
		return fmt.Errorf("unknown process kind %q (user, chat, post, gateway)", kind)
	}
	e[kind] = append(e[kind], kv)
	return nil
}
