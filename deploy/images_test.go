// Package deploy holds everything needed to run Cobra Space outside `make
// run`: the container image of every service (Dockerfile, checked here), the
// docker-compose support files (compose/) and Kubernetes manifests (k8s/).
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cobraspace/cobraspace/deploy/internal/envscan"
	"github.com/cobraspace/cobraspace/deploy/internal/repo"
)

// instruction is one Dockerfile instruction with continuations joined.
type instruction struct {
	cmd, args string
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// stage is one FROM of a Dockerfile and the instructions after it.
type stage struct {
	name, base string // base: an image, or an earlier stage's name
	ins        []instruction
}

// imageFor returns the instructions that build the image of svc from
// deploy/Dockerfile: SERVICE replaced by svc, and only the stages the
// final one is built on (its FROM chain, and the stages it copies from).
func imageFor(ins []instruction, svc string) []instruction {
	var stages []stage
	byName := map[string]int{}
	for _, in := range ins {
		in.args = strings.NewReplacer("${SERVICE}", svc, "$SERVICE", svc).Replace(in.args)
		if in.cmd == "FROM" {
			fields := strings.Fields(in.args)
			st := stage{base: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
				byName[st.name] = len(stages)
			}
			stages = append(stages, st)
		}
		if len(stages) > 0 { // the global ARG SERVICE comes before any FROM
			last := &stages[len(stages)-1]
			last.ins = append(last.ins, in)
		}
	}
	used := make([]bool, len(stages))
	var use func(i int)
	use = func(i int) {
		if used[i] {
			return
		}
		used[i] = true
		for _, in := range stages[i].ins {
			ref := ""
			if in.cmd == "FROM" {
				ref = stages[i].base
			} else if from, ok := strings.CutPrefix(in.args, "--from="); ok && in.cmd == "COPY" {
				ref, _, _ = strings.Cut(from, " ")
			}
			if j, ok := byName[ref]; ok {
				use(j)
			}
		}
	}
	use(len(stages) - 1)
	var out []instruction
	for i, st := range stages {
		if used[i] {
			out = append(out, st.ins...)
		}
	}
	return out
}

// checkImageRules applies the rules every image of ours follows: multi-stage,
// pinned bases, a non-root final stage, and COPY sources that exist in the
// repository and survive .dockerignore.
func checkImageRules(t *testing.T, root, dockerfile string, ins []instruction, reincluded []string) {
	t.Helper()
	stageUser := map[string]string{} // a stage's USER, inherited by stages built on it
	var froms []string
	user, name := "", ""
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			if name != "" {
				stageUser[name] = user
			}
			fields := strings.Fields(in.args)
			image := fields[0]
			name = ""
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				name = fields[2]
			}
			froms = append(froms, image)
			if u, isStage := stageUser[image]; isStage {
				user = u
				continue
			}
			user = "" // a new base image runs as root unless USER says otherwise
			if strings.Contains(image, "@sha256:") {
				continue
			}
			_, tag, ok := strings.Cut(image[strings.LastIndex(image, "/")+1:], ":")
			if !ok || tag == "" || tag == "latest" || strings.Contains(tag, "$") {
				t.Errorf("%s: base image %s is not pinned to a version tag or digest", dockerfile, image)
			}
		case "USER":
			user = in.args
		case "COPY":
			if strings.Contains(in.args, "--from=") {
				continue
			}
			fields := strings.Fields(in.args)
			for _, src := range fields[:len(fields)-1] {
				matches, _ := filepath.Glob(filepath.Join(root, src))
				if len(matches) == 0 {
					t.Errorf("%s: COPY source %s does not exist in the repository", dockerfile, src)
				}
				kept := slices.ContainsFunc(reincluded, func(keep string) bool {
					return strings.HasPrefix(src, keep)
				})
				if !kept {
					t.Errorf("%s: COPY source %s is excluded by .dockerignore", dockerfile, src)
				}
			}
		}
	}
	if len(froms) < 2 {
		t.Errorf("%s: want a multi-stage build, got stages %v", dockerfile, froms)
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("%s: final stage runs as %q, want a non-root USER", dockerfile, user)
	}
}

// dockerignoreKeeps returns the re-included ("!path") entries of .dockerignore,
// which starts by excluding everything.
func dockerignoreKeeps(t *testing.T, root string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	var excludeAll bool
	var keeps []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "**" || l == "*" {
			excludeAll = true
		}
		if keep, ok := strings.CutPrefix(l, "!"); ok {
			keeps = append(keeps, keep)
		}
	}
	if !excludeAll {
		t.Error(".dockerignore should exclude everything (**) and re-include what the images copy")
	}
	return keeps
}

var addrPort = regexp.MustCompile(`:(\d+)$`)

