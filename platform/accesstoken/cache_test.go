package accesstoken

import (
	"fmt"
	"testing"
	"time"
)

func TestCachedVerifier(t *testing.T) {
	s, plain := newKeys(t)
	v := plain.WithCache(10)

	tok, err := s.Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the second answer comes from the cache
		got, err := v.Verify(tok, TypeAccess)
		if err != nil || got.UserID != 42 || got.ID != "jti-1" {
			t.Fatalf("verify %d: got %+v %v", i, got, err)
		}
	}
	if _, err := v.Verify(tok, TypeRefresh); err == nil {
		t.Error("cached access token accepted as refresh token")
	}
	if _, err := v.Verify(tok+"x", TypeAccess); err == nil {
		t.Error("edited cached token accepted")
	}
	if plain.cacheLen() != nil {
		t.Error("WithCache changed the original verifier")
	}

	// A cached token expires like any other.
	c := validClaims()
	c.ExpiresAt = time.Now().Add(-4 * time.Second) // still within the leeway
	short, _ := s.Sign(c)
	if _, err := v.Verify(short, TypeAccess); err != nil {
		t.Fatalf("verify within leeway: %v", err)
	}
	v.cache.mu.Lock()
	entry := v.cache.claims[short]
	entry.ExpiresAt = time.Now().Add(-time.Minute)
	v.cache.claims[short] = entry
	v.cache.mu.Unlock()
	if _, ok := v.cache.get(short, TypeAccess); ok {
		t.Error("expired token served from the cache")
	}

	// Bounded.
	for i := range 50 {
		c := validClaims()
		c.ID = fmt.Sprint("jti-", i)
		tok, _ := s.Sign(c)
		if _, err := v.Verify(tok, TypeAccess); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(v.cacheLen()); n > 10 {
		t.Errorf("got %d cached tokens, want at most 10", n)
	}
}

// cacheLen returns the cached tokens (nil without a cache), for tests.
func (v *Verifier) cacheLen() map[string]Claims {
	if v.cache == nil {
		return nil
	}
	v.cache.mu.Lock()
	defer v.cache.mu.Unlock()
	out := make(map[string]Claims, len(v.cache.claims))
	for k, c := range v.cache.claims {
		out[k] = c
	}
	return out
}
