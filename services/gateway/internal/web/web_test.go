package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h, err := Handler()
	if err != nil {
		t.Fatalf("Handler: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	get := func(t *testing.T, path string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	// Written out, not web.ContentSecurityPolicy, so a change to the policy
	// is a change to this test. connect-src is 'self' alone: the page's
	// socket goes to its own origin (CSP 3 'self' matches ws: and wss: of
	// it), never to another host.
	const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
		"img-src 'self' data:; connect-src 'self'; object-src 'none'; " +
		"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
	t.Run("client routes serve index.html with CSP", func(t *testing.T) {
		for _, path := range []string{"/", "/login", "/signup/", "/posts/12", "/posts/12/edit", "/write", "/profile", "/profile/edit", "/friends", "/users/3", "/rooms", "/rooms/5", "/dm/5", "/dm/5/", "/reports"} {
			res, body := get(t, path, nil)
			if res.StatusCode != http.StatusOK {
				t.Errorf("GET %s: got status %d, want 200", path, res.StatusCode)
			}
			if got := res.Header.Get("Content-Security-Policy"); got != wantCSP {
				t.Errorf("GET %s: got CSP %q, want %q", path, got, wantCSP)
			}
			if !strings.Contains(body, `<main id="main"`) {
				t.Errorf("GET %s: body is not index.html", path)
			}
			if strings.Contains(body, "{{STATIC}}") {
				t.Errorf("GET %s: asset prefix not filled in", path)
			}
		}
	})

	t.Run("unknown paths are 404 but still the app", func(t *testing.T) {
		res, body := get(t, "/nope/deeper", nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("got status %d, want 404", res.StatusCode)
		}
		for _, path := range []string{"/dm/", "/dm/x", "/reports/1"} {
			if res, _ := get(t, path, nil); res.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: status %d, want 404", path, res.StatusCode)
			}
		}
		if !strings.Contains(body, `<main id="main"`) {
			t.Errorf("404 body is not the app")
		}
	})

	t.Run("no inline script or style in index.html", func(t *testing.T) {
		_, body := get(t, "/", nil)
		if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(body) {
			t.Errorf("index.html has an inline script")
		}
		if strings.Contains(body, "style=") || strings.Contains(body, "<style") {
			t.Errorf("index.html has inline style")
		}
		if strings.Contains(body, " on") && regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
			t.Errorf("index.html has an inline event handler")
		}
	})

	t.Run("versioned assets are immutable and revalidate by ETag", func(t *testing.T) {
		_, body := get(t, "/", nil)
		m := regexp.MustCompile(`src="(/static/[0-9a-f]+/js/app\.js)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("index.html does not reference a versioned app.js")
		}
		res, js := get(t, m[1], nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(js, "import") {
			t.Fatalf("GET %s: got status %d", m[1], res.StatusCode)
		}
		if got := res.Header.Get("Content-Type"); got != "text/javascript; charset=utf-8" {
			t.Errorf("got Content-Type %q, want text/javascript", got)
		}
		if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
			t.Errorf("got Cache-Control %q, want immutable", got)
		}
		etag := res.Header.Get("ETag")
		res, _ = get(t, m[1], map[string]string{"If-None-Match": etag})
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("conditional GET: got status %d, want 304", res.StatusCode)
		}
		res, _ = get(t, "/static/0000/js/app.js", nil)
		if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("old version: got %d %q, want 200 no-cache", res.StatusCode, res.Header.Get("Cache-Control"))
		}
		res, _ = get(t, "/static/x/js/missing.js", nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("missing asset: got status %d, want 404", res.StatusCode)
		}
	})

	t.Run("vendored libraries and their licences are embedded", func(t *testing.T) {
		s, err := load(embedded)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"vendor/marked/marked.esm.js", "vendor/marked/LICENSE", "vendor/dompurify/purify.es.mjs",
			"vendor/dompurify/LICENSE", "vendor/highlight/highlight.min.js", "vendor/highlight/theme.min.css", "vendor/highlight/LICENSE"} {
			if _, ok := s.assets[name]; !ok {
				t.Errorf("%s is not embedded", name)
			}
		}
	})

	t.Run("index revalidates", func(t *testing.T) {
		res, _ := get(t, "/", nil)
		if got := res.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("got Cache-Control %q, want no-cache", got)
		}
		res, _ = get(t, "/", map[string]string{"If-None-Match": res.Header.Get("ETag")})
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("got status %d, want 304", res.StatusCode)
		}
	})

	t.Run("only GET and HEAD", func(t *testing.T) {
		res, err := http.Post(srv.URL+"/", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("got status %d, want 405", res.StatusCode)
		}
	})
}

// TestNoInlineHandlersInScripts guards the CSP: the app builds the DOM with
// textContent and listeners, never innerHTML, inline handlers or style attributes.
func TestNoInlineHandlersInScripts(t *testing.T) {
	s, err := load(embedded)
	if err != nil {
		t.Fatal(err)
	}
	bad := regexp.MustCompile(`\.innerHTML\s*=|insertAdjacentHTML|outerHTML\s*=|document\.write|setAttribute\(\s*['"](style|on[a-z]+)['"]|\beval\(|new Function\(`)
	for name, a := range s.assets {
		if !strings.HasPrefix(name, "js/") {
			continue
		}
		if loc := bad.FindIndex(a.body); loc != nil {
			t.Errorf("%s uses %q", name, a.body[loc[0]:loc[1]])
		}
	}
}
