// Package servicetrust tells a Cobra Space service which other service is
// calling it (its service identity), beside the end user's access token
// that platform/grpcauth carries. Internal RPCs that act for no single user
// (presence heartbeats, user summaries for composing responses, binding a
// room to a post, the client address of a login) are allowed only to the
// service that needs them, so reaching a gRPC port is not enough to use them.
//
// A caller proves its identity in one of two ways, chosen by configuration:
//
//   - mutual TLS (GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and GRPC_TLS_CA_FILE,
//     all three on every process): servers accept only clients whose
//     certificate the CA signed, and the certificate's Subject Common Name
//     names the service ("gateway", "post", ...); the same certificate serves
//     the process's own gRPC port, so its SANs must name the host callers
//     dial. Traffic is encrypted.
//   - otherwise a pre-shared service key (SERVICE_KEY_FILE, the same file on
//     every process, at least 32 characters): clients send it with their
//     service name in the gRPC metadata of every call, servers compare it in
//     constant time. It is as simple as the JWT key pair the deployment
//     already distributes (scripts/run.sh, the test stacks and compose
//     generate it; Kubernetes mounts it from a Secret) and needs no clock or
//     extra round trip. Its limits, accepted for a single-tenant cluster:
//     any holder of the key can claim any service name, and on a plaintext
//     network someone able to sniff the traffic learns it, so it only
//     complements the network policies; use mutual TLS where the network is
//     not trusted. Short-lived service JWTs were the alternative; they would
//     add a signing service or a second key pair per service and expiry
//     handling while still travelling in the clear without TLS.
//
// A server that has neither configured refuses to start (Load), so an
// internal RPC is never open by mistake.
package servicetrust

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/envconfig"
)

// Metadata keys of the pre-shared key scheme.
const (
	nameHeader = "cobra-service"
	keyHeader  = "cobra-service-key"
)

// minKeyLength is the shortest service key accepted (WriteKeyFile's 32
// random bytes are 43 base64url characters).
const minKeyLength = 32

// Config is how one process proves its identity to the services it calls
// and checks the identity of its callers. The zero Config identifies
// nobody: plaintext, no key (tools and tests that act only for users).
type Config struct {
	name      string
	keyHash   [sha256.Size]byte // SHA-256 of the key, compared in constant time
	key       string            // sent to callees; "" when none
	serverTLS *tls.Config       // nil: plaintext
	clientTLS *tls.Config
}

// Load reads the service identity settings of the service called name:
// SERVICE_KEY_FILE, or GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and
// GRPC_TLS_CA_FILE for mutual TLS (the key is then optional and unused).
func Load(env *envconfig.Reader, name string) (Config, error) {
	keyFile := env.String("SERVICE_KEY_FILE", "")
	certFile := env.String("GRPC_TLS_CERT_FILE", "")
	keyPEM := env.String("GRPC_TLS_KEY_FILE", "")
	caFile := env.String("GRPC_TLS_CA_FILE", "")
	c := Config{name: name}
	switch set := countSet(certFile, keyPEM, caFile); {
	case set == 3:
		var err error
		if c.serverTLS, c.clientTLS, err = mutualTLS(certFile, keyPEM, caFile); err != nil {
			return Config{}, err
		}
		return c, nil
	case set > 0:
		return Config{}, errors.New("GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and GRPC_TLS_CA_FILE: set all three (mutual TLS) or none")
	case keyFile == "":
		return Config{}, errors.New("SERVICE_KEY_FILE is required unless mutual TLS is configured (GRPC_TLS_*_FILE)")
	}
	return FromKeyFile(name, keyFile)
}

// FromKeyFile returns the Config of the service called name using the
// pre-shared key in path (Load without mutual TLS; tests and tools).
func FromKeyFile(name, path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("SERVICE_KEY_FILE: %w", err)
	}
	key := strings.TrimSpace(string(raw))
	if len(key) < minKeyLength {
		return Config{}, fmt.Errorf("SERVICE_KEY_FILE: the key must be at least %d characters", minKeyLength)
	}
	return Config{name: name, key: key, keyHash: sha256.Sum256([]byte(key))}, nil
}

