// Command keygen writes new keys and refuses to overwrite existing files:
//
//	keygen PRIVATE.pem PUBLIC.pem   an Ed25519 key pair for signing access tokens
//	keygen -service-key FILE        a random pre-shared service key (platform/servicetrust)
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "keygen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: keygen PRIVATE.pem PUBLIC.pem | keygen -service-key FILE")
	}
	files := args
	if args[0] == "-service-key" {
		files = args[1:]
	}
	for _, p := range files {
		if _, err := os.Stat(p); err == nil { //nolint:gosec // G703: the operator names the files to write
			return fmt.Errorf("%s exists; not overwriting", p)
		}
	}
	if args[0] == "-service-key" {
		return servicetrust.WriteKeyFile(args[1])
	}
	return accesstoken.WriteKeyFiles(args[0], args[1])
}
