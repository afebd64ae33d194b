// Package auth identifies the caller of a gateway request: it takes the
// access token from the Authorization header or the access_token cookie,
// verifies it (Ed25519 JWT, typ "access") and checks it was not revoked at
// logout. It also holds the CSRF origin check for cookie-authenticated
// writes and WebSocket handshakes.
//
// Revocation is checked in two places: the Redis denylist the user service
// writes at logout (shared by every replica), and an in-memory set filled
// from the NATS revocation announcements. When Redis cannot answer, the
// check fails OPEN (the request goes on, a warning is logged): a Redis
// outage must not log every user out (quality-bars F5), and the in-memory
// set still catches logouts announced over NATS while Redis is down. After
// a Redis error the denylist is skipped for a short while (redisBackoff) so
// an outage costs requests no latency and logs one warning per window.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/subjects"
)

// Cookie names set at login (web clients).
const (
	AccessCookie  = "access_token"
	RefreshCookie = "refresh_token"
)

// Errors of Authenticate. Both mean 401 to the client.
var (
	// ErrNoCredentials: the request carries no access token.
	ErrNoCredentials = errors.New("auth: no credentials")
	// ErrInvalidToken: the token is malformed, forged, expired, of the
	// wrong type or audience, or revoked.
	ErrInvalidToken = errors.New("auth: invalid token")
)

// Identity is the authenticated caller of a request.
type Identity struct {
	UserID    int64
	Email     string
	TokenID   string // jti of the access token
	Token     string // the raw access token, forwarded to services
	ExpiresAt time.Time
	// ViaCookie is true when the token came from the access_token cookie
	// (browser session): unsafe methods must then pass the CSRF check.
	ViaCookie bool
}

// Denylist answers whether an access token id was revoked
// (platform/revocation.Denylist in production).
type Denylist interface {
	IsRevoked(ctx context.Context, jti string) (bool, error)
}

// Authenticator verifies the access tokens of incoming requests.
type Authenticator struct {
	verifier *accesstoken.Verifier
	denylist Denylist
	log      *slog.Logger
	revoked  *revokedSet

	// While Redis fails, it is skipped until redisRetryAt (unix nanos)
	// so every request does not wait for it, and the warning is logged
	// once per outage window instead of once per request.
	redisRetryAt atomic.Int64

	mu        sync.Mutex
	listeners []func(userID int64)
}

// New returns an Authenticator. denylist may be nil (no Redis check).
func New(verifier *accesstoken.Verifier, denylist Denylist, log *slog.Logger) *Authenticator {
	return &Authenticator{
		verifier: verifier,
		denylist: denylist,
		log:      log,
		revoked:  newRevokedSet(revokedMemory),
	}
}

// denylistTimeout bounds the Redis check so a hung Redis delays a request
// by at most this much before failing open.
const denylistTimeout = 500 * time.Millisecond

// redisBackoff is how long the denylist is skipped after a Redis error.
const redisBackoff = 2 * time.Second

// revokedMemory is how long a jti announced as revoked is remembered in
// memory. Access tokens live far shorter (15 min by default), so a token
// is always expired before it is forgotten.
const revokedMemory = 24 * time.Hour

// TokenFrom returns the access token of r and whether it came from the
// cookie: the Authorization "Bearer" header wins over the cookie.
func TokenFrom(r *http.Request) (token string, viaCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := cutPrefixFold(h, "Bearer "); ok {
			return strings.TrimSpace(t), false
		}
	}
	if c, err := r.Cookie(AccessCookie); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// Authenticate identifies the caller of r. It returns ErrNoCredentials when
// r carries no token and ErrInvalidToken when the token must not be trusted.
func (a *Authenticator) Authenticate(r *http.Request) (Identity, error) {
	token, viaCookie := TokenFrom(r)
	if token == "" {
		return Identity{}, ErrNoCredentials
	}
	id, err := a.Verify(r.Context(), token)
	id.ViaCookie = viaCookie
	return id, err
}

