package faults_test

import (
	"testing"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

func TestMain(m *testing.M) { stack.Main(m) }
