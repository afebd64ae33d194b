package accesstoken

import (
	"sync"
	"time"
)

// WithCache returns a Verifier that remembers up to size tokens it has
// verified, so a service called many times with the same access token
// (every chat message a gateway forwards) checks its Ed25519 signature
// once instead of on every call: the signature check is by far the most
// expensive part of a small RPC. A cached token is still refused once it
// expires, and is only returned for the type it was verified as. Only
// tokens that passed every check are cached, keyed by their exact text.
// Revocation is not the Verifier's job, with or without the cache: every
// caller checks the token's session against the denylist after Verify, on
// every request or call (the gateway's auth, grpcauth.RejectRevoked), so a
// cached token is refused as soon as its session is revoked.
func (v *Verifier) WithCache(size int) *Verifier {
	c := *v
	c.cache = &verifiedCache{size: max(size, 1), claims: make(map[string]Claims)}
	return &c
}

// verifiedCache maps token text to its verified claims. It is bounded:
// when full, expired entries go first, then arbitrary ones.
type verifiedCache struct {
	size   int
	mu     sync.Mutex
	claims map[string]Claims
}

func (c *verifiedCache) get(token, wantType string) (Claims, bool) {
	if c == nil {
		return Claims{}, false
	}
	c.mu.Lock()
	claims, ok := c.claims[token]
	c.mu.Unlock()
	if !ok || claims.Type != wantType || !time.Now().Before(claims.ExpiresAt.Add(Leeway)) {
		return Claims{}, false
	}
	return claims, true
}

func (c *verifiedCache) put(token string, claims Claims) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.claims) >= c.size {
		now := time.Now()
		for t, cl := range c.claims {
			if !now.Before(cl.ExpiresAt.Add(Leeway)) {
				delete(c.claims, t)
			}
		}
		for t := range c.claims {
			if len(c.claims) < c.size {
				break
			}
			delete(c.claims, t)
		}
	}
	c.claims[token] = claims
}
