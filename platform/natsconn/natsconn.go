// Package natsconn connects a Cobra Space service to NATS, the same way in
// every service: it starts while NATS is down, reconnects forever, buffers
// publishes meanwhile and logs the connection's events. NATS is never
// needed for a request to succeed (README: degraded modes), so a lost
// connection must never stop a service or its reconnecting.
//
// Configuration (Load), all optional:
//
//   - NATS_URL: one server or a comma-separated cluster
//     ("nats://nats-0:4222,nats://nats-1:4222"); the client tries them in
//     random order (nats.go's default, so that processes given the same
//     list spread over the nodes) and learns the rest of the cluster from
//     the server it reaches (the INFO's connect_urls): one URL of a live
//     node, or one DNS name of all nodes, is enough to fail over to any
//     node of the cluster later.
//   - NATS_CREDS_FILE: a user credentials file (JWT and nkey seed; decentralised
//     auth), or NATS_NKEY_FILE: a user nkey seed file. Not both.
//   - NATS_TLS_CA_FILE: verify the server with this CA (PEM) instead of the
//     system roots, and use TLS; NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE
//     (together): a client certificate for servers that verify clients.
//
// Every file is read again at each (re)connect, so rotated credentials and
// certificates are picked up without a restart.
//
// When the node a process is connected to dies, the connection notices at
// once (the socket closes) or, for a node that vanished without closing
// it (host lost, network cut), after maxPingsOut unanswered pings, within
// 20-30 s, and connects to
// another node of the pool without waiting (reconnectWait applies only to
// a server tried moments ago). Its subscriptions are re-sent there; events
// published in between are not delivered to it (core NATS keeps nothing),
// which the gateways repair from history. Publishes made while it
// reconnects wait in the reconnect buffer (ReconnectBufSize).
package natsconn

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cobraspace/cobraspace/platform/envconfig"
)

const (
	// ReconnectBufSize bounds the publishes kept, in bytes of protocol
	// (subject, headers and payload), while the connection is
	// reconnecting (the nats.go default, made explicit); they are sent,
	// in order, as soon as a server accepts the connection. When it is
	// full a publish fails at once with nats.ErrReconnectBufExceeded
	// instead of blocking (chat counts these in
	// chat_publish_failures_total, the user service logs a lost
	// revocation announcement), and receivers repair the gap from
	// history. 8 MiB is ~16,000 chat events of ~0.5 KB, seconds of peak
	// traffic: enough for a failover to another node (milliseconds) or a
	// NATS restart, and a bounded cost per process. Subscriptions are not
	// buffered: nats.go re-sends them on every reconnect.
	ReconnectBufSize = 8 << 20
	// reconnectWait is the pause after every server of the list failed,
	// plus a random jitter of up to reconnectJitter (TLS: ...TLS) so the
	// replicas of a cluster do not reconnect in lock step after a NATS
	// restart.
	reconnectWait      = 250 * time.Millisecond
	reconnectJitter    = 250 * time.Millisecond
	reconnectJitterTLS = time.Second
	// maxPingsOut unanswered pings, one every pingInterval, mark the
	// connection stale, and it moves to another node. nats.go's default
	// (2 min) would leave a gateway whose node vanished without closing
	// its sockets deaf to its rooms for up to 6 min; a ping every 10 s
	// costs nothing next to the chat traffic.
	maxPingsOut = 2
)

// pingInterval is a variable so that a test can detect a silent server in
// a second rather than in 20-30 s.
var pingInterval = 10 * time.Second

// Config says how to reach NATS.
type Config struct {
	URLs                               []string
	CredsFile, NKeyFile                string
	TLSCAFile, TLSCertFile, TLSKeyFile string
}

// Load reads the NATS_* variables (package doc) through env. Unset ones
// have defaults; contradictory ones are an error.
func Load(env *envconfig.Reader) (Config, error) {
	c := Config{
		URLs:        env.List("NATS_URL", []string{"nats://127.0.0.1:4222"}),
		CredsFile:   env.String("NATS_CREDS_FILE", ""),
		NKeyFile:    env.String("NATS_NKEY_FILE", ""),
		TLSCAFile:   env.String("NATS_TLS_CA_FILE", ""),
		TLSCertFile: env.String("NATS_TLS_CERT_FILE", ""),
		TLSKeyFile:  env.String("NATS_TLS_KEY_FILE", ""),
	}
	var errs []error
	if c.CredsFile != "" && c.NKeyFile != "" {
		errs = append(errs, errors.New("NATS_CREDS_FILE and NATS_NKEY_FILE: set one, not both"))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE: set both or neither"))
	}
	return c, errors.Join(errs...)
}

// Connect connects to NATS as name (shown by the server's monitoring). It
// fails only for a bad configuration (an unreadable key or certificate),
// never because NATS is unreachable: the connection then keeps trying in
// the background. Close it at shutdown.
func Connect(cfg Config, name string, log *slog.Logger) (*nats.Conn, error) {
	failures := &failureLog{log: log}
	opts := []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true), // start even while NATS is down
		nats.MaxReconnects(-1),
		// By default nats.go gives up for good after the same
		// authorization error twice; credentials fixed or rotated later
		// must still be picked up.
		nats.IgnoreAuthErrorAbort(),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJitter, reconnectJitterTLS),
		nats.ReconnectBufSize(ReconnectBufSize),
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.ConnectHandler(func(nc *nats.Conn) {
			// The first connection, at start or, when NATS was down
			// then, later.
			failures.reset()
			log.Info("nats connected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Close at shutdown
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			failures.reset()
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { failures.failed(err) }),
		// Asynchronous errors: authorization failures while reconnecting,
		// publish or subscribe permission violations, slow consumers
		// (once per subscription until it catches up).
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Warn("nats error", "subject", sub.Subject, "err", err)
				return
			}
			log.Warn("nats error", "err", err)
		}),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NKeyFile != "" {
		opt, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, opt)
	}
	if cfg.TLSCAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCAFile))
	}
	if cfg.TLSCertFile != "" {
		opts = append(opts, nats.ClientCert(cfg.TLSCertFile, cfg.TLSKeyFile))
	}
	return nats.Connect(strings.Join(cfg.URLs, ","), opts...)
}

// failureLog logs failed connection attempts, which come every
// reconnectWait while NATS is unreachable: each new reason once (a server
// down, then refusing the credentials, ...) until the next connection, so
// an outage or a wrong key is visible without a line every 250 ms.
type failureLog struct {
	log  *slog.Logger
	mu   sync.Mutex
	last string
}

func (f *failureLog) failed(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err.Error() != f.last {
		f.last = err.Error()
		f.log.Warn("nats connection attempt failed", "err", err)
	}
}

func (f *failureLog) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = ""
}
