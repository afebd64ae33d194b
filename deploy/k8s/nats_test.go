package k8s

import (
	"path/filepath"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// TestNATSConfig parses the dev cluster's nats.conf with the NATS server's
// own config loader (the version the tests run), so a typo or an option the
// server does not know fails here instead of in a crash-looping pod.
func TestNATSConfig(t *testing.T) {
	t.Setenv("POD_NAME", "nats-1")
	opts, err := server.ProcessConfigFile(filepath.Join("overlays", "dev", "nats.conf"))
	if err != nil {
		t.Fatalf("nats.conf: %v", err)
	}
	if opts.ServerName != "nats-1" {
		t.Errorf("got server_name %q, want the pod name from $POD_NAME", opts.ServerName)
	}
	if !opts.JetStream || opts.StoreDir != "/data/jetstream" {
		t.Errorf("got JetStream %v in %q, want enabled in /data/jetstream (the PVC)", opts.JetStream, opts.StoreDir)
	}
	if opts.Cluster.Port != 6222 || len(opts.Routes) != 3 || opts.Cluster.Name == "" {
		t.Errorf("got cluster %q port %d with %d routes, want a named cluster on 6222 with 3 routes", opts.Cluster.Name, opts.Cluster.Port, len(opts.Routes))
	}
	if opts.Port != 4222 || opts.HTTPPort != 8222 {
		t.Errorf("got client port %d, monitor port %d, want 4222 and 8222 (the pod's ports)", opts.Port, opts.HTTPPort)
	}
	if opts.PidFile == "" || opts.LameDuckDuration == 0 {
		t.Error("want pid_file and lame_duck_duration for the preStop lame-duck signal")
	}
}
