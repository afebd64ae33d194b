package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(RunWithRedisCluster(m)) }

// The package's cluster is a real one: keys spread over its three masters,
// and a command over keys of different slots is refused as on any
// production cluster, while keys sharing a hash tag work together.
func TestRedisCluster(t *testing.T) {
	ctx := context.Background()
	for _, tg := range RedisTargets(t) {
		t.Run(tg.Name, func(t *testing.T) {
			err := tg.Client.MSet(ctx, tg.Prefix+"a", 1, tg.Prefix+"b", 2).Err()
			if tg.Name == "cluster" {
				if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
					t.Errorf("MSET over two slots on the cluster: got %v, want CROSSSLOT", err)
				}
			} else if err != nil {
				t.Errorf("MSET on one node: %v", err)
			}
			tag := tg.Prefix + "{x}"
			if err := tg.Client.MSet(ctx, tag+"a", 1, tag+"b", 2).Err(); err != nil {
				t.Errorf("MSET within one hash tag: %v", err)
			}
		})
	}
	rdb := cluster.Client()
	defer rdb.Close()
	masters := map[string]int{}
	for i := range 300 {
		node, err := rdb.MasterForKey(ctx, fmt.Sprint("k", i))
		if err != nil {
			t.Fatal(err)
		}
		masters[node.Options().Addr]++
	}
	if len(masters) != 3 {
		t.Errorf("300 keys landed on %v, want all three masters", masters)
	}
}
