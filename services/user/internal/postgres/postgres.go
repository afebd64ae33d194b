// Package postgres stores the user service's users, profiles, friends,
// refresh-token families and media in PostgreSQL (pgx). pgx types never
// leave this package; it returns the user package's types and errors.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cobraspace/cobraspace/services/user/internal/user"
)

// UserStore implements user.Store.
type UserStore struct {
	pool *pgxpool.Pool
}

// NewUserStore returns a UserStore on pool.
func NewUserStore(pool *pgxpool.Pool) *UserStore { return &UserStore{pool: pool} }

const uniqueViolation = "23505"

// CreateUser implements user.Store; user.ErrEmailTaken.
func (s *UserStore) CreateUser(ctx context.Context, u user.NewUser) (user.Profile, error) {
	var p user.Profile
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx,
			`INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id, email, created_at`,
			u.Email, u.PasswordHash).Scan(&p.UserID, &p.Email, &p.CreatedAt)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO profiles (user_id, nickname) VALUES ($1, $2)`, p.UserID, u.Nickname)
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && pgErr.ConstraintName == "users_email_lower_key" {
		return user.Profile{}, user.ErrEmailTaken
	}
	if err != nil {
		return user.Profile{}, dbErr("create user", err)
	}
	p.Nickname = u.Nickname
	p.Status = user.StatusAvailable
	p.Skills, p.Interests, p.FriendsEmails = []string{}, []string{}, []string{}
	return p, nil
}

// Credentials implements user.Store; user.ErrNotFound.
func (s *UserStore) Credentials(ctx context.Context, email string) (user.Credentials, error) {
	var c user.Credentials
	err := s.pool.QueryRow(ctx,
		`SELECT id, email, password_hash FROM users WHERE lower(email) = lower($1)`, email).
		Scan(&c.UserID, &c.Email, &c.PasswordHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return user.Credentials{}, user.ErrNotFound
	}
	if err != nil {
		return user.Credentials{}, dbErr("credentials", err)
	}
	return c, nil
}

const profileColumns = `u.id, u.email, u.created_at, p.nickname, p.picture_key, p.bio, p.skills, p.interests,
	p.status, p.is_private, p.contact_number`

func scanProfile(row pgx.Row) (user.Profile, error) {
	var p user.Profile
	var status string
	err := row.Scan(&p.UserID, &p.Email, &p.CreatedAt, &p.Nickname, &p.PictureKey, &p.Bio, &p.Skills, &p.Interests,
		&status, &p.IsPrivate, &p.ContactNumber)
	p.Status = user.Status(status)
	return p, err
}

// Profile implements user.Store; user.ErrNotFound.
func (s *UserStore) Profile(ctx context.Context, userID int64) (user.Profile, error) {
	return s.profile(ctx, s.pool, userID)
}

// querier is what pool and transactions have in common.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (s *UserStore) profile(ctx context.Context, q querier, userID int64) (user.Profile, error) {
	p, err := scanProfile(q.QueryRow(ctx,
		`SELECT `+profileColumns+` FROM users u JOIN profiles p ON p.user_id = u.id WHERE u.id = $1`, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return user.Profile{}, user.ErrNotFound
	}
	if err != nil {
		return user.Profile{}, dbErr("profile", err)
	}
	rows, err := q.Query(ctx, `SELECT u.email FROM friends f JOIN users u ON u.id = f.friend_id
		WHERE f.user_id = $1 ORDER BY f.created_at, f.friend_id`, userID)
	if err != nil {
		return user.Profile{}, dbErr("friends emails", err)
	}
	p.FriendsEmails, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return user.Profile{}, dbErr("friends emails", err)
	}
	if p.FriendsEmails == nil {
		p.FriendsEmails = []string{}
	}
	return p, nil
}

// UpdateProfile implements user.Store; user.ErrNotFound.
func (s *UserStore) UpdateProfile(ctx context.Context, userID int64, u user.ProfileUpdate) (user.Profile, error) {
	var sets []string
	args := []any{userID}
	set := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	if u.Nickname != nil {
		set("nickname", *u.Nickname)
	}
	if u.Bio != nil {
		set("bio", *u.Bio)
	}
	if u.Skills != nil {
		set("skills", *u.Skills)
	}
	if u.Interests != nil {
		set("interests", *u.Interests)
	}
	if u.Status != nil {
		set("status", string(*u.Status))
	}
	if u.IsPrivate != nil {
		set("is_private", *u.IsPrivate)
	}
	if u.ContactNumber != nil {
		set("contact_number", *u.ContactNumber)
	}
	if len(sets) == 0 {
		return s.Profile(ctx, userID)
	}
	var p user.Profile
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Column names come from the fixed list above, values are bound.
		tag, err := tx.Exec(ctx, `UPDATE profiles SET `+strings.Join(sets, ", ")+` WHERE user_id = $1`, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return user.ErrNotFound
		}
		p, err = s.profile(ctx, tx, userID)
		return err
	})
	if err != nil {
		if errors.Is(err, user.ErrNotFound) {
			return user.Profile{}, err
		}
		return user.Profile{}, dbErr("update profile", err)
	}
	return p, nil
}

// SetPicture implements user.Store; user.ErrNotFound.
func (s *UserStore) SetPicture(ctx context.Context, userID int64, key string) (string, error) {
	var prev string
	// The sub-select reads the row before the update: the previous key.
	err := s.pool.QueryRow(ctx, `UPDATE profiles p SET picture_key = $2
		FROM (SELECT user_id, picture_key FROM profiles WHERE user_id = $1 FOR UPDATE) old
		WHERE p.user_id = old.user_id RETURNING old.picture_key`, userID, key).Scan(&prev)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", user.ErrNotFound
	}
	if err != nil {
		return "", dbErr("set picture", err)
	}
	return prev, nil
}

const summaryColumns = `u.id, u.email, p.nickname, p.picture_key, p.status`

func scanSummary(row pgx.CollectableRow) (user.Summary, error) {
	var s user.Summary
	var status string
	err := row.Scan(&s.UserID, &s.Email, &s.Nickname, &s.PictureKey, &status)
	s.Status = user.Status(status)
	return s, err
}

// UserByEmail implements user.Store; user.ErrNotFound.
func (s *UserStore) UserByEmail(ctx context.Context, email string) (user.Summary, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+summaryColumns+` FROM users u JOIN profiles p ON p.user_id = u.id
		WHERE lower(u.email) = lower($1)`, email)
	if err != nil {
		return user.Summary{}, dbErr("user by email", err)
	}
	sum, err := pgx.CollectExactlyOneRow(rows, scanSummary)
	if errors.Is(err, pgx.ErrNoRows) {
		return user.Summary{}, user.ErrNotFound
	}
	if err != nil {
		return user.Summary{}, dbErr("user by email", err)
	}
	return sum, nil
}

// AddFriend implements user.Store.
func (s *UserStore) AddFriend(ctx context.Context, userID, friendID int64) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO friends (user_id, friend_id) VALUES ($1, $2)
		ON CONFLICT (user_id, friend_id) DO NOTHING`, userID, friendID)
	if err != nil {
		return dbErr("add friend", err)
	}
	return nil
}

