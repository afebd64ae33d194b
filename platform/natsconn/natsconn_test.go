package natsconn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/cobraspace/cobraspace/platform/envconfig"
	"github.com/cobraspace/cobraspace/platform/testenv"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"defaults", nil, Config{URLs: []string{"nats://127.0.0.1:4222"}}, ""},
		{"cluster", map[string]string{"NATS_URL": "nats://a:4222, nats://b:4222,"},
			Config{URLs: []string{"nats://a:4222", "nats://b:4222"}}, ""},
		{"creds and tls", map[string]string{"NATS_CREDS_FILE": "u.creds", "NATS_TLS_CA_FILE": "ca.pem",
			"NATS_TLS_CERT_FILE": "c.pem", "NATS_TLS_KEY_FILE": "k.pem"},
			Config{URLs: []string{"nats://127.0.0.1:4222"}, CredsFile: "u.creds", TLSCAFile: "ca.pem", TLSCertFile: "c.pem", TLSKeyFile: "k.pem"}, ""},
		{"creds and nkey", map[string]string{"NATS_CREDS_FILE": "u.creds", "NATS_NKEY_FILE": "u.nk"}, Config{}, "not both"},
		{"cert without key", map[string]string{"NATS_TLS_CERT_FILE": "c.pem"}, Config{}, "both or neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(envconfig.New(func(k string) string { return tt.env[k] }))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestConnectLocalNATS: a publish reaches a subscriber through the
// machine's NATS (TEST_NATS_URL).
func TestConnectLocalNATS(t *testing.T) {
	url := os.Getenv("TEST_NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	nc := connect(t, Config{URLs: []string{url}}, newLog())
	waitStatus(t, nc, nats.CONNECTED)
	roundTrip(t, nc)
}

// TestReconnectAfterServerRestart: the client, given a cluster whose first
// member is down, connects to the other; when that server restarts it
// reconnects by itself, logging both events, and a publish made during
// the outage is buffered and delivered afterwards.
func TestReconnectAfterServerRestart(t *testing.T) {
	srv := startServer(t, &server.Options{})
	port := srv.Addr().(*net.TCPAddr).Port
	log := newLog()
	nc := connect(t, Config{URLs: []string{"nats://" + deadAddr(t), srv.ClientURL()}}, log)
	waitStatus(t, nc, nats.CONNECTED)
	sub, err := nc.SubscribeSync("restart.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	srv.Shutdown()
	waitStatus(t, nc, nats.RECONNECTING)
	if err := nc.Publish("restart.test", []byte("sent while down")); err != nil {
		t.Fatalf("publish while reconnecting: %v (want it buffered)", err)
	}
	time.Sleep(time.Second) // a few failed reconnect attempts: it must keep trying
	startServer(t, &server.Options{Port: port})
	waitStatus(t, nc, nats.CONNECTED)
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil || string(msg.Data) != "sent while down" {
		t.Fatalf("after reconnect: got %v %v, want the buffered publish", msg, err)
	}
	roundTrip(t, nc)
	for _, want := range []string{`"msg":"nats connected"`, `"msg":"nats disconnected"`, `"msg":"nats reconnected"`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
}

// TestReconnectBufferFull: while the connection is reconnecting, publishes
// are kept up to ReconnectBufSize bytes; the next one fails at once with
// nats.ErrReconnectBufExceeded; the kept ones are delivered in order once
// a server is back, and publishing works again.
func TestReconnectBufferFull(t *testing.T) {
	srv := startServer(t, &server.Options{})
	port := srv.Addr().(*net.TCPAddr).Port
	nc := connect(t, Config{URLs: []string{srv.ClientURL()}}, newLog())
	waitStatus(t, nc, nats.CONNECTED)
	// The subscription is on the same connection: nats.go re-sends it
	// before the buffered publishes, so none can overtake it.
	sub, err := nc.SubscribeSync("buffer.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	srv.Shutdown()
	waitStatus(t, nc, nats.RECONNECTING)
	const size = 32 << 10
	payload := make([]byte, size)
	kept := 0
	for ; ; kept++ {
		copy(payload, strconv.Itoa(kept)+" ")
		err := nc.Publish("buffer.test", payload)
		if errors.Is(err, nats.ErrReconnectBufExceeded) {
			break
		}
		if err != nil || kept > 2*ReconnectBufSize/size {
			t.Fatalf("publish %d while reconnecting: %v, want kept until %d bytes then ErrReconnectBufExceeded", kept, err, ReconnectBufSize)
		}
	}
	// Each publish costs its payload plus ~30 bytes of protocol; the
	// last one accepted may end past the limit.
	if lo, hi := ReconnectBufSize/(size+100), ReconnectBufSize/size+1; kept < lo || kept > hi {
		t.Errorf("kept %d publishes of %d bytes, want %d..%d (ReconnectBufSize %d)", kept, size, lo, hi, ReconnectBufSize)
	}
	t.Logf("kept %d publishes (%d bytes of payload) while reconnecting", kept, kept*size)

	startServer(t, &server.Options{Port: port})
	waitStatus(t, nc, nats.CONNECTED)
	for i := range kept {
		msg, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("buffered publish %d of %d: %v", i, kept, err)
		}
		if want := strconv.Itoa(i) + " "; !bytes.HasPrefix(msg.Data, []byte(want)) {
			t.Fatalf("buffered publish %d: got %q..., want it in publish order", i, msg.Data[:10])
		}
	}
	roundTrip(t, nc)
}

// TestStaleServerDetected: a server that stops answering without closing
// the connection (a vanished host, a network cut) is detected by the
// client's pings, and the client reconnects. pingInterval is shortened so
// that this takes a second instead of 20-30 s.
func TestStaleServerDetected(t *testing.T) {
	defer func(d time.Duration) { pingInterval = d }(pingInterval)
	pingInterval = 200 * time.Millisecond
	srv := startServer(t, &server.Options{})
	px := newSilentProxy(t, srv.Addr().String())
	log := newLog()
	nc := connect(t, Config{URLs: []string{"nats://" + px.addr()}}, log)
	waitStatus(t, nc, nats.CONNECTED)
	roundTrip(t, nc)

	px.silence()
	silencedAt := time.Now()
	for nc.Stats().Reconnects == 0 {
		if time.Since(silencedAt) > 10*time.Second {
			t.Fatalf("no reconnect 10 s after the server went silent (status %v)", nc.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	d := time.Since(silencedAt)
	t.Logf("silent server left after %v (ping every %v, %d unanswered allowed)", d.Round(time.Millisecond), pingInterval, maxPingsOut)
	if d < maxPingsOut*pingInterval {
		t.Errorf("reconnected after %v, before %d pings could go unanswered: another cause", d, maxPingsOut)
	}
	if !strings.Contains(log.String(), "stale connection") {
		t.Errorf("log lacks the stale connection:\n%s", log)
	}
	waitStatus(t, nc, nats.CONNECTED)
	roundTrip(t, nc)
}

// TestClusterFailover: a client given one node of a 3-node cluster (the
// machine's nats-server) learns the other nodes from it, moves to one of
// them as soon as its node is killed, and its subscription moves along:
// a publish made on a third node reaches it again.
func TestClusterFailover(t *testing.T) {
	cl := testenv.StartNATSCluster(t, 3)
	nc := connect(t, Config{URLs: []string{cl.Nodes[0].ClientURL}}, newLog())
	waitStatus(t, nc, nats.CONNECTED)
	waitFor(t, "the other nodes' URLs", func() bool { return len(nc.DiscoveredServers()) == 2 })
	sub, err := nc.SubscribeSync("failover.test")
	if err != nil {
		t.Fatal(err)
	}
	// The publisher stays on node 2, which is not killed.
	pub, err := nats.Connect(cl.Nodes[2].ClientURL, nats.IgnoreDiscoveredServers())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	deliverEventually(t, pub, sub, "before the kill")

	killedAt := time.Now()
	cl.Nodes[0].Kill()
	waitFor(t, "a reconnect", func() bool { return nc.Stats().Reconnects > 0 && nc.IsConnected() })
	d := time.Since(killedAt)
	t.Logf("reconnected to %s %v after node 0 was killed", nc.ConnectedUrl(), d.Round(time.Millisecond))
	if nc.ConnectedUrl() == cl.Nodes[0].ClientURL {
		t.Fatalf("connected to the killed node %s", nc.ConnectedUrl())
	}
	// Failing over needs no reconnectWait: the other nodes were not tried
	// moments ago. 2 s leaves room for a busy machine.
	if d > 2*time.Second {
		t.Errorf("reconnected %v after the kill, want at once", d)
	}
	deliverEventually(t, pub, sub, "after the kill")
}

// deliverEventually publishes text on pub every 50 ms until sub gets it
// (the subscription's interest reaches the other nodes of a cluster
// asynchronously), for up to 5 s. Copies left from an earlier call, with
// another text, do not count.
func deliverEventually(t *testing.T, pub *nats.Conn, sub *nats.Subscription, text string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := pub.Publish(sub.Subject, []byte(text)); err != nil {
			t.Fatal(err)
		}
		for {
			msg, err := sub.NextMsg(50 * time.Millisecond)
			if err != nil {
				break
			}
			if string(msg.Data) == text {
				return
			}
		}
	}
	t.Fatalf("%q published on %s did not arrive within 5 s", text, sub.Subject)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10 s", what)
		}
	}
}

// silentProxy forwards TCP connections to a server until silence: from
// then on it drops what the connections it already has carry, in both
// directions, without closing them (both ends see silence), while new
// connections are forwarded normally.
type silentProxy struct {
	ln       net.Listener
	target   string
	mu       sync.Mutex
	silenced []*atomic.Bool
}

func newSilentProxy(t *testing.T, target string) *silentProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &silentProxy{ln: ln, target: target}
	var conns sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		conns.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			quiet := &atomic.Bool{}
			p.mu.Lock()
			p.silenced = append(p.silenced, quiet)
			p.mu.Unlock()
			t.Cleanup(func() { c.Close(); s.Close() })
			conns.Add(2)
			go func() { defer conns.Done(); forward(s, c, quiet) }()
			go func() { defer conns.Done(); forward(c, s, quiet) }()
		}
	}()
	return p
}

func (p *silentProxy) addr() string { return p.ln.Addr().String() }

// silence makes every connection open now drop its traffic.
func (p *silentProxy) silence() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, q := range p.silenced {
		q.Store(true)
	}
}

