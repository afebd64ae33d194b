package accesstoken

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func newKeys(t testing.TB) (*Signer, *Verifier) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return NewSigner(priv), NewVerifier(pub)
}

func validClaims() Claims {
	return Claims{UserID: 42, Email: "a@b.c", Type: TypeAccess, ID: "jti-1", Family: "fam", ExpiresAt: time.Now().Add(time.Minute)}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s, v := newKeys(t)
	tok, err := s.Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(tok, TypeAccess)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.UserID != 42 || got.Email != "a@b.c" || got.ID != "jti-1" || got.Family != "fam" {
		t.Errorf("got %+v, want the signed claims", got)
	}
	if got.SessionID() != "fam" {
		t.Errorf("SessionID: got %q, want the family", got.SessionID())
	}
	if c := (Claims{ID: "jti-2"}); c.SessionID() != "jti-2" {
		t.Errorf("SessionID without a family: got %q, want the jti", c.SessionID())
	}
}

// TestVerifyRejectsTampering is the token tampering matrix of quality bar B5.
func TestVerifyRejectsTampering(t *testing.T) {
	s, v := newKeys(t)
	other, _ := newKeys(t)
	good, err := s.Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding.EncodeToString

	expired := validClaims()
	expired.ExpiresAt = time.Now().Add(-time.Hour)
	expired.IssuedAt = time.Now().Add(-2 * time.Hour)
	refresh := validClaims()
	refresh.Type = TypeRefresh

	mustSign := func(s *Signer, c Claims) string {
		tok, err := s.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	wrongAud, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": Issuer, "aud": "someone-else", "sub": "42", "jti": "x", "typ": TypeAccess,
		"exp": time.Now().Add(time.Minute).Unix(), "iat": time.Now().Unix(),
	}).SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	noExp, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": Issuer, "aud": Audience, "sub": "42", "jti": "x", "typ": TypeAccess, "iat": time.Now().Unix(),
	}).SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	hs256, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": Issuer, "aud": Audience, "sub": "42", "jti": "x", "typ": TypeAccess,
		"exp": time.Now().Add(time.Minute).Unix(), "iat": time.Now().Unix(),
	}).SignedString([]byte(s.key.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, token string
	}{
		{"empty", ""},
		{"garbage", "not.a.token"},
		{"alg none", enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."},
		{"wrong key", mustSign(other, validClaims())},
		{"edited claims", parts[0] + "." + enc([]byte(`{"iss":"cobraspace-user","sub":"1","aud":["cobraspace"],"exp":9999999999,"iat":1,"jti":"j","typ":"access"}`)) + "." + parts[2]},
		{"expired", mustSign(s, expired)},
		{"refresh used as access", mustSign(s, refresh)},
		{"wrong audience", wrongAud},
		{"no expiry", noExp},
		{"HS256 with public key as secret", hs256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(tt.token, TypeAccess); !errors.Is(err, ErrInvalid) {
				t.Errorf("Verify: got err %v, want ErrInvalid", err)
			}
		})
	}
}

func TestKeyFilesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "k"), filepath.Join(dir, "k.pub")
	if err := WriteKeyFiles(priv, pub); err != nil {
		t.Fatal(err)
	}
	sk, err := LoadPrivateKeyFile(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := LoadPublicKeyFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewSigner(sk).Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifier(pk).Verify(tok, TypeAccess); err != nil {
		t.Errorf("token signed with loaded key: %v", err)
	}
	if _, err := LoadPrivateKeyFile(pub); err == nil {
		t.Error("LoadPrivateKeyFile(public key file): got nil error")
	}
}
