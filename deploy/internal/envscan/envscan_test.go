package envscan

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestScan(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("services/chat/run.go", `cfg := envconfig.New(getenv)
	addr := cfg.String("GRPC_ADDR", ":9003")
	db := cfg.Required("DATABASE_URL")
	ttl := cfg.Duration( "PRESENCE_TTL", time.Minute)
	x := getenv("EXTRA_VAR")`)
	write("services/chat/internal/nats/nats.go", `n := r.Int("BATCH_MAX_SIZE", 64)`)
	write("services/chat/internal/nats/nats_test.go", `t.Setenv("ONLY_IN_TESTS", "x"); cfg.String("TEST_ONLY", "")`)
	write("services/chat/internal/x/testdata/f.go", `cfg.String("IN_TESTDATA", "")`)

	got, err := Scan(root, "chat")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"BATCH_MAX_SIZE", "DATABASE_URL", "EXTRA_VAR", "GRPC_ADDR", "PRESENCE_TTL"}
	if !reflect.DeepEqual(got.Names(), want) {
		t.Errorf("got %v, want %v", got.Names(), want)
	}
	if !got.Required["DATABASE_URL"] || len(got.Required) != 1 {
		t.Errorf("got required %v, want only DATABASE_URL", got.Required)
	}
	if !got.HasSource {
		t.Error("got HasSource false, want true")
	}

	// A service calling tracing.Setup reads what platform/tracing reads.
	write("platform/tracing/tracing.go", `e := getenv("OTEL_EXPORTER_OTLP_ENDPOINT")`)
	write("platform/tracing/tracing_test.go", `getenv("OTEL_ONLY_IN_TESTS")`)
	write("services/user/run.go", `stop, err := tracing.Setup(ctx, "user", getenv)`)
	if v, err := Scan(root, "user"); err != nil || !reflect.DeepEqual(v.Names(), []string{"OTEL_EXPORTER_OTLP_ENDPOINT"}) {
		t.Errorf("service with tracing: got %v, %v; want [OTEL_EXPORTER_OTLP_ENDPOINT]", v.Names(), err)
	}
	// The same for servicetrust.Load and platform/servicetrust.
	write("platform/servicetrust/servicetrust.go", `k := env.String("SERVICE_KEY_FILE", "")`)
	write("services/user/run.go", `trust, err := servicetrust.Load(env, "user")`)
	if v, err := Scan(root, "user"); err != nil || !reflect.DeepEqual(v.Names(), []string{"SERVICE_KEY_FILE"}) {
		t.Errorf("service with servicetrust: got %v, %v; want [SERVICE_KEY_FILE]", v.Names(), err)
	}

	// A service calling grpcservice.LoadConfig reads what platform/grpcservice
	// reads, and what the platform packages it calls read.
	write("platform/grpcservice/grpcservice.go", `a := env.String("GRPC_ADDR", "")
	c.Trust, err = servicetrust.Load(env, name)`)
	write("services/user/run.go", `c.Config, err = grpcservice.LoadConfig(env, "user", addrs)`)
	if v, err := Scan(root, "user"); err != nil || !reflect.DeepEqual(v.Names(), []string{"GRPC_ADDR", "SERVICE_KEY_FILE"}) {
		t.Errorf("service with grpcservice: got %v, %v; want [GRPC_ADDR SERVICE_KEY_FILE]", v.Names(), err)
	}

	// A service calling redisconn.Load reads the REDIS_* connection variables.
	write("platform/redisconn/redisconn.go", `u := env.String("REDIS_URL", "")
	a := env.List("REDIS_CLUSTER_ADDRS", nil)`)
	write("services/user/run.go", `c.Redis, err = redisconn.Load(env)`)
	if v, err := Scan(root, "user"); err != nil || !reflect.DeepEqual(v.Names(), []string{"REDIS_CLUSTER_ADDRS", "REDIS_URL"}) {
		t.Errorf("service with redisconn: got %v, %v; want [REDIS_CLUSTER_ADDRS REDIS_URL]", v.Names(), err)
	}

	write("services/gateway/internal/web/web.go", `package web`)
	if v, err := Scan(root, "gateway"); err != nil || v.HasSource {
		t.Errorf("gateway without package main: got %+v, %v; want no source", v, err)
	}

	empty, err := Scan(root, "post")
	if err != nil || empty.HasSource || len(empty.Read) != 0 {
		t.Errorf("missing service: got %+v, %v; want no source, no error", empty, err)
	}
}
