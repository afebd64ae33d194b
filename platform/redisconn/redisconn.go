// Package redisconn builds the Redis client of every Cobra Space service,
// the same way in each: a go-redis UniversalClient for one node, a Redis
// Cluster or a primary watched by Sentinel, chosen by configuration, so
// the code using Redis never depends on the deployment.
//
// Configuration (Load), all optional:
//
//   - REDIS_URL (default redis://127.0.0.1:6379/0): the node, as
//     redis[s]://[[user]:password@]host[:port][/db][?option=value...]
//     (go-redis's URL options, e.g. dial_timeout=1s). rediss:// is TLS,
//     verified against the URL's host name. Alone it names the single node.
//   - REDIS_CLUSTER_ADDRS: comma-separated host:port seed nodes of a Redis
//     Cluster; the client learns the other nodes and the slots from them.
//     REDIS_URL then only supplies the scheme (rediss:// = TLS), the
//     credentials and the options; its host is the name every node's
//     certificate is verified against. The database must be 0 (a cluster
//     has no other).
//   - REDIS_SENTINEL_ADDRS (comma-separated host:port) and
//     REDIS_SENTINEL_MASTER (the monitored primary's name): ask these
//     Sentinels for the current primary and follow its failovers. REDIS_URL
//     supplies scheme, credentials, database and options of the primary,
//     as for a cluster; REDIS_SENTINEL_PASSWORD is the Sentinels' own
//     password, when they have one.
//
// Every multi-key command and script of the services keeps its keys in one
// hash slot (each package's key layout says how), so all three modes run
// the same code.
package redisconn

import (
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/envconfig"
)

// DefaultURL is REDIS_URL when unset: the local single node.
const DefaultURL = "redis://127.0.0.1:6379/0"

// Config says how to reach Redis (package doc).
type Config struct {
	URL              string
	ClusterAddrs     []string
	SentinelAddrs    []string
	SentinelMaster   string
	SentinelPassword string
}

// Mode names the deployment a Config reaches: "single", "cluster" or
// "sentinel" (logged at start).
func (c Config) Mode() string {
	switch {
	case len(c.ClusterAddrs) > 0:
		return "cluster"
	case len(c.SentinelAddrs) > 0:
		return "sentinel"
	default:
		return "single"
	}
}

// Load reads the REDIS_* connection variables (package doc) through env
// and checks that they describe one deployment.
func Load(env *envconfig.Reader) (Config, error) {
	c := Config{
		URL:              env.String("REDIS_URL", DefaultURL),
		ClusterAddrs:     env.List("REDIS_CLUSTER_ADDRS", nil),
		SentinelAddrs:    env.List("REDIS_SENTINEL_ADDRS", nil),
		SentinelMaster:   env.String("REDIS_SENTINEL_MASTER", ""),
		SentinelPassword: env.String("REDIS_SENTINEL_PASSWORD", ""),
	}
	_, err := c.Options()
	return c, err
}

// Options turns the configuration into go-redis's UniversalOptions.
func (c Config) Options() (*redis.UniversalOptions, error) {
	var errs []error
	if len(c.ClusterAddrs) > 0 && len(c.SentinelAddrs) > 0 {
		errs = append(errs, errors.New("REDIS_CLUSTER_ADDRS and REDIS_SENTINEL_ADDRS: set one, not both"))
	}
	if (len(c.SentinelAddrs) > 0) != (c.SentinelMaster != "") {
		errs = append(errs, errors.New("REDIS_SENTINEL_ADDRS and REDIS_SENTINEL_MASTER: set both or neither"))
	}
	if c.SentinelPassword != "" && len(c.SentinelAddrs) == 0 {
		errs = append(errs, errors.New("REDIS_SENTINEL_PASSWORD needs REDIS_SENTINEL_ADDRS"))
	}
	o, err := redis.ParseURL(c.URL)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("REDIS_URL: %w", err))
	case o.Network != "tcp":
		// UniversalOptions has no network: a unix socket would silently
		// be dialled as a TCP address.
		errs = append(errs, errors.New("REDIS_URL: only redis:// and rediss:// are supported"))
	case len(c.ClusterAddrs) > 0 && o.DB != 0:
		errs = append(errs, fmt.Errorf("REDIS_URL: database %d, but a Redis Cluster has only database 0", o.DB))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	u := &redis.UniversalOptions{
		Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
		Protocol: o.Protocol, ClientName: o.ClientName,
		MaxRetries: o.MaxRetries, MinRetryBackoff: o.MinRetryBackoff, MaxRetryBackoff: o.MaxRetryBackoff,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		PoolFIFO: o.PoolFIFO, PoolSize: o.PoolSize, PoolTimeout: o.PoolTimeout,
		MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns, MaxActiveConns: o.MaxActiveConns,
		MaxConcurrentDials: o.MaxConcurrentDials, PipelinePoolSize: o.PipelinePoolSize,
		PipelineReadBufferSize: o.PipelineReadBufferSize, PipelineWriteBufferSize: o.PipelineWriteBufferSize,
		ConnMaxIdleTime: o.ConnMaxIdleTime, ConnMaxLifetime: o.ConnMaxLifetime, ConnMaxLifetimeJitter: o.ConnMaxLifetimeJitter,
	}
	switch {
	case len(c.ClusterAddrs) > 0:
		u.Addrs, u.IsClusterMode = c.ClusterAddrs, true
	case len(c.SentinelAddrs) > 0:
		u.Addrs, u.MasterName, u.SentinelPassword = c.SentinelAddrs, c.SentinelMaster, c.SentinelPassword
	}
	return u, nil
}

// New returns the client (it dials lazily: a service also starts while
// Redis is down). tune, when not nil, sets the service's timeouts and
// retries on the options first. Close the client at exit.
func New(c Config, tune func(*redis.UniversalOptions)) (redis.UniversalClient, error) {
	o, err := c.Options()
	if err != nil {
		return nil, err
	}
	if tune != nil {
		tune(o)
	}
	return redis.NewUniversalClient(o), nil
}
