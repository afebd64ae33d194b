package user

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// cheapParams keep the tests fast; the format and logic are the same.
func cheapParams() HashParams {
	return HashParams{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32, SaltLen: 16}
}

func TestHasherRoundTrip(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(cheapParams(), 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	enc, err := h.Hash(ctx, "s3cret-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash = %q, want a PHC argon2id string with the parameters", enc)
	}
	enc2, _ := h.Hash(ctx, "s3cret-passphrase")
	if enc == enc2 {
		t.Error("two hashes of one password are equal; want distinct salts")
	}
	tests := []struct {
		password, encoded string
		want              bool
	}{
		{"s3cret-passphrase", enc, true},
		{"s3cret-passphrasE", enc, false},
		{"", enc, false},
		{"s3cret-passphrase", "", false}, // unknown user: dummy hash, never true
	}
	for _, tc := range tests {
		got, err := h.Verify(ctx, tc.password, tc.encoded)
		if err != nil || got != tc.want {
			t.Errorf("Verify(%q, %.20q) = %v, %v; want %v", tc.password, tc.encoded, got, err, tc.want)
		}
	}
	// Hashes made with other parameters still verify: they are in the string.
	other, _ := NewHasher(HashParams{Time: 2, MemoryKiB: 128, Threads: 1, KeyLen: 16, SaltLen: 8}, 1, time.Second)
	enc3, _ := other.Hash(ctx, "pw-with-other-params")
	if ok, err := h.Verify(ctx, "pw-with-other-params", enc3); !ok || err != nil {
		t.Errorf("Verify with other params = %v, %v; want true", ok, err)
	}
	if _, err := h.Verify(ctx, "x", "$bcrypt$nope"); err == nil {
		t.Error("Verify of a malformed hash: nil error, want an error")
	}
}

func TestHasherBusy(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(cheapParams(), 1, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	h.sem <- struct{}{} // a hash that never finishes
	_, err = h.Hash(context.Background(), "whatever-password")
	if !errors.Is(err, ErrBusy) {
		t.Errorf("Hash with the semaphore full = %v, want ErrBusy", err)
	}
	<-h.sem
	if _, err := h.Hash(context.Background(), "whatever-password"); err != nil {
		t.Errorf("Hash after release = %v", err)
	}
}

func TestDefaultHashParamsAreOWASP(t *testing.T) {
	t.Parallel()
	p := DefaultHashParams()
	if p.MemoryKiB < 19*1024 || p.Time < 2 || p.Threads != 1 {
		t.Errorf("DefaultHashParams = %+v, want at least OWASP m=19456 t=2 p=1", p)
	}
}
