package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is ClientIP with the server's trusted proxies.
func (s *Server) clientIP(r *http.Request) string { return ClientIP(s.trustedProxies, r) }

// ClientIP returns the end client's IP address: the TCP peer, unless the
// peer is a trusted proxy (TRUSTED_PROXY_CIDRS), in which case the
// X-Forwarded-For chain is walked from the right, skipping trusted
// proxies, and the first untrusted address is the client. Addresses a
// client wrote itself (left of the first untrusted hop) are never
// believed, so a client cannot dodge the per-IP login or socket limits.
// The chat socket handshake uses it too.
func ClientIP(trustedProxies []netip.Prefix, r *http.Request) string {
	trusted := func(ip netip.Addr) bool {
		for _, p := range trustedProxies {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
	peer := remoteIP(r.RemoteAddr)
	if !peer.IsValid() {
		return ""
	}
	if !trusted(peer) {
		return peer.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	var chain []string
	for _, h := range hops {
		for _, part := range strings.Split(h, ",") {
			chain = append(chain, strings.TrimSpace(part))
		}
	}
	client := peer
	for i := len(chain) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(chain[i])
		if err != nil {
			break // a malformed hop: stop at the last good one
		}
		client = ip.Unmap()
		if !trusted(client) {
			break
		}
	}
	return client.String()
}

func remoteIP(addr string) netip.Addr {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}