func forward(dst, src net.Conn, quiet *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		if quiet.Load() {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

// TestNKeyFile: a server that knows only one user nkey refuses a client
// without it, which nonetheless keeps trying (the same authorization error
// twice would make nats.go give up for good by default), and accepts the
// client given the seed file.
func TestNKeyFile(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	srv := startServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})

	log := newLog()
	anon := connect(t, Config{URLs: []string{srv.ClientURL()}}, log)
	time.Sleep(2 * time.Second) // several refused attempts
	if st := anon.Status(); st != nats.RECONNECTING {
		t.Fatalf("without the nkey: status %v, want RECONNECTING (refused, still trying)", st)
	}
	// Logged once, not at every attempt.
	if n := strings.Count(strings.ToLower(log.String()), "authorization violation"); n != 1 {
		t.Errorf("the refusal was logged %d times, want once:\n%s", n, log)
	}

	seedFile := writeFile(t, "user.nk", seed)
	nc := connect(t, Config{URLs: []string{srv.ClientURL()}, NKeyFile: seedFile}, newLog())
	waitStatus(t, nc, nats.CONNECTED)
	roundTrip(t, nc)
}

// TestCredsFile: a server in operator (JWT) mode accepts a client with a
// user credentials file signed by its account, and refuses one without.
func TestCredsFile(t *testing.T) {
	operator, _ := nkeys.CreateOperator()
	opPub, _ := operator.PublicKey()
	account, _ := nkeys.CreateAccount()
	accPub, _ := account.PublicKey()
	accJWT, err := jwt.NewAccountClaims(accPub).Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	userSeed, _ := user.Seed()
	userJWT, err := jwt.NewUserClaims(userPub).Encode(account)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(userJWT, userSeed)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	if err := resolver.Store(accPub, accJWT); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, &server.Options{TrustedKeys: []string{opPub}, AccountResolver: resolver})

	anon := connect(t, Config{URLs: []string{srv.ClientURL()}}, newLog())
	time.Sleep(time.Second)
	if st := anon.Status(); st == nats.CONNECTED {
		t.Fatal("connected without credentials")
	}
	nc := connect(t, Config{URLs: []string{srv.ClientURL()}, CredsFile: writeFile(t, "user.creds", creds)}, newLog())
	waitStatus(t, nc, nats.CONNECTED)
	roundTrip(t, nc)
}

