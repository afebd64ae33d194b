package user

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/fielderr"
	"github.com/cobraspace/cobraspace/platform/safetext"
)

// MaxBatchUsers bounds GetUsers.
const MaxBatchUsers = 500

// depTimeout bounds each call to Redis and NATS, which the service can do
// without (degraded): a dead dependency must not stall logins.
const depTimeout = time.Second

// TokenPair is a freshly issued access and refresh token.
type TokenPair struct {
	Access           string
	Refresh          string
	AccessExpiresAt  time.Time
	RefreshExpiresAt time.Time
}

// Config is what NewService needs. Limiter, Denylist and Announcer may be
// down at run time; the service degrades as documented in the README.
type Config struct {
	Store      Store
	Tokens     TokenStore
	Media      MediaStore
	Limiter    LoginLimiter
	Denylist   Denylist
	Announcer  Announcer
	Hasher     *Hasher
	Passwords  *PasswordPolicy
	Signer     *accesstoken.Signer
	Verifier   *accesstoken.Verifier
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	Logger     *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// Blocks keeps blocks and the staff role; BlockAnnouncer (optional)
	// announces block changes.
	Blocks         BlockStore
	BlockAnnouncer BlockAnnouncer
}

// Service implements the user service's use cases. Its methods return
// *apperr.Error for every outcome a user should see; any other error is internal.
type Service struct {
	cfg      Config
	now      func() time.Time
	imageSem chan struct{}
}

// NewService returns a Service over cfg.
func NewService(cfg Config) *Service {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{
		cfg: cfg,
		now: now,
		// Processing a picture allocates up to MaxDecodeBytes plus ~13 MiB
		// and takes a core for up to a second; one per core at a time
		// keeps a burst of uploads bounded.
		imageSem: make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
}

// Register creates a user and its profile. apperr.CodeInvalid (fields "email",
// "password", "nickname"); apperr.CodeUnavailable when hashing is overloaded.
func (s *Service) Register(ctx context.Context, email, password, nickname string) (Profile, error) {
	email = NormalizeEmail(email)
	nickname = strings.TrimSpace(nickname)
	f := fielderr.Fields{}
	switch {
	case email == "":
		f.Add("email", MsgRequired)
	case !ValidEmail(email):
		f.Add("email", MsgInvalidEmail)
	}
	if password == "" {
		f.Add("password", MsgRequired)
	} else if err := safetext.Check(password); err != nil {
		f.Add("password", err.Error())
	} else {
		for _, m := range s.cfg.Passwords.Check(password, email) {
			f.Add("password", m)
		}
	}
	if nickname == "" {
		nickname = DefaultNickname(email)
	} else if msg := validateNickname(nickname); msg != "" {
		f.Add("nickname", msg)
	}
	if err := apperr.Invalid(f); err != nil {
		return Profile{}, err
	}
	hash, err := s.cfg.Hasher.Hash(ctx, password)
	if err != nil {
		return Profile{}, s.hashErr(err)
	}
	// No look-up first: the unique index on lower(email) decides, so two
	// concurrent registrations of one address cannot both succeed.
	p, err := s.cfg.Store.CreateUser(ctx, NewUser{Email: email, PasswordHash: hash, Nickname: nickname})
	if errors.Is(err, ErrEmailTaken) {
		return Profile{}, apperr.FieldError("email", MsgEmailTaken)
	}
	return p, err
}

func (s *Service) hashErr(err error) error {
	if errors.Is(err, ErrBusy) {
		return apperr.New(apperr.CodeUnavailable, MsgBusy)
	}
	return err
}

// Login checks credentials and issues tokens. apperr.CodeRateLimited (with
// RetryAfter) while the client's address must wait after too many
// failures (see LoginLimiter); apperr.CodeUnauthenticated for bad credentials,
// the same for unknown emails (checked against a dummy hash, for similar
// timing, and limited alike); apperr.CodeUnavailable when hashing is overloaded.
func (s *Service) Login(ctx context.Context, email, password, clientIP string) (Profile, TokenPair, error) {
	account := strings.ToLower(strings.TrimSpace(email))
	if account == "" || password == "" {
		f := fielderr.Fields{}
		if account == "" {
			f.Add("email", MsgRequired)
		}
		if password == "" {
			f.Add("password", MsgRequired)
		}
		return Profile{}, TokenPair{}, apperr.Invalid(f)
	}
	if err := cmp.Or(checkText("email", email), checkText("password", password)); err != nil {
		return Profile{}, TokenPair{}, err
	}
	if wait := s.loginWait(ctx, account, clientIP); wait > 0 {
		return Profile{}, TokenPair{}, &apperr.Error{Code: apperr.CodeRateLimited, Message: MsgTooManyLogins, RetryAfter: wait}
	}
	var creds Credentials
	if len(account) <= MaxEmailLen && len(password) <= 4*MaxPasswordLen {
		c, err := s.cfg.Store.Credentials(ctx, account)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Profile{}, TokenPair{}, err
		}
		creds = c
	}
	ok, err := s.cfg.Hasher.Verify(ctx, password, creds.PasswordHash)
	if err != nil {
		return Profile{}, TokenPair{}, s.hashErr(err)
	}
	if !ok {
		s.limiterCall(ctx, "failure not counted", s.cfg.Limiter.Failed, account, clientIP)
		return Profile{}, TokenPair{}, apperr.New(apperr.CodeUnauthenticated, MsgBadCredentials)
	}
	s.limiterCall(ctx, "attempts not reset", s.cfg.Limiter.Succeeded, account, clientIP)
	p, err := s.cfg.Store.Profile(ctx, creds.UserID)
	if err != nil {
		return Profile{}, TokenPair{}, err
	}
	family := randomID()
	pair, first, err := s.issue(creds.UserID, creds.Email, family)
	if err != nil {
		return Profile{}, TokenPair{}, err
	}
	if err := s.cfg.Tokens.StartFamily(ctx, family, creds.UserID, first); err != nil {
		return Profile{}, TokenPair{}, err
	}
	return p, pair, nil
}

