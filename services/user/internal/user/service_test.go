package user

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/apperr"
)

// fakeStore implements the few Store methods these tests reach; the
// embedded nil interface makes any other call panic, which fails the test.
type fakeStore struct {
	Store
	creds    map[string]Credentials
	profiles map[int64]Profile
	friends  map[[2]int64]bool
	lookups  int
}

func (f *fakeStore) Credentials(_ context.Context, email string) (Credentials, error) {
	f.lookups++
	c, ok := f.creds[email]
	if !ok {
		return Credentials{}, ErrNotFound
	}
	return c, nil
}

func (f *fakeStore) Profile(_ context.Context, id int64) (Profile, error) {
	p, ok := f.profiles[id]
	if !ok {
		return Profile{}, ErrNotFound
	}
	return p, nil
}

func (f *fakeStore) HasFriend(_ context.Context, a, b int64) (bool, error) {
	return f.friends[[2]int64{a, b}], nil
}

func (f *fakeStore) Users(_ context.Context, ids []int64) ([]Summary, error) {
	var out []Summary
	for _, id := range ids {
		if p, ok := f.profiles[id]; ok {
			out = append(out, Summary{UserID: id, Email: p.Email, Nickname: p.Nickname})
		}
	}
	slices.Reverse(out) // the store promises no order
	return out, nil
}

type fakeTokens struct {
	TokenStore
	started, revoked []string
	revokedAll       []int64
	live             []string // what RevokeUserFamilies revokes
	rotateErr        error
}

func (f *fakeTokens) StartFamily(_ context.Context, fam string, _ int64, _ RefreshToken) error {
	f.started = append(f.started, fam)
	return nil
}

func (f *fakeTokens) RevokeFamily(_ context.Context, _ int64, fam, _ string) error {
	f.revoked = append(f.revoked, fam)
	return nil
}

func (f *fakeTokens) RevokeUserFamilies(_ context.Context, uid int64, _ string) ([]string, error) {
	f.revokedAll = append(f.revokedAll, uid)
	return f.live, nil
}

func (f *fakeTokens) Rotate(context.Context, string, int64, string, RefreshToken) error {
	return f.rotateErr
}

// fakeLimiter answers wait or fails with err.
type fakeLimiter struct {
	wait   time.Duration
	err    error
	failed int
}

func (f *fakeLimiter) Attempt(context.Context, string, string) (time.Duration, error) {
	return f.wait, f.err
}
func (f *fakeLimiter) Failed(context.Context, string, string) error {
	f.failed++
	return f.err
}
func (f *fakeLimiter) Succeeded(context.Context, string, string) error { return f.err }

type fakeDenylist struct {
	err     error
	revoked []string
	until   time.Time
}

func (f *fakeDenylist) Revoke(_ context.Context, until time.Time, sessionIDs ...string) error {
	if f.err == nil {
		f.revoked = append(f.revoked, sessionIDs...)
		f.until = until
	}
	return f.err
}

type fakeAnnouncer struct {
	err      error
	sessions []string
	jtis     []string
}

func (f *fakeAnnouncer) UserRevoked(_ context.Context, _ int64, sessionIDs []string, jti, _ string) error {
	f.sessions = append(f.sessions, sessionIDs...)
	f.jtis = append(f.jtis, jti)
	return f.err
}

