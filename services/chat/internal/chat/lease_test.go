package chat

import (
	"strings"
	"testing"
)

// A lease is written into the presence store's members beside a
// connection id, separated by a space: only its safe characters pass.
func TestCheckLease(t *testing.T) {
	for _, ok := range []string{"gateway-a-0f3c9e1b2a4d5c6e", "pod_7.ns", strings.Repeat("x", 128)} {
		if err := checkLease(ok); err != nil {
			t.Errorf("%q: got %v, want accepted", ok, err)
		}
	}
	for _, bad := range []string{"", "gw 1", "gw:1", "gw/1", "ü", strings.Repeat("x", 129)} {
		if err := checkLease(bad); err == nil {
			t.Errorf("%q: accepted, want a field error", bad)
		}
	}
}