// The limiter is a defence, not a dependency: when Redis cannot answer,
// logins go through unlimited and the degradation is logged.

func (s *Service) loginWait(ctx context.Context, account, ip string) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, depTimeout)
	defer cancel()
	wait, err := s.cfg.Limiter.Attempt(ctx, account, ip)
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "login rate limiter unavailable; not limiting", "err", err)
		return 0
	}
	return wait
}

func (s *Service) limiterCall(ctx context.Context, what string, call func(context.Context, string, string) error, account, ip string) {
	ctx, cancel := context.WithTimeout(ctx, depTimeout)
	defer cancel()
	if err := call(ctx, account, ip); err != nil {
		s.cfg.Logger.WarnContext(ctx, "login rate limiter unavailable; "+what, "err", err)
	}
}

// issue signs an access and a refresh token of family.
func (s *Service) issue(userID int64, email, family string) (TokenPair, RefreshToken, error) {
	now := s.now()
	pair := TokenPair{AccessExpiresAt: now.Add(s.cfg.AccessTTL), RefreshExpiresAt: now.Add(s.cfg.RefreshTTL)}
	var err error
	pair.Access, err = s.cfg.Signer.Sign(accesstoken.Claims{
		UserID: userID, Email: email, Type: accesstoken.TypeAccess, ID: randomID(), Family: family,
		IssuedAt: now, ExpiresAt: pair.AccessExpiresAt,
	})
	if err != nil {
		return TokenPair{}, RefreshToken{}, err
	}
	refresh := RefreshToken{JTI: randomID(), ExpiresAt: pair.RefreshExpiresAt}
	pair.Refresh, err = s.cfg.Signer.Sign(accesstoken.Claims{
		UserID: userID, Email: email, Type: accesstoken.TypeRefresh, ID: refresh.JTI, Family: family,
		IssuedAt: now, ExpiresAt: refresh.ExpiresAt,
	})
	if err != nil {
		return TokenPair{}, RefreshToken{}, err
	}
	return pair, refresh, nil
}

