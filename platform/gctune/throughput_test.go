package gctune

import (
	"errors"
	"math"
	"runtime/debug"
	"testing"
)

func TestThroughput(t *testing.T) {
	oldPercent := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(oldPercent); debug.SetMemoryLimit(oldLimit) })

	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if v, ok := m[name]; ok {
				return []byte(v), nil
			}
			return nil, errors.New("no such file")
		}
	}
	v2, v1 := cgroupMemoryFiles[0], cgroupMemoryFiles[1]
	tests := []struct {
		name        string
		env         map[string]string
		files       map[string]string
		wantPercent int
		wantLimit   int64 // 0: unchanged (math.MaxInt64)
	}{
		{"GOGC set: left alone", map[string]string{"GOGC": "100"}, map[string]string{v2: "268435456\n"}, 100, 0},
		{"no cgroup limit", nil, nil, throughputGOGC, 0},
		{"cgroup v2 limit", nil, map[string]string{v2: "268435456\n"}, throughputGOGC, 214748364},
		{"cgroup v2 unlimited", nil, map[string]string{v2: "max\n"}, throughputGOGC, 0},
		{"cgroup v1 limit", nil, map[string]string{v1: "536870912\n"}, throughputGOGC, 429496728},
		{"cgroup v1 unlimited", nil, map[string]string{v1: "9223372036854771712\n"}, throughputGOGC, 0},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "100MiB"}, map[string]string{v2: "268435456"}, throughputGOGC, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			s := throughput(func(k string) string { return tt.env[k] }, files(tt.files))
			if got := debug.SetGCPercent(100); got != tt.wantPercent {
				t.Errorf("GC percent: got %d, want %d", got, tt.wantPercent)
			}
			wantLimit := tt.wantLimit
			if wantLimit == 0 {
				wantLimit = math.MaxInt64
			}
			if got := debug.SetMemoryLimit(-1); got != wantLimit {
				t.Errorf("memory limit: got %d, want %d", got, wantLimit)
			}
			if s.MemoryLimit != tt.wantLimit {
				t.Errorf("reported memory limit: got %d, want %d", s.MemoryLimit, tt.wantLimit)
			}
		})
	}
}
