package httpapi

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

type ctxKey struct{}

// reqInfo is what the middleware knows about a request: its id, and what
// the route and the authentication fill in while it is handled (read by
// the access log when it ends). One context value per request keeps the
// per-request cost low; a WebSocket keeps its request for its lifetime.
type reqInfo struct {
	id     string
	route  string
	userID int64
}

// requestID returns the request id of ctx ("" outside a request).
func requestID(ctx context.Context) string {
	return infoOf(ctx).id
}

func infoOf(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(ctxKey{}).(*reqInfo)
	if ri == nil {
		return &reqInfo{} // a throwaway, outside the middleware (tests)
	}
	return ri
}

// newRequestID returns the client's X-Request-Id when it is short and
// printable (so a trace can span a proxy), else a new random id.
func newRequestID(r *http.Request) string {
	id := r.Header.Get("X-Request-Id")
	if validRequestID(id) {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if c != '-' && c != '_' && c != '.' && (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// statusRecorder remembers the status and size of a response. It unwraps
// (http.ResponseController) and hijacks (the WebSocket upgrade).
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (sr *statusRecorder) WriteHeader(code int) {
	if sr.status == 0 {
		sr.status = code
	}
	sr.ResponseWriter.WriteHeader(code)
}

func (sr *statusRecorder) Write(b []byte) (int, error) {
	if sr.status == 0 {
		sr.status = http.StatusOK
	}
	n, err := sr.ResponseWriter.Write(b)
	sr.bytes += int64(n)
	return n, err
}

func (sr *statusRecorder) Unwrap() http.ResponseWriter { return sr.ResponseWriter }

func (sr *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(sr.ResponseWriter).Hijack()
	if err == nil && sr.status == 0 {
		sr.status = http.StatusSwitchingProtocols
	}
	return c, brw, err
}

func (sr *statusRecorder) Flush() {
	_ = http.NewResponseController(sr.ResponseWriter).Flush()
}

// withRequestLog gives every request an id (echoed in X-Request-Id),
// then logs one line per request (request id, method, route, status,
// duration, user id) and records the HTTP metrics. A WebSocket is logged
// when it closes (its handler runs for the socket's lifetime).
func (s *Server) withRequestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: newRequestID(r)}
		w.Header().Set("X-Request-Id", ri.id)
		sr := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(sr, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri)))
		d := time.Since(start)
		status := sr.status
		if status == 0 {
			status = http.StatusOK
		}
		route := ri.route
		if route == "" {
			route = "other"
		}
		s.metrics.observe(r.Method, route, status, d)
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		if !s.log.Enabled(r.Context(), level) {
			return // not even the attributes are built (LOG_LEVEL=warn)
		}
		attrs := []slog.Attr{
			slog.String("request_id", ri.id),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.Int64("bytes", sr.bytes),
		}
		if ri.userID != 0 {
			attrs = append(attrs, slog.Int64("user_id", ri.userID))
		}
		s.log.LogAttrs(r.Context(), level, "http request", attrs...)
	})
}

// withRecover turns a handler panic into a logged 500 (unless the
// response had started, or the handler aborted on purpose).
func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "handler panic", "request_id", requestID(r.Context()),
				"panic", v, "stack", string(debug.Stack()))
			errorJSON(w, http.StatusInternalServerError, msgServerError)
		}()
		next.ServeHTTP(w, r)
	})
}

// withSecurityHeaders sets the headers every response carries. API
// answers are never cached by shared caches and cannot be framed or run
// as a document; the web client and media set their own policies.
func (s *Server) withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		}
		next.ServeHTTP(w, r)
	})
}

// routeOptions tune one route.
type routeOptions struct {
	bodyLimit int64
}

// routeOption changes how a route is served (see withBodyLimit).
type routeOption func(*routeOptions)

// withBodyLimit raises or lowers the route's body limit (default 1 MiB).
func withBodyLimit(n int64) routeOption {
	return func(o *routeOptions) { o.bodyLimit = n }
}

// route registers h for pattern ("METHOD /path/", the path ending in "/")
// both with and without the trailing slash, limits the request body,
// refuses a path or query holding text safetext refuses (400, text.go) and
// labels the request for the access log and metrics.
func (s *Server) route(mux *http.ServeMux, pattern string, h http.Handler, opts ...routeOption) {
	o := routeOptions{bodyLimit: maxBodyBytes}
	for _, opt := range opts {
		opt(&o)
	}
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || !strings.HasPrefix(path, "/") {
		method, path = "", pattern
	}
	label := path
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		infoOf(r.Context()).route = label
		// Name the gateway's HTTP span (otelhttp, when tracing is on) by
		// route rather than by path, which would be one name per id.
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			span.SetName(r.Method + " " + label)
			span.SetAttributes(attribute.String("http.route", label))
		}
		if r.ContentLength > o.bodyLimit {
			errorJSON(w, http.StatusRequestEntityTooLarge, msgTooLarge)
			return
		}
		if err := checkURL(r.URL); err != nil {
			writeRequestError(w, err)
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, o.bodyLimit)
		}
		h.ServeHTTP(w, r)
	})
	prefix := ""
	if method != "" {
		prefix = method + " "
	}
	if strings.HasSuffix(path, "...}") { // a wildcard matches the rest
		mux.Handle(prefix+path, wrapped)
		return
	}
	trimmed := strings.TrimSuffix(path, "/")
	if trimmed == "" { // "/" itself
		mux.Handle(prefix+"/{$}", wrapped)
		return
	}
	mux.Handle(prefix+trimmed+"/{$}", wrapped)
	mux.Handle(prefix+trimmed, wrapped)
}

// pathID returns the positive integer path value name; ok is false for
// anything else (the caller answers 404: a non-numeric id names nothing).
func pathID(r *http.Request, name string) (int64, bool) {
	v := r.PathValue(name)
	if v == "" || len(v) > 19 || v[0] == '+' || v[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n > 0
}

// httpMetrics are the gateway's HTTP request series.
type httpMetrics struct {
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_http_request_duration_seconds",
			Help:    "Duration of public HTTP requests by method, route and status.",
			Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route", "status"}),
	}
	if reg != nil {
		if err := reg.Register(m.duration); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *httpMetrics) observe(method, route string, status int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other" // bounded label values
	}
	m.duration.WithLabelValues(method, route, strconv.Itoa(status)).Observe(d.Seconds())
}
