package envconfig

import (
	"strings"
	"testing"
	"time"
)

func TestReader(t *testing.T) {
	env := map[string]string{"N": "7", "D": "30s", "B": "true", "L": " a, ,b ", "BAD_N": "x", "BAD_D": "soon"}
	r := New(func(k string) string { return env[k] })
	if got := r.Int("N", 1); got != 7 {
		t.Errorf("Int: got %d, want 7", got)
	}
	if got := r.Duration("D", 0); got != 30*time.Second {
		t.Errorf("Duration: got %v, want 30s", got)
	}
	if got := r.Bool("B", false); !got {
		t.Error("Bool: got false, want true")
	}
	if got := r.List("L", nil); strings.Join(got, "|") != "a|b" {
		t.Errorf("List: got %q, want [a b]", got)
	}
	if got := r.String("MISSING", "def"); got != "def" {
		t.Errorf("String default: got %q", got)
	}
	if r.Err() != nil {
		t.Fatalf("Err before bad values: %v", r.Err())
	}
	r.Int("BAD_N", 0)
	r.Duration("BAD_D", 0)
	r.Required("REQ")
	err := r.Err()
	if err == nil {
		t.Fatal("Err: got nil, want three problems")
	}
	for _, want := range []string{"BAD_N", "BAD_D", "REQ is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Err %q does not mention %q", err, want)
		}
	}
}
