package httpapi

import (
	"testing"
	"time"
)

// A recent value is returned until recentTTL has passed, then never again.
func TestRecentExpiresOnRead(t *testing.T) {
	t.Parallel()
	r := newRecent[string]()
	r.Add(1, "a")
	if v, ok := r.Get(1); !ok || v != "a" {
		t.Fatalf("fresh: got %q, %v", v, ok)
	}
	if _, ok := r.Get(2); ok {
		t.Fatal("a missing key was found")
	}
	r.c.Add(3, recentEntry[string]{v: "old", at: time.Now().Add(-recentTTL - time.Millisecond)})
	if v, ok := r.Get(3); ok {
		t.Fatalf("an entry older than recentTTL was returned: %q", v)
	}
	r.Add(3, "new")
	if v, ok := r.Get(3); !ok || v != "new" {
		t.Fatalf("re-added: got %q, %v", v, ok)
	}
}
