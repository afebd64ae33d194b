// Package grpcclient dials the other Cobra Space services: client-side
// round-robin over every address DNS returns (a headless Kubernetes Service
// lists every pod, so long-lived HTTP/2 connections spread over them),
// keepalives, bounded message sizes, a default deadline on every call and
// OpenTelemetry client spans when tracing is set up (platform/tracing,
// before Dial).
package grpcclient

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/tracing"
)

// DefaultTimeout applies to calls whose context has no deadline.
const DefaultTimeout = 5 * time.Second

const maxMessageSize = 8 << 20

// Dial returns a client connection to addr ("host:port", or several
// comma-separated, balanced round robin as DNS's addresses are) whose calls
// carry the service identity of trust (TLS or the service key; the zero
// Config sends none). It connects lazily, so a service that starts before
// its dependency still starts.
func Dial(addr string, trust servicetrust.Config) (*grpc.ClientConn, error) {
	if strings.Contains(addr, ",") {
		r := manual.NewBuilderWithScheme("cobralist")
		var addrs []resolver.Address
		for _, a := range strings.Split(addr, ",") {
			addrs = append(addrs, resolver.Address{Addr: strings.TrimSpace(a)})
		}
		r.InitialState(resolver.State{Addresses: addrs})
		return dial(r.Scheme()+":///list", addr, trust, grpc.WithResolvers(r))
	}
	target := addr
	if !strings.Contains(target, "://") {
		target = "dns:///" + addr
	}
	return dial(target, addr, trust)
}

// DialPod is Dial for one resolved address ("ip:port") of a service that
// was found under the host name authority: TLS checks the certificate
// against authority, as it would through the name.
func DialPod(addr, authority string, trust servicetrust.Config) (*grpc.ClientConn, error) {
	return dial("passthrough:///"+addr, addr, trust, grpc.WithAuthority(authority))
}

func dial(target, addr string, trust servicetrust.Config, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	var opts []grpc.DialOption
	if tracing.Installed() {
		// Client spans carry the trace context to the callee.
		opts = append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	}
	opts = append(append(opts, trust.DialOptions()...),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize)),
		grpc.WithChainUnaryInterceptor(defaultDeadline),
	)
	conn, err := grpc.NewClient(target, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("grpc client for %s: %w", addr, err)
	}
	return conn, nil
}

func defaultDeadline(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}
