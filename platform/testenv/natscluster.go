package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NATSNode is one nats-server process of a NATSCluster.
type NATSNode struct {
	Name       string
	ClientURL  string // nats://127.0.0.1:PORT, for NATS_URL
	RouteURL   string // nats://127.0.0.1:PORT, the cluster (route) listener
	MonitorURL string // http://127.0.0.1:PORT, /varz, /connz, /routez

	cmd    *exec.Cmd
	exited chan struct{}
	log    *syncBuffer
}

// NATSCluster is a private cluster of nats-server processes on loopback,
// without JetStream (the services use core NATS only).
type NATSCluster struct {
	Nodes []*NATSNode
}

// StartNATSCluster runs n nats-server processes (the machine's binary:
// nats-server on PATH or /usr/sbin/nats-server) as one cluster on free
// loopback ports, waits until every node has a route to every other, and
// kills them all at cleanup, printing their logs if the test failed. A
// missing binary fails the test (scripts/deps.sh installs it): skipping
// would let a cluster test pass without running.
//
// Every port is chosen by the server itself (-1) and read back from its
// ports file, so parallel tests cannot race for a port. Node 0 starts
// first; each later node is given the route URLs of the nodes before it
// and the cluster completes the mesh by gossip.
func StartNATSCluster(t testing.TB, n int) *NATSCluster {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("testenv: nats-server (scripts/deps.sh installs it): %v", err)
	}
	dir := t.TempDir()
	name := "t" + ID()
	c := &NATSCluster{}
	t.Cleanup(func() {
		for _, node := range c.Nodes {
			node.Kill()
		}
		if t.Failed() {
			for _, node := range c.Nodes {
				t.Logf("testenv: nats-server %s log:\n%s", node.Name, node.log.String())
			}
		}
	})
	var routes []string
	for i := range n {
		node, err := startNATSNode(bin, dir, name, fmt.Sprintf("%s-n%d", name, i), routes)
		if node != nil {
			c.Nodes = append(c.Nodes, node)
		}
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		routes = append(routes, node.RouteURL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, node := range c.Nodes {
		for {
			got, err := node.Routes()
			if err == nil && got == n-1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("testenv: nats-server %s has %d routes (%v), want %d", node.Name, got, err, n-1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c
}

// URLs returns every node's client URL, comma-separated, for NATS_URL.
func (c *NATSCluster) URLs() string {
	urls := make([]string, len(c.Nodes))
	for i, node := range c.Nodes {
		urls[i] = node.ClientURL
	}
	return strings.Join(urls, ",")
}

func startNATSNode(bin, dir, cluster, name string, routes []string) (*NATSNode, error) {
	portsDir := filepath.Join(dir, name)
	if err := os.Mkdir(portsDir, 0o700); err != nil {
		return nil, err
	}
	args := []string{
		"-a", "127.0.0.1", "-p", "-1", "-m", "-1", "-n", name,
		"--cluster", "nats://127.0.0.1:-1", "--cluster_name", cluster,
		"--ports_file_dir", portsDir,
	}
	if len(routes) > 0 {
		args = append(args, "--routes", strings.Join(routes, ","))
	}
	cmd := exec.Command(bin, args...)
	node := &NATSNode{Name: name, cmd: cmd, exited: make(chan struct{}), log: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = node.log, node.log
	// Dies with the test binary even if cleanup never runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nats-server: %w", err)
	}
	go func() {
		_ = cmd.Wait() // reaps the process; its error is the kill
		close(node.exited)
	}()
	// The ports file appears once every listener is up.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if !node.Running() {
			return node, fmt.Errorf("nats-server %s exited:\n%s", name, node.log.String())
		}
		if time.Now().After(deadline) {
			return node, fmt.Errorf("nats-server %s: no ports file after 10 s:\n%s", name, node.log.String())
		}
		files, _ := filepath.Glob(filepath.Join(portsDir, "*.ports"))
		if len(files) != 1 {
			continue
		}
		data, err := os.ReadFile(files[0])
		if err != nil {
			continue
		}
		var ports struct {
			NATS       []string `json:"nats"`
			Cluster    []string `json:"cluster"`
			Monitoring []string `json:"monitoring"`
		}
		if json.Unmarshal(data, &ports) != nil || len(ports.NATS) == 0 || len(ports.Cluster) == 0 || len(ports.Monitoring) == 0 {
			continue // still being written
		}
		node.ClientURL, node.RouteURL, node.MonitorURL = ports.NATS[0], ports.Cluster[0], ports.Monitoring[0]
		return node, nil
	}
}

// Kill sends SIGKILL to the node (a crash: no lame-duck mode, clients see
// their connections drop) and waits for it to exit.
func (n *NATSNode) Kill() {
	if n.Running() {
		_ = n.cmd.Process.Kill()
	}
	<-n.exited
}

// Freeze stops the node (SIGSTOP) without closing its connections: it
// neither reads nor forwards anything until Kill, as a hung server would.
// Messages sent to it meanwhile are lost with it, so a test can crash a
// node with messages certainly in flight.
func (n *NATSNode) Freeze() {
	if n.Running() {
		_ = n.cmd.Process.Signal(syscall.SIGSTOP)
	}
}

// Running reports whether the node's process has not exited.
func (n *NATSNode) Running() bool {
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Log returns the node's output so far.
func (n *NATSNode) Log() string { return n.log.String() }

// Routes returns how many cluster routes the node has (/routez).
func (n *NATSNode) Routes() (int, error) {
	var r struct {
		NumRoutes int `json:"num_routes"`
	}
	err := n.monitor("/routez", &r)
	return r.NumRoutes, err
}

// Clients returns the names (nats.Name) of the clients connected to the
// node (/connz), one entry per connection.
func (n *NATSNode) Clients() ([]string, error) {
	var r struct {
		Connections []struct {
			Name string `json:"name"`
		} `json:"connections"`
	}
	if err := n.monitor("/connz?limit=1000", &r); err != nil {
		return nil, err
	}
	names := make([]string, len(r.Connections))
	for i, c := range r.Connections {
		names[i] = c.Name
	}
	return names, nil
}

var monitorClient = &http.Client{Timeout: 2 * time.Second}

func (n *NATSNode) monitor(path string, out any) error {
	resp, err := monitorClient.Get(n.MonitorURL + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s%s: %s", n.MonitorURL, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// syncBuffer is a process's output, written by exec's copying goroutine
// and read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
