// Package faults holds the gateway's fault-injection and hostile-input
// tests (RELIABILITY.md F1–F7, B8–B12 gaps and resource limits) against
// real processes started by internal/stack, and the soak test behind
// `make soak`. It has no non-test code: the history checker, the TCP
// test proxy and the scenarios live in its _test.go files.
package faults
