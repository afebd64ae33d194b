package redisconn

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/envconfig"
	"github.com/cobraspace/cobraspace/platform/testenv"
)

func load(env map[string]string) (Config, error) {
	return Load(envconfig.New(func(k string) string { return env[k] }))
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, o *redis.UniversalOptions)
		wantErr string
	}{
		{name: "default single node", check: func(t *testing.T, o *redis.UniversalOptions) {
			if !slices.Equal(o.Addrs, []string{"127.0.0.1:6379"}) || o.IsClusterMode || o.MasterName != "" || o.TLSConfig != nil {
				t.Errorf("got %+v", o)
			}
		}},
		{name: "tls, credentials, db and options", env: map[string]string{"REDIS_URL": "rediss://app:s3cret@cache.internal:6380/2?dial_timeout=3s&pool_size=7"},
			check: func(t *testing.T, o *redis.UniversalOptions) {
				if !slices.Equal(o.Addrs, []string{"cache.internal:6380"}) || o.DB != 2 || o.Username != "app" || o.Password != "s3cret" ||
					o.DialTimeout != 3*time.Second || o.PoolSize != 7 {
					t.Errorf("got %+v", o)
				}
				if o.TLSConfig == nil || o.TLSConfig.ServerName != "cache.internal" {
					t.Errorf("rediss://: got TLS %+v, want verified against cache.internal", o.TLSConfig)
				}
			}},
		{name: "cluster", env: map[string]string{"REDIS_URL": "rediss://:pw@redis.internal", "REDIS_CLUSTER_ADDRS": "a:6379, b:6379,c:6379"},
			check: func(t *testing.T, o *redis.UniversalOptions) {
				if !slices.Equal(o.Addrs, []string{"a:6379", "b:6379", "c:6379"}) || !o.IsClusterMode || o.Password != "pw" ||
					o.TLSConfig == nil || o.TLSConfig.ServerName != "redis.internal" {
					t.Errorf("got %+v", o)
				}
			}},
		{name: "cluster of one seed", env: map[string]string{"REDIS_CLUSTER_ADDRS": "a:6379"},
			check: func(t *testing.T, o *redis.UniversalOptions) {
				if !o.IsClusterMode { // NewUniversalClient would otherwise build a single-node client
					t.Errorf("got %+v, want cluster mode", o)
				}
			}},
		{name: "sentinel", env: map[string]string{"REDIS_URL": "redis://:pw@x/3", "REDIS_SENTINEL_ADDRS": "s1:26379,s2:26379",
			"REDIS_SENTINEL_MASTER": "cobra", "REDIS_SENTINEL_PASSWORD": "spw"},
			check: func(t *testing.T, o *redis.UniversalOptions) {
				if !slices.Equal(o.Addrs, []string{"s1:26379", "s2:26379"}) || o.MasterName != "cobra" || o.SentinelPassword != "spw" ||
					o.Password != "pw" || o.DB != 3 || o.IsClusterMode {
					t.Errorf("got %+v", o)
				}
			}},
		{name: "cluster db", env: map[string]string{"REDIS_URL": "redis://x/1", "REDIS_CLUSTER_ADDRS": "a:1"}, wantErr: "only database 0"},
		{name: "both", env: map[string]string{"REDIS_CLUSTER_ADDRS": "a:1", "REDIS_SENTINEL_ADDRS": "b:1", "REDIS_SENTINEL_MASTER": "m"}, wantErr: "set one, not both"},
		{name: "sentinel without master", env: map[string]string{"REDIS_SENTINEL_ADDRS": "b:1"}, wantErr: "set both or neither"},
		{name: "master without sentinels", env: map[string]string{"REDIS_SENTINEL_MASTER": "m"}, wantErr: "set both or neither"},
		{name: "sentinel password alone", env: map[string]string{"REDIS_SENTINEL_PASSWORD": "p"}, wantErr: "needs REDIS_SENTINEL_ADDRS"},
		{name: "bad url", env: map[string]string{"REDIS_URL": "http://x"}, wantErr: "REDIS_URL"},
		{name: "unix socket", env: map[string]string{"REDIS_URL": "unix:///run/redis.sock"}, wantErr: "only redis:// and rediss://"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o, err := c.Options()
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o)
		})
	}
}

// roundTrip writes and reads a key through rdb and reports the kind of
// client New built.
func roundTrip(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	key := "t" + testenv.ID() + ".k"
	if err := rdb.Set(ctx, key, "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := rdb.Get(ctx, key).Result(); err != nil || got != "v" {
		t.Fatalf("GET: got %q, %v", got, err)
	}
	rdb.Del(ctx, key)
}