// DeleteFriend implements user.Store.
func (s *UserStore) DeleteFriend(ctx context.Context, userID, friendID int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM friends WHERE user_id = $1 AND friend_id = $2`, userID, friendID)
	if err != nil {
		return false, dbErr("delete friend", err)
	}
	return tag.RowsAffected() > 0, nil
}

// HasFriend implements user.Store.
func (s *UserStore) HasFriend(ctx context.Context, userID, friendID int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM friends WHERE user_id = $1 AND friend_id = $2)`,
		userID, friendID).Scan(&ok)
	if err != nil {
		return false, dbErr("has friend", err)
	}
	return ok, nil
}

// ListFriends implements user.Store.
func (s *UserStore) ListFriends(ctx context.Context, userID int64, after user.FriendCursor, limit int) ([]user.Friend, error) {
	var rows pgx.Rows
	var err error
	const q = `SELECT ` + summaryColumns + `, f.created_at FROM friends f
		JOIN users u ON u.id = f.friend_id JOIN profiles p ON p.user_id = u.id
		WHERE f.user_id = $1 %s ORDER BY f.created_at, f.friend_id LIMIT $2`
	if after.FriendID == 0 {
		rows, err = s.pool.Query(ctx, fmt.Sprintf(q, ""), userID, limit)
	} else {
		rows, err = s.pool.Query(ctx, fmt.Sprintf(q, "AND (f.created_at, f.friend_id) > ($3, $4)"),
			userID, limit, after.AddedAt, after.FriendID)
	}
	if err != nil {
		return nil, dbErr("list friends", err)
	}
	friends, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (user.Friend, error) {
		var f user.Friend
		var status string
		err := row.Scan(&f.UserID, &f.Email, &f.Nickname, &f.PictureKey, &status, &f.AddedAt)
		f.Status = user.Status(status)
		return f, err
	})
	if err != nil {
		return nil, dbErr("list friends", err)
	}
	return friends, nil
}

