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
	if plain.cache != nil {
		t.Error("WithCache changed the original verifier")
	}

	// A cached token expires like any other.
	c := validClaims()
	c.ExpiresAt = time.Now().Add(-4 * time.Second) // still within the leeway
	short, _ := s.Sign(c)
	if _, err := v.Verify(short, TypeAccess); err != nil {
		t.Fatalf("verify within leeway: %v", err)
	}
	entry, _ := v.cache.Peek(short)
	entry.ExpiresAt = time.Now().Add(-time.Minute)
	v.cache.Add(short, entry)
	if _, ok := v.cached(short, TypeAccess); ok {
		t.Error("expired token served from the cache")
	}
	if v.cache.Contains(short) {
		t.Error("expired token kept in the cache")
	}

	// Bounded, forgetting the least recently used token: tok, verified
	// again before each new one, stays.
	for i := range 50 {
		c := validClaims()
		c.ID = fmt.Sprint("jti-", i)
		other, _ := s.Sign(c)
		if _, err := v.Verify(other, TypeAccess); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(tok, TypeAccess); err != nil {
			t.Fatal(err)
		}
	}
	if !v.cache.Contains(tok) {
		t.Error("the most recently used token was evicted")
	}
	if n := v.cache.Len(); n > 10 {
		t.Errorf("got %d cached tokens, want at most 10", n)
	}
}

// BenchmarkCachedVerify is the hot path the cache exists for: a token
// verified before, from many goroutines at once (a gateway's sockets).
func BenchmarkCachedVerify(b *testing.B) {
	s, plain := newKeys(b)
	v := plain.WithCache(20000)
	tok, _ := s.Sign(validClaims()) // a failed Sign fails the first Verify
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(tok, TypeAccess); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
