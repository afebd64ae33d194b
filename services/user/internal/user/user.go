// Package user is the domain of the user service: accounts, credentials,
// refresh-token families, profiles, profile pictures and friends lists. It
// holds the rules and the interfaces it needs from storage and messaging;
// adapters (postgres, redis, nats) implement them and the rpc package
// converts between gRPC and this package.
package user

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

// Status is what a user says about their availability.
type Status string

// The statuses a profile can have; StatusAvailable is the default.
const (
	StatusAvailable Status = "available"
	StatusAway      Status = "away"
	StatusBusy      Status = "busy"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	return s == StatusAvailable || s == StatusAway || s == StatusBusy
}

// Profile is a user's full profile as its owner (or an allowed viewer) sees it.
type Profile struct {
	UserID        int64
	Email         string
	Nickname      string
	PictureKey    string // media key of an uploaded picture, "" when none
	Bio           string
	Skills        []string
	Interests     []string
	Status        Status
	IsPrivate     bool
	ContactNumber string
	FriendsEmails []string // users this user added, oldest first
	CreatedAt     time.Time
}

// PictureURL is the URL path of the user's picture, or of the generated
// default avatar when none was uploaded; never empty.
func (p Profile) PictureURL() string { return PictureURL(p.UserID, p.PictureKey) }

// Summary is the public face of a user, safe to show to anyone.
type Summary struct {
	UserID     int64
	Email      string
	Nickname   string
	PictureKey string
	Status     Status
}

// PictureURL is the URL path of the user's picture (see Profile.PictureURL).
func (s Summary) PictureURL() string { return PictureURL(s.UserID, s.PictureKey) }

// Friend is an entry of a friends list with the time it was added (the
// list's order and cursor).
type Friend struct {
	Summary
	AddedAt time.Time
}

// PictureURL returns "/media/<key>" for an uploaded picture and the URL of
// the generated default avatar otherwise.
func PictureURL(userID int64, key string) string {
	if key == "" {
		key = DefaultAvatarKey(userID)
	}
	return "/media/" + key
}

// DefaultAvatarKey is the media key of the avatar generated for a user
// without a picture.
func DefaultAvatarKey(userID int64) string {
	return "avatars/default/" + strconv.FormatInt(userID, 10) + ".svg"
}

// NewUser is what registration stores.
type NewUser struct {
	Email        string
	PasswordHash string
	Nickname     string
}

// Credentials are what login checks.
type Credentials struct {
	UserID       int64
	Email        string
	PasswordHash string
}

// ProfileUpdate names the profile fields to change; nil pointers are left
// as they are.
type ProfileUpdate struct {
	Nickname      *string
	Bio           *string
	Skills        *[]string
	Interests     *[]string
	Status        *Status
	IsPrivate     *bool
	ContactNumber *string
}

// Media is a stored or generated media object.
type Media struct {
	Key         string
	ContentType string
	Data        []byte
	ETag        string // strong validator, quoted as in HTTP
	Immutable   bool   // the key names content that never changes
	CreatedAt   time.Time
}

// RefreshToken is one issued refresh token of a family.
type RefreshToken struct {
	JTI       string
	ExpiresAt time.Time
}

// Errors returned by the storage adapters. The Service turns them into
// user-facing *apperr.Error values.
var (
	// ErrNotFound: no such user, friend, media object or token family.
	ErrNotFound = errors.New("not found")
	// ErrEmailTaken: another user has this email (case-insensitively).
	ErrEmailTaken = errors.New("email taken")
	// ErrTokenReused: the refresh token was already rotated; its family is
	// now revoked.
	ErrTokenReused = errors.New("refresh token reused")
	// ErrTokenRevoked: the refresh token's family is revoked, expired,
	// unknown or not the user's.
	ErrTokenRevoked = errors.New("refresh token family revoked")
	// ErrUnavailable: a dependency (the database) could not be reached;
	// the call is safe to retry. Adapters wrap it with the cause; it
	// reaches the client as is.
	ErrUnavailable = apperr.New(apperr.CodeUnavailable, MsgUnavailable)
)

