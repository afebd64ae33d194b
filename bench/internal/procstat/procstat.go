// Package procstat samples the CPU time and resident memory of processes
// from /proc, so that benchmark rates can be reported per CPU-second and
// memory per socket, process by process.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ticksPerSecond is USER_HZ, the unit of utime/stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports (the kernel's CONFIG_HZ
// may differ, but /proc always reports in USER_HZ).
const ticksPerSecond = 100

// Sample is one reading of one process.
type Sample struct {
	PID   int
	Name  string
	CPU   float64 // user + system CPU seconds since the process started, to USER_HZ ticks
	RSSKB int64   // resident set size in KiB
	// Threads is each live thread's time on a CPU in nanoseconds
	// (/proc/<pid>/task/<tid>/schedstat), nil where the kernel does not
	// report it. A 10 ms tick is coarse next to what an idle process
	// spends in a few seconds, so Diff uses these when it can.
	Threads map[int]int64
}

// ParseStat extracts the process name and user+system CPU seconds from the
// contents of /proc/<pid>/stat. The name is in parentheses and may contain
// spaces and parentheses, so fields are counted from the last ')'.
func ParseStat(b []byte) (name string, cpu float64, err error) {
	lp, rp := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if lp < 0 || rp < lp {
		return "", 0, errors.New("procstat: malformed stat")
	}
	name = string(b[lp+1 : rp])
	f := strings.Fields(string(b[rp+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return "", 0, errors.New("procstat: short stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, fmt.Errorf("procstat: bad utime/stime %q %q", f[11], f[12])
	}
	return name, float64(ut+st) / ticksPerSecond, nil
}

// ParseRSS extracts VmRSS in KiB from the contents of /proc/<pid>/status;
// 0 for kernel threads and zombies, which have none.
func ParseRSS(b []byte) (int64, error) {
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "VmRSS:") {
			continue
		}
		f := strings.Fields(line[len("VmRSS:"):])
		if len(f) < 1 {
			return 0, errors.New("procstat: empty VmRSS")
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("procstat: bad VmRSS %q", f[0])
		}
		return v, nil
	}
	return 0, nil
}

// Read samples one process from the proc filesystem at root ("/proc").
func Read(root string, pid int) (Sample, error) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return Sample{}, err
	}
	name, cpu, err := ParseStat(stat)
	if err != nil {
		return Sample{}, err
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return Sample{}, err
	}
	rss, err := ParseRSS(status)
	if err != nil {
		return Sample{}, err
	}
	return Sample{PID: pid, Name: name, CPU: cpu, RSSKB: rss, Threads: readThreads(dir)}, nil
}

// readThreads returns the nanoseconds on a CPU of each thread of the
// process whose /proc directory is dir, or nil if one cannot be read.
func readThreads(dir string) map[int]int64 {
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return nil
	}
	threads := make(map[int]int64, len(tasks))
	for _, e := range tasks {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "task", e.Name(), "schedstat"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // the thread exited since the listing
			}
			return nil
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return nil
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return nil
		}
		threads[tid] = ns
	}
	return threads
}

// cpuBetween is the CPU seconds a process used from before to after: from
// its threads' nanoseconds when every thread of before is still there, else
// (a thread exited, taking its time with it) from the ticks, which count
// exited threads too.
func cpuBetween(before, after Sample) float64 {
	if before.Threads == nil || after.Threads == nil {
		return after.CPU - before.CPU
	}
	var ns int64
	for tid, b := range before.Threads {
		a, ok := after.Threads[tid]
		if !ok {
			return after.CPU - before.CPU
		}
		ns += a - b
	}
	for tid, a := range after.Threads {
		if _, ok := before.Threads[tid]; !ok {
			ns += a // started in between
		}
	}
	return float64(ns) / 1e9
}

