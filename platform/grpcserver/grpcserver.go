// Package grpcserver builds the gRPC server every Cobra Space service runs:
// standard health checking and reflection, and one interceptor for panics,
// Prometheus metrics and logging (observe.go) before the calling service's
// identity (platform/servicetrust, with TLS credentials under mutual TLS),
// access-token verification (platform/grpcauth) and the session revocation
// check, and OpenTelemetry server spans when tracing is set up (platform/tracing,
// before New).
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/adminhttp"
	"github.com/cobraspace/cobraspace/platform/grpcauth"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/tracing"
)

// MaxMessageSize bounds every request and response (profile pictures are
// the largest payload, 5 MiB).
const MaxMessageSize = 8 << 20

// Config is what New needs.
type Config struct {
	Logger   *slog.Logger
	Metrics  prometheus.Registerer
	Verifier *accesstoken.Verifier
	// AnonymousMethods are full method names callable without a token.
	AnonymousMethods []string
	// Revoked reports whether a verified token's session was revoked
	// (revocation.Checker.Revoked); such calls answer UNAUTHENTICATED.
	// nil: no revocation check.
	Revoked func(ctx context.Context, sessionID string) bool
	// Trust identifies calling services (servicetrust.Load); under mutual
	// TLS it also sets the server's TLS credentials.
	Trust servicetrust.Config
}

// Server is a gRPC server with its health service.
type Server struct {
	*grpc.Server
	Health *health.Server
	logger *slog.Logger
}

// New returns a Server; register service implementations on it, then Serve.
func New(cfg Config) *Server {
	obs := &observer{logger: cfg.Logger, metrics: newServerMetrics(cfg.Metrics)}
	var traced []grpc.ServerOption
	if tracing.Installed() {
		// Server spans continue the caller's trace. Health probes arrive
		// every few seconds and would only add noise.
		traced = append(traced, grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithFilter(filters.Not(filters.HealthCheck())))))
	}
	interceptors := []grpc.UnaryServerInterceptor{
		obs.unary,                          // panics, metrics, logging (observe.go)
		cfg.Trust.UnaryServerInterceptor(), // which service calls, if any
		// Health checks need no credentials: Kubernetes' gRPC probes
		// send none, and the answer reveals only SERVING or not.
		grpcauth.UnaryServerInterceptor(cfg.Verifier, append(slices.Clone(cfg.AnonymousMethods), healthpb.Health_Check_FullMethodName)),
	}
	if cfg.Revoked != nil {
		interceptors = append(interceptors, grpcauth.RejectRevoked(cfg.Revoked))
	}
	srv := grpc.NewServer(append(append(traced, cfg.Trust.ServerOptions()...),
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		// MaxConnectionAge makes every client reconnect (GOAWAY, then a DNS
		// re-resolve) every few minutes, so pods added by a scale-up behind a
		// headless Service get traffic from existing callers too; the grace
		// lets in-flight unary calls finish.
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time: 30 * time.Second, Timeout: 10 * time.Second,
			MaxConnectionAge: 5 * time.Minute, MaxConnectionAgeGrace: 30 * time.Second,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(interceptors...),
	)...)
	h := health.NewServer()
	healthpb.RegisterHealthServer(srv, h)
	reflection.Register(srv)
	return &Server{Server: srv, Health: h, logger: cfg.Logger}
}

// Serve marks every registered service SERVING and serves lis until ctx
// ends; then it reports NOT_SERVING, waits drainDelay for load balancers to
// notice, and stops gracefully (forcibly after 10 s).
func (s *Server) Serve(ctx context.Context, lis net.Listener, drainDelay time.Duration) error {
	s.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for name := range s.GetServiceInfo() {
		s.Health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Server.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Health.Shutdown()
	time.Sleep(drainDelay)
	done := make(chan struct{})
	go func() { s.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.logger.Warn("graceful stop timed out; stopping")
		s.Stop()
	}
	return nil
}

// Addrs is where a service listens.
type Addrs struct {
	GRPC  string // gRPC API, e.g. "127.0.0.1:9001", ":9001" (every interface) or "127.0.0.1:0"
	Admin string // /metrics, /healthz, /readyz
}

// ListenAndServe listens on addrs, writes the line
// {"msg":"listening","grpc":ADDR,"admin":ADDR} to stdout whatever the log
// level (test harnesses and scripts find the ports in it), and serves gRPC
// and the admin endpoints of reg until ctx ends. /readyz answers ready
// while ready returns nil and fails as soon as ctx ends, so load balancers
// stop sending before Serve drains in-flight calls (after drainDelay).
func (s *Server) ListenAndServe(ctx context.Context, addrs Addrs, drainDelay time.Duration,
	reg *prometheus.Registry, ready func(context.Context) error, stdout io.Writer) error {
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", addrs.GRPC)
	if err != nil {
		return fmt.Errorf("GRPC_ADDR: %w", err)
	}
	alis, err := lc.Listen(ctx, "tcp", addrs.Admin)
	if err != nil {
		lis.Close()
		return fmt.Errorf("ADMIN_ADDR: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readiness := func() error {
		if ctx.Err() != nil {
			return errors.New("shutting down")
		}
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		defer rcancel()
		return ready(rctx)
	}
	slog.New(slog.NewJSONHandler(stdout, nil)).Info("listening", "grpc", lis.Addr().String(), "admin", alis.Addr().String())

	adminDone := make(chan error, 1)
	go func() { adminDone <- adminhttp.Serve(ctx, alis, adminhttp.Handler(reg, readiness)) }()
	err = s.Serve(ctx, lis, drainDelay)
	cancel() // a failed gRPC server stops the admin server too
	if aerr := <-adminDone; err == nil {
		err = aerr
	}
	return err
}