func TestServiceDockerfiles(t *testing.T) {
	t.Parallel()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	keeps := dockerignoreKeeps(t, root)
	path := filepath.Join(root, "deploy", "Dockerfile")
	for _, svc := range envscan.Services {
		t.Run(svc, func(t *testing.T) {
			t.Parallel()
			ins := imageFor(parseDockerfile(t, path), svc)
			checkImageRules(t, root, path, ins, keeps)
			vars, err := envscan.Scan(root, svc)
			if err != nil {
				t.Fatal(err)
			}
			var all strings.Builder
			var envPorts, exposed []string
			var entrypoint, lastFrom string
			imageOf := map[string]string{} // stage name → the image it is built on
			for _, in := range ins {
				all.WriteString(in.cmd + " " + in.args + "\n")
				switch in.cmd {
				case "FROM":
					fields := strings.Fields(in.args)
					lastFrom = fields[0]
					if image, ok := imageOf[lastFrom]; ok {
						lastFrom = image
					}
					if len(fields) == 3 {
						imageOf[fields[2]] = lastFrom
					}
				case "ENV":
					if !strings.HasPrefix(lastFrom, "gcr.io/distroless") {
						continue
					}
					for _, kv := range strings.Fields(in.args) {
						k, v, _ := strings.Cut(kv, "=")
						if vars.HasSource && !vars.Read[k] {
							t.Errorf("ENV %s: services/%s does not read it (it reads %v)", k, svc, vars.Names())
						}
						if m := addrPort.FindStringSubmatch(v); m != nil {
							envPorts = append(envPorts, m[1])
						}
					}
				case "EXPOSE":
					exposed = append(exposed, strings.Fields(in.args)...)
				case "ENTRYPOINT":
					entrypoint = in.args
				}
			}
			text := all.String()
			for _, want := range []string{"CGO_ENABLED=0", "GOWORK=off", "-trimpath", "ARG VERSION", "main.version=${VERSION}"} {
				if !strings.Contains(text, want) {
					t.Errorf("Dockerfile lacks %q", want)
				}
			}
			if !strings.HasPrefix(lastFrom, "gcr.io/distroless/static") {
				t.Errorf("runtime stage FROM %s, want distroless static", lastFrom)
			}
			slices.Sort(envPorts)
			slices.Sort(exposed)
			if len(exposed) != 2 || !slices.Equal(envPorts, exposed) {
				t.Errorf("EXPOSE %v does not match the listen addresses' ports %v", exposed, envPorts)
			}
			if entrypoint != `["/usr/local/bin/`+svc+`"]` {
				t.Errorf("ENTRYPOINT %s, want the %s binary (exec form)", entrypoint, svc)
			}
			if !strings.Contains(text, "/usr/local/bin/healthcheck") {
				t.Error("image lacks /usr/local/bin/healthcheck (docker-compose probes with it)")
			}
		})
	}
	t.Run("keygen", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(root, "deploy", "compose", "keygen.Dockerfile")
		checkImageRules(t, root, path, parseDockerfile(t, path), keeps)
	})
}

// TestMakeImages: `make images` builds every service's image from the
// repository root.
func TestMakeImages(t *testing.T) {
	t.Parallel()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	mk := string(raw)
	_, target, ok := strings.Cut(mk, "\nimages:")
	if !ok {
		t.Fatal("Makefile has no images target")
	}
	loop := regexp.MustCompile(`for svc in ([a-z ]+);`).FindStringSubmatch(target)
	if loop == nil {
		t.Fatal("images target has no `for svc in ...` loop")
	}
	if got := strings.Fields(loop[1]); !slices.Equal(got, envscan.Services) {
		t.Errorf("make images builds %v, want %v", got, envscan.Services)
	}
	if !strings.Contains(target, "-f deploy/Dockerfile --build-arg SERVICE=$$svc") || !strings.Contains(target, " .") {
		t.Error("make images must build deploy/Dockerfile with SERVICE=<svc> and the repository root as context")
	}
}

// TestServicesBuildStandalone: the Dockerfiles build each service with
// GOWORK=off from its own go.mod (the workspace is not in the image), so a
// dependency missing from a service's go.mod or go.sum breaks only the
// image build; catch that here without Docker. `go list` resolves every
// import of the binary without compiling it.
func TestServicesBuildStandalone(t *testing.T) {
	t.Parallel()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range envscan.Services {
		t.Run(svc, func(t *testing.T) {
			t.Parallel()
			vars, err := envscan.Scan(root, svc)
			if err != nil {
				t.Fatal(err)
			}
			if !vars.HasSource {
				t.Skipf("services/%s has no package main yet", svc)
			}
			cmd := exec.Command("go", "list", "-deps", ".")
			cmd.Dir = filepath.Join(root, "services", svc)
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly", "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("GOWORK=off go list in services/%s (what the Dockerfile builds) failed: %v\n%s", svc, err, out)
			}
		})
	}
}
