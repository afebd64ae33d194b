package accesstoken

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
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
	// lru.New fails only for a size below 1.
	c.cache, _ = lru.New[string, Claims](max(size, 1))
	return &c
}

// cached returns the claims remembered for token, if it was verified as
// wantType and has not expired. When full, the cache forgets the least
// recently used token (an expired one is dropped when next looked up), so
// the tokens of active clients stay; an entry never outlives its token.
func (v *Verifier) cached(token, wantType string) (Claims, bool) {
	if v.cache == nil {
		return Claims{}, false
	}
	claims, ok := v.cache.Get(token)
	if !ok {
		return Claims{}, false
	}
	if !time.Now().Before(claims.ExpiresAt.Add(Leeway)) {
		v.cache.Remove(token)
		return Claims{}, false
	}
	if claims.Type != wantType {
		return Claims{}, false
	}
	return claims, true
}

// remember caches token's verified claims when the Verifier has a cache.
func (v *Verifier) remember(token string, claims Claims) {
	if v.cache != nil {
		v.cache.Add(token, claims)
	}
}