func countSet(vals ...string) int {
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}

// mutualTLS builds the server side (require a client certificate signed by
// the CA) and the client side (verify servers against the CA, present our
// certificate) from the same three files.
func mutualTLS(certFile, keyFile, caFile string) (server, client *tls.Config, err error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("GRPC_TLS_CERT_FILE/GRPC_TLS_KEY_FILE: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, nil, fmt.Errorf("GRPC_TLS_CA_FILE: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, errors.New("GRPC_TLS_CA_FILE: no PEM certificate found")
	}
	server = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	client = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, RootCAs: pool}
	return server, client, nil
}

// Mutual reports whether mutual TLS is configured.
func (c Config) Mutual() bool { return c.serverTLS != nil }

// ServerOptions are the grpc.NewServer options: TLS credentials under
// mutual TLS, none otherwise.
func (c Config) ServerOptions() []grpc.ServerOption {
	if c.serverTLS == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(c.serverTLS))}
}

// DialOptions are the options of a connection to another service: TLS with
// our certificate under mutual TLS, otherwise plaintext with the service
// key (when there is one) attached to every call.
func (c Config) DialOptions() []grpc.DialOption {
	if c.clientTLS != nil {
		return []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(c.clientTLS))}
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if c.key != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(keyCredentials{name: c.name, key: c.key}))
	}
	return opts
}

// keyCredentials attach the service name and key to every call.
type keyCredentials struct{ name, key string }

func (k keyCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{nameHeader: k.name, keyHeader: k.key}, nil
}

// RequireTransportSecurity is false: without TLS the key travels in the
// clear, a limit the package documentation states.
func (keyCredentials) RequireTransportSecurity() bool { return false }

type ctxKey struct{}

// Caller returns the name of the service that made the incoming call, or
// "" when the caller proved no service identity.
func Caller(ctx context.Context) string {
	name, _ := ctx.Value(ctxKey{}).(string)
	return name
}

// Is reports whether the incoming call comes from the service called name.
func Is(ctx context.Context, name string) bool { return name != "" && Caller(ctx) == name }

// UnaryServerInterceptor records the caller's service identity for Caller.
// A call presenting a wrong service key is refused (UNAUTHENTICATED) rather
// than treated as anonymous, so a misconfigured service fails loudly.
func (c Config) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		name, err := c.identify(ctx)
		if err != nil {
			return nil, err
		}
		if name != "" {
			ctx = context.WithValue(ctx, ctxKey{}, name)
		}
		return handler(ctx, req)
	}
}

func (c Config) identify(ctx context.Context) (string, error) {
	if c.serverTLS != nil {
		// The handshake already refused clients without a certificate of
		// our CA; its Common Name names the calling service.
		if p, ok := peer.FromContext(ctx); ok {
			if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.VerifiedChains) > 0 {
				return info.State.VerifiedChains[0][0].Subject.CommonName, nil
			}
		}
		return "", nil
	}
	keys := metadata.ValueFromIncomingContext(ctx, keyHeader)
	if len(keys) == 0 {
		return "", nil
	}
	got := sha256.Sum256([]byte(keys[0]))
	if c.key == "" || subtle.ConstantTimeCompare(got[:], c.keyHash[:]) != 1 {
		return "", status.Error(codes.Unauthenticated, "Service credentials not valid.")
	}
	names := metadata.ValueFromIncomingContext(ctx, nameHeader)
	if len(names) == 0 || names[0] == "" {
		return "", status.Error(codes.Unauthenticated, "Service credentials not valid.")
	}
	return names[0], nil
}

// WriteKeyFile writes a new random service key (32 bytes, base64url) to
// path, readable by its owner only.
func WriteKeyFile(path string) error {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return os.WriteFile(path, []byte(base64.RawURLEncoding.EncodeToString(b[:])+"\n"), 0o600)
}