// likeEscaper makes a keyword literal inside a LIKE pattern (with
// ESCAPE '\'): the backslash first, then the wildcards.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// SearchUsers implements user.Store. The keyword is bound as a parameter
// (never spliced into SQL) and its LIKE wildcards are escaped. The email
// column is blanked in SQL for private profiles the viewer may not see
// (the rule of FriendProfile: the user added the viewer), unless the
// keyword is that very email.
func (s *UserStore) SearchUsers(ctx context.Context, viewerID int64, keyword string, afterID int64, limit int) ([]user.Summary, error) {
	pattern := "%" + likeEscaper.Replace(keyword) + "%"
	rows, err := s.pool.Query(ctx, `SELECT u.id,
			CASE WHEN NOT p.is_private OR u.id = $2 OR lower(u.email) = lower($1)
				OR EXISTS (SELECT 1 FROM friends f WHERE f.user_id = u.id AND f.friend_id = $2)
			THEN u.email ELSE '' END,
			p.nickname, p.picture_key, p.status
		FROM users u JOIN profiles p ON p.user_id = u.id
		WHERE (p.nickname ILIKE $3 ESCAPE '\' OR lower(u.email) = lower($1)) AND u.id > $4
		ORDER BY u.id LIMIT $5`, keyword, viewerID, pattern, afterID, limit)
	if err != nil {
		return nil, dbErr("search users", err)
	}
	users, err := pgx.CollectRows(rows, scanSummary)
	if err != nil {
		return nil, dbErr("search users", err)
	}
	return users, nil
}

// Users implements user.Store.
func (s *UserStore) Users(ctx context.Context, ids []int64) ([]user.Summary, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+summaryColumns+` FROM users u JOIN profiles p ON p.user_id = u.id
		WHERE u.id = ANY($1)`, ids)
	if err != nil {
		return nil, dbErr("users", err)
	}
	users, err := pgx.CollectRows(rows, scanSummary)
	if err != nil {
		return nil, dbErr("users", err)
	}
	return users, nil
}

// FindByNicknames implements user.Store: one statement for all names, at
// most perName per name, read from the (lower(nickname), user_id) index
// (migration 00004), so a lookup costs the matches, not the user count.
func (s *UserStore) FindByNicknames(ctx context.Context, names []string, perName int) ([]user.Summary, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+summaryColumns+` FROM users u JOIN profiles p ON p.user_id = u.id
		WHERE u.id IN (
			SELECT user_id FROM (
				SELECT user_id, row_number() OVER (PARTITION BY lower(nickname) ORDER BY user_id) AS nth
				FROM profiles WHERE lower(nickname) = ANY($1)
			) AS m WHERE nth <= $2
		)
		ORDER BY u.id`, names, perName)
	if err != nil {
		return nil, dbErr("find by nicknames", err)
	}
	users, err := pgx.CollectRows(rows, scanSummary)
	if err != nil {
		return nil, dbErr("find by nicknames", err)
	}
	return users, nil
}

// TokenStore implements user.TokenStore.
type TokenStore struct {
	pool *pgxpool.Pool
}

// NewTokenStore returns a TokenStore on pool.
func NewTokenStore(pool *pgxpool.Pool) *TokenStore { return &TokenStore{pool: pool} }

// StartFamily implements user.TokenStore.
func (s *TokenStore) StartFamily(ctx context.Context, familyID string, userID int64, first user.RefreshToken) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_families (id, user_id, expires_at) VALUES ($1, $2, $3)`,
			familyID, userID, first.ExpiresAt); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (jti, family_id, expires_at) VALUES ($1, $2, $3)`,
			first.JTI, familyID, first.ExpiresAt)
		return err
	})
	if err != nil {
		return dbErr("start token family", err)
	}
	return nil
}