// Verify checks an access token: signature, claims, type and revocation.
// It returns ErrInvalidToken for any token that must not be trusted.
func (a *Authenticator) Verify(ctx context.Context, token string) (Identity, error) {
	c, err := a.verifier.Verify(token, accesstoken.TypeAccess)
	if err != nil {
		return Identity{}, ErrInvalidToken
	}
	if a.revoked.has(c.ID) {
		return Identity{}, ErrInvalidToken
	}
	if a.denylist != nil && time.Now().UnixNano() >= a.redisRetryAt.Load() {
		dctx, cancel := context.WithTimeout(ctx, denylistTimeout)
		revoked, err := a.denylist.IsRevoked(dctx, c.ID)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			// Fail open, see the package comment.
			a.redisRetryAt.Store(time.Now().Add(redisBackoff).UnixNano())
			a.log.Warn("token denylist unavailable; accepting verified tokens (revocations announced over NATS still apply)",
				"retry_in", redisBackoff.String(), "err", err)
		case revoked:
			return Identity{}, ErrInvalidToken
		}
	}
	return Identity{UserID: c.UserID, Email: c.Email, TokenID: c.ID, Token: token, ExpiresAt: c.ExpiresAt}, nil
}

// OnRevoked registers fn to be called with the user id of every revocation
// announced over NATS (logout on any replica), e.g. to close that user's
// chat sockets. fn must not block for long.
func (a *Authenticator) OnRevoked(fn func(userID int64)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.listeners = append(a.listeners, fn)
}

// Revoked records that token jti of userID was revoked, so this replica
// rejects it even without Redis, and tells the OnRevoked listeners.
func (a *Authenticator) Revoked(userID int64, jti string) {
	if jti != "" {
		a.revoked.add(jti)
	}
	a.mu.Lock()
	ls := append([]func(int64){}, a.listeners...)
	a.mu.Unlock()
	for _, fn := range ls {
		fn(userID)
	}
}

// revocationEvent is the data of a subjects.UserRevoked message.
type revocationEvent struct {
	JTI    string `json:"jti"`
	Reason string `json:"reason"`
}

// SubscribeRevocations listens on the revocation subject of every user
// (subjects.AllUsersRevoked under the NATS prefix) and calls Revoked for
// each announcement. It returns the function that unsubscribes.
func (a *Authenticator) SubscribeRevocations(nc *nats.Conn, subj subjects.Subjects) (func(), error) {
	prefix := strings.TrimSuffix(subj.UserRevoked(0), "0")
	sub, err := nc.Subscribe(subj.AllUsersRevoked(), func(m *nats.Msg) {
		uid, ok := parseUserID(strings.TrimPrefix(m.Subject, prefix))
		if !ok {
			a.log.Warn("revocation with a malformed subject", "subject", m.Subject)
			return
		}
		var ev revocationEvent
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			a.log.Warn("revocation with malformed data", "subject", m.Subject, "err", err)
		}
		a.Revoked(uid, ev.JTI)
	})
	if err != nil {
		return nil, err
	}
	// A slow listener must not make NATS drop announcements for this
	// subscription: revocations are rare, so an unbounded pending queue
	// is fine.
	_ = sub.SetPendingLimits(-1, -1)
	return func() { _ = sub.Unsubscribe() }, nil
}

func parseUserID(s string) (int64, bool) {
	var n int64
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n > 0
}

// revokedSet remembers revoked token ids for a while.
type revokedSet struct {
	ttl time.Duration

	mu        sync.Mutex
	ids       map[string]time.Time // jti → when it may be forgotten
	lastSweep time.Time
}

func newRevokedSet(ttl time.Duration) *revokedSet {
	return &revokedSet{ttl: ttl, ids: map[string]time.Time{}, lastSweep: time.Now()}
}

func (s *revokedSet) add(jti string) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[jti] = now.Add(s.ttl)
	// Sweeping on insert (at most once a minute) keeps the set bounded
	// without a goroutine.
	if now.Sub(s.lastSweep) > time.Minute {
		for k, until := range s.ids {
			if now.After(until) {
				delete(s.ids, k)
			}
		}
		s.lastSweep = now
	}
}

func (s *revokedSet) has(jti string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.ids[jti]
	return ok && time.Now().Before(until)
}

type ctxKey struct{}

// WithIdentity returns a context carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity stored by WithIdentity.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}