// randomID is 128 random bits in hex, for token ids and family ids.
func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes instead)
	return hex.EncodeToString(b)
}

// Refresh rotates a refresh token. apperr.CodeUnauthenticated when it is invalid,
// expired or revoked, or was already used (its family is then revoked).
func (s *Service) Refresh(ctx context.Context, refresh string) (TokenPair, error) {
	rc, err := s.cfg.Verifier.Verify(refresh, accesstoken.TypeRefresh)
	if err != nil || rc.Family == "" {
		return TokenPair{}, apperr.New(apperr.CodeUnauthenticated, MsgTokenInvalid)
	}
	pair, next, err := s.issue(rc.UserID, rc.Email, rc.Family)
	if err != nil {
		return TokenPair{}, err
	}
	err = s.cfg.Tokens.Rotate(ctx, rc.Family, rc.UserID, rc.ID, next)
	switch {
	case errors.Is(err, ErrTokenReused):
		s.cfg.Logger.WarnContext(ctx, "refresh token reused; family revoked", "user_id", rc.UserID, "family", rc.Family)
		// Someone holds a stolen token of this session: its access tokens
		// (the thief's and the owner's) must stop working too.
		s.revokeSessions(ctx, rc.UserID, []string{rc.SessionID()}, "", "refresh_reuse")
		return TokenPair{}, apperr.New(apperr.CodeUnauthenticated, MsgTokenInvalid)
	case errors.Is(err, ErrTokenRevoked):
		return TokenPair{}, apperr.New(apperr.CodeUnauthenticated, MsgTokenInvalid)
	case err != nil:
		return TokenPair{}, err
	}
	return pair, nil
}