// TestTLS: a server that requires TLS and verifies client certificates
// refuses a plaintext client and one without a certificate, and accepts
// a client with the CA and its certificate.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCert(t, dir, "ca", nil)
	srvCert := newCert(t, dir, "server", ca)
	cli := newCert(t, dir, "client", ca)
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: srvCert.file, KeyFile: srvCert.keyFile, CaFile: ca.file, Verify: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, &server.Options{TLSConfig: tc, TLSVerify: true, TLSTimeout: 2})
	url := []string{srv.ClientURL()}

	for name, cfg := range map[string]Config{
		"plaintext":      {URLs: url},
		"no client cert": {URLs: url, TLSCAFile: ca.file},
		"wrong CA":       {URLs: url, TLSCAFile: cli.file, TLSCertFile: cli.file, TLSKeyFile: cli.keyFile},
	} {
		nc := connect(t, cfg, newLog())
		time.Sleep(time.Second)
		if st := nc.Status(); st == nats.CONNECTED {
			t.Errorf("%s: connected, want refused", name)
		}
	}
	nc := connect(t, Config{URLs: url, TLSCAFile: ca.file, TLSCertFile: cli.file, TLSKeyFile: cli.keyFile}, newLog())
	waitStatus(t, nc, nats.CONNECTED)
	roundTrip(t, nc)

	// A configuration error is one: a missing file fails Connect at once.
	if _, err := Connect(Config{URLs: url, TLSCAFile: filepath.Join(dir, "missing.pem")}, "test", newLog().logger); err == nil {
		t.Error("Connect with a missing CA file: no error")
	}
}

