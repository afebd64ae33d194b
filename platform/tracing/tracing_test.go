package tracing_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/adminhttp"
	"github.com/cobraspace/cobraspace/platform/grpcclient"
	"github.com/cobraspace/cobraspace/platform/grpcserver"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/platform/tracing"
)

// The tests below install a global TracerProvider, as Setup does in the
// services, so they do not run in parallel.

func recordSpans(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})
	return exp
}

// TestGRPCSpansLinked: a call through grpcclient.Dial to a grpcserver.New
// server yields a client span and a server span in the caller's trace,
// the server span a child of the client span.
func TestGRPCSpansLinked(t *testing.T) {
	exp := recordSpans(t)
	_, pubPath := testenv.KeyPair(t)
	pub, err := accesstoken.LoadPublicKeyFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpcserver.New(grpcserver.Config{
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:          adminhttp.NewRegistry(),
		Verifier:         accesstoken.NewVerifier(pub),
		AnonymousMethods: []string{"/cobra.test.v1.Test/Ping"},
	})
	srv.RegisterService(&pingService, struct{}{})
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

	conn, err := grpcclient.Dial(lis.Addr().String(), servicetrust.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	parentCtx, parent := otel.Tracer("test").Start(context.Background(), "parent")
	err = conn.Invoke(parentCtx, "/cobra.test.v1.Test/Ping", &emptypb.Empty{}, &emptypb.Empty{})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}

	var client, server *tracetest.SpanStub
	deadline := time.Now().Add(5 * time.Second)
	for (client == nil || server == nil) && time.Now().Before(deadline) {
		spans := exp.GetSpans()
		for i := range spans {
			switch spans[i].SpanKind {
			case trace.SpanKindClient:
				client = &spans[i]
			case trace.SpanKindServer:
				server = &spans[i]
			}
		}
		if client == nil || server == nil {
			time.Sleep(10 * time.Millisecond) // the server span ends after the reply is sent
		}
	}
	if client == nil || server == nil {
		t.Fatalf("got spans %v, want a client and a server span", names(exp.GetSpans()))
	}
	traceID := parent.SpanContext().TraceID()
	if got := client.SpanContext.TraceID(); got != traceID {
		t.Errorf("client span trace id %s, want the caller's %s", got, traceID)
	}
	if got := server.SpanContext.TraceID(); got != traceID {
		t.Errorf("server span trace id %s, want the caller's %s", got, traceID)
	}
	if got, want := server.Parent.SpanID(), client.SpanContext.SpanID(); got != want {
		t.Errorf("server span parent %s, want the client span %s", got, want)
	}
	if !server.Parent.IsRemote() {
		t.Error("server span's parent is not remote: the context did not cross the wire")
	}
}

// pingService is a one-method gRPC service (the health service is not
// traced: probes would only add noise).
var pingService = grpc.ServiceDesc{
	ServiceName: "cobra.test.v1.Test",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Ping",
		Handler: func(_ any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(emptypb.Empty)
			if err := dec(in); err != nil {
				return nil, err
			}
			ping := func(context.Context, any) (any, error) { return new(emptypb.Empty), nil }
			info := &grpc.UnaryServerInfo{FullMethod: "/cobra.test.v1.Test/Ping"}
			if interceptor == nil {
				return ping(ctx, in)
			}
			return interceptor(ctx, in, info, ping)
		},
	}},
}

func names(spans tracetest.SpanStubs) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.SpanKind.String() + " " + s.Name
	}
	return out
}

// TestNATSHeadersRoundTrip: the trace context injected into a NATS
// message's headers by the publisher comes out of a real NATS server and
// is extracted as the subscriber's remote parent.
func TestNATSHeadersRoundTrip(t *testing.T) {
	recordSpans(t)
	nc, err := nats.Connect(testenv.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subject := testenv.Prefix(t) + "tracing.test"
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}

	ctx, span := otel.Tracer("test").Start(context.Background(), "publish")
	defer span.End()
	msg := &nats.Msg{Subject: subject, Header: nats.Header{"Cobra-Event": []string{"message"}}, Data: []byte("{}")}
	tracing.Inject(ctx, msg.Header)
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	got, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Header.Get(tracing.TraceparentHeader) == "" {
		t.Fatalf("received headers %v, want a %s header", got.Header, tracing.TraceparentHeader)
	}
	remote := trace.SpanContextFromContext(tracing.Extract(context.Background(), got.Header))
	if !remote.IsValid() || !remote.IsRemote() {
		t.Fatalf("extracted span context %+v, want a valid remote one", remote)
	}
	if remote.TraceID() != span.SpanContext().TraceID() || remote.SpanID() != span.SpanContext().SpanID() {
		t.Errorf("extracted trace %s span %s, want %s %s", remote.TraceID(), remote.SpanID(),
			span.SpanContext().TraceID(), span.SpanContext().SpanID())
	}
}

