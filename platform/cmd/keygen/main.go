// Command keygen writes a new Ed25519 key pair for signing access tokens:
// keygen PRIVATE.pem PUBLIC.pem. It refuses to overwrite existing files.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "keygen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: keygen PRIVATE.pem PUBLIC.pem")
	}
	for _, p := range args {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists; not overwriting", p)
		}
	}
	return accesstoken.WriteKeyFiles(args[0], args[1])
}
