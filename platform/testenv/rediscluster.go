package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is a private Redis Cluster of three masters (no replicas)
// on free loopback ports, run from the machine's redis-server, its files in
// a temporary directory. Tests of code that must work on a cluster run
// against it, because a single node accepts what a cluster refuses
// (CROSSSLOT: a multi-key command, transaction or script whose keys hash
// to different slots).
type RedisCluster struct {
	Addrs []string // the masters, host:port
	dir   string
	procs []*exec.Cmd
	exits []chan struct{} // closed when the node's process has ended
}

// clusterSlots is the number of hash slots of every Redis Cluster.
const clusterSlots = 16384

// errNodeExited: a node's process ended while the cluster was starting,
// usually because another process took its free port meanwhile.
var errNodeExited = errors.New("redis-server exited")

// StartRedisCluster starts three cluster-enabled redis-server processes,
// gives each a third of the slots, introduces them to each other and waits
// until every node reports the cluster healthy. A missing redis-server is
// an error (scripts/deps.sh installs it). Stop it when done.
func StartRedisCluster() (*RedisCluster, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("testenv: redis-server not found (scripts/deps.sh installs it): %w", err)
	}
	for attempt := 1; ; attempt++ {
		c, err := startRedisCluster()
		if err == nil || !errors.Is(err, errNodeExited) || attempt == 3 {
			return c, err
		}
	}
}

func startRedisCluster() (c *RedisCluster, err error) {
	dir, err := os.MkdirTemp("", "testenv-redis-cluster-")
	if err != nil {
		return nil, err
	}
	c = &RedisCluster{dir: dir}
	defer func() {
		if err != nil {
			err = fmt.Errorf("testenv: Redis Cluster: %w%s", err, c.logs())
			c.Stop()
		}
	}()
	ports := make([]int, 0, 6)
	for range 6 { // a client port and a cluster bus port per node
		p, err := FreePort()
		if err != nil {
			return c, err
		}
		ports = append(ports, p)
	}
	for i := range 3 {
		port, bus := ports[2*i], ports[2*i+1]
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("node%d.log", i)))
		if err != nil {
			return c, err
		}
		cmd := exec.Command("redis-server",
			"--port", strconv.Itoa(port), "--cluster-port", strconv.Itoa(bus), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", fmt.Sprintf("nodes%d.conf", i),
			"--cluster-node-timeout", "5000", "--dir", dir, "--save", "", "--appendonly", "no")
		cmd.Stdout, cmd.Stderr = logf, logf
		// The nodes die with the test binary even when it is killed.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		err = cmd.Start()
		logf.Close() // the child holds its own descriptor
		if err != nil {
			return c, fmt.Errorf("start redis-server: %w", err)
		}
		exited := make(chan struct{})
		go func() {
			_ = cmd.Wait() // reaps the process; an error is its kill
			close(exited)
		}()
		c.procs = append(c.procs, cmd)
		c.exits = append(c.exits, exited)
		c.Addrs = append(c.Addrs, "127.0.0.1:"+strconv.Itoa(port))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes := make([]*redis.Client, len(c.Addrs))
	for i, addr := range c.Addrs {
		nodes[i] = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer nodes[i].Close()
		err := waitFor(ctx, func() error {
			select {
			case <-c.exits[i]:
				return errNodeExited
			default:
				return nodes[i].Ping(ctx).Err()
			}
		})
		if err != nil {
			return c, fmt.Errorf("node %s not answering: %w", addr, err)
		}
	}
	for i, n := range nodes {
		lo, hi := i*clusterSlots/3, (i+1)*clusterSlots/3-1
		if err := n.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			return c, fmt.Errorf("%s: CLUSTER ADDSLOTSRANGE %d %d: %w", c.Addrs[i], lo, hi, err)
		}
		if i > 0 { // node 0 meets the others; gossip tells them of each other
			if err := nodes[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", ports[2*i], ports[2*i+1]).Err(); err != nil {
				return c, fmt.Errorf("CLUSTER MEET %s: %w", c.Addrs[i], err)
			}
		}
	}
	for i, n := range nodes {
		err := waitFor(ctx, func() error {
			info, err := n.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			for _, want := range []string{"cluster_state:ok", "cluster_slots_ok:" + strconv.Itoa(clusterSlots), "cluster_known_nodes:3"} {
				if !strings.Contains(info, want+"\r\n") {
					return fmt.Errorf("CLUSTER INFO lacks %s:\n%s", want, info)
				}
			}
			return nil
		})
		if err != nil {
			return c, fmt.Errorf("node %s: %w", c.Addrs[i], err)
		}
	}
	return c, nil
}

