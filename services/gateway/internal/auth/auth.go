// Package auth identifies the caller of a gateway request: it takes the
// access token from the Authorization header or the access_token cookie,
// verifies it (Ed25519 JWT, typ "access") and checks that its session was
// not revoked (logout, refresh-token reuse). It also holds the CSRF origin
// check for cookie-authenticated writes and WebSocket handshakes.
//
// A session is the token's refresh family (accesstoken.Claims.SessionID):
// revoking it rejects every access token issued for that login, not only
// the one presented at logout. Revocation is checked in two places: the
// Redis denylist the user service writes (shared by every replica, through
// revocation.Checker, which fails OPEN when Redis cannot answer: a Redis
// outage must not log every user out, RELIABILITY.md F5), and an in-memory
// set filled from the NATS revocation announcements, which still catches
// revocations announced while Redis is down.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/revocation"
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
	SessionID string // the token's login session (accesstoken.Claims.SessionID)
	Token     string // the raw access token, forwarded to services
	ExpiresAt time.Time
	// ViaCookie is true when the token came from the access_token cookie
	// (browser session): unsafe methods must then pass the CSRF check.
	ViaCookie bool
}

// Denylist answers whether a session was revoked
// (platform/revocation.Denylist in production).
type Denylist = revocation.Lookup

// Authenticator verifies the access tokens of incoming requests.
type Authenticator struct {
	verifier *accesstoken.Verifier
	checker  *revocation.Checker // nil: no Redis check
	revoked  *revokedSet
	log      *slog.Logger

	mu        sync.Mutex
	listeners []func(userID int64, sessionIDs []string)
}

// New returns an Authenticator. denylist may be nil (no Redis check).
func New(verifier *accesstoken.Verifier, denylist Denylist, log *slog.Logger) *Authenticator {
	a := &Authenticator{verifier: verifier, revoked: newRevokedSet(revokedMemory), log: log}
	if denylist != nil {
		a.checker = revocation.NewChecker(denylist, log)
	}
	return a
}

// revokedMemory is how long a session announced as revoked is remembered
// in memory. Access tokens live far shorter (15 min by default), so every
// token of the session is expired before it is forgotten.
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

// Verify checks an access token: signature, claims, type and whether its
// session was revoked. It returns ErrInvalidToken for any token that must
// not be trusted.
func (a *Authenticator) Verify(ctx context.Context, token string) (Identity, error) {
	c, err := a.verifier.Verify(token, accesstoken.TypeAccess)
	if err != nil {
		return Identity{}, ErrInvalidToken
	}
	sid := c.SessionID()
	if a.revoked.has(sid) || (a.checker != nil && a.checker.Revoked(ctx, sid)) {
		return Identity{}, ErrInvalidToken
	}
	return Identity{UserID: c.UserID, Email: c.Email, SessionID: sid, Token: token, ExpiresAt: c.ExpiresAt}, nil
}

// OnRevoked registers fn to be called with the user id and session ids of
// every revocation (logout or refresh-token reuse, announced over NATS by
// the user service, or a logout through this replica), e.g. to close those
// sessions' chat sockets. fn must not block for long.
func (a *Authenticator) OnRevoked(fn func(userID int64, sessionIDs []string)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.listeners = append(a.listeners, fn)
}

// Revoked records that sessions of userID were revoked, so this replica
// rejects their tokens even without Redis, and tells the OnRevoked
// listeners.
func (a *Authenticator) Revoked(userID int64, sessionIDs []string) {
	for _, id := range sessionIDs {
		a.revoked.add(id)
	}
	a.mu.Lock()
	ls := append([]func(int64, []string){}, a.listeners...)
	a.mu.Unlock()
	for _, fn := range ls {
		fn(userID, sessionIDs)
	}
}

// revocationEvent is the data of a subjects.UserRevoked message.
type revocationEvent struct {
	Sessions []string `json:"sessions"`
	Reason   string   `json:"reason"`
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
		if err := json.Unmarshal(m.Data, &ev); err != nil || len(ev.Sessions) == 0 {
			a.log.Warn("revocation without sessions", "subject", m.Subject, "err", err)
			return
		}
		a.Revoked(uid, ev.Sessions)
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

// revokedSet remembers revoked session ids for a while.
type revokedSet struct {
	ttl time.Duration

	mu        sync.Mutex
	ids       map[string]time.Time // session id → when it may be forgotten
	lastSweep time.Time
}

func newRevokedSet(ttl time.Duration) *revokedSet {
	return &revokedSet{ttl: ttl, ids: map[string]time.Time{}, lastSweep: time.Now()}
}

func (s *revokedSet) add(id string) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[id] = now.Add(s.ttl)
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

func (s *revokedSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.ids[id]
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
