package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cobraspace/cobraspace/services/user/internal/push"
)

// PushStore implements push.Store.
type PushStore struct {
	pool *pgxpool.Pool
}

// NewPushStore returns a PushStore on pool.
func NewPushStore(pool *pgxpool.Pool) *PushStore { return &PushStore{pool: pool} }

const pushColumns = `id, user_id, endpoint, p256dh, auth, user_agent, created_at, last_success_at`

func scanPush(row pgx.Row) (push.Subscription, error) {
	var s push.Subscription
	var last *time.Time
	err := row.Scan(&s.ID, &s.UserID, &s.Endpoint, &s.P256dh, &s.Auth, &s.UserAgent, &s.CreatedAt, &last)
	if last != nil {
		s.LastSuccessAt = *last
	}
	return s, err
}

// Save implements push.Store. The user's row is locked first, so two
// concurrent subscriptions of one user cannot both pass the device cap.
func (s *PushStore) Save(ctx context.Context, sub push.Subscription, maxPerUser int) (push.Subscription, error) {
	var out push.Subscription
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, sub.UserID); err != nil {
			return err
		}
		// A changed key means a new subscription at the same endpoint: its
		// history starts over.
		var err error
		out, err = scanPush(tx.QueryRow(ctx, `
			INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, user_agent)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (endpoint) DO UPDATE SET
				user_id = EXCLUDED.user_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth,
				user_agent = EXCLUDED.user_agent,
				created_at = CASE WHEN push_subscriptions.user_id = EXCLUDED.user_id
					AND push_subscriptions.p256dh = EXCLUDED.p256dh AND push_subscriptions.auth = EXCLUDED.auth
					THEN push_subscriptions.created_at ELSE now() END,
				last_success_at = CASE WHEN push_subscriptions.user_id = EXCLUDED.user_id
					AND push_subscriptions.p256dh = EXCLUDED.p256dh AND push_subscriptions.auth = EXCLUDED.auth
					THEN push_subscriptions.last_success_at END
			RETURNING `+pushColumns,
			sub.UserID, sub.Endpoint, sub.P256dh, sub.Auth, sub.UserAgent))
		if err != nil {
			return err
		}
		// Least recently used: the last accepted push, or the subscription
		// time for one that never had any.
		_, err = tx.Exec(ctx, `
			DELETE FROM push_subscriptions WHERE id IN (
				SELECT id FROM push_subscriptions WHERE user_id = $1 AND id <> $2
				ORDER BY coalesce(last_success_at, created_at) DESC, id DESC
				OFFSET $3)`, sub.UserID, out.ID, max(maxPerUser-1, 0))
		return err
	})
	if err != nil {
		return push.Subscription{}, dbErr("save push subscription", err)
	}
	return out, nil
}

// Delete implements push.Store.
func (s *PushStore) Delete(ctx context.Context, userID int64, endpoint string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2`, userID, endpoint); err != nil {
		return dbErr("delete push subscription", err)
	}
	return nil
}

// List implements push.Store.
func (s *PushStore) List(ctx context.Context, userID int64) ([]push.Subscription, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pushColumns+` FROM push_subscriptions
		WHERE user_id = $1 ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, dbErr("list push subscriptions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (push.Subscription, error) { return scanPush(r) })
	if err != nil {
		return nil, dbErr("list push subscriptions", err)
	}
	return out, nil
}

// Remove implements push.Store. created_at tells a resubscription with new
// keys at the same endpoint (Save resets it) from the one that was gone.
func (s *PushStore) Remove(ctx context.Context, sub push.Subscription) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM push_subscriptions WHERE id = $1 AND created_at = $2`, sub.ID, sub.CreatedAt); err != nil {
		return dbErr("remove push subscription", err)
	}
	return nil
}

// MarkSuccess implements push.Store.
func (s *PushStore) MarkSuccess(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE push_subscriptions SET last_success_at = $2 WHERE id = $1`, id, at); err != nil {
		return dbErr("mark push success", err)
	}
	return nil
}