// Stop kills the nodes and removes their files.
func (c *RedisCluster) Stop() {
	for i, p := range c.procs {
		_ = p.Process.Kill()
		<-c.exits[i]
	}
	c.procs, c.exits = nil, nil
	_ = os.RemoveAll(c.dir)
}

// logs returns the nodes' logs, for a start-up error.
func (c *RedisCluster) logs() string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(c.dir, "node*.log"))
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil && len(data) > 0 {
			fmt.Fprintf(&b, "\n--- %s:\n%s", filepath.Base(f), data)
		}
	}
	return b.String()
}

// Client returns a cluster client of c; close it when done.
func (c *RedisCluster) Client() *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
}

// FreePort returns a loopback TCP port that was free a moment ago, for a
// server a test starts.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFor retries f every 20 ms until it succeeds, ctx ends or a node
// exited.
func waitFor(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil || errors.Is(err, errNodeExited) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// cluster is the test package's cluster (RunWithRedisCluster).
var cluster *RedisCluster

// RunWithRedisCluster is the TestMain of a package whose tests use
// RedisTargets: it starts the package's Redis Cluster, runs the tests and
// stops the cluster, and returns the exit code for os.Exit. One cluster
// serves the whole package (tests isolate themselves by key prefix).
func RunWithRedisCluster(m *testing.M) int {
	c, err := StartRedisCluster()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Stop()
	cluster = c
	return m.Run()
}

// RedisTarget is one Redis deployment a test runs against, with a key
// prefix of its own whose keys are deleted when the test ends.
type RedisTarget struct {
	Name   string // "single" or "cluster": the subtest's name
	Client redis.UniversalClient
	Prefix string
}

// RedisTargets returns the deployments code must work on: the single node
// (TEST_REDIS_URL) and the package's Redis Cluster (RunWithRedisCluster
// in the package's TestMain; without it the test fails). Run the test body
// once per target, as a subtest named Name.
func RedisTargets(t testing.TB) []RedisTarget {
	t.Helper()
	if cluster == nil {
		t.Fatal("testenv: no Redis Cluster: the package's TestMain must call testenv.RunWithRedisCluster")
	}
	opt, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("testenv: TEST_REDIS_URL: %v", err)
	}
	single := redis.NewClient(opt)
	clustered := cluster.Client()
	t.Cleanup(func() { single.Close(); clustered.Close() })
	return []RedisTarget{
		{Name: "single", Client: single, Prefix: Prefix(t)},
		{Name: "cluster", Client: clustered, Prefix: clusterPrefix(t, clustered)},
	}
}

// RedisClusterAddrs returns the masters of the package's Redis Cluster
// (RunWithRedisCluster), e.g. for a service's REDIS_CLUSTER_ADDRS.
func RedisClusterAddrs(t testing.TB) []string {
	t.Helper()
	if cluster == nil {
		t.Fatal("testenv: no Redis Cluster: the package's TestMain must call testenv.RunWithRedisCluster")
	}
	return cluster.Addrs
}

// clusterPrefix is Prefix for the cluster: its keys are deleted from
// every master at cleanup.
func clusterPrefix(t testing.TB, rdb *redis.ClusterClient) string {
	p := "t" + ID() + "."
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rdb.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			deleteKeys(ctx, node, p)
			return nil
		})
	})
	return p
}

// deleteKeys deletes the keys starting with prefix from one node.
func deleteKeys(ctx context.Context, node *redis.Client, prefix string) {
	iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		node.Del(ctx, iter.Val())
	}
}