// Logout ends the caller's session: it revokes refresh's family (or, when
// refresh is empty, every family of the caller) and the family of the
// caller's access token, then revokes those sessions everywhere
// (revokeSessions). Other sessions of the user (other devices) keep working
// unless refresh is empty. An invalid or expired refresh token is ignored
// (it cannot be used anyway); one of another user is apperr.CodePermissionDenied.
func (s *Service) Logout(ctx context.Context, caller accesstoken.Claims, refresh string) error {
	sessions := []string{caller.SessionID()}
	if refresh == "" {
		families, err := s.cfg.Tokens.RevokeUserFamilies(ctx, caller.UserID, "logout")
		if err != nil {
			return err
		}
		sessions = append(sessions, families...)
	} else {
		families := []string{caller.Family}
		if rc, err := s.cfg.Verifier.Verify(refresh, accesstoken.TypeRefresh); err == nil {
			if rc.UserID != caller.UserID {
				return apperr.New(apperr.CodePermissionDenied, MsgPermissionDenied)
			}
			families = append(families, rc.Family)
			sessions = append(sessions, rc.SessionID())
		}
		for i, fam := range families {
			if fam == "" || (i > 0 && fam == families[0]) {
				continue
			}
			err := s.cfg.Tokens.RevokeFamily(ctx, caller.UserID, fam, "logout")
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	slices.Sort(sessions)
	s.revokeSessions(ctx, caller.UserID, slices.Compact(sessions), caller.ID, "logout")
	return nil
}

// revokeSessions denylists sessions (their refresh families are already
// revoked in PostgreSQL) for as long as an access token of theirs may be
// valid, and announces them on NATS, so every gateway replica and service
// rejects all their access tokens at once and gateways close their
// sockets. Redis or NATS being down does not fail the caller: PostgreSQL
// already stops every refresh, the announcement still reaches the
// gateways (or the denylist does), and the access tokens expire within
// their TTL (see README, Degraded behaviour).
func (s *Service) revokeSessions(ctx context.Context, userID int64, sessions []string, jti, reason string) {
	// Even if the caller hangs up now: the families are already revoked.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), depTimeout)
	defer cancel()
	until := s.now().Add(s.cfg.AccessTTL + accesstoken.Leeway)
	if err := s.cfg.Denylist.Revoke(dctx, until, sessions...); err != nil {
		s.cfg.Logger.WarnContext(ctx, reason+": session denylist unavailable; only gateways that got the announcement reject the sessions' access tokens until they expire",
			"err", err, "user_id", userID, "until", until)
	}
	if err := s.cfg.Announcer.UserRevoked(dctx, userID, sessions, jti, reason); err != nil {
		s.cfg.Logger.WarnContext(ctx, reason+": session revocation not announced; open sockets may stay open", "err", err, "user_id", userID)
	}
}

// Profile returns a user's own profile. apperr.CodeNotFound.
func (s *Service) Profile(ctx context.Context, userID int64) (Profile, error) {
	p, err := s.cfg.Store.Profile(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return Profile{}, apperr.New(apperr.CodeNotFound, MsgNotFound)
	}
	return p, err
}

// UpdateProfile changes the fields set in u. apperr.CodeInvalid, apperr.CodeNotFound.
func (s *Service) UpdateProfile(ctx context.Context, userID int64, u ProfileUpdate) (Profile, error) {
	if err := ValidateUpdate(&u); err != nil {
		return Profile{}, err
	}
	p, err := s.cfg.Store.UpdateProfile(ctx, userID, u)
	if errors.Is(err, ErrNotFound) {
		return Profile{}, apperr.New(apperr.CodeNotFound, MsgNotFound)
	}
	return p, err
}

// SetPicture stores a new profile picture (see processPicture) and removes
// the previous one. apperr.CodeInvalid (field "profile_picture"), apperr.CodeNotFound,
// apperr.CodeUnavailable when too many pictures are being processed.
func (s *Service) SetPicture(ctx context.Context, userID int64, data []byte) (Profile, error) {
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case s.imageSem <- struct{}{}:
	case <-ctx.Done():
		return Profile{}, ctx.Err()
	case <-t.C:
		return Profile{}, apperr.New(apperr.CodeUnavailable, MsgBusy)
	}
	pic, err := processPicture(data)
	<-s.imageSem
	if err != nil {
		return Profile{}, err
	}
	key, etag := avatarKey(userID, pic)
	err = s.cfg.Media.Put(ctx, Media{Key: key, ContentType: pic.contentType, Data: pic.data, ETag: etag, Immutable: true})
	if err != nil {
		return Profile{}, err
	}
	prev, err := s.cfg.Store.SetPicture(ctx, userID, key)
	if errors.Is(err, ErrNotFound) {
		return Profile{}, apperr.New(apperr.CodeNotFound, MsgNotFound)
	} else if err != nil {
		return Profile{}, err
	}
	if prev != "" && prev != key {
		// Best effort: an orphaned object wastes space but breaks nothing.
		if err := s.cfg.Media.Delete(ctx, prev); err != nil {
			s.cfg.Logger.WarnContext(ctx, "old profile picture not deleted", "key", prev, "err", err)
		}
	}
	return s.Profile(ctx, userID)
}

// UploadImage stores an image for a post (see processImage) and returns its
// media key and size. apperr.CodeInvalid (field "image"),
// apperr.CodeUnavailable when too many images are being processed.
func (s *Service) UploadImage(ctx context.Context, userID int64, data []byte) (key string, size image.Rectangle, err error) {
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case s.imageSem <- struct{}{}:
	case <-ctx.Done():
		return "", image.Rectangle{}, ctx.Err()
	case <-t.C:
		return "", image.Rectangle{}, apperr.New(apperr.CodeUnavailable, MsgBusy)
	}
	img, size, err := processImage(data)
	<-s.imageSem
	if err != nil {
		return "", image.Rectangle{}, err
	}
	key, etag := imageKey(userID, img)
	if err := s.cfg.Media.Put(ctx, Media{Key: key, ContentType: img.contentType, Data: img.data, ETag: etag, Immutable: true}); err != nil {
		return "", image.Rectangle{}, err
	}
	return key, size, nil
}

