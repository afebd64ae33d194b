package procstat

import (
	"maps"
	"math"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		wantName string
		wantCPU  float64
		wantErr  bool
	}{
		{
			name:     "plain",
			in:       "7 (gateway) S 1 7 7 0 -1 0 0 0 0 0 150 50 0 0 20 0 8 0 100 1 2",
			wantName: "gateway", wantCPU: 2.0,
		},
		{
			name:     "name with spaces and parentheses",
			in:       "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 8 0 100 1 2",
			wantName: "a (b) c", wantCPU: 0.03,
		},
		{name: "truncated", in: "7 (x) S 1 2", wantErr: true},
		{name: "no parentheses", in: "garbage", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name, cpu, err := ParseStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err: got %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if name != tt.wantName || math.Abs(cpu-tt.wantCPU) > 1e-9 {
				t.Errorf("got (%q, %v), want (%q, %v)", name, cpu, tt.wantName, tt.wantCPU)
			}
		})
	}
}

func TestParseRSS(t *testing.T) {
	t.Parallel()
	got, err := ParseRSS([]byte("Name:\tx\nVmPeak:\t 9 kB\nVmRSS:\t    2048 kB\n"))
	if err != nil || got != 2048 {
		t.Errorf("got %d, %v; want 2048", got, err)
	}
	got, err = ParseRSS([]byte("Name:\tkthreadd\nState:\tS\n"))
	if err != nil || got != 0 {
		t.Errorf("kernel thread: got %d, %v; want 0", got, err)
	}
}

func TestReadAndFindByName(t *testing.T) {
	t.Parallel()
	s, err := Read("testdata/proc", 42)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "gate way" || s.CPU != 3.0 || s.RSSKB != 12345 {
		t.Errorf("got %+v, want name %q, 3.0 CPU s, 12345 KiB", s, "gate way")
	}
	if want := map[int]int64{42: 2_500_000_000, 45: 499_999_999}; !maps.Equal(s.Threads, want) {
		t.Errorf("threads: got %v, want %v", s.Threads, want)
	}
	if s, err := Read("testdata/proc", 43); err != nil || s.Threads != nil {
		t.Errorf("a process without task/: got threads %v, %v; want none", s.Threads, err)
	}
	if got := FindByName("testdata/proc", "postgres"); len(got) != 2 || got[0] != 43 || got[1] != 44 {
		t.Errorf("FindByName: got %v, want [43 44]", got)
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	groups := []Group{{Label: "gw", PIDs: []int{1}}, {Label: "pg", Comm: "postgres"}}
	before := Reading{
		"gw": {1: {PID: 1, CPU: 10, RSSKB: 100}},
		"pg": {5: {PID: 5, CPU: 1, RSSKB: 50}, 6: {PID: 6, CPU: 2, RSSKB: 50}},
	}
	after := Reading{
		"gw": {1: {PID: 1, CPU: 12.5, RSSKB: 300}},
		// 6 exited, 7 started with 0.5 s of CPU.
		"pg": {5: {PID: 5, CPU: 1.25, RSSKB: 60}, 7: {PID: 7, CPU: 0.5, RSSKB: 10}},
	}
	got := Diff(groups, before, after)
	want := []Usage{
		{Label: "gw", Processes: 1, CPUSeconds: 2.5, RSSKBStart: 100, RSSKBEnd: 300},
		{Label: "pg", Processes: 2, CPUSeconds: 0.75, RSSKBStart: 100, RSSKBEnd: 70},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("group %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if s := Sum(got, func(l string) bool { return l == "gw" }); s != 2.5 {
		t.Errorf("Sum: got %v, want 2.5", s)
	}
}

// Diff takes a process's CPU from its threads' nanoseconds, unless a
// thread exited in between: then from the ticks, which still count it.
func TestDiffByThreads(t *testing.T) {
	t.Parallel()
	groups := []Group{{Label: "p", PIDs: []int{1}}}
	before := Sample{PID: 1, CPU: 1.00, Threads: map[int]int64{1: 900_000_000, 2: 100_000_000}}
	tests := []struct {
		name  string
		after Sample
		want  float64
	}{
		{"same threads", Sample{PID: 1, CPU: 1.01, Threads: map[int]int64{1: 903_000_000, 2: 101_500_000}}, 0.0045},
		{"a thread started", Sample{PID: 1, CPU: 1.02, Threads: map[int]int64{1: 903_000_000, 2: 100_000_000, 3: 2_000_000}}, 0.005},
		{"a thread exited", Sample{PID: 1, CPU: 1.03, Threads: map[int]int64{1: 903_000_000}}, 0.03},
		{"no thread times", Sample{PID: 1, CPU: 1.04}, 0.04},
	}
	for _, tt := range tests {
		got := Diff(groups, Reading{"p": {1: before}}, Reading{"p": {1: tt.after}})[0].CPUSeconds
		if math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: got %v CPU s, want %v", tt.name, got, tt.want)
		}
	}
}

func TestReadSelf(t *testing.T) {
	t.Parallel()
	s, err := Read("/proc", os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if s.RSSKB <= 0 {
		t.Errorf("own RSS: got %d KiB, want > 0", s.RSSKB)
	}
	if len(s.Threads) == 0 {
		t.Skip("the kernel reports no per-thread CPU time (schedstat)")
	}
	// Spin until the threads' time shows 20 ms more (a busy machine
	// gives the spinning thread less than its wall time).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	spins := 0
	for deadline := time.Now().Add(10 * time.Second); ; {
		for start := time.Now(); time.Since(start) < 5*time.Millisecond; {
			spins++
		}
		after, err := Read("/proc", os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if cpuBetween(s, after) >= 0.02 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s of spinning (%d turns): threads' CPU went from %v to %v", spins, s.Threads, after.Threads)
		}
	}
}

// TestListenerAndChildren finds this test process by the port it listens on
// and a child it started by its parent pid, from the real /proc.
func TestListenerAndChildren(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if got := ListenerPID("/proc", port); got != os.Getpid() {
		t.Errorf("ListenerPID(%d): got %d, want this process %d", port, got, os.Getpid())
	}
	l.Close()
	if got := ListenerPID("/proc", port); got != 0 {
		t.Errorf("ListenerPID after close: got %d, want 0", got)
	}

	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a child: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if !slices.Contains(ChildrenOf("/proc", os.Getpid()), cmd.Process.Pid) {
		t.Errorf("ChildrenOf(%d) = %v, want it to hold the child %d", os.Getpid(), ChildrenOf("/proc", os.Getpid()), cmd.Process.Pid)
	}
	r := Take("/proc", []Group{{Label: "tree", Tree: os.Getpid()}, {Label: "sleepers", Tree: os.Getpid(), Match: "sleep\x0030"}, {Label: "none", Tree: os.Getpid(), Match: "sleep\x0031"}})
	if _, ok := r["tree"][cmd.Process.Pid]; !ok || len(r["tree"]) < 2 {
		t.Errorf("Take of a tree: got pids %v, want this process and the child %d", r["tree"], cmd.Process.Pid)
	}
	if _, ok := r["sleepers"][cmd.Process.Pid]; !ok || len(r["sleepers"]) != 1 {
		t.Errorf("Take of matching children: got pids %v, want only the child %d", r["sleepers"], cmd.Process.Pid)
	}
	if len(r["none"]) != 0 {
		t.Errorf("Take of a tree with a match no child has: got pids %v, want none", r["none"])
	}
}
