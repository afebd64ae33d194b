// Package web serves the Cobra Space browser client: a single-page app of plain
// HTML, CSS and ES modules embedded in the gateway binary (no Node.js build).
//
// Every client route (/, /posts/12, /write, /profile, …) answers with index.html
// and the app's router renders the page. Static files live under
// /static/<version>/, where <version> is a hash of every embedded file: the
// URLs change whenever any file does, so browsers may cache them for a year,
// and ES-module imports (relative URLs) stay inside one consistent version.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
)

//go:embed static
var embedded embed.FS

// ContentSecurityPolicy is sent with every response of the web client. It
// allows no inline script or style, so stored markup that slipped past the
// sanitiser still could not run. connect-src 'self' lets the page reach
// only its own origin: in CSP Level 3 (every current browser) 'self' also
// matches ws: and wss: of the page's host, which the chat socket uses.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; " +
	"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// clientRoutes are the paths the app's router renders; anything else under
// the handler is a 404 (still rendered by the app, with a 404 status).
var clientRoutes = []*regexp.Regexp{
	regexp.MustCompile(`^/$`),
	regexp.MustCompile(`^/(login|signup|write|profile|profile/edit|friends|rooms)/?$`),
	regexp.MustCompile(`^/posts/[0-9]+/?$`),
	regexp.MustCompile(`^/posts/[0-9]+/edit/?$`),
	regexp.MustCompile(`^/users/[0-9]+/?$`),
	regexp.MustCompile(`^/rooms/[0-9]+/?$`),
	regexp.MustCompile(`^/dm/[0-9]+/?$`), // a direct-message room (dm.js)
	regexp.MustCompile(`^/reports/?$`),   // reported messages, for staff
}

type asset struct {
	body        []byte
	etag        string
	contentType string
}

// site is the embedded client, indexed once when the handler is built.
type site struct {
	version  string
	assets   map[string]asset // keyed by path below static/, e.g. "js/app.js"
	index    []byte           // index.html with the versioned asset prefix filled in
	indexTag string
}

// Handler returns the handler for the web client: mount it at "/" after the
// API, WebSocket and media routes. It returns an error only if the embedded
// files are broken, which the package's tests rule out.
func Handler() (http.Handler, error) {
	s, err := load(embedded)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func load(fsys fs.FS) (*site, error) {
	s := &site{assets: map[string]asset{}}
	var names []string
	err := fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(body)
		s.assets[name] = asset{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, contentType: contentType(name)}
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: read embedded files: %w", err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", n, s.assets[n].etag)
	}
	s.version = hex.EncodeToString(h.Sum(nil))[:12]
	if _, ok := s.assets["sw.js"]; !ok {
		return nil, fmt.Errorf("web: static/sw.js is missing")
	}
	idx, ok := s.assets["index.html"]
	if !ok {
		return nil, fmt.Errorf("web: static/index.html is missing")
	}
	s.index = bytes.ReplaceAll(idx.body, []byte("{{STATIC}}"), []byte("/static/"+s.version))
	sum := sha256.Sum256(s.index)
	s.indexTag = `"` + hex.EncodeToString(sum[:12]) + `"`
	return s, nil
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	case "":
		return "text/plain; charset=utf-8" // LICENSE, VERSIONS
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/static/"); ok {
		s.serveAsset(w, r, rest)
		return
	}
	if r.URL.Path == serviceWorkerPath {
		s.serveServiceWorker(w, r)
		return
	}
	status := http.StatusNotFound
	for _, re := range clientRoutes {
		if re.MatchString(r.URL.Path) {
			status = http.StatusOK
			break
		}
	}
	// index.html names the current asset version, so it must be revalidated
	// on every load; the ETag keeps that to a 304 when nothing changed.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", s.indexTag)
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	if status == http.StatusOK && etagMatch(r, s.indexTag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		w.Write(s.index) //nolint:errcheck // a failed write means the client went away
	}
}

// serveAsset serves static/<name> for a URL /static/<version>/<name>. An old
// version (a page loaded before a deploy) still gets the current file, but
// without the long cache lifetime, so it is never pinned to wrong content.
func (s *site) serveAsset(w http.ResponseWriter, r *http.Request, rest string) {
	version, name, ok := strings.Cut(rest, "/")
	a, found := s.assets[name]
	if !ok || !found || name == "index.html" {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	if version == s.version {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache")
	}
	hdr.Set("ETag", a.etag)
	hdr.Set("Content-Type", a.contentType)
	if etagMatch(r, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// serviceWorkerPath is where the push service worker (static/sw.js) is
// served: at the root, so its scope covers every page without a
// Service-Worker-Allowed header.
const serviceWorkerPath = "/sw.js"

// serveServiceWorker serves static/sw.js unversioned and revalidated on
// every check (browsers look for updates of a service worker by its URL).
func (s *site) serveServiceWorker(w http.ResponseWriter, r *http.Request) {
	a := s.assets["sw.js"]
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.etag)
	hdr.Set("Content-Type", a.contentType)
	if etagMatch(r, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

func etagMatch(r *http.Request, etag string) bool {
	for _, v := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		if v = strings.TrimSpace(v); v == etag || v == "W/"+etag || v == "*" {
			return true
		}
	}
	return false
}
