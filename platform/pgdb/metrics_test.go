package pgdb

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cobraspace/cobraspace/platform/testenv"
)

// TestRegisterPoolMetrics: the dashboard's DB pool series report the live
// pool, and registering twice on one registry fails instead of hiding a
// second pool.
func TestRegisterPoolMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.Database(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	pool, err := Open(ctx, url+sep+"pool_max_conns=3")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	reg := prometheus.NewRegistry()
	if err := RegisterPoolMetrics(reg, pool); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		got[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	for name, want := range map[string]float64{
		"cobra_db_pool_acquired_conns":      1,
		"cobra_db_pool_max_conns":           3,
		"cobra_db_pool_empty_acquire_total": got["cobra_db_pool_empty_acquire_total"],
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if n := testutil.CollectAndCount(reg); n != 3 {
		t.Errorf("got %d series, want 3", n)
	}
	if err := RegisterPoolMetrics(reg, pool); err == nil {
		t.Error("second registration on one registry: got nil error, want a duplicate error")
	}
}
