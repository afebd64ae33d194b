package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
)

// newTestServer returns a Server without service clients: enough for
// routing, middleware and the answers the gateway gives by itself.
func newTestServer(t *testing.T, web http.Handler) *Server {
	t.Helper()
	s, err := NewServer(Config{
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Auth:    auth.New(nil, nil, slog.New(slog.NewJSONHandler(io.Discard, nil))),
		Origins: auth.NewOrigins(nil, false),
		Web:     web,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFallbackAndMethods(t *testing.T) {
	web := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "web client") })
	s := newTestServer(t, web)
	cases := []struct {
		method, path string
		wantStatus   int
		wantBody     string
	}{
		{"GET", "/api/nope/", 404, `{"detail":"Not found."}`},
		{"GET", "/api", 404, `{"detail":"Not found."}`},
		{"GET", "/ws/chat/abc/chat/", 404, `{"detail":"Not found."}`}, // no socket handler configured
		{"GET", "/api/user/login/", 405, `{"detail":"Method \"GET\" not allowed."}`},
		{"DELETE", "/api/user/profile", 405, `{"detail":"Method \"DELETE\" not allowed."}`},
		{"GET", "/", 200, `web client`},
		{"GET", "/posts/12", 200, `web client`},
	}
	for _, tc := range cases {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.wantStatus || strings.TrimSpace(w.Body.String()) != tc.wantBody {
			t.Errorf("%s %s: got %d %s, want %d %s", tc.method, tc.path, w.Code, strings.TrimSpace(w.Body.String()), tc.wantStatus, tc.wantBody)
		}
		if w.Header().Get("X-Request-Id") == "" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: missing request id or nosniff: %v", tc.method, tc.path, w.Header())
		}
	}
	// Without a web client everything unknown is a JSON 404.
	w := httptest.NewRecorder()
	newTestServer(t, nil).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 404 || !strings.Contains(w.Body.String(), `"detail"`) {
		t.Errorf("GET / without web: got %d %s", w.Code, w.Body)
	}
}

func TestRouteMiddleware(t *testing.T) {
	s := newTestServer(t, nil)
	mux := http.NewServeMux()
	s.route(mux, "POST /api/test/echo/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v struct {
			A string `json:"a"`
		}
		if err := decode(r, &v); err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		encode(w, 200, v)
	}))
	s.route(mux, "GET /api/test/panic/", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	h := s.withRequestLog(s.withRecover(s.withSecurityHeaders(mux)))

	cases := []struct {
		method, path, body string
		wantStatus         int
		wantBody           string
	}{
		{"POST", "/api/test/echo/", `{"a":"<b>"}`, 200, `{"a":"<b>"}`},
		{"POST", "/api/test/echo", `{"a":"x"}`, 200, `{"a":"x"}`},
		{"POST", "/api/test/echo/", `{"a":"` + strings.Repeat("x", maxBodyBytes) + `"}`, 413, `{"detail":"Request body is too large."}`},
		{"GET", "/api/test/panic/", ``, 500, `{"detail":"A server error occurred."}`},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.wantStatus || strings.TrimSpace(w.Body.String()) != tc.wantBody {
			t.Errorf("%s %s: got %d %.80s, want %d %s", tc.method, tc.path, w.Code, strings.TrimSpace(w.Body.String()), tc.wantStatus, tc.wantBody)
		}
	}
	// A chunked body over the limit (no Content-Length) is caught while reading.
	r := httptest.NewRequest("POST", "/api/test/echo/", io.MultiReader(strings.NewReader(`{"a":"`), strings.NewReader(strings.Repeat("x", 2<<20)), strings.NewReader(`"}`)))
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 413 {
		t.Errorf("chunked oversized body: got %d, want 413", w.Code)
	}
	// A client request id is kept when sane, replaced when not.
	r = httptest.NewRequest("GET", "/api/test/panic/", nil)
	r.Header.Set("X-Request-Id", "abc-123")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got := w.Header().Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("request id: got %q, want abc-123", got)
	}
	r.Header.Set("X-Request-Id", "bad id\n<script>")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got := w.Header().Get("X-Request-Id"); got == "" || strings.Contains(got, "<") {
		t.Errorf("request id from a bad header: got %q", got)
	}
}