func TestNewSingleAndCluster(t *testing.T) {
	c, err := load(map[string]string{"REDIS_URL": testenv.RedisURL()})
	if err != nil {
		t.Fatal(err)
	}
	tuned := false
	rdb, err := New(c, func(o *redis.UniversalOptions) { tuned = o.DialTimeout == 0 })
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if _, ok := rdb.(*redis.Client); !ok || !tuned || c.Mode() != "single" {
		t.Fatalf("single node: got %T (tuned %v, mode %s)", rdb, tuned, c.Mode())
	}
	roundTrip(t, rdb)

	cluster, err := testenv.StartRedisCluster()
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Stop()
	c, err = load(map[string]string{"REDIS_CLUSTER_ADDRS": cluster.Addrs[1]})
	if err != nil {
		t.Fatal(err)
	}
	crdb, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer crdb.Close()
	cc, ok := crdb.(*redis.ClusterClient)
	if !ok || c.Mode() != "cluster" {
		t.Fatalf("cluster: got %T, mode %s", crdb, c.Mode())
	}
	// From one seed the client learned every master. ForEachMaster calls
	// its function on all masters at once, hence the lock.
	var mu sync.Mutex
	var masters []string
	err = cc.ForEachMaster(context.Background(), func(_ context.Context, n *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		masters = append(masters, n.Options().Addr)
		return nil
	})
	slices.Sort(masters)
	if want := slices.Sorted(slices.Values(cluster.Addrs)); err != nil || !slices.Equal(masters, want) {
		t.Fatalf("cluster masters: got %v %v, want %v", masters, err, want)
	}
}

// startServer runs redis-server with args (and its files in a temporary
// directory) on a free port until the test ends, and returns its address.
func startServer(t *testing.T, args ...string) string {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command("redis-server", append(args, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", t.TempDir(), "--save", "")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server (scripts/deps.sh installs it): %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	probe := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer probe.Close()
	waitUntil(t, "redis-server on "+addr, func() bool { return probe.Ping(context.Background()).Err() == nil })
	return addr
}

func waitUntil(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !f(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A client configured with REDIS_SENTINEL_* writes to the primary the
// Sentinel names, and follows it when the Sentinel fails over to the
// replica.
func TestSentinelFailover(t *testing.T) {
	ctx := context.Background()
	primary := startServer(t)
	host, port, _ := strings.Cut(primary, ":")
	replica := redis.NewClient(&redis.Options{Addr: startServer(t, "--replicaof", host, port)})
	defer replica.Close()
	waitUntil(t, "the replica in sync", func() bool {
		return strings.Contains(replica.Info(ctx, "replication").Val(), "master_link_status:up")
	})

	// Sentinel rewrites its configuration file: it lives in a temp dir.
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	err := os.WriteFile(conf, fmt.Appendf(nil, "sentinel monitor cobra %s %s 1\nsentinel down-after-milliseconds cobra 1000\n", host, port), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	sentinelAddr := startServer(t, conf, "--sentinel")
	sentinel := redis.NewSentinelClient(&redis.Options{Addr: sentinelAddr})
	defer sentinel.Close()
	waitUntil(t, "the Sentinel to know the replica", func() bool {
		r, err := sentinel.Replicas(ctx, "cobra").Result()
		return err == nil && len(r) == 1
	})

	c, err := load(map[string]string{"REDIS_SENTINEL_ADDRS": sentinelAddr, "REDIS_SENTINEL_MASTER": "cobra"})
	if err != nil || c.Mode() != "sentinel" {
		t.Fatalf("load: %v (mode %s)", err, c.Mode())
	}
	rdb, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	roundTrip(t, rdb)
	if role := rdb.Do(ctx, "ROLE").Val().([]any)[0]; role != "master" {
		t.Fatalf("client talks to a %v, want the primary", role)
	}

	// A Sentinel that has just learnt of the replica may not yet count it
	// as promotable (it answers NOGOODSLAVE until its next look at it).
	waitUntil(t, "the Sentinel to start a failover", func() bool {
		err := sentinel.Failover(ctx, "cobra").Err()
		if err != nil && !strings.Contains(err.Error(), "NOGOODSLAVE") {
			t.Fatal(err)
		}
		return err == nil
	})
	waitUntil(t, "the replica promoted", func() bool {
		return strings.Contains(replica.Info(ctx, "replication").Val(), "role:master")
	})
	// The client now writes to the promoted replica.
	key := "t" + testenv.ID() + ".after"
	waitUntil(t, "a write through the client to reach the new primary", func() bool {
		return rdb.Set(ctx, key, "x", time.Minute).Err() == nil && replica.Get(ctx, key).Val() == "x"
	})
}
