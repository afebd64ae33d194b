package web_test

import (
	"testing"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// startStack starts user, post and chat services and two gateway replicas,
// and returns the replicas' base URLs.
func startStack(t *testing.T) (gw1, gw2 string) {
	t.Helper()
	s := stack.Start(t, stack.Options{Gateways: 2})
	return s.Gateways[0], s.Gateways[1]
}
