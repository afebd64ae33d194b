// Package platform holds the few pieces whose logic is truly one across the
// Cobra Space services: verifying access tokens, the gRPC server and client
// set-up, migrations, the NATS connection and subject names, the garbage
// collector's tuning, which text is accepted from users (safetext) and test
// environments. Each
// sub-package is named for what it does.
package platform
