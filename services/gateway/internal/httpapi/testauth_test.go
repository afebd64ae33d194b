package httpapi

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
)

// testAuth returns a quiet logger, an Authenticator over a fresh key pair
// (no Redis denylist) and an access token of user uid valid for a day.
func testAuth(tb testing.TB, uid int64) (*slog.Logger, *auth.Authenticator, string) {
	tb.Helper()
	privPath, pubPath := testenv.KeyPair(tb)
	priv, err := accesstoken.LoadPrivateKeyFile(privPath)
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := accesstoken.LoadPublicKeyFile(pubPath)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	token, err := accesstoken.NewSigner(priv).Sign(accesstoken.Claims{UserID: uid, Email: "a@example.com",
		Type: accesstoken.TypeAccess, ID: testenv.ID(), IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)})
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return log, auth.New(accesstoken.NewVerifier(pub), nil, log), token
}
