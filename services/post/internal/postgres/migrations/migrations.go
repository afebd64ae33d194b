// Package migrations holds the post service's goose migrations, embedded so
// the binary migrates its own database at start (platform/pgdb.Migrate).
package migrations

import "embed"

// FS holds the goose-annotated .sql files at its root.
//
//go:embed *.sql
var FS embed.FS
