package gctune

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// throughputGOGC is Throughput's GC target. Every chat SendMessage
// allocates a few KB that die young (gRPC frames, contexts, the batch
// rows), and at Go's default of 100 the collector took ~23% of the chat
// service's CPU in the M5 bench; 400 collects a quarter as often. The live
// heap is small (caches of tokens and users), so the heap stays tens of MB;
// where the container has a memory limit, the soft limit below makes the
// collector work harder before the heap can grow near it.
const throughputGOGC = 400

// cgroupMemoryFiles hold the container's memory limit: cgroup v2, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// Settings is what Throughput chose, for the start-up log.
type Settings struct {
	GOGC        int   // 0: left to the GOGC environment variable
	MemoryLimit int64 // 0: none set here
}

// Throughput sets the GC target to 400 unless GOGC is set, and then,
// unless GOMEMLIMIT is set, a soft memory limit of 80% of the container's
// memory limit when there is one, so the higher target cannot push the
// heap into an OOM kill.
func Throughput(getenv func(string) string) Settings {
	return throughput(getenv, os.ReadFile)
}

// throughput is Throughput reading the cgroup files with readFile (tests
// give it fake ones).
func throughput(getenv func(string) string, readFile func(string) ([]byte, error)) Settings {
	var s Settings
	if getenv("GOGC") != "" {
		return s
	}
	s.GOGC = throughputGOGC
	debug.SetGCPercent(throughputGOGC)
	if getenv("GOMEMLIMIT") != "" {
		return s
	}
	for _, f := range cgroupMemoryFiles {
		b, err := readFile(f)
		if err != nil {
			continue
		}
		// "max" (v2) or a huge number (v1) means no limit.
		limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && limit > 0 && limit < 1<<50 {
			s.MemoryLimit = limit / 5 * 4
			debug.SetMemoryLimit(s.MemoryLimit)
		}
		break
	}
	return s
}
