package grpcservice

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/envconfig"
	"github.com/cobraspace/cobraspace/platform/grpcserver"
	"github.com/cobraspace/cobraspace/platform/testenv"
)

// TestLoadConfigReportsEverything: the shared variables' problems come
// together with those of the service's own variables read before.
func TestLoadConfigReportsEverything(t *testing.T) {
	t.Parallel()
	env := envconfig.New(func(k string) string { return map[string]string{"BATCH_MAX_SIZE": "many"}[k] })
	env.Int("BATCH_MAX_SIZE", 1)
	_, err := LoadConfig(env, "chat", grpcserver.Addrs{})
	for _, name := range []string{"BATCH_MAX_SIZE", "DATABASE_URL", "JWT_PUBLIC_KEY_FILE"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

// lines is an io.Writer that keeps the JSON log lines written to it.
type lines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// msgs returns the "msg" of every line so far.
func (l *lines) msgs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var m struct{ Msg string }
		_ = json.Unmarshal([]byte(s), &m)
		out = append(out, m.Msg)
	}
	return out
}

// TestStartServeClose runs the whole life of a service against the real
// PostgreSQL and Redis: migrated, listening (the line the harnesses read),
// ready while the database answers, stopped cleanly when ctx ends.
func TestStartServeClose(t *testing.T) {
	t.Parallel()
	_, pub := testenv.KeyPair(t)
	vars := map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "127.0.0.1:0", "DATABASE_URL": testenv.Database(t),
		"REDIS_URL": testenv.RedisURL(), "JWT_PUBLIC_KEY_FILE": pub, "SERVICE_KEY_FILE": testenv.ServiceKey(t),
	}
	getenv := func(k string) string { return vars[k] }
	cfg, err := LoadConfig(envconfig.New(getenv), "test", grpcserver.Addrs{})
	if err != nil {
		t.Fatal(err)
	}
	out := &lines{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	migrations := fstest.MapFS{"00001_t.sql": {Data: []byte("-- +goose Up\nCREATE TABLE t (id int);\n")}}
	base, err := Start(ctx, cfg, Spec{Version: "v1", Commit: "c1", Migrations: migrations}, getenv, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := base.Pool.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Errorf("migrated table: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- base.Serve(ctx, base.NewServer(nil, nil), base.PingDatabase) }()

	var admin string
	for deadline := time.Now().Add(10 * time.Second); admin == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out.mu.Lock()
		for _, s := range strings.Split(out.buf.String(), "\n") {
			var l struct{ Msg, GRPC, Admin string }
			if json.Unmarshal([]byte(s), &l) == nil && l.Msg == "listening" && l.GRPC != "" {
				admin = l.Admin
			}
		}
		out.mu.Unlock()
	}
	if admin == "" {
		t.Fatalf("no listening line with both ports: %q", out.msgs())
	}
	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz: %d %s, want 200", resp.StatusCode, body)
	}

	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve after cancel: %v, want nil", err)
	}
	base.Close()
	got := out.msgs()
	if got[0] != "starting" || got[len(got)-1] != "stopped" {
		t.Errorf("log lines %q, want starting first and stopped last", got)
	}
}

// TestStartOnRedisCluster: with REDIS_CLUSTER_ADDRS a service's Redis
// client and session denylist run on the cluster, and the start line says
// which kind of Redis it uses.
func TestStartOnRedisCluster(t *testing.T) {
	t.Parallel()
	cluster, err := testenv.StartRedisCluster()
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Stop()
	_, pub := testenv.KeyPair(t)
	vars := map[string]string{
		"DATABASE_URL": testenv.Database(t), "REDIS_CLUSTER_ADDRS": strings.Join(cluster.Addrs[:1], ","),
		"JWT_PUBLIC_KEY_FILE": pub, "SERVICE_KEY_FILE": testenv.ServiceKey(t),
	}
	getenv := func(k string) string { return vars[k] }
	cfg, err := LoadConfig(envconfig.New(getenv), "test", grpcserver.Addrs{})
	if err != nil {
		t.Fatal(err)
	}
	out := &lines{}
	ctx := context.Background()
	migrations := fstest.MapFS{"00001_t.sql": {Data: []byte("-- +goose Up\nCREATE TABLE t (id int);\n")}}
	base, err := Start(ctx, cfg, Spec{Migrations: migrations}, getenv, out)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	if _, ok := base.Redis.(*goredis.ClusterClient); !ok {
		t.Fatalf("Redis client: got %T, want a cluster client", base.Redis)
	}
	if !strings.Contains(out.buf.String(), `"redis":"cluster"`) {
		t.Errorf("start line does not name the cluster: %s", out.buf.String())
	}
	ids := []string{"s1", "s2", "s3", "s4", "s5", "s6"}
	if err := base.Denylist.Revoke(ctx, time.Now().Add(time.Minute), ids...); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if revoked, err := base.Denylist.IsRevoked(ctx, id); err != nil || !revoked {
			t.Errorf("IsRevoked(%s) on the cluster: got %v, %v", id, revoked, err)
		}
	}

	vars["REDIS_URL"] = "redis://127.0.0.1:6379/3"
	if _, err := LoadConfig(envconfig.New(getenv), "test", grpcserver.Addrs{}); err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Errorf("cluster with database 3: got %v, want a REDIS_URL error", err)
	}
}
