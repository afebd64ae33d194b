package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cobraspace/cobraspace/services/user/internal/user"
)

// BlockStore implements user.BlockStore.
type BlockStore struct {
	pool *pgxpool.Pool
}

// NewBlockStore returns a BlockStore on pool.
func NewBlockStore(pool *pgxpool.Pool) *BlockStore { return &BlockStore{pool: pool} }

var _ user.BlockStore = (*BlockStore)(nil)

// viewedSummary is summaryColumns with the email blanked when the viewer
// ($1) may not see it: the rule of SearchUsers (a private user's email
// shows only to users they added), so blocking an id cannot reveal whose
// it is.
const viewedSummary = `u.id,
	CASE WHEN NOT p.is_private OR EXISTS (SELECT 1 FROM friends f WHERE f.user_id = u.id AND f.friend_id = $1)
	THEN u.email ELSE '' END, p.nickname, p.picture_key, p.status`

// Block implements user.BlockStore. The user's row is locked first so that
// concurrent blocks by one user cannot pass the cap together.
func (s *BlockStore) Block(ctx context.Context, userID, blockedID int64, limit int) (user.Summary, bool, error) {
	var created bool
	var sum user.Summary
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, userID); err != nil {
			return err
		}
		var exists, known bool
		var count int
		err := tx.QueryRow(ctx, `SELECT
				EXISTS (SELECT 1 FROM blocks WHERE user_id = $1 AND blocked_id = $2),
				EXISTS (SELECT 1 FROM users WHERE id = $2),
				(SELECT count(*) FROM blocks WHERE user_id = $1)`, userID, blockedID).Scan(&exists, &known, &count)
		switch {
		case err != nil:
			return err
		case !known:
			return user.ErrNotFound
		case !exists && count >= limit:
			return user.ErrTooManyBlocks
		case !exists:
			tag, err := tx.Exec(ctx, `INSERT INTO blocks (user_id, blocked_id) VALUES ($1, $2)
				ON CONFLICT (user_id, blocked_id) DO NOTHING`, userID, blockedID)
			if err != nil {
				return err
			}
			created = tag.RowsAffected() == 1
		}
		rows, err := tx.Query(ctx, `SELECT `+viewedSummary+` FROM users u JOIN profiles p ON p.user_id = u.id
			WHERE u.id = $2`, userID, blockedID)
		if err != nil {
			return err
		}
		sum, err = pgx.CollectExactlyOneRow(rows, scanSummary)
		return err
	})
	if errors.Is(err, user.ErrNotFound) || errors.Is(err, user.ErrTooManyBlocks) {
		return user.Summary{}, false, err
	}
	if err != nil {
		return user.Summary{}, false, dbErr("block", err)
	}
	return sum, created, nil
}

// Unblock implements user.BlockStore.
func (s *BlockStore) Unblock(ctx context.Context, userID, blockedID int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM blocks WHERE user_id = $1 AND blocked_id = $2`, userID, blockedID)
	if err != nil {
		return false, dbErr("unblock", err)
	}
	return tag.RowsAffected() > 0, nil
}

// ListBlocks implements user.BlockStore.
func (s *BlockStore) ListBlocks(ctx context.Context, userID int64, after user.BlockCursor, limit int) ([]user.Blocked, error) {
	const q = `SELECT ` + viewedSummary + `, b.created_at FROM blocks b
		JOIN users u ON u.id = b.blocked_id JOIN profiles p ON p.user_id = u.id
		WHERE b.user_id = $1 %s ORDER BY b.created_at DESC, b.blocked_id DESC LIMIT $2`
	var rows pgx.Rows
	var err error
	if after.UserID == 0 {
		rows, err = s.pool.Query(ctx, fmt.Sprintf(q, ""), userID, limit)
	} else {
		rows, err = s.pool.Query(ctx, fmt.Sprintf(q, "AND (b.created_at, b.blocked_id) < ($3, $4)"),
			userID, limit, after.BlockedAt, after.UserID)
	}
	if err != nil {
		return nil, dbErr("list blocks", err)
	}
	blocked, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (user.Blocked, error) {
		var b user.Blocked
		var status string
		err := row.Scan(&b.UserID, &b.Email, &b.Nickname, &b.PictureKey, &status, &b.BlockedAt)
		b.Status = user.Status(status)
		return b, err
	})
	if err != nil {
		return nil, dbErr("list blocks", err)
	}
	return blocked, nil
}

// BlockedIDs implements user.BlockStore.
func (s *BlockStore) BlockedIDs(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT blocked_id FROM blocks WHERE user_id = $1`, userID)
	if err != nil {
		return nil, dbErr("blocked ids", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, dbErr("blocked ids", err)
	}
	return ids, nil
}

// Relation implements user.BlockStore in one round trip.
func (s *BlockStore) Relation(ctx context.Context, userID, otherID int64) (user.Relation, error) {
	var r user.Relation
	var otherKnown bool
	err := s.pool.QueryRow(ctx, `SELECT
			COALESCE((SELECT is_staff FROM users WHERE id = $1), false),
			EXISTS (SELECT 1 FROM blocks WHERE user_id = $1 AND blocked_id = $2),
			EXISTS (SELECT 1 FROM blocks WHERE user_id = $2 AND blocked_id = $1),
			COALESCE((SELECT is_private FROM profiles WHERE user_id = $2), false),
			EXISTS (SELECT 1 FROM friends WHERE user_id = $2 AND friend_id = $1),
			EXISTS (SELECT 1 FROM users WHERE id = $2)`, userID, otherID).
		Scan(&r.IsStaff, &r.Blocks, &r.BlockedBy, &r.OtherPrivate, &r.OtherAddedUser, &otherKnown)
	if err != nil {
		return user.Relation{}, dbErr("relation", err)
	}
	if otherID != 0 && !otherKnown {
		return user.Relation{}, user.ErrNotFound
	}
	return r, nil
}

// SetStaff implements user.BlockStore.
func (s *BlockStore) SetStaff(ctx context.Context, email string, on bool) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `UPDATE users SET is_staff = $2 WHERE lower(email) = lower($1) RETURNING id`,
		email, on).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, user.ErrNotFound
	}
	if err != nil {
		return 0, dbErr("set staff", err)
	}
	return id, nil
}
