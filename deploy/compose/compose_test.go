// Package compose holds the files docker-compose.yml mounts or builds
// (nginx.conf, postgres-init.sql, keygen.Dockerfile) and the test that
// loads the compose file the way `docker compose` does and checks it.
package compose

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/cobraspace/cobraspace/deploy/internal/envscan"
	"github.com/cobraspace/cobraspace/deploy/internal/repo"
)

// load parses docker-compose.yml with schema validation, interpolation and
// the consistency checks that `docker compose config` runs.
func load(t *testing.T) (*types.Project, string) {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	details := types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName("cobraspace", true)
	})
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p, root
}

// serviceOf returns which of our services a compose service builds ("" for
// third-party images), from its build: deploy/Dockerfile with the
// service's name as build argument SERVICE.
func serviceOf(s types.ServiceConfig) string {
	if s.Build == nil || filepath.ToSlash(s.Build.Dockerfile) != "deploy/Dockerfile" {
		return ""
	}
	arg := s.Build.Args["SERVICE"]
	if arg != nil && slices.Contains(envscan.Services, *arg) {
		return *arg
	}
	return ""
}

// oneShot reports whether every dependent waits for name to complete rather
// than to be healthy (a job such as keygen, which needs no healthcheck).
func oneShot(p *types.Project, name string) bool {
	used := false
	for _, s := range p.Services {
		if dep, ok := s.DependsOn[name]; ok {
			used = true
			if dep.Condition != types.ServiceConditionCompletedSuccessfully {
				return false
			}
		}
	}
	return used && p.Services[name].Restart == "no"
}

func TestComposeFile(t *testing.T) {
	t.Parallel()
	p, root := load(t)
	vars := map[string]envscan.Vars{}
	for _, svc := range envscan.Services {
		v, err := envscan.Scan(root, svc)
		if err != nil {
			t.Fatal(err)
		}
		vars[svc] = v
	}
	built := map[string]int{}
	for name, s := range p.Services {
		if err := pinned(s.Image); err != nil {
			t.Errorf("service %s: %v", name, err)
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
			if !oneShot(p, name) {
				t.Errorf("service %s: no healthcheck", name)
			}
		} else if s.HealthCheck.Interval == nil || s.HealthCheck.Retries == nil {
			t.Errorf("service %s: healthcheck needs an interval and retries", name)
		}
		for dep, d := range s.DependsOn {
			if d.Condition != types.ServiceConditionHealthy && d.Condition != types.ServiceConditionCompletedSuccessfully {
				t.Errorf("service %s: depends_on %s with condition %q, want service_healthy (or service_completed_successfully for a job)", name, dep, d.Condition)
			}
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("service %s: bind mount source %s: %v", name, v.Source, err)
				}
			}
		}
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("service %s: Dockerfile: %v", name, err)
			}
		}
		svc := serviceOf(s)
		if svc == "" {
			continue
		}
		built[svc]++
		checkServiceEnv(t, p, name, s, vars[svc])
		if !s.ReadOnly {
			t.Errorf("service %s: read_only root filesystem expected (the images write nothing)", name)
		}
		if s.HealthCheck != nil && !slices.Contains(s.HealthCheck.Test, "/usr/local/bin/healthcheck") {
			t.Errorf("service %s: healthcheck %v should run /usr/local/bin/healthcheck against /readyz", name, s.HealthCheck.Test)
		}
	}
	for _, svc := range envscan.Services {
		want := 1
		if svc == "gateway" {
			want = 2
		}
		if built[svc] != want {
			t.Errorf("got %d compose services running %s, want %d", built[svc], svc, want)
		}
	}
	for _, store := range []string{"postgres", "redis", "nats"} {
		s, ok := p.Services[store]
		if !ok {
			t.Errorf("no %s service", store)
			continue
		}
		named := slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
			_, declared := p.Volumes[v.Source]
			return v.Type == types.VolumeTypeVolume && declared
		})
		if !named {
			t.Errorf("%s keeps no data in a named volume", store)
		}
	}
	if cmd := strings.Join(p.Services["nats"].Command, " "); !strings.Contains(cmd, "--jetstream") && !regexp.MustCompile(`(^| )-js( |$)`).MatchString(cmd) {
		t.Errorf("nats runs %q, want JetStream enabled", cmd)
	}
	checkDatabases(t, p, root)
}

