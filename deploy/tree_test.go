package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cobraspace/cobraspace/deploy/internal/repo"
)

// maxTrackedBytes bounds any file in git. The largest legitimate files are
// bench results and screenshots (~250 KB); a build output or a data dump is
// far larger and belongs in .gitignore or a release, not in history.
const maxTrackedBytes = 1 << 20

// TestTrackedFiles fails when a build output slips into git: an executable
// ELF binary (a stray `go build` in a service folder) or any file over
// maxTrackedBytes.
func TestTrackedFiles(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	elfMagic := []byte("\x7fELF")
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		path := filepath.Join(root, name)
		info, err := os.Lstat(path)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the work tree, or a symlink
		}
		if info.Size() > maxTrackedBytes {
			t.Errorf("%s is tracked and %d bytes (bound %d): untrack it and ignore it", name, info.Size(), maxTrackedBytes)
		}
		head := make([]byte, len(elfMagic))
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := f.Read(head)
		f.Close()
		if bytes.Equal(head[:n], elfMagic) {
			t.Errorf("%s is a tracked ELF binary: build outputs belong in bin/ (git-ignored)", name)
		}
	}
}
