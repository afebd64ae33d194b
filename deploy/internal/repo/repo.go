// Package repo finds the repository root from a test's working directory,
// so the deploy tests read the real Dockerfiles, compose file and services.
package repo

import (
	"errors"
	"os"
	"path/filepath"
)

// Root returns the nearest parent directory of the working directory that
// holds go.work (the repository root).
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory")
		}
		dir = parent
	}
}