// Media returns a stored media object, or generates a user's default
// avatar. apperr.CodeNotFound.
func (s *Service) Media(ctx context.Context, key string) (Media, error) {
	if key == "" || len(key) > 512 || safetext.Check(key) != nil {
		return Media{}, apperr.New(apperr.CodeNotFound, MsgNotFound)
	}
	if uid, ok := parseDefaultAvatarKey(key); ok {
		users, err := s.cfg.Store.Users(ctx, []int64{uid})
		if err != nil {
			return Media{}, err
		}
		if len(users) == 0 {
			return Media{}, apperr.New(apperr.CodeNotFound, MsgNotFound)
		}
		name := users[0].Nickname
		if name == "" {
			name = users[0].Email
		}
		svg := DefaultAvatarSVG(uid, name)
		sum := sha256.Sum256(svg)
		// Not immutable: the initial follows the nickname.
		return Media{Key: key, ContentType: "image/svg+xml", Data: svg, ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}, nil
	}
	m, err := s.cfg.Media.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return Media{}, apperr.New(apperr.CodeNotFound, MsgNotFound)
	}
	return m, err
}

// AddFriend adds the user with email to userID's friends. apperr.CodeInvalid
// (field "email": blank or the caller), apperr.CodeNotFound.
func (s *Service) AddFriend(ctx context.Context, userID int64, email string) (Summary, error) {
	email = NormalizeEmail(email)
	if email == "" {
		return Summary{}, apperr.FieldError("email", MsgRequired)
	}
	if err := checkText("email", email); err != nil {
		return Summary{}, err
	}
	friend, err := s.cfg.Store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		return Summary{}, apperr.New(apperr.CodeNotFound, MsgUserNotFound)
	} else if err != nil {
		return Summary{}, err
	}
	if friend.UserID == userID {
		return Summary{}, apperr.FieldError("email", MsgAddSelf)
	}
	if err := s.cfg.Store.AddFriend(ctx, userID, friend.UserID); err != nil {
		return Summary{}, err
	}
	return friend, nil
}

// DeleteFriend removes the user with email from userID's friends.
// apperr.CodeInvalid (blank email), apperr.CodeNotFound "{email}님은 친구 목록에 없습니다.".
func (s *Service) DeleteFriend(ctx context.Context, userID int64, email string) error {
	email = NormalizeEmail(email)
	if email == "" {
		return apperr.FieldError("email", MsgRequired)
	}
	if err := checkText("email", email); err != nil {
		return err
	}
	notFriend := apperr.New(apperr.CodeNotFound, email+MsgNotFriendSuffix)
	friend, err := s.cfg.Store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		return notFriend
	} else if err != nil {
		return err
	}
	deleted, err := s.cfg.Store.DeleteFriend(ctx, userID, friend.UserID)
	if err != nil {
		return err
	}
	if !deleted {
		return notFriend
	}
	return nil
}

