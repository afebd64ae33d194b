package servicetrust_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/adminhttp"
	"github.com/cobraspace/cobraspace/platform/envconfig"
	"github.com/cobraspace/cobraspace/platform/grpcclient"
	"github.com/cobraspace/cobraspace/platform/grpcserver"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/testenv"
)

const whoMethod = "/cobra.test.v1.Who/Who"

// whoService answers the calling service's name (servicetrust.Caller).
var whoService = grpc.ServiceDesc{
	ServiceName: "cobra.test.v1.Who",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Who", Handler: func(_ any, ctx context.Context, dec func(any) error, intercept grpc.UnaryServerInterceptor) (any, error) {
		in := new(emptypb.Empty)
		if err := dec(in); err != nil {
			return nil, err
		}
		h := func(ctx context.Context, _ any) (any, error) { return wrapperspb.String(servicetrust.Caller(ctx)), nil }
		return intercept(ctx, in, &grpc.UnaryServerInfo{FullMethod: whoMethod}, h)
	}}},
}

// serve runs a grpcserver (the one every service uses) with trust on port
// 0; Who is not anonymous, so a caller needs a user token or a service
// identity.
func serve(t *testing.T, trust servicetrust.Config) string {
	t.Helper()
	_, pubPath := testenv.KeyPair(t)
	pub, err := accesstoken.LoadPublicKeyFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpcserver.New(grpcserver.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: adminhttp.NewRegistry(),
		Verifier: accesstoken.NewVerifier(pub), Trust: trust,
	})
	srv.RegisterService(&whoService, struct{}{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis, 0) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return lis.Addr().String()
}

// who calls Who through grpcclient.Dial with trust.
func who(t *testing.T, addr string, trust servicetrust.Config) (string, error) {
	t.Helper()
	conn, err := grpcclient.Dial(addr, trust)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out wrapperspb.StringValue
	err = conn.Invoke(ctx, whoMethod, &emptypb.Empty{}, &out)
	return out.GetValue(), err
}

func load(t *testing.T, name string, env map[string]string) (servicetrust.Config, error) {
	t.Helper()
	return servicetrust.Load(envconfig.New(func(k string) string { return env[k] }), name)
}

func mustLoad(t *testing.T, name string, env map[string]string) servicetrust.Config {
	t.Helper()
	c, err := load(t, name, env)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServiceKey(t *testing.T) {
	keyFile := testenv.ServiceKey(t)
	server := mustLoad(t, "user", map[string]string{"SERVICE_KEY_FILE": keyFile})
	addr := serve(t, server)

	got, err := who(t, addr, mustLoad(t, "gateway", map[string]string{"SERVICE_KEY_FILE": keyFile}))
	if err != nil || got != "gateway" {
		t.Errorf("with the key: got %q, %v; want caller \"gateway\"", got, err)
	}
	if _, err := who(t, addr, servicetrust.Config{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no key, no token: got %v, want Unauthenticated", err)
	}
	other := mustLoad(t, "gateway", map[string]string{"SERVICE_KEY_FILE": testenv.ServiceKey(t)})
	if _, err := who(t, addr, other); status.Code(err) != codes.Unauthenticated {
		t.Errorf("another key: got %v, want Unauthenticated", err)
	}
}

func TestMutualTLS(t *testing.T) {
	certs := testenv.MutualTLS(t, "user", "gateway")
	addr := serve(t, mustLoad(t, "user", certs["user"].Env()))

	got, err := who(t, addr, mustLoad(t, "gateway", certs["gateway"].Env()))
	if err != nil || got != "gateway" {
		t.Errorf("with the gateway's certificate: got %q, %v; want caller \"gateway\" (its Common Name)", got, err)
	}
	// A plaintext client, even with a valid service key, never gets past
	// the TLS handshake.
	keyed, err := servicetrust.FromKeyFile("gateway", testenv.ServiceKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := who(t, addr, keyed); status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext client: got %v, want Unavailable (refused)", err)
	}
	// A certificate of another CA is refused by the server; the client
	// trusts the server's CA, so only client authentication can fail.
	rogue := testenv.MutualTLS(t, "gateway")["gateway"]
	rogue.CA = certs["gateway"].CA
	if _, err := who(t, addr, mustLoad(t, "gateway", rogue.Env())); status.Code(err) != codes.Unavailable {
		t.Errorf("certificate of another CA: got %v, want Unavailable (refused)", err)
	}
}

func TestLoadErrors(t *testing.T) {
	certs := testenv.MutualTLS(t, "user")["user"]
	short := filepath.Join(t.TempDir(), "short.key")
	if err := os.WriteFile(short, []byte("too-short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, env := range map[string]map[string]string{
		"nothing":      {},
		"missing file": {"SERVICE_KEY_FILE": filepath.Join(t.TempDir(), "none")},
		"short key":    {"SERVICE_KEY_FILE": short},
		"partial TLS":  {"SERVICE_KEY_FILE": testenv.ServiceKey(t), "GRPC_TLS_CERT_FILE": certs.Cert, "GRPC_TLS_KEY_FILE": certs.Key},
		"bad CA":       {"GRPC_TLS_CERT_FILE": certs.Cert, "GRPC_TLS_KEY_FILE": certs.Key, "GRPC_TLS_CA_FILE": short},
	} {
		if _, err := load(t, "user", env); err == nil {
			t.Errorf("%s: Load succeeded, want an error", name)
		}
	}
	if c := mustLoad(t, "user", certs.Env()); !c.Mutual() {
		t.Error("all three TLS files: want mutual TLS")
	}
}