// checkServiceEnv: every variable is read by the service, every Required
// one is set, and service addresses point at compose services.
func checkServiceEnv(t *testing.T, p *types.Project, name string, s types.ServiceConfig, v envscan.Vars) {
	t.Helper()
	if !v.HasSource {
		t.Logf("service %s: services/%s has no package main yet; its variables are not checked", name, serviceOf(s))
	} else {
		for key := range s.Environment {
			if !v.Read[key] {
				t.Errorf("service %s: sets %s, which services/%s does not read (it reads %v)", name, key, serviceOf(s), v.Names())
			}
		}
		for key := range v.Required {
			if _, ok := s.Environment[key]; !ok {
				t.Errorf("service %s: required %s not set", name, key)
			}
		}
	}
	for key, val := range s.Environment {
		if val == nil {
			continue
		}
		var host string
		switch {
		case strings.HasSuffix(key, "_SERVICE_ADDR"):
			host, _, _ = strings.Cut(*val, ":")
		case strings.HasSuffix(key, "_URL"):
			u, err := url.Parse(*val)
			if err != nil {
				t.Errorf("service %s: %s: %v", name, key, err)
				continue
			}
			host = u.Hostname()
		default:
			continue
		}
		if _, ok := p.Services[host]; !ok {
			t.Errorf("service %s: %s=%s names no compose service", name, key, *val)
		} else if _, waits := s.DependsOn[host]; !waits {
			t.Errorf("service %s: calls %s but does not depend on it", name, host)
		}
	}
	for _, file := range []string{"JWT_PUBLIC_KEY_FILE", "JWT_PRIVATE_KEY_FILE"} {
		val := s.Environment[file]
		if val == nil {
			continue
		}
		mounted := slices.ContainsFunc(s.Volumes, func(vol types.ServiceVolumeConfig) bool {
			return strings.HasPrefix(*val, vol.Target+"/")
		})
		if !mounted {
			t.Errorf("service %s: %s=%s is on no mounted volume", name, file, *val)
		}
	}
}

