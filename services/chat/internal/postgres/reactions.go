package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// ToggleReaction implements chat.Store in one transaction. It first bumps
// the message's reaction_rev: that finds the message (live, by id alone:
// the public route names no room), and its row lock serialises every
// toggle of the message until commit, so that
//   - two toggles of the same user and emoji (say from two gateways) run
//     one after the other: the first adds, the second removes;
//   - the distinct-emoji cap cannot be overrun by users adding different
//     new emoji at once;
//   - the counts of message_reaction_counts always match the rows of
//     message_reactions.
//
// The lock is held for a handful of statements on the message's few
// reaction rows; edits, deletes and a reply's reply_count update of the
// same message wait that long.
func (s *Store) ToggleReaction(ctx context.Context, id, userID int64, emoji string, maxDistinct int) (chat.ReactionChange, error) {
	c := chat.ReactionChange{MessageID: id}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE messages SET reaction_rev = reaction_rev + 1
			WHERE id = $1 AND deleted_at IS NULL RETURNING room_id, seq, reaction_rev`, id).Scan(&c.RoomID, &c.Seq, &c.Rev)
		if err != nil {
			return notFound("lock message", err, chat.MsgMessageNotFound)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3`,
			id, userID, emoji)
		if err != nil {
			return fmt.Errorf("remove reaction: %w", err)
		}
		if tag.RowsAffected() > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM message_reaction_counts WHERE message_id = $1 AND emoji = $2 AND count = 1`,
				id, emoji); err != nil {
				return fmt.Errorf("drop reaction count: %w", err)
			}
			if _, err := tx.Exec(ctx, `UPDATE message_reaction_counts SET count = count - 1
				WHERE message_id = $1 AND emoji = $2`, id, emoji); err != nil {
				return fmt.Errorf("lower reaction count: %w", err)
			}
		} else {
			c.Added = true
			var distinct int
			var have bool
			if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(bool_or(emoji = $2), false)
				FROM message_reaction_counts WHERE message_id = $1`, id, emoji).Scan(&distinct, &have); err != nil {
				return fmt.Errorf("count reactions: %w", err)
			}
			if !have && distinct >= maxDistinct {
				return chat.ErrTooManyReactions()
			}
			if _, err := tx.Exec(ctx, `INSERT INTO message_reactions (message_id, user_id, emoji, room_id)
				VALUES ($1, $2, $3, $4)`, id, userID, emoji, c.RoomID); err != nil {
				return fmt.Errorf("add reaction: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO message_reaction_counts (message_id, emoji, count, room_id)
				VALUES ($1, $2, 1, $3)
				ON CONFLICT (message_id, emoji) DO UPDATE SET count = message_reaction_counts.count + 1`,
				id, emoji, c.RoomID); err != nil {
				return fmt.Errorf("raise reaction count: %w", err)
			}
		}
		rows, err := tx.Query(ctx, `SELECT c.emoji, c.count, EXISTS (SELECT 1 FROM message_reactions r
				WHERE r.message_id = c.message_id AND r.user_id = $2 AND r.emoji = c.emoji)
			FROM message_reaction_counts c WHERE c.message_id = $1 ORDER BY c.first_at, c.emoji`, id, userID)
		if err != nil {
			return fmt.Errorf("read reactions: %w", err)
		}
		c.Reactions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.Reaction, error) {
			var x chat.Reaction
			err := r.Scan(&x.Emoji, &x.Count, &x.Me)
			return x, err
		})
		if err != nil {
			return fmt.Errorf("read reactions: %w", err)
		}
		return nil
	})
	if err != nil {
		return chat.ReactionChange{}, dbErr("toggle reaction", err)
	}
	return c, nil
}
