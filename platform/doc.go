// Package platform holds the few pieces whose logic is truly one across the
// Cobra Space services: a command's main (process), the start-up and
// graceful stop of the gRPC services (grpcservice), verifying access tokens
// and session revocation, the gRPC server and client set-up with service
// identity (servicetrust),
// migrations, the NATS connection and subject names, the Redis client
// (redisconn: one node, Redis Cluster or Sentinel), the garbage
// collector's tuning, which text is accepted from users (safetext), the
// domain error shape and its gRPC statuses (apperr, with fielderr for field
// errors) and test environments. Each sub-package is named for what it does.
package platform