// checkDatabases: each DATABASE_URL names a database the init script creates.
func checkDatabases(t *testing.T, p *types.Project, root string) {
	t.Helper()
	sql, err := os.ReadFile(filepath.Join(root, "deploy", "compose", "postgres-init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range p.Services {
		val := s.Environment["DATABASE_URL"]
		if val == nil {
			continue
		}
		u, err := url.Parse(*val)
		if err != nil {
			t.Errorf("service %s: DATABASE_URL: %v", name, err)
			continue
		}
		db := strings.TrimPrefix(u.Path, "/")
		if !strings.Contains(string(sql), "CREATE DATABASE "+db+";") {
			t.Errorf("service %s: database %q is not created by postgres-init.sql", name, db)
		}
		if _, ok := p.Services[u.Hostname()]; !ok {
			t.Errorf("service %s: DATABASE_URL host %q is no compose service", name, u.Hostname())
		}
	}
}

// TestProxyBalancesGateways: the nginx proxy sends HTTP and WebSocket
// traffic to every gateway replica, with long timeouts for quiet sockets.
func TestProxyBalancesGateways(t *testing.T) {
	t.Parallel()
	p, _ := load(t)
	proxy, ok := p.Services["proxy"]
	if !ok {
		t.Fatal("no proxy service")
	}
	var confPath string
	for _, v := range proxy.Volumes {
		if v.Target == "/etc/nginx/nginx.conf" {
			confPath = v.Source
		}
	}
	if confPath == "" {
		t.Fatal("proxy mounts no /etc/nginx/nginx.conf")
	}
	raw, err := os.ReadFile(confPath)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(raw)
	upstreams := regexp.MustCompile(`(?m)^\s*server\s+([a-z0-9-]+):(\d+)`).FindAllStringSubmatch(conf, -1)
	var gateways []string
	for _, u := range upstreams {
		s, ok := p.Services[u[1]]
		if !ok || serviceOf(s) != "gateway" {
			t.Errorf("nginx upstream %s:%s is not a gateway service", u[1], u[2])
			continue
		}
		if u[2] != "8080" {
			t.Errorf("nginx upstream %s:%s, want the gateway's HTTP port 8080", u[1], u[2])
		}
		if _, waits := proxy.DependsOn[u[1]]; !waits {
			t.Errorf("proxy does not wait for %s to be healthy", u[1])
		}
		gateways = append(gateways, u[1])
	}
	// The gateways must believe the proxy's X-Forwarded-For, or every client
	// shares the proxy's address for per-IP limits.
	var subnets []string
	for _, n := range p.Networks {
		if n.Ipam.Config != nil {
			for _, c := range n.Ipam.Config {
				subnets = append(subnets, c.Subnet)
			}
		}
	}
	for _, g := range gateways {
		trusted := p.Services[g].Environment["TRUSTED_PROXY_CIDRS"]
		if trusted == nil || len(subnets) == 0 || !slices.Contains(strings.Split(*trusted, ","), subnets[0]) {
			t.Errorf("%s: TRUSTED_PROXY_CIDRS=%v should name the compose network's subnet %v", g, trusted, subnets)
		}
	}
	if len(gateways) < 2 {
		t.Errorf("got upstream gateways %v, want two replicas", gateways)
	}
	for _, want := range []string{
		"proxy_http_version 1.1",
		"proxy_set_header Upgrade $http_upgrade",
		"proxy_set_header Connection $connection_upgrade",
		"proxy_read_timeout 3600s",
		"proxy_set_header X-Forwarded-For",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?m)^\s*(ip_hash|hash|sticky)\b`).MatchString(conf) {
		t.Error("nginx.conf pins clients to a replica; any gateway serves any client")
	}
	published := slices.ContainsFunc(proxy.Ports, func(pc types.ServicePortConfig) bool { return pc.Published != "" })
	if !published {
		t.Error("proxy publishes no port")
	}
	for name, s := range p.Services {
		if name != "proxy" && len(s.Ports) > 0 {
			t.Errorf("service %s publishes ports; only the proxy should be reachable", name)
		}
	}
}

// TestDevPostgresInitMatches: the k8s dev overlay creates the same databases.
func TestDevPostgresInitMatches(t *testing.T) {
	t.Parallel()
	a, err := os.ReadFile("postgres-init.sql")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "k8s", "overlays", "dev", "postgres-init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("deploy/compose/postgres-init.sql and deploy/k8s/overlays/dev/postgres-init.sql differ")
	}
}

// pinned rejects untagged and :latest images.
func pinned(image string) error {
	if image == "" {
		return errors.New("no image name (so no tag)")
	}
	if strings.Contains(image, "@sha256:") {
		return nil
	}
	_, tag, ok := strings.Cut(image[strings.LastIndex(image, "/")+1:], ":")
	if !ok || tag == "" || tag == "latest" {
		return fmt.Errorf("image %s is not pinned to a version tag", image)
	}
	return nil
}

// TestSameEnvAsMakeRun: every variable `make run` (scripts/run.sh) gives a
// service, and that the service reads, is set in docker-compose.yml too (or
// in the image, for the listen addresses), so both paths run the same
// configuration.
func TestSameEnvAsMakeRun(t *testing.T) {
	t.Parallel()
	p, root := load(t)
	raw, err := os.ReadFile(filepath.Join(root, "scripts", "run.sh"))
	if err != nil {
		t.Skipf("no scripts/run.sh: %v", err)
	}
	script := strings.ReplaceAll(string(raw), "\\\n", " ")
	assign := regexp.MustCompile(`\b([A-Z][A-Z0-9_]+)=`)
	var common []string
	runVars := map[string]map[string]bool{}
	for _, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "common=("); ok {
			for _, m := range assign.FindAllStringSubmatch(rest, -1) {
				common = append(common, m[1])
			}
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 || fields[0] != "start" {
			continue
		}
		bin := fields[2]
		if runVars[bin] == nil {
			runVars[bin] = map[string]bool{}
		}
		for _, m := range assign.FindAllStringSubmatch(line, -1) {
			runVars[bin][m[1]] = true
		}
		if strings.Contains(line, "${common[@]}") {
			for _, v := range common {
				runVars[bin][v] = true
			}
		}
	}
	if len(runVars) == 0 {
		t.Fatal("found no `start NAME BIN VAR=...` lines in scripts/run.sh; update this test with the script")
	}
	// The images set the listen addresses themselves (deploy/Dockerfile).
	inImage := map[string]bool{"GRPC_ADDR": true, "ADMIN_ADDR": true, "HTTP_ADDR": true}
	for name, s := range p.Services {
		svc := serviceOf(s)
		if svc == "" {
			continue
		}
		vars, err := envscan.Scan(root, svc)
		if err != nil {
			t.Fatal(err)
		}
		for v := range runVars[svc] {
			if _, set := s.Environment[v]; !set && !inImage[v] && (vars.Read[v] || !vars.HasSource) {
				t.Errorf("service %s: make run sets %s for %s, docker-compose.yml does not", name, v, svc)
			}
		}
	}
}
