package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
)

// Caching of media: keys the user service marks immutable (content-hashed
// uploads) are cached for a year; others (e.g. generated defaults) briefly.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheShort     = "public, max-age=300"
	// mediaCSP applies to every media answer: an uploaded or generated SVG
	// opened directly can never run script or load anything.
	mediaCSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
)

// mediaRoutes registers GET /media/<key...>.
func (s *Server) mediaRoutes(mux *http.ServeMux) {
	s.route(mux, "GET /media/{key...}", s.handleMedia())
}

// handleMedia serves a media object from the user service with strong
// ETags (304 on If-None-Match) and cache headers.
func (s *Server) handleMedia() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		if !validMediaKey(key) {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		m, err := s.users.GetMedia(r.Context(), &userv1.GetMediaRequest{Key: key})
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", mediaCSP)
		h.Set("Cross-Origin-Resource-Policy", "same-site")
		if m.GetImmutable() {
			h.Set("Cache-Control", cacheImmutable)
		} else {
			h.Set("Cache-Control", cacheShort)
		}
		etag := quoteETag(m.GetEtag())
		if etag != "" {
			h.Set("ETag", etag)
			if etagMatch(r.Header.Get("If-None-Match"), etag) {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		ct := m.GetContentType()
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		h.Set("Content-Length", strconv.Itoa(len(m.GetData())))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(m.GetData())
		}
	})
}

// validMediaKey rejects keys that could only be attempts to escape the
// media namespace; the user service decides about everything else.
func validMediaKey(key string) bool {
	if key == "" || len(key) > 512 || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func quoteETag(e string) string {
	if e == "" || strings.HasPrefix(e, `"`) || strings.HasPrefix(e, `W/"`) {
		return e
	}
	return `"` + e + `"`
}

// etagMatch implements If-None-Match's weak comparison over a list.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}
