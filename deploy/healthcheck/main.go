// Command healthcheck is the probe that docker-compose runs inside the
// distroless service images, which have no shell, curl or wget:
//
//	healthcheck http://127.0.0.1:9101/readyz
//
// It exits 0 when the URL answers 2xx within two seconds and 1 otherwise.
// It imports only the standard library so each service Dockerfile builds it
// from this one file without the deploy module's dependencies; Kubernetes
// does not use it (kubelet probes the admin and gRPC ports itself).
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	if err := check(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

// check fetches the single URL in args and reports any non-2xx answer.
func check(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: healthcheck URL")
	}
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(args[0]) //nolint:gosec // G704: the URL is the container's own HEALTHCHECK argument, not client input
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", args[0], resp.Status)
	}
	return nil
}