// Rotate implements user.TokenStore; user.ErrTokenReused, user.ErrTokenRevoked.
func (s *TokenStore) Rotate(ctx context.Context, familyID string, userID int64, usedJTI string, next user.RefreshToken) error {
	var reused bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Locking the family serialises concurrent rotations of it: the
		// second presenter of one token sees it used.
		var owner int64
		var revoked bool
		err := tx.QueryRow(ctx, `SELECT user_id, revoked_at IS NOT NULL OR expires_at < now()
			FROM refresh_families WHERE id = $1 FOR UPDATE`, familyID).Scan(&owner, &revoked)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && (owner != userID || revoked)) {
			return user.ErrTokenRevoked
		}
		if err != nil {
			return err
		}
		var used bool
		err = tx.QueryRow(ctx, `SELECT used_at IS NOT NULL FROM refresh_tokens WHERE jti = $1 AND family_id = $2`,
			usedJTI, familyID).Scan(&used)
		if errors.Is(err, pgx.ErrNoRows) {
			return user.ErrTokenRevoked
		}
		if err != nil {
			return err
		}
		if used {
			// Reuse: someone holds an old token. Revoke the whole family
			// and commit that, then report the reuse.
			reused = true
			_, err = tx.Exec(ctx, `UPDATE refresh_families SET revoked_at = now(), revoke_reason = 'reuse'
				WHERE id = $1`, familyID)
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = now() WHERE jti = $1`, usedJTI); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (jti, family_id, expires_at) VALUES ($1, $2, $3)`,
			next.JTI, familyID, next.ExpiresAt); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE refresh_families SET expires_at = $2 WHERE id = $1`, familyID, next.ExpiresAt)
		return err
	})
	switch {
	case errors.Is(err, user.ErrTokenRevoked):
		return err
	case err != nil:
		return dbErr("rotate refresh token", err)
	case reused:
		return user.ErrTokenReused
	}
	return nil
}

// RevokeFamily implements user.TokenStore; user.ErrNotFound.
func (s *TokenStore) RevokeFamily(ctx context.Context, userID int64, familyID, reason string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE refresh_families SET revoked_at = coalesce(revoked_at, now()),
		revoke_reason = coalesce(revoke_reason, $3) WHERE id = $1 AND user_id = $2`, familyID, userID, reason)
	if err != nil {
		return dbErr("revoke token family", err)
	}
	if tag.RowsAffected() == 0 {
		return user.ErrNotFound
	}
	return nil
}

// RevokeUserFamilies implements user.TokenStore. Expired families are left
// alone: they refresh nothing, and no access token of theirs is still valid
// (an access token lives less than the refresh token issued with it).
func (s *TokenStore) RevokeUserFamilies(ctx context.Context, userID int64, reason string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `UPDATE refresh_families SET revoked_at = now(), revoke_reason = $2
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() RETURNING id`, userID, reason)
	if err != nil {
		return nil, dbErr("revoke token families", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, dbErr("revoke token families", err)
	}
	return ids, nil
}

// DeleteExpired implements user.TokenStore.
func (s *TokenStore) DeleteExpired(ctx context.Context, t time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM refresh_families WHERE expires_at < $1`, t)
	if err != nil {
		return 0, dbErr("delete expired token families", err)
	}
	return tag.RowsAffected(), nil
}

// MediaStore implements user.MediaStore in the media table.
type MediaStore struct {
	pool *pgxpool.Pool
}

// NewMediaStore returns a MediaStore on pool.
func NewMediaStore(pool *pgxpool.Pool) *MediaStore { return &MediaStore{pool: pool} }

// Put implements user.MediaStore. Keys are content-addressed, so an
// existing key already holds the same bytes and is kept.
func (s *MediaStore) Put(ctx context.Context, m user.Media) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO media (key, content_type, data, etag) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key) DO NOTHING`, m.Key, m.ContentType, m.Data, m.ETag)
	if err != nil {
		return dbErr("put media", err)
	}
	return nil
}

// Get implements user.MediaStore; user.ErrNotFound. Stored objects are
// immutable: their keys are content hashes.
func (s *MediaStore) Get(ctx context.Context, key string) (user.Media, error) {
	m := user.Media{Key: key, Immutable: true}
	err := s.pool.QueryRow(ctx, `SELECT content_type, data, etag, created_at FROM media WHERE key = $1`, key).
		Scan(&m.ContentType, &m.Data, &m.ETag, &m.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return user.Media{}, user.ErrNotFound
	}
	if err != nil {
		return user.Media{}, dbErr("get media", err)
	}
	return m, nil
}

// Delete implements user.MediaStore.
func (s *MediaStore) Delete(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM media WHERE key = $1`, key); err != nil {
		return dbErr("delete media", err)
	}
	return nil
}

// dbErr wraps err with the operation; failures to reach the database are
// also marked user.ErrUnavailable (safe to retry).
func dbErr(op string, err error) error {
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) || pgconn.SafeToRetry(err) || errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s: %w: %w", op, user.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