// logBuffer collects a connection's JSON log lines.
type logBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	logger *slog.Logger
}

func newLog() *logBuffer {
	l := &logBuffer{}
	l.logger = slog.New(slog.NewJSONHandler(l, nil))
	return l
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func connect(t *testing.T, cfg Config, log *logBuffer) *nats.Conn {
	t.Helper()
	nc, err := Connect(cfg, "natsconn-test", log.logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// startServer runs an in-process NATS server on 127.0.0.1 (a random port
// unless opts has one) until the test ends.
func startServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.NoLog, opts.NoSigs = "127.0.0.1", true, true
	if opts.Port == 0 {
		opts.Port = server.RANDOM_PORT // 0 would mean 4222, the shared server
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// deadAddr is a local address nothing listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitStatus(t *testing.T, nc *nats.Conn, want nats.Status) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for nc.Status() != want {
		if time.Now().After(deadline) {
			t.Fatalf("status %v, want %v (last error: %v)", nc.Status(), want, nc.LastError())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// roundTrip checks that a message published on nc comes back to it.
func roundTrip(t *testing.T, nc *nats.Conn) {
	t.Helper()
	subject := "natsconn.test." + nats.NewInbox()[len(nats.InboxPrefix):]
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }() // the connection closes at cleanup anyway
	if err := nc.Publish(subject, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if msg, err := sub.NextMsg(5 * time.Second); err != nil || string(msg.Data) != "ping" {
		t.Fatalf("round trip: got %v %v", msg, err)
	}
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type certFile struct {
	cert          *x509.Certificate
	key           *ecdsa.PrivateKey
	file, keyFile string // PEM
}

// newCert writes a certificate for 127.0.0.1 and its key as PEM files in
// dir, signed by parent (self-signed CA when parent is nil).
func newCert(t *testing.T, dir, name string, parent *certFile) *certFile {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &certFile{cert: cert, key: key, file: certPath, keyFile: keyPath}
}
