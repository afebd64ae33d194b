// Command keygen writes new keys and refuses to overwrite existing files:
//
//	keygen PRIVATE.pem PUBLIC.pem   an Ed25519 key pair for signing access tokens
//	keygen -service-key FILE        a random pre-shared service key (platform/servicetrust)
//	keygen -vapid FILE              a Web Push (VAPID) key pair for the user service, as
//	                                VAPID_PUBLIC_KEY=... and VAPID_PRIVATE_KEY=... lines
package main

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
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
		return errors.New("usage: keygen PRIVATE.pem PUBLIC.pem | keygen -service-key FILE | keygen -vapid FILE")
	}
	files := args
	if args[0] == "-service-key" || args[0] == "-vapid" {
		files = args[1:]
	}
	for _, p := range files {
		if _, err := os.Stat(p); err == nil { //nolint:gosec // G703: the operator names the files to write
			return fmt.Errorf("%s exists; not overwriting", p)
		}
	}
	switch args[0] {
	case "-service-key":
		return servicetrust.WriteKeyFile(args[1])
	case "-vapid":
		return writeVAPID(args[1])
	}
	return accesstoken.WriteKeyFiles(args[0], args[1])
}

// writeVAPID writes a P-256 key pair as the user service reads it from its
// environment: base64url without padding, the private scalar and the
// uncompressed public point (the browsers' applicationServerKey).
func writeVAPID(path string) error {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	enc := base64.RawURLEncoding.EncodeToString
	body := fmt.Sprintf("VAPID_PUBLIC_KEY=%s\nVAPID_PRIVATE_KEY=%s\n", enc(key.PublicKey().Bytes()), enc(key.Bytes()))
	return os.WriteFile(path, []byte(body), 0o600) //nolint:gosec // G703: the operator names the file to write
}