type fixture struct {
	svc       *Service
	store     *fakeStore
	tokens    *fakeTokens
	limiter   *fakeLimiter
	denylist  *fakeDenylist
	announcer *fakeAnnouncer
	signer    *accesstoken.Signer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := NewHasher(cheapParams(), 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := hasher.Hash(context.Background(), "right password")
	f := &fixture{
		store: &fakeStore{
			creds: map[string]Credentials{"alice@example.com": {UserID: 1, Email: "Alice@example.com", PasswordHash: hash}},
			profiles: map[int64]Profile{
				1: {UserID: 1, Email: "Alice@example.com", Nickname: "alice"},
				2: {UserID: 2, Email: "bob@example.com", Nickname: "bob", IsPrivate: true},
			},
			friends: map[[2]int64]bool{},
		},
		tokens:    &fakeTokens{},
		limiter:   &fakeLimiter{},
		denylist:  &fakeDenylist{},
		announcer: &fakeAnnouncer{},
		signer:    accesstoken.NewSigner(priv),
	}
	f.svc = NewService(Config{
		Store: f.store, Tokens: f.tokens, Limiter: f.limiter, Denylist: f.denylist, Announcer: f.announcer,
		Hasher: hasher, Passwords: NewPasswordPolicy(), Signer: f.signer, Verifier: accesstoken.NewVerifier(pub),
		AccessTTL: time.Minute, RefreshTTL: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return f
}

func TestLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name           string
		email, pw      string
		limiter        fakeLimiter
		wantCode       apperr.Code
		wantFailures   int
		wantNoLookup   bool
		wantFamilyMade bool
	}{
		{name: "ok, any case", email: " ALICE@example.com", pw: "right password", wantFamilyMade: true},
		{name: "wrong password", email: "alice@example.com", pw: "wrong", wantCode: apperr.CodeUnauthenticated, wantFailures: 1},
		{name: "unknown email", email: "nobody@example.com", pw: "right password", wantCode: apperr.CodeUnauthenticated, wantFailures: 1},
		{name: "waiting even with the right password", email: "alice@example.com", pw: "right password",
			limiter: fakeLimiter{wait: 3 * time.Second}, wantCode: apperr.CodeRateLimited, wantNoLookup: true},
		{name: "limiter down: login still works", email: "alice@example.com", pw: "right password",
			limiter: fakeLimiter{err: errors.New("redis down")}, wantFamilyMade: true},
		{name: "limiter down: bad credentials still refused", email: "alice@example.com", pw: "nope",
			limiter: fakeLimiter{err: errors.New("redis down")}, wantCode: apperr.CodeUnauthenticated, wantFailures: 1},
		{name: "blank", email: "", pw: "", wantCode: apperr.CodeInvalid, wantNoLookup: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			*f.limiter = tc.limiter
			p, pair, err := f.svc.Login(ctx, tc.email, tc.pw, "192.0.2.1")
			if got := apperr.ErrorCode(err); got != tc.wantCode || (tc.wantCode == "" && err != nil) {
				t.Fatalf("Login err = %v, want code %q", err, tc.wantCode)
			}
			if e := (*apperr.Error)(nil); errors.As(err, &e) && e.RetryAfter != tc.limiter.wait {
				t.Errorf("RetryAfter = %v, want the limiter's wait %v", e.RetryAfter, tc.limiter.wait)
			}
			if f.limiter.failed != tc.wantFailures {
				t.Errorf("failures recorded = %d, want %d", f.limiter.failed, tc.wantFailures)
			}
			if tc.wantNoLookup && f.store.lookups != 0 {
				t.Errorf("store looked up %d times, want none", f.store.lookups)
			}
			if got := len(f.tokens.started) == 1; got != tc.wantFamilyMade {
				t.Errorf("family started = %v, want %v", got, tc.wantFamilyMade)
			}
			if tc.wantCode == "" && (p.UserID != 1 || pair.Access == "" || pair.Refresh == "") {
				t.Errorf("login result = %+v, %+v", p, pair)
			}
		})
	}
}

func TestRegisterBusy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h, _ := NewHasher(cheapParams(), 1, 10*time.Millisecond)
	h.sem <- struct{}{}
	f.svc.cfg.Hasher = h
	_, err := f.svc.Register(context.Background(), "new@example.com", "a fine passphrase", "")
	if apperr.ErrorCode(err) != apperr.CodeUnavailable {
		t.Errorf("Register with hashing saturated = %v, want apperr.CodeUnavailable", err)
	}
}

func TestLogoutDegraded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.denylist.err = errors.New("redis down")
	f.announcer.err = errors.New("nats down")
	caller := accesstoken.Claims{UserID: 1, ID: "jti1", Family: "fam1", ExpiresAt: time.Now().Add(time.Minute)}
	if err := f.svc.Logout(context.Background(), caller, ""); err != nil {
		t.Fatalf("Logout with Redis and NATS down = %v, want nil", err)
	}
	if !slices.Equal(f.tokens.revokedAll, []int64{1}) {
		t.Errorf("families revoked for %v, want user 1", f.tokens.revokedAll)
	}
}

func TestLogoutAllRevokesEverySession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.tokens.live = []string{"fam1", "fam2", "fam3"}
	caller := accesstoken.Claims{UserID: 1, ID: "jti1", Family: "fam1", ExpiresAt: time.Now().Add(time.Minute)}
	if err := f.svc.Logout(context.Background(), caller, ""); err != nil {
		t.Fatal(err)
	}
	want := []string{"fam1", "fam2", "fam3"} // the caller's once
	if !slices.Equal(f.denylist.revoked, want) || !slices.Equal(f.announcer.sessions, want) {
		t.Errorf("denylisted %v announced %v, want %v", f.denylist.revoked, f.announcer.sessions, want)
	}
}

func TestRefreshReuseRevokesTheSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.tokens.rotateErr = ErrTokenReused
	refresh, err := f.signer.Sign(accesstoken.Claims{UserID: 1, Type: accesstoken.TypeRefresh, ID: "r1", Family: "famR",
		ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(context.Background(), refresh); apperr.ErrorCode(err) != apperr.CodeUnauthenticated {
		t.Fatalf("Refresh with a reused token = %v, want apperr.CodeUnauthenticated", err)
	}
	if !slices.Equal(f.denylist.revoked, []string{"famR"}) || !slices.Equal(f.announcer.sessions, []string{"famR"}) {
		t.Errorf("denylisted %v announced %v, want [famR]", f.denylist.revoked, f.announcer.sessions)
	}
	// An already revoked family was revoked (and announced) back then.
	f.tokens.rotateErr = ErrTokenRevoked
	f.denylist.revoked = nil
	if _, err := f.svc.Refresh(context.Background(), refresh); apperr.ErrorCode(err) != apperr.CodeUnauthenticated || len(f.denylist.revoked) != 0 {
		t.Errorf("Refresh in a revoked family = %v, denylisted %v; want apperr.CodeUnauthenticated, nothing", err, f.denylist.revoked)
	}
}

func TestLogoutRefreshOwnership(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	refreshOf := func(uid int64, fam string) string {
		tok, err := f.signer.Sign(accesstoken.Claims{UserID: uid, Type: accesstoken.TypeRefresh, ID: "r-" + fam, Family: fam,
			ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	caller := accesstoken.Claims{UserID: 1, ID: "a1", Family: "famA", ExpiresAt: time.Now().Add(time.Minute)}
	if err := f.svc.Logout(ctx, caller, refreshOf(2, "famB")); apperr.ErrorCode(err) != apperr.CodePermissionDenied {
		t.Fatalf("Logout with another user's refresh = %v, want apperr.CodePermissionDenied", err)
	}
	if len(f.tokens.revoked) != 0 || len(f.denylist.revoked) != 0 {
		t.Errorf("refused logout changed state: revoked %v, denylisted %v", f.tokens.revoked, f.denylist.revoked)
	}
	if err := f.svc.Logout(ctx, caller, refreshOf(1, "famC")); err != nil {
		t.Fatal(err)
	}
	// Both sessions are revoked everywhere: denylisted for as long as
	// their access tokens may live, and announced.
	if !slices.Equal(f.tokens.revoked, []string{"famA", "famC"}) || !slices.Equal(f.denylist.revoked, []string{"famA", "famC"}) ||
		!slices.Equal(f.announcer.sessions, []string{"famA", "famC"}) || !slices.Equal(f.announcer.jtis, []string{"a1"}) {
		t.Errorf("revoked %v denylisted %v announced %v %v; want [famA famC] [famA famC] [famA famC] [a1]",
			f.tokens.revoked, f.denylist.revoked, f.announcer.sessions, f.announcer.jtis)
	}
	if d := time.Until(f.denylist.until); d < time.Minute || d > time.Minute+accesstoken.Leeway {
		t.Errorf("denylisted for %v, want the access TTL (1m) plus the leeway", d)
	}
	// An invalid refresh token is ignored; the access token's family still goes.
	f.tokens.revoked = nil
	if err := f.svc.Logout(ctx, caller, "garbage"); err != nil || !slices.Equal(f.tokens.revoked, []string{"famA"}) {
		t.Errorf("Logout with garbage refresh = %v, revoked %v; want nil, [famA]", err, f.tokens.revoked)
	}
}

func TestFriendProfilePrivacy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.FriendProfile(ctx, 1, 2); apperr.ErrorCode(err) != apperr.CodePermissionDenied {
		t.Errorf("private profile, not on its list = %v, want apperr.CodePermissionDenied", err)
	}
	f.store.friends[[2]int64{1, 2}] = true // alice added bob: does not help alice
	if _, err := f.svc.FriendProfile(ctx, 1, 2); apperr.ErrorCode(err) != apperr.CodePermissionDenied {
		t.Errorf("viewer added the private user = %v, want apperr.CodePermissionDenied (one-directional)", err)
	}
	f.store.friends[[2]int64{2, 1}] = true // bob added alice
	if p, err := f.svc.FriendProfile(ctx, 1, 2); err != nil || p.UserID != 2 {
		t.Errorf("on the private user's list = %+v, %v", p, err)
	}
	if _, err := f.svc.FriendProfile(ctx, 1, 99); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Errorf("unknown user = %v, want apperr.CodeNotFound", err)
	}
	if _, err := f.svc.FriendProfile(ctx, 2, 2); err != nil {
		t.Errorf("own private profile = %v", err)
	}
}

func TestUsersBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	got, err := f.svc.Users(context.Background(), []int64{2, 99, 1, 2, -5})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, u := range got {
		ids = append(ids, u.UserID)
	}
	if !slices.Equal(ids, []int64{2, 1}) {
		t.Errorf("Users ids = %v, want [2 1] (request order, once, unknown left out)", ids)
	}
	if _, err := f.svc.Users(context.Background(), make([]int64, MaxBatchUsers+1)); apperr.ErrorCode(err) != apperr.CodeInvalid {
		t.Errorf("Users of 501 = %v, want apperr.CodeInvalid", err)
	}
}