// TestTraceparentRoundTrip: a sampled span survives as one traceparent
// value (a protobuf field); none gives "" and "" gives no span.
func TestTraceparentRoundTrip(t *testing.T) {
	recordSpans(t)
	ctx, span := otel.Tracer("test").Start(context.Background(), "send")
	defer span.End()
	tp := tracing.Traceparent(ctx)
	remote := trace.SpanContextFromContext(tracing.WithTraceparent(context.Background(), tp))
	if remote.TraceID() != span.SpanContext().TraceID() || remote.SpanID() != span.SpanContext().SpanID() || !remote.IsSampled() {
		t.Errorf("traceparent %q came back as %+v, want the span's context", tp, remote)
	}
	if got := tracing.Traceparent(context.Background()); got != "" {
		t.Errorf("no span: traceparent %q, want empty", got)
	}
	if trace.SpanContextFromContext(tracing.WithTraceparent(context.Background(), "")).IsValid() {
		t.Error("an empty traceparent gave a span context")
	}
}

// TestInjectWithoutSpan: with no span in the context (tracing disabled)
// nothing is written and nothing allocated, so publishing costs the same
// as before tracing existed; an unsampled span writes nothing either.
func TestInjectWithoutSpan(t *testing.T) {
	recordSpans(t)
	h := nats.Header{"Cobra-Event": []string{"message"}}
	allocs := testing.AllocsPerRun(100, func() { tracing.Inject(context.Background(), h) })
	if allocs != 0 {
		t.Errorf("Inject without a span: %v allocations, want 0", allocs)
	}
	unsampled := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}}))
	tracing.Inject(unsampled, h)
	if len(h) != 1 {
		t.Errorf("headers %v, want only Cobra-Event", h)
	}
	if ctx := tracing.Extract(context.Background(), h); trace.SpanContextFromContext(ctx).IsValid() {
		t.Error("Extract found a span context in headers without traceparent")
	}
}

// TestSetupDisabled: without OTEL_EXPORTER_OTLP_ENDPOINT Setup leaves the
// global provider alone; bad sampler settings fail at start.
func TestSetupDisabled(t *testing.T) {
	before := otel.GetTracerProvider()
	shutdown, err := tracing.Setup(context.Background(), "test", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Errorf("no-op shutdown: %v", err)
	}
	if otel.GetTracerProvider() != before || tracing.Installed() {
		t.Error("Setup without an endpoint installed a TracerProvider")
	}

	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_TRACES_SAMPLER_ARG": "2"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_TRACES_SAMPLER": "jaeger_remote"},
	} {
		if _, err := tracing.Setup(context.Background(), "test", func(k string) string { return env[k] }); err == nil {
			t.Errorf("Setup(%v): got nil error, want a configuration error", env)
		}
	}
}

// TestSetupExportsToCollector: with an endpoint Setup installs a sampling
// provider and the W3C propagator, and shutdown flushes the spans to the
// OTLP/gRPC collector named by OTEL_EXPORTER_OTLP_ENDPOINT, under the
// OTEL_SERVICE_NAME resource.
func TestSetupExportsToCollector(t *testing.T) {
	recordSpans(t) // restores the globals afterwards
	col := &fakeCollector{got: make(chan *collectortrace.ExportTraceServiceRequest, 4)}
	gs := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(gs, col)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()

	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + lis.Addr().String(),
		"OTEL_TRACES_SAMPLER":         "always_on",
		"OTEL_SERVICE_NAME":           "renamed",
	}
	shutdown, err := tracing.Setup(context.Background(), "test", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got := otel.GetTextMapPropagator().Fields(); len(got) == 0 || got[0] != "traceparent" {
		t.Errorf("propagator fields %v, want traceparent", got)
	}
	if !tracing.Installed() {
		t.Error("Installed() = false after Setup with an endpoint")
	}
	_, span := otel.Tracer("test").Start(context.Background(), "exported")
	if !span.SpanContext().IsSampled() {
		t.Error("always_on: span not sampled")
	}
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		t.Fatalf("shutdown (flush to the collector): %v", err)
	}
	select {
	case req := <-col.got:
		rs := req.GetResourceSpans()
		if len(rs) != 1 || len(rs[0].GetScopeSpans()) != 1 || len(rs[0].GetScopeSpans()[0].GetSpans()) != 1 {
			t.Fatalf("exported %v, want one span", req)
		}
		if name := rs[0].GetScopeSpans()[0].GetSpans()[0].GetName(); name != "exported" {
			t.Errorf("span name %q, want exported", name)
		}
		service := ""
		for _, a := range rs[0].GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		if service != "renamed" {
			t.Errorf("service.name %q, want OTEL_SERVICE_NAME's renamed", service)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the collector received nothing")
	}
}

// fakeCollector is an OTLP/gRPC trace collector that hands over what it
// receives.
type fakeCollector struct {
	collectortrace.UnimplementedTraceServiceServer
	got chan *collectortrace.ExportTraceServiceRequest
}

func (c *fakeCollector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	c.got <- req
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// TestStopFlushesAfterTheProcessContextEnded: the deferred Stop gives
// shutdown a live context with a deadline although the process's own
// context is done, and logs (not returns) its failure.
func TestStopFlushesAfterTheProcessContextEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var logged strings.Builder
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	tracing.Stop(ctx, func(sctx context.Context) error {
		if sctx.Err() != nil {
			t.Errorf("shutdown got a done context: %v", sctx.Err())
		}
		if _, ok := sctx.Deadline(); !ok {
			t.Error("shutdown got no deadline")
		}
		return errors.New("collector unreachable")
	}, logger)
	if !strings.Contains(logged.String(), "collector unreachable") {
		t.Errorf("log %q does not name the failure", logged.String())
	}
}
