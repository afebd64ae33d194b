// Package report turns repeated benchmark runs into figures (median and
// spread), writes them as JSON and renders the Markdown tables of
// BENCHMARKS.md.
package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/cobraspace/cobraspace/bench/internal/procstat"
)

// Target is a quality bar: the median must be Op ("<=" or ">=") Value.
type Target struct {
	Op    string  `json:"op"`
	Value float64 `json:"value"`
}

// AtMost is the target "median ≤ v".
func AtMost(v float64) *Target { return &Target{Op: "<=", Value: v} }

// AtLeast is the target "median ≥ v".
func AtLeast(v float64) *Target { return &Target{Op: ">=", Value: v} }

// String renders the target for a table, e.g. "≤ 20.0"; "" for none.
func (t *Target) String() string {
	if t == nil {
		return ""
	}
	op := "≤"
	if t.Op == ">=" {
		op = "≥"
	}
	return op + " " + Num(t.Value)
}

// Met reports whether v meets the target.
func (t *Target) Met(v float64) bool {
	if t.Op == "<=" {
		return v <= t.Value
	}
	return v >= t.Value
}

// Figure is one measured quantity over repeated runs.
type Figure struct {
	Scenario string    `json:"scenario"`
	Name     string    `json:"name"`
	Unit     string    `json:"unit"`
	Values   []float64 `json:"values"`
	Median   float64   `json:"median"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
	Target   *Target   `json:"target,omitempty"`
	Met      *bool     `json:"met,omitempty"`
	Command  string    `json:"command"`
}

// NewFigure summarises values (NaN values — runs that produced no figure —
// are left out).
func NewFigure(scenario, name, unit string, values []float64, target *Target, command string) Figure {
	var vs []float64
	for _, v := range values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			vs = append(vs, v)
		}
	}
	f := Figure{Scenario: scenario, Name: name, Unit: unit, Values: vs, Target: target, Command: command}
	if len(vs) == 0 {
		return f
	}
	f.Median = Median(vs)
	f.Min, f.Max = vs[0], vs[0]
	for _, v := range vs {
		f.Min, f.Max = math.Min(f.Min, v), math.Max(f.Max, v)
	}
	if target != nil {
		m := target.Met(f.Median)
		f.Met = &m
	}
	return f
}

// Median of vs (the mean of the middle two for an even count).
func Median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Scenario is the outcome of one scenario.
type Scenario struct {
	ID        string           `json:"id"`
	Title     string           `json:"title"`
	Params    map[string]any   `json:"params,omitempty"`
	Figures   []Figure         `json:"figures"`
	Processes []procstat.Usage `json:"processes,omitempty"` // over the measured window of one representative run
	WindowS   float64          `json:"window_s,omitempty"`  // length of that window
	Runs      []any            `json:"runs,omitempty"`      // raw results of every run
	// Compare holds the side-by-side figures of S1–S3: each quantity for
	// both systems and their ratio, rendered as one table.
	Compare []Comparison `json:"compare,omitempty"`
	Notes   []string     `json:"notes,omitempty"`
	Error   string       `json:"error,omitempty"`
}

// Comparison is one quantity measured on Cobra Space and on the comparison
// system in the same runs; Ratio holds Cobra Space / other per run (paired,
// so that drift between runs cancels), with the goal as its target.
type Comparison struct {
	Name  string `json:"name"`
	Unit  string `json:"unit"`
	Cobra Figure `json:"cobra"`
	Other Figure `json:"other"`
	Ratio Figure `json:"ratio"`
}

// NewComparison pairs cobra[i] with other[i] (values of the same run) into
// a Comparison whose ratio figure has target. A run with a negative value
// (a cost measured as a difference that noise took below zero) has no
// ratio: it would meet any "at most" goal.
func NewComparison(scenario, name, unit string, cobra, other []float64, target *Target, command string) Comparison {
	ratios := make([]float64, 0, len(cobra))
	for i, c := range cobra {
		if i >= len(other) {
			break
		}
		r := math.NaN()
		if o := other[i]; o > 0 && c >= 0 {
			r = c / o
		}
		ratios = append(ratios, r)
	}
	return Comparison{Name: name, Unit: unit,
		Cobra: NewFigure(scenario, name, unit, cobra, nil, command),
		Other: NewFigure(scenario, name, unit, other, nil, command),
		Ratio: NewFigure(scenario, name+", Cobra Space / Centrifugo", "x", ratios, target, command),
	}
}

// Report is one `make bench` run.
type Report struct {
	Date       string     `json:"date"`
	Mode       string     `json:"mode"`
	Commit     string     `json:"commit"`
	Host       string     `json:"host"`
	Conditions string     `json:"conditions"`
	Command    string     `json:"command"`
	DurationS  float64    `json:"duration_s"`
	Scenarios  []Scenario `json:"scenarios"`
}

// WriteJSON writes r to path.
func (r Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Num formats a figure for a table: thousands separated, up to 3
// significant decimals for small values.
func Num(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	a := math.Abs(v)
	switch {
	case a >= 1000:
		s := fmt.Sprintf("%.0f", v)
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		if neg {
			return "-" + b.String()
		}
		return b.String()
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	case a == 0:
		return "0"
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// Markdown renders the figures table and, per scenario, the CPU and RSS of
// every process.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s (`%s`, mode %s) at commit `%s` on %s. Conditions: %s. Took %.0f s; raw data: `bench/results/%s`.\n\n",
		r.Date, r.Command, r.Mode, r.Commit, r.Host, r.Conditions, r.DurationS, r.fileName())
	b.WriteString("| id | figure | median | spread (min–max) | runs | target | met |\n|---|---|---|---|---|---|---|\n")
	for _, s := range r.Scenarios {
		if s.Error != "" {
			fmt.Fprintf(&b, "| %s | **not measured**: %s | | | | | |\n", s.ID, mdEscape(firstLine(s.Error)))
		}
		for _, f := range s.Figures {
			met := ""
			if f.Met != nil {
				met = map[bool]string{true: "yes", false: "**no**"}[*f.Met]
			}
			med, spread := "–", "–"
			if len(f.Values) > 0 {
				med = Num(f.Median) + " " + f.Unit
				spread = Num(f.Min) + "–" + Num(f.Max)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s | %s |\n", f.Scenario, mdEscape(f.Name), med, spread, len(f.Values), f.Target.String(), met)
		}
	}
	b.WriteString("\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "#### %s — %s\n\n", s.ID, s.Title)
		if cmd := commandOf(s); cmd != "" {
			fmt.Fprintf(&b, "Command: `%s`\n\n", cmd)
		}
		if len(s.Params) > 0 {
			keys := make([]string, 0, len(s.Params))
			for k := range s.Params {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var ps []string
			for _, k := range keys {
				ps = append(ps, fmt.Sprintf("%s=%v", k, s.Params[k]))
			}
			fmt.Fprintf(&b, "Parameters: %s\n\n", strings.Join(ps, ", "))
		}
		if s.Error != "" {
			fmt.Fprintf(&b, "Not measured — error:\n\n```\n%s\n```\n\n", strings.TrimSpace(s.Error))
		}
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		if len(s.Notes) > 0 {
			b.WriteString("\n")
		}
		if len(s.Compare) > 0 {
			b.WriteString("| figure | Cobra Space | Centrifugo | Cobra Space / Centrifugo | goal | met |\n|---|---|---|---|---|---|\n")
			for _, c := range s.Compare {
				met := ""
				if c.Ratio.Met != nil {
					met = map[bool]string{true: "yes", false: "**no**"}[*c.Ratio.Met]
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", mdEscape(c.Name), withSpread(c.Cobra), withSpread(c.Other), withSpread(c.Ratio), c.Ratio.Target.String(), met)
			}
			b.WriteString("\n")
		}
		if len(s.Processes) > 0 {
			fmt.Fprintf(&b, "Processes over a %.1f s measured window:\n\n| process | CPU s | CPU (cores) | RSS start | RSS end |\n|---|---|---|---|---|\n", s.WindowS)
			for _, u := range s.Processes {
				cores := math.NaN()
				if s.WindowS > 0 {
					cores = u.CPUSeconds / s.WindowS
				}
				label := u.Label
				if u.Processes > 1 {
					label = fmt.Sprintf("%s (%d processes)", u.Label, u.Processes)
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", label, Num(u.CPUSeconds), Num(cores), kb(u.RSSKBStart), kb(u.RSSKBEnd))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// fileName is <date>T<time>Z.json, "-quick" for the short mode, so that
// every run is kept next to the ones before it.
func (r Report) fileName() string {
	name := strings.ReplaceAll(r.Date, ":", "")
	if r.Mode == "full" {
		return name + ".json"
	}
	return name + "-" + r.Mode + ".json"
}

// FileName is the results file of r under bench/results.
func (r Report) FileName() string { return r.fileName() }

// withSpread renders a figure's median and unit, with its min–max when it
// has several runs, e.g. "21.3 ms (19.0–25.1)".
func withSpread(f Figure) string {
	if len(f.Values) == 0 {
		return "–"
	}
	out := Num(f.Median) + " " + f.Unit
	if len(f.Values) > 1 {
		out += " (" + Num(f.Min) + "–" + Num(f.Max) + ")"
	}
	return out
}

func commandOf(s Scenario) string {
	for _, f := range s.Figures {
		if f.Command != "" {
			return f.Command
		}
	}
	return ""
}

func kb(v int64) string {
	if v >= 10*1024 {
		return Num(float64(v)/1024) + " MiB"
	}
	return Num(float64(v)) + " KiB"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// ReplaceSection replaces the text between the lines "<!-- name:begin -->"
// and "<!-- name:end -->" of doc with body, appending the section when it
// is missing.
func ReplaceSection(doc, name, body string) string {
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	section := begin + "\n" + strings.TrimRight(body, "\n") + "\n" + end
	if i < 0 || j < i {
		return strings.TrimRight(doc, "\n") + "\n\n" + section + "\n"
	}
	return doc[:i] + section + doc[j+len(end):]
}
