package user

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// HashParams are argon2id parameters. They are stored in every hash (PHC
// string format), so changing them later keeps old hashes verifiable.
type HashParams struct {
	Time      uint32 // iterations
	MemoryKiB uint32
	Threads   uint8
	KeyLen    uint32
	SaltLen   int
}

// DefaultHashParams are OWASP's recommended argon2id minimum (2024 Password
// Storage Cheat Sheet): m=19 MiB, t=2, p=1; a 16-byte salt and a 32-byte
// key. About 30-60 ms of one core per hash on the development box.
func DefaultHashParams() HashParams {
	return HashParams{Time: 2, MemoryKiB: 19 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}
}

// ErrBusy means too many hashes were already running for too long; the
// caller should retry later (UNAVAILABLE).
var ErrBusy = errors.New("password hashing busy")

// Hasher hashes and verifies passwords with argon2id. A semaphore bounds
// concurrent hashes: each one takes MemoryKiB of RAM and a core for tens of
// milliseconds, so a burst of logins must queue instead of exhausting the
// process; a caller that waits longer than the configured time gets ErrBusy.
type Hasher struct {
	params HashParams
	sem    chan struct{}
	wait   time.Duration
	dummy  string // hash compared against for unknown emails, for similar timing
}

// NewHasher returns a Hasher running at most concurrency hashes at once and
// letting callers queue for at most wait.
func NewHasher(p HashParams, concurrency int, wait time.Duration) (*Hasher, error) {
	if concurrency < 1 {
		concurrency = 1
	}
	h := &Hasher{params: p, sem: make(chan struct{}, concurrency), wait: wait}
	dummy, err := h.hash(rand.Text())
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return ErrBusy
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the PHC string of password with a fresh salt; ErrBusy.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hash(password)
}

func (h *Hasher) hash(password string) (string, error) {
	p := h.params
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches encoded. An empty encoded (an
// unknown user) is checked against a dummy hash so that the answer takes as
// long as for a known user, and is always false. ErrBusy.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	known := encoded != ""
	if !known {
		encoded = h.dummy
	}
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want))) //nolint:gosec // G115: the key of a hash we stored, tens of bytes
	return subtle.ConstantTimeCompare(got, want) == 1 && known, nil
}

// parsePHC reads "$argon2id$v=19$m=..,t=..,p=..$salt$key".
func parsePHC(s string) (HashParams, []byte, []byte, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return HashParams{}, nil, nil, errors.New("password hash: not an argon2id PHC string")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return HashParams{}, nil, nil, errors.New("password hash: unsupported argon2 version")
	}
	var p HashParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return HashParams{}, nil, nil, fmt.Errorf("password hash: parameters: %w", err)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return HashParams{}, nil, nil, fmt.Errorf("password hash: salt: %w", err)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) == 0 {
		return HashParams{}, nil, nil, errors.New("password hash: key")
	}
	return p, salt, key, nil
}
