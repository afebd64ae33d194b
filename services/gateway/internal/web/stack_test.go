package web_test

import (
	"testing"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// startStack starts user, post and chat services and n gateway replicas
// (userEnv adds variables to the user service), and returns the replicas'
// base URLs.
func startStack(t *testing.T, n int, userEnv map[string]string) []string {
	t.Helper()
	s := stack.Start(t, stack.Options{Gateways: n, Env: map[string]map[string]string{stack.User: userEnv}})
	return s.Gateways
}
