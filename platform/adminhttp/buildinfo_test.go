package adminhttp

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRegisterBuildInfo(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	if err := RegisterBuildInfo(reg, "v1.2.3", "abc123"); err != nil {
		t.Fatal(err)
	}
	want := `# HELP cobra_build_info Build of this process (always 1): version and commit as labels.
# TYPE cobra_build_info gauge
cobra_build_info{commit="abc123",version="v1.2.3"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "cobra_build_info"); err != nil {
		t.Error(err)
	}
}
