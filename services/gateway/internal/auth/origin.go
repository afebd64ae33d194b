package auth

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// CSRFMessage is the 403 detail of a cookie-authenticated write from a
// foreign origin (the wording of Django REST framework's CSRF failure).
const CSRFMessage = "CSRF Failed: Origin checking failed."

// Origins is the allowlist of browser origins ("scheme://host[:port]")
// that may make cookie-authenticated writes and open chat sockets. The
// gateway's own origin (the request's host, with the scheme the gateway is
// served by) is always allowed. Origins match on scheme, host and port: an
// https page is not the http one of the same host.
type Origins struct {
	allowed map[string]bool
	scheme  string // the gateway's public scheme, for its own origin
}

// NewOrigins returns the allowlist of origins (ALLOWED_ORIGINS). Entries
// are normalised (lower case, explicit port); "*" is not supported on
// purpose: it would turn the CSRF check off. publicHTTPS says the gateway
// is served to browsers over HTTPS (COOKIE_SECURE: usually behind a proxy
// that ends TLS), so its own origin is https://<host> even when the
// request reached it over plain HTTP.
func NewOrigins(origins []string, publicHTTPS bool) *Origins {
	o := &Origins{allowed: map[string]bool{}, scheme: "http"}
	if publicHTTPS {
		o.scheme = "https"
	}
	for _, s := range origins {
		if n, ok := normalize(s); ok {
			o.allowed[n] = true
		}
	}
	return o
}

// normalize returns scheme://host:port of an origin or URL, lower case,
// with the scheme's default port written out, so that http://h and
// http://h:80 are one origin and https://h is another.
func normalize(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil {
		return "", false
	}
	host := u.Host
	switch {
	case u.Port() != "":
	case u.Scheme == "http":
		host = net.JoinHostPort(u.Hostname(), "80")
	case u.Scheme == "https":
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	return strings.ToLower(u.Scheme + "://" + host), true
}

// Allowed reports whether origin (an Origin header value, or a Referer
// URL) may act for a cookie session on r: it is on the allowlist, or it
// is the gateway's own origin (its public scheme and the host r was sent
// to).
func (o *Origins) Allowed(r *http.Request, origin string) bool {
	n, ok := normalize(origin)
	if !ok {
		return false // includes the opaque origin "null"
	}
	if o.allowed[n] {
		return true
	}
	scheme := o.scheme
	if r.TLS != nil {
		scheme = "https"
	}
	own, ok := normalize(scheme + "://" + r.Host)
	return r.Host != "" && ok && n == own
}

// RequestAllowed reports whether the Origin header of r (when present) is
// allowed; used by the WebSocket handshake, where non-browser clients send
// no Origin.
func (o *Origins) RequestAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return origin == "" || o.Allowed(r, origin)
}

// CheckCSRF reports whether a cookie-authenticated request r may go on:
// safe methods always may; unsafe ones (POST, PUT, PATCH, DELETE, ...)
// need an allowed Origin header, or when a browser sent none, an allowed
// Referer. A write with neither is refused: every browser sends one of them,
// and other clients authenticate with the Authorization header.
func (o *Origins) CheckCSRF(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		return o.Allowed(r, origin)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return o.Allowed(r, ref)
	}
	return false
}
