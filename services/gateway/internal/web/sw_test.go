package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestServiceWorker: /sw.js is served at the root (scope /) as JavaScript,
// revalidated on every update check, and the push landing route exists.
func TestServiceWorker(t *testing.T) {
	h, err := Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/sw.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
		res.Header.Get("Cache-Control") != "no-cache" || res.Header.Get("ETag") == "" ||
		!strings.Contains(string(body), "showNotification") || res.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("GET /sw.js: %d %v", res.StatusCode, res.Header)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/sw.js", nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidating /sw.js: %d, want 304", res.StatusCode)
	}
	for path, want := range map[string]int{"/rooms/12": 200, "/rooms/12/": 200, "/rooms/x/": 404, "/sw.js/x": 404} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
}