// ListFriends returns a page of userID's friends, oldest first, and the
// cursor of the next page ("" on the last). apperr.CodeInvalid (field "cursor").
func (s *Service) ListFriends(ctx context.Context, userID int64, limit int32, cursor string) ([]Summary, string, error) {
	after, err := decodeFriendCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	n := pageSize(limit)
	friends, err := s.cfg.Store.ListFriends(ctx, userID, after, n+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(friends) > n {
		friends = friends[:n]
		last := friends[n-1]
		next = encodeFriendCursor(FriendCursor{AddedAt: last.AddedAt, FriendID: last.UserID})
	}
	out := make([]Summary, len(friends))
	for i, f := range friends {
		out[i] = f.Summary
	}
	return out, next, nil
}

// FriendProfile returns another user's profile as viewerID may see it.
// apperr.CodeNotFound; apperr.CodePermissionDenied "This account is private." when it is
// private and the viewer is not in that user's friends list.
func (s *Service) FriendProfile(ctx context.Context, viewerID, userID int64) (Profile, error) {
	p, err := s.Profile(ctx, userID)
	if err != nil || userID == viewerID || !p.IsPrivate {
		return p, err
	}
	allowed, err := s.cfg.Store.HasFriend(ctx, userID, viewerID)
	if err != nil {
		return Profile{}, err
	}
	if !allowed {
		return Profile{}, apperr.New(apperr.CodePermissionDenied, MsgPrivate)
	}
	return p, nil
}

// MinSearchKeyword is the shortest keyword SearchUsers looks for, in
// characters: shorter ones (and "") find nobody, so that the search
// cannot list every account.
const MinSearchKeyword = 2

// SearchUsers returns a page of users, as viewerID may see them, whose
// nickname contains keyword (case-insensitive, literal) or whose email is
// exactly keyword, in id order, and the next cursor. Private users' emails
// are blank unless they added the viewer (see Store.SearchUsers): the
// search must not become a directory of email addresses. apperr.CodeInvalid
// (fields "keyword", "cursor").
func (s *Service) SearchUsers(ctx context.Context, viewerID int64, keyword string, limit int32, cursor string) ([]Summary, string, error) {
	keyword = strings.TrimSpace(keyword)
	if len(keyword) > MaxEmailLen {
		return nil, "", apperr.FieldError("keyword", maxLenMsg(MaxEmailLen))
	}
	if err := checkText("keyword", keyword); err != nil {
		return nil, "", err
	}
	afterID, err := decodeIDCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	if utf8.RuneCountInString(keyword) < MinSearchKeyword {
		return nil, "", nil
	}
	n := pageSize(limit)
	users, err := s.cfg.Store.SearchUsers(ctx, viewerID, keyword, afterID, n+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(users) > n {
		users = users[:n]
		next = encodeIDCursor(users[n-1].UserID)
	}
	return users, next, nil
}

// Users returns the summaries of the known ids, in the order asked, each
// once. apperr.CodeInvalid (field "user_ids") for more than MaxBatchUsers ids.
func (s *Service) Users(ctx context.Context, ids []int64) ([]Summary, error) {
	if len(ids) > MaxBatchUsers {
		return nil, apperr.FieldError("user_ids", "Ensure this field has no more than 500 elements.")
	}
	seen := make(map[int64]bool, len(ids))
	uniq := make([]int64, 0, len(ids))
	for _, id := range ids {
		if id > 0 && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	if len(uniq) == 0 {
		return nil, nil
	}
	found, err := s.cfg.Store.Users(ctx, uniq)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]Summary, len(found))
	for _, u := range found {
		byID[u.UserID] = u
	}
	out := make([]Summary, 0, len(found))
	for _, id := range uniq {
		if u, ok := byID[id]; ok {
			out = append(out, u)
		}
	}
	return out, nil
}

// PruneTokens deletes refresh-token families expired for a day, so the
// tables do not grow forever. Run periodically by main.
func (s *Service) PruneTokens(ctx context.Context) (int64, error) {
	return s.cfg.Tokens.DeleteExpired(ctx, s.now().Add(-24*time.Hour))
}

// Limits of FindByNicknames (conversations: one message's @mentions).
const (
	MaxNicknamesPerCall = 20
	MaxUsersPerNickname = 20
)

// FindByNicknames returns the users whose nickname equals one of names
// case-insensitively (nicknames are not unique: every such user, at most
// perName per name, 20 when 0). apperr.CodeInvalid (field "nicknames")
// for more than MaxNicknamesPerCall names.
func (s *Service) FindByNicknames(ctx context.Context, names []string, perName int) ([]Summary, error) {
	if len(names) > MaxNicknamesPerCall {
		return nil, apperr.FieldError("nicknames", "Ensure this field has no more than 20 elements.")
	}
	if perName <= 0 || perName > MaxUsersPerNickname {
		perName = MaxUsersPerNickname
	}
	lower := make([]string, 0, len(names))
	for _, n := range names {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" && !slices.Contains(lower, n) {
			lower = append(lower, n)
		}
	}
	if len(lower) == 0 {
		return nil, nil
	}
	return s.cfg.Store.FindByNicknames(ctx, lower, perName)
}