// FindByName returns the pids under root whose command name (comm) is name,
// in increasing order, e.g. every "postgres" backend.
func FindByName(root, name string) []int {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(root, e.Name(), "comm"))
		if err != nil {
			continue
		}
		if strings.TrimSpace(string(comm)) == name {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// Group is a named set of processes measured together, e.g. "gateway-a"
// (one pid) or "postgres" (the server and every backend, found at each
// reading).
type Group struct {
	Label string
	PIDs  []int  // fixed pids; or
	Comm  string // a command name looked up at each reading; or
	Tree  int    // a process and its children, looked up at each reading (a server whose workers come and go)
	// Match, with Tree, keeps only the children whose command line (the
	// title a PostgreSQL backend shows: user, database, client) contains it.
	Match string
}

// cmdlineContains reports whether the command line of pid contains s.
func cmdlineContains(root string, pid int, s string) bool {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "cmdline"))
	return err == nil && bytes.Contains(b, []byte(s))
}

// ChildrenOf returns the pids under root whose parent is ppid, in
// increasing order.
func ChildrenOf(root string, ppid int) []int {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Field 4 (ppid) is the second after the name's closing ')'.
		rp := bytes.LastIndexByte(b, ')')
		if rp < 0 {
			continue
		}
		f := strings.Fields(string(b[rp+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// ListenerPID returns the pid of the process listening on TCP port of the
// loopback or any address (from /proc/net/tcp{,6} and the processes' open
// sockets), or 0. It tells the machine's PostgreSQL, Redis or NATS apart
// from other processes of the same name on the box (e.g. a test's own
// server), whose CPU is not the system under test's.
func ListenerPID(root string, port int) int {
	inodes := map[string]bool{}
	for _, f := range []string{"net/tcp", "net/tcp6"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			// local_address is "HEXIP:HEXPORT"; state 0A is LISTEN.
			if len(fs) < 10 || fs[3] != "0A" {
				continue
			}
			i := strings.LastIndexByte(fs[1], ':')
			p, err := strconv.ParseInt(fs[1][i+1:], 16, 32)
			if err == nil && int(p) == port {
				inodes[fs[9]] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join(root, e.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err == nil && strings.HasPrefix(l, "socket:[") && inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] {
				return pid
			}
		}
	}
	return 0
}

// Reading is the state of every group at one moment.
type Reading map[string]map[int]Sample

// Take samples every group. Processes that vanished are skipped.
func Take(root string, groups []Group) Reading {
	r := Reading{}
	for _, g := range groups {
		pids := g.PIDs
		switch {
		case g.Comm != "":
			pids = FindByName(root, g.Comm)
		case g.Tree != 0 && g.Match != "":
			pids = nil
			for _, c := range ChildrenOf(root, g.Tree) {
				if cmdlineContains(root, c, g.Match) {
					pids = append(pids, c)
				}
			}
		case g.Tree != 0:
			pids = append([]int{g.Tree}, ChildrenOf(root, g.Tree)...)
		}
		m := map[int]Sample{}
		for _, pid := range pids {
			if s, err := Read(root, pid); err == nil {
				m[pid] = s
			}
		}
		r[g.Label] = m
	}
	return r
}

// Usage is what one group consumed between two readings.
type Usage struct {
	Label      string  `json:"label"`
	Processes  int     `json:"processes"`
	CPUSeconds float64 `json:"cpu_seconds"`
	RSSKBStart int64   `json:"rss_kb_start"`
	RSSKBEnd   int64   `json:"rss_kb_end"`
}

// Diff returns per-group usage between before and after, in the order of
// groups, to the nanosecond where the kernel reports each thread's time
// (see cpuBetween). A process present only in after (started in between) counts with
// all its CPU; one that exited in between is lost to the sum (its CPU cannot
// be read any more), which is why long-lived pools are preferred.
func Diff(groups []Group, before, after Reading) []Usage {
	out := make([]Usage, 0, len(groups))
	for _, g := range groups {
		u := Usage{Label: g.Label}
		b, a := before[g.Label], after[g.Label]
		for pid, s := range a {
			u.Processes++
			u.RSSKBEnd += s.RSSKB
			if p, ok := b[pid]; ok {
				u.CPUSeconds += cpuBetween(p, s)
			} else {
				u.CPUSeconds += s.CPU
			}
		}
		for _, s := range b {
			u.RSSKBStart += s.RSSKB
		}
		out = append(out, u)
	}
	return out
}

// Sum returns the total CPU seconds of the usages whose label satisfies keep.
func Sum(us []Usage, keep func(label string) bool) float64 {
	var t float64
	for _, u := range us {
		if keep(u.Label) {
			t += u.CPUSeconds
		}
	}
	return t
}
