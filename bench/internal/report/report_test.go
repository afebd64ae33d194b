package report

import (
	"math"
	"strings"
	"testing"

	"github.com/cobraspace/cobraspace/bench/internal/procstat"
)

func TestMedian(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := Median(tt.in); got != tt.want {
			t.Errorf("Median(%v): got %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := Median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil): got %v, want NaN", got)
	}
}

func TestNewFigure(t *testing.T) {
	t.Parallel()
	f := NewFigure("M1", "p99", "ms", []float64{12, math.NaN(), 30, 18}, AtMost(20), "make bench")
	if f.Median != 18 || f.Min != 12 || f.Max != 30 || len(f.Values) != 3 {
		t.Errorf("got median %v min %v max %v n %d, want 18 12 30 3", f.Median, f.Min, f.Max, len(f.Values))
	}
	if f.Met == nil || !*f.Met {
		t.Errorf("met: got %v, want true (18 ≤ 20)", f.Met)
	}
	g := NewFigure("M6", "list", "req/s", []float64{4000}, AtLeast(5000), "")
	if g.Met == nil || *g.Met {
		t.Errorf("met: got %v, want false (4000 < 5000)", g.Met)
	}
	if e := NewFigure("M1", "x", "", nil, AtMost(1), ""); e.Met != nil {
		t.Errorf("no values: met got %v, want nil", *e.Met)
	}
}

func TestNum(t *testing.T) {
	t.Parallel()
	tests := map[float64]string{
		1234567: "1,234,567", -4500: "-4,500", 150: "150", 12.345: "12.3", 1.5: "1.50",
		0.01234: "0.0123", 0: "0", math.NaN(): "–",
	}
	for in, want := range tests {
		if got := Num(in); got != want {
			t.Errorf("Num(%v): got %q, want %q", in, got, want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	t.Parallel()
	r := Report{Date: "2026-11-26T10:05Z", Mode: "full", Commit: "abc", Command: "make bench", Scenarios: []Scenario{
		{ID: "M1", Title: "latency", WindowS: 10,
			Figures:   []Figure{NewFigure("M1", "p99 latency", "ms", []float64{10, 12, 11}, AtMost(20), "make bench")},
			Processes: []procstat.Usage{{Label: "gateway-a", Processes: 1, CPUSeconds: 5, RSSKBStart: 20480, RSSKBEnd: 40960}}},
		{ID: "M5", Title: "persist", Error: "chat service: unavailable\nmore"},
	}}
	md := r.Markdown()
	for _, want := range []string{
		"| M1 | p99 latency | 11.0 ms | 10.0–12.0 | 3 | ≤ 20.0 | yes |",
		"| gateway-a | 5.00 | 0.5 | 20.0 MiB | 40.0 MiB |",
		"| M5 | **not measured**: chat service: unavailable |",
		"bench/results/2026-11-26T1005Z.json",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	t.Parallel()
	doc := "# B\n\nintro\n"
	doc = ReplaceSection(doc, "full", "table 1")
	if !strings.Contains(doc, "<!-- full:begin -->\ntable 1\n<!-- full:end -->") || !strings.HasPrefix(doc, "# B\n\nintro") {
		t.Fatalf("append: got %q", doc)
	}
	doc = ReplaceSection(doc+"tail\n", "full", "table 2")
	if strings.Contains(doc, "table 1") || !strings.Contains(doc, "table 2") || !strings.HasSuffix(doc, "tail\n") {
		t.Errorf("replace: got %q", doc)
	}
}

// TestComparison pairs the runs of both systems into per-run ratios and
// renders the side-by-side table.
func TestComparison(t *testing.T) {
	t.Parallel()
	c := NewComparison("S1", "latency p99", "ms", []float64{30, 60, 45}, []float64{20, 30, 50}, AtMost(1.5), "make bench")
	// Per-run ratios 1.5, 2, 0.9: median 1.5, which meets ≤ 1.5; the
	// ratio of the medians (45/30) would hide the spread.
	if c.Ratio.Median != 1.5 || c.Ratio.Min != 0.9 || c.Ratio.Max != 2 || c.Ratio.Met == nil || !*c.Ratio.Met {
		t.Errorf("ratio: got %+v", c.Ratio)
	}
	if c.Cobra.Median != 45 || c.Other.Median != 30 {
		t.Errorf("medians: got %v and %v, want 45 and 30", c.Cobra.Median, c.Other.Median)
	}
	// A negative cost (below its baseline: noise) gives no ratio rather
	// than one that meets any "at most" goal.
	n := NewComparison("S3", "CPU per idle socket", "µs/s", []float64{-2, 4}, []float64{6, 8}, AtMost(0.2), "")
	if len(n.Ratio.Values) != 1 || n.Ratio.Median != 0.5 || *n.Ratio.Met {
		t.Errorf("negative run: got ratio %+v, want only the second run's 0.5, not met", n.Ratio)
	}
	r := Report{Date: "2026-12-03T14:00Z", Mode: "full", Scenarios: []Scenario{{ID: "S1", Title: "busy rooms", Compare: []Comparison{c}, Figures: []Figure{c.Ratio}}}}
	md := r.Markdown()
	for _, want := range []string{
		"| figure | Cobra Space | Centrifugo | Cobra Space / Centrifugo | goal | met |",
		"| latency p99 | 45.0 ms (30.0–60.0) | 30.0 ms (20.0–50.0) | 1.50 x (0.9–2.00) | ≤ 1.50 | yes |",
		"| S1 | latency p99, Cobra Space / Centrifugo | 1.50 x |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}
