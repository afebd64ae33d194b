// Package accesstoken signs and verifies the Ed25519 (EdDSA) JWTs of Cobra
// Space. Only the user service holds the private key and signs; every other
// process verifies with the public key, so a compromised service cannot mint
// tokens.
package accesstoken

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Token kinds, carried in the "typ" claim. A refresh token is never accepted
// where an access token is expected, and the other way round.
const (
	TypeAccess  = "access"
	TypeRefresh = "refresh"
)

// Issuer and Audience are required on every token.
const (
	Issuer   = "cobraspace-user"
	Audience = "cobraspace"
)

// Leeway is the clock skew allowed on expiry and issued-at: a token is
// accepted up to Leeway after it expired.
const Leeway = 5 * time.Second

// ErrInvalid is returned for any token that must not be trusted: malformed,
// wrong algorithm or key, edited, expired, wrong issuer, audience or type.
var ErrInvalid = errors.New("invalid token")

// Claims is what a token says about its bearer.
type Claims struct {
	UserID    int64
	Email     string
	Type      string
	ID        string // jti: unique per token
	Family    string // "fam": the session, see SessionID
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// SessionID is the login session the token belongs to: its refresh-token
// family ("fam" claim). A login starts a family; every refresh token and
// access token issued for that login and its rotations carries it, so
// revoking the session (platform/revocation) rejects all of them at once.
// A token without a family (never issued by the user service, only by
// hand in tests) is a session of its own: its jti.
func (c Claims) SessionID() string {
	if c.Family != "" {
		return c.Family
	}
	return c.ID
}

type jwtClaims struct {
	jwt.RegisteredClaims
	Email  string `json:"email,omitempty"`
	Type   string `json:"typ"`
	Family string `json:"fam,omitempty"`
}

// Signer issues tokens with the private key.
type Signer struct {
	key ed25519.PrivateKey
}

// NewSigner returns a Signer using key.
func NewSigner(key ed25519.PrivateKey) *Signer { return &Signer{key: key} }

// Sign returns the compact JWT for c. c.ID, c.Type and c.ExpiresAt must be set.
func (s *Signer) Sign(c Claims) (string, error) {
	if c.ID == "" || c.Type == "" || c.ExpiresAt.IsZero() || c.UserID == 0 {
		return "", errors.New("accesstoken: claims need user id, id, type and expiry")
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	claims := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   strconv.FormatInt(c.UserID, 10),
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ID:        c.ID,
		},
		Email:  c.Email,
		Type:   c.Type,
		Family: c.Family,
	}
	return jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(s.key)
}

// Verifier checks tokens with the public key.
type Verifier struct {
	key    ed25519.PublicKey
	parser *jwt.Parser
	cache  *lru.Cache[string, Claims] // verified tokens; nil unless WithCache
}

// NewVerifier returns a Verifier using key. It accepts EdDSA only and
// requires issuer, audience, expiry and issued-at.
func NewVerifier(key ed25519.PublicKey) *Verifier {
	return &Verifier{
		key: key,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithIssuer(Issuer),
			jwt.WithAudience(Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(Leeway),
		),
	}
}

// Verify parses token and checks that it is valid and of kind wantType.
// Every failure is ErrInvalid (wrapped with the reason, for logs only).
func (v *Verifier) Verify(token, wantType string) (Claims, error) {
	if c, ok := v.cached(token, wantType); ok {
		return c, nil
	}
	var jc jwtClaims
	_, err := v.parser.ParseWithClaims(token, &jc, func(*jwt.Token) (any, error) { return v.key, nil })
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if jc.Type != wantType {
		return Claims{}, fmt.Errorf("%w: token type %q, want %q", ErrInvalid, jc.Type, wantType)
	}
	uid, err := strconv.ParseInt(jc.Subject, 10, 64)
	if err != nil || uid <= 0 || jc.ID == "" {
		return Claims{}, fmt.Errorf("%w: bad subject or id", ErrInvalid)
	}
	c := Claims{
		UserID:    uid,
		Email:     jc.Email,
		Type:      jc.Type,
		ID:        jc.ID,
		Family:    jc.Family,
		IssuedAt:  jc.IssuedAt.Time,
		ExpiresAt: jc.ExpiresAt.Time,
	}
	v.remember(token, c)
	return c, nil
}

// LoadPrivateKeyFile reads a PKCS#8 PEM Ed25519 private key.
func LoadPrivateKeyFile(path string) (ed25519.PrivateKey, error) {
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("accesstoken: %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("accesstoken: %s: not an Ed25519 key", path)
	}
	return key, nil
}

// LoadPublicKeyFile reads a PKIX PEM Ed25519 public key.
func LoadPublicKeyFile(path string) (ed25519.PublicKey, error) {
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("accesstoken: %s: %w", path, err)
	}
	key, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("accesstoken: %s: not an Ed25519 key", path)
	}
	return key, nil
}

func readPEM(path, wantType string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("accesstoken: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != wantType {
		return nil, fmt.Errorf("accesstoken: %s: no %q PEM block", path, wantType)
	}
	return block.Bytes, nil
}

// WriteKeyFiles generates a new key pair and writes it as PEM files (the
// private one readable by its owner only).
func WriteKeyFiles(privPath, pubPath string) error {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	if err := os.WriteFile(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644) //nolint:gosec // G306: a public key is meant to be readable by every service
}
