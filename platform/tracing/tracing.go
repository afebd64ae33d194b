// Package tracing sets up OpenTelemetry tracing for a Cobra Space process
// from the standard OTEL_* environment variables, and carries the trace
// context through NATS message headers.
//
// Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT is set: the global
// TracerProvider and propagator then stay OpenTelemetry's no-ops, so the
// gRPC and HTTP instrumentation records nothing and NATS messages carry no
// extra headers.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// DefaultSampleRatio is the share of new traces kept when
// OTEL_TRACES_SAMPLER_ARG is unset: a busy room sends thousands of
// messages a second, so keeping every trace would cost more than it tells.
const DefaultSampleRatio = 0.1

// Enabled reports whether Setup would export traces with this environment.
func Enabled(getenv func(string) string) bool {
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" && !strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true")
}

// Installed reports whether an SDK TracerProvider is the global one (Setup
// with an endpoint, or a test). grpcserver and grpcclient add their
// OpenTelemetry handlers only then: even recording nothing, they cost about
// 70 allocations and tens of microseconds per call (BenchmarkUnary*), so
// with tracing off a call costs what it did before tracing existed. Call
// Setup before building servers and clients.
func Installed() bool {
	_, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider)
	return ok
}

// Setup installs the global TracerProvider (batching spans to the OTLP/gRPC
// collector at OTEL_EXPORTER_OTLP_ENDPOINT) and the W3C TraceContext
// propagator, naming the process serviceName unless OTEL_SERVICE_NAME
// says otherwise. Sampling is parent-based, new traces kept with the ratio
// OTEL_TRACES_SAMPLER_ARG [DefaultSampleRatio]; OTEL_TRACES_SAMPLER may be
// always_on, always_off, traceidratio or parentbased_* of those.
// Without an endpoint it changes nothing and returns a no-op shutdown.
// Call shutdown at exit to flush the spans still buffered.
func Setup(ctx context.Context, serviceName string, getenv func(string) string) (shutdown func(context.Context) error, err error) {
	noop := func(context.Context) error { return nil }
	if !Enabled(getenv) {
		return noop, nil
	}
	sampler, err := newSampler(getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG"))
	if err != nil {
		return noop, err
	}
	endpoint := getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	var opts []otlptracegrpc.Option
	if strings.Contains(endpoint, "://") {
		// http:// means plaintext, https:// TLS (the OTLP convention).
		opts = append(opts, otlptracegrpc.WithEndpointURL(endpoint))
	} else {
		// A bare host:port is an in-cluster collector: plaintext.
		opts = append(opts, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
	}
	// The exporter connects lazily and retries in the background, so a
	// collector that is down never stops the service.
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return noop, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	if name := getenv("OTEL_SERVICE_NAME"); name != "" {
		serviceName = name
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sampler),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", serviceName))),
	)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp.Shutdown, nil
}

// Stop runs Setup's shutdown at process exit, to be deferred: it flushes
// the spans still batched within 5 s, even though ctx (the process's) has
// usually ended by then, and logs a failure rather than failing the exit.
func Stop(ctx context.Context, shutdown func(context.Context) error, logger *slog.Logger) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := shutdown(sctx); err != nil {
		logger.Warn("flushing traces at exit", "err", err)
	}
}

// newSampler follows the OTEL_TRACES_SAMPLER values of the OpenTelemetry
// specification, except that the default is
// parentbased_traceidratio with DefaultSampleRatio.
func newSampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := DefaultSampleRatio
	if arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: %q is not a ratio between 0 and 1", arg)
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER: unsupported sampler %q", name)
}

// HeaderCarrier adapts message headers (nats.Header, whose underlying type
// this is) to the propagators. Unlike http.Header it keeps keys as written
// ("traceparent", as W3C spells it).
type HeaderCarrier map[string][]string

// Get returns the first value of key.
func (h HeaderCarrier) Get(key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces the values of key.
func (h HeaderCarrier) Set(key, value string) { h[key] = []string{value} }

// Keys lists the keys present.
func (h HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// TraceparentHeader is the W3C header that carries the trace context; a
// message without it has no trace to continue.
const TraceparentHeader = "traceparent"

// Inject writes ctx's trace context into headers (which must not be nil).
// It does nothing, and allocates nothing, when ctx carries no sampled span:
// always while tracing is disabled, and for the traces the sampler drops
// (a receiver without the header records nothing, as it would for an
// unsampled parent).
func Inject(ctx context.Context, headers map[string][]string) {
	if !trace.SpanContextFromContext(ctx).IsSampled() {
		return
	}
	otel.GetTextMapPropagator().Inject(ctx, HeaderCarrier(headers))
}

// Extract returns ctx with the remote span context found in headers, or
// ctx itself when they carry none.
func Extract(ctx context.Context, headers map[string][]string) context.Context {
	if len(headers[TraceparentHeader]) == 0 {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, HeaderCarrier(headers))
}

// Traceparent is ctx's trace context as one W3C traceparent value, for a
// message that carries it in a field of its own rather than in headers
// (a SendMessages entry, a RoomMessages entry); "" unless ctx carries a
// sampled span.
func Traceparent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsSampled() {
		return ""
	}
	h := map[string][]string{}
	Inject(ctx, h)
	return HeaderCarrier(h).Get(TraceparentHeader)
}

// WithTraceparent returns ctx with the remote span context of a
// traceparent value (Traceparent's), or ctx itself for "".
func WithTraceparent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return Extract(ctx, map[string][]string{TraceparentHeader: {traceparent}})
}
