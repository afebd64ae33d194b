// Package envscan reads, from the services' source code, which environment
// variables each service reads through platform/envconfig, so the
// deployment tests can reject a manifest that sets a variable no service
// reads (a typo, or a variable renamed in the code but not in deploy/).
package envscan

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Services are the deployable services under services/, in a fixed order.
var Services = []string{"user", "post", "chat", "gateway"}

// readCall matches envconfig.Reader calls such as cfg.Required("DATABASE_URL")
// or r.Duration("DRAIN_DELAY", 5*time.Second), and plain getenv("X") calls.
var readCall = regexp.MustCompile(`\.(String|Required|Int|Bool|Duration|List)\(\s*"([A-Z][A-Z0-9_]*)"|\b(?:[gG]etenv|LookupEnv)\(\s*"([A-Z][A-Z0-9_]*)"`)

// Vars is what one service reads.
type Vars struct {
	// Read holds every variable the service reads.
	Read map[string]bool
	// Required holds the variables read with Required (start fails without).
	Required map[string]bool
	// HasSource is false while the service has no package main yet
	// (services/<svc>/*.go), i.e. nothing reads its configuration.
	HasSource bool
}

// Names returns the variables read, sorted, for error messages.
func (v Vars) Names() []string {
	names := make([]string, 0, len(v.Read))
	for n := range v.Read {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// platformReaders are the platform packages that read variables on a
// service's behalf (from the getenv or envconfig.Reader the service passes
// them), keyed by the call that hands them over. They may hand them on:
// grpcservice calls tracing.Setup, servicetrust.Load and redisconn.Load.
var platformReaders = map[string]string{
	"grpcservice.LoadConfig(": "grpcservice", // GRPC_ADDR, DATABASE_URL, LOG_LEVEL, ...
	"grpcservice.Start(":      "grpcservice",
	"tracing.Setup(":          "tracing",      // OTEL_*
	"servicetrust.Load(":      "servicetrust", // SERVICE_KEY_FILE, GRPC_TLS_*
	"natsconn.Load(":          "natsconn",     // NATS_URL, NATS_CREDS_FILE, NATS_NKEY_FILE, NATS_TLS_*
	"redisconn.Load(":         "redisconn",    // REDIS_URL, REDIS_CLUSTER_ADDRS, REDIS_SENTINEL_*
}

// Scan reads services/<svc>/**/*.go (tests excluded) under root, and
// platform/<pkg>/*.go of each platformReaders package the service calls.
func Scan(root, svc string) (Vars, error) {
	v := Vars{Read: map[string]bool{}, Required: map[string]bool{}}
	uses := map[string]bool{}
	dir := filepath.Join(root, "services", svc)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return v, nil
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "testdata" || name == "vendor" || name == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path) //nolint:gosec // G122: reads the repository's own source tree, which no attacker controls
		if err != nil {
			return err
		}
		if filepath.Dir(path) == dir {
			v.HasSource = true
		}
		for call, pkg := range platformReaders {
			uses[pkg] = uses[pkg] || strings.Contains(string(src), call)
		}
		v.add(src)
		return nil
	})
	if err != nil {
		return v, err
	}
	// Scan each package used, and the packages it uses in turn.
	scanned := map[string]bool{}
	for {
		pkg := ""
		for p, used := range uses {
			if used && !scanned[p] {
				pkg = p
				break
			}
		}
		if pkg == "" {
			break
		}
		scanned[pkg] = true
		files, err := filepath.Glob(filepath.Join(root, "platform", pkg, "*.go"))
		if err != nil {
			return v, err
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				return v, err
			}
			for call, p := range platformReaders {
				uses[p] = uses[p] || strings.Contains(string(src), call)
			}
			v.add(src)
		}
	}
	return v, nil
}

// add records the variables read in one source file.
func (v Vars) add(src []byte) {
	for _, m := range readCall.FindAllStringSubmatch(string(src), -1) {
		name := m[2] + m[3]
		v.Read[name] = true
		if m[1] == "Required" {
			v.Required[name] = true
		}
	}
}
