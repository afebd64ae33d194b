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

// Scan reads services/<svc>/**/*.go (tests excluded) under root, and
// platform/tracing/*.go when the service calls tracing.Setup.
func Scan(root, svc string) (Vars, error) {
	v := Vars{Read: map[string]bool{}, Required: map[string]bool{}}
	usesTracing := false
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
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if filepath.Dir(path) == dir {
			v.HasSource = true
		}
		usesTracing = usesTracing || strings.Contains(string(src), "tracing.Setup(")
		v.add(src)
		return nil
	})
	if err != nil || !usesTracing {
		return v, err
	}
	// platform/tracing reads the OTEL_* variables on the service's behalf
	// (from the getenv the service passes it).
	files, err := filepath.Glob(filepath.Join(root, "platform", "tracing", "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, rerr := os.ReadFile(f)
		if rerr != nil {
			return v, rerr
		}
		v.add(src)
	}
	return v, err
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
