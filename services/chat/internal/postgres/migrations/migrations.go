// Package migrations holds the chat service's goose migrations, embedded so
// the binary migrates its own database at start (platform/pgdb.Migrate).
// Versions already applied stay as they are: a file is never renamed or
// edited once released, a change is a new file.
package migrations

import "embed"

// FS holds the goose-annotated .sql files at its root.
//
//go:embed *.sql
var FS embed.FS
