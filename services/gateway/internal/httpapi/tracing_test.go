package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestSpanNamedByRoute: behind otelhttp (main wraps the API with it when
// tracing is on) the request's span is named by method and route pattern,
// not by the path with its ids.
func TestSpanNamedByRoute(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	s := newTestServer(t, nil)
	mux := http.NewServeMux()
	s.route(mux, "GET /api/test/item/{id}/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, 200, map[string]string{"id": r.PathValue("id")})
	}))
	h := otelhttp.NewHandler(s.withRequestLog(mux), "gateway", otelhttp.WithTracerProvider(tp))

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/test/item/42/", nil))
	if w.Code != 200 {
		t.Fatalf("got status %d, want 200", w.Code)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	if got, want := spans[0].Name, "GET /api/test/item/{id}/"; got != want {
		t.Errorf("span name %q, want %q", got, want)
	}
	found := false
	for _, a := range spans[0].Attributes {
		if a == attribute.String("http.route", "/api/test/item/{id}/") {
			found = true
		}
	}
	if !found {
		t.Errorf("span attributes %v, want http.route=/api/test/item/{id}/", spans[0].Attributes)
	}
}