// Store keeps users, profiles and friends. Errors: ErrNotFound,
// ErrEmailTaken as documented per method; anything else is internal.
type Store interface {
	// CreateUser stores a user and its default profile; ErrEmailTaken when
	// the email is taken case-insensitively.
	CreateUser(ctx context.Context, u NewUser) (Profile, error)
	// Credentials finds a user by email, case-insensitively; ErrNotFound.
	Credentials(ctx context.Context, email string) (Credentials, error)
	// Profile returns a user's profile with its friends' emails; ErrNotFound.
	Profile(ctx context.Context, userID int64) (Profile, error)
	// UpdateProfile changes the fields set in u; ErrNotFound.
	UpdateProfile(ctx context.Context, userID int64, u ProfileUpdate) (Profile, error)
	// SetPicture sets the user's picture key and returns the previous one; ErrNotFound.
	SetPicture(ctx context.Context, userID int64, key string) (previous string, err error)
	// UserByEmail finds a user by email, case-insensitively; ErrNotFound.
	UserByEmail(ctx context.Context, email string) (Summary, error)
	// AddFriend adds friendID to userID's friends (idempotent).
	AddFriend(ctx context.Context, userID, friendID int64) error
	// DeleteFriend removes friendID from userID's friends and reports
	// whether it was there.
	DeleteFriend(ctx context.Context, userID, friendID int64) (bool, error)
	// HasFriend reports whether userID added friendID.
	HasFriend(ctx context.Context, userID, friendID int64) (bool, error)
	// ListFriends returns up to limit friends of userID added after the
	// cursor position, oldest first.
	ListFriends(ctx context.Context, userID int64, after FriendCursor, limit int) ([]Friend, error)
	// SearchUsers returns up to limit users with id > afterID whose
	// nickname contains keyword case-insensitively (keyword is literal
	// text) or whose email is keyword (case-insensitively), as viewerID
	// may see them: Email is "" for a private user who did not add the
	// viewer, unless keyword is that email.
	SearchUsers(ctx context.Context, viewerID int64, keyword string, afterID int64, limit int) ([]Summary, error)
	// Users returns the summaries of the known ids, in any order.
	Users(ctx context.Context, ids []int64) ([]Summary, error)
	// FindByNicknames returns the users whose nickname equals one of the
	// lower-cased names case-insensitively, at most perName per name,
	// lowest ids first (conversations: @mentions).
	FindByNicknames(ctx context.Context, names []string, perName int) ([]Summary, error)
}

// TokenStore keeps refresh-token families and the refresh tokens issued in
// them, so that rotation is single use and reuse revokes a family.
type TokenStore interface {
	// StartFamily creates a family for userID with its first refresh token.
	StartFamily(ctx context.Context, familyID string, userID int64, first RefreshToken) error
	// Rotate marks usedJTI used and records next in the same family.
	// ErrTokenReused when usedJTI was already used (the family is revoked
	// in the same transaction); ErrTokenRevoked when the family is revoked,
	// unknown or not userID's.
	Rotate(ctx context.Context, familyID string, userID int64, usedJTI string, next RefreshToken) error
	// RevokeFamily revokes one family of userID; ErrNotFound when userID
	// has no such family.
	RevokeFamily(ctx context.Context, userID int64, familyID, reason string) error
	// RevokeUserFamilies revokes every live family of userID and returns
	// the ids of those it revoked.
	RevokeUserFamilies(ctx context.Context, userID int64, reason string) ([]string, error)
	// DeleteExpired removes families whose last refresh token expired
	// before t and reports how many.
	DeleteExpired(ctx context.Context, t time.Time) (int64, error)
}

// MediaStore keeps media objects by key. PostgreSQL implements it here; an
// S3-compatible object store could too.
type MediaStore interface {
	// Put stores m under m.Key (replacing nothing: keys are content-addressed).
	Put(ctx context.Context, m Media) error
	// Get returns the object; ErrNotFound.
	Get(ctx context.Context, key string) (Media, error)
	// Delete removes the object if present.
	Delete(ctx context.Context, key string) error
}

// LoginLimiter slows down password guessing, shared by every replica:
// addresses that keep failing wait longer and longer; an address without
// failures for an account is never refused for it (README, "Login rate
// limits"). Errors mean the limiter could not answer; the Service then
// logs and lets the login through (degraded, see README).
type LoginLimiter interface {
	// Attempt is called before the password is checked. It reports how
	// long ip (which may be "") must wait before trying account again;
	// when the wait is 0 the attempt is counted and may go ahead.
	Attempt(ctx context.Context, account, ip string) (wait time.Duration, err error)
	// Failed records that the attempt's password was wrong.
	Failed(ctx context.Context, account, ip string) error
	// Succeeded records that the attempt's password was right.
	Succeeded(ctx context.Context, account, ip string) error
}

// Denylist is the shared denylist of revoked sessions (refresh-token
// families, accesstoken.Claims.SessionID), which every process verifying
// access tokens consults.
type Denylist interface {
	// Revoke denylists sessionIDs until until.
	Revoke(ctx context.Context, until time.Time, sessionIDs ...string) error
}

// Announcer tells other processes (gateways) that sessions were revoked,
// so they reject their tokens even without Redis and close their sockets.
type Announcer interface {
	// UserRevoked announces the revocation of userID's sessions; jti is the
	// logged-out access token ("" when none, e.g. refresh-token reuse).
	UserRevoked(ctx context.Context, userID int64, sessionIDs []string, jti, reason string) error
}
