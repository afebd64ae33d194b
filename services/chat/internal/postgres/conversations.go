package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// Memberships and notifications (migrations/00004). Unread counts are
// seq arithmetic on one member row and its room row:
//
//	unread = rooms.last_seq - last_read_seq - (own_total - own_read)
const unreadExpr = `r.last_seq - m.last_read_seq - (m.own_total - m.own_read)`

// JoinRoom implements chat.Store.
func (s *Store) JoinRoom(ctx context.Context, userID, roomID int64) (chat.Membership, bool, error) {
	var lastSeq int64
	var mark *int64
	err := s.pool.QueryRow(ctx, `
		WITH r AS (SELECT id, last_seq FROM rooms WHERE id = $2),
		ins AS (
			INSERT INTO room_members (user_id, room_id, last_read_seq)
			SELECT $1, id, last_seq FROM r
			ON CONFLICT (user_id, room_id) DO NOTHING
			RETURNING last_read_seq
		)
		SELECT r.last_seq, (SELECT last_read_seq FROM ins) FROM r`, userID, roomID).Scan(&lastSeq, &mark)
	if err != nil {
		return chat.Membership{}, false, notFound("join room", err, chat.MsgRoomNotFound)
	}
	if mark == nil {
		return chat.Membership{RoomID: roomID, UserID: userID}, false, nil
	}
	return chat.Membership{RoomID: roomID, UserID: userID, LastReadSeq: *mark, LastSeq: lastSeq}, true, nil
}

// MarkRead implements chat.Store. In one transaction it locks the member
// row first, so racing markers of one member run one after the other and
// only ever move it forward; a send of the same member (which updates
// own_total under the same row lock) commits entirely before or after.
// The room's last_seq is read after the lock (a new snapshot under READ
// COMMITTED), so it covers every own message own_total counts.
//
// Reading up to the room's end costs nothing more; reading to a seq in
// the middle counts the member's messages between the old and new marker
// (an index range of one partition, the messages the member just read).
func (s *Store) MarkRead(ctx context.Context, userID, roomID, seq int64) (chat.Membership, error) {
	var out chat.Membership
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var mark, ownTotal, ownRead int64
		err := tx.QueryRow(ctx, `SELECT last_read_seq, own_total, own_read FROM room_members
			WHERE user_id = $1 AND room_id = $2 FOR UPDATE`, userID, roomID).Scan(&mark, &ownTotal, &ownRead)
		notMember := errors.Is(err, pgx.ErrNoRows)
		if err != nil && !notMember {
			return err
		}
		var lastSeq int64
		if err := tx.QueryRow(ctx, `SELECT last_seq FROM rooms WHERE id = $1`, roomID).Scan(&lastSeq); err != nil {
			return notFound("load room", err, chat.MsgRoomNotFound)
		}
		if notMember {
			return &apperr.Error{Code: apperr.CodePermissionDenied, Message: chat.MsgNotMember}
		}
		if seq > lastSeq {
			return apperr.FieldError("seq", chat.MsgBadSeq)
		}
		if seq > mark {
			if seq == lastSeq {
				ownRead = ownTotal
			} else {
				var n int64
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM messages
					WHERE room_id = $1 AND seq > $2 AND seq <= $3 AND sender_id = $4`,
					roomID, mark, seq, userID).Scan(&n); err != nil {
					return err
				}
				ownRead += n
			}
			mark = seq
			if _, err := tx.Exec(ctx, `UPDATE room_members SET last_read_seq = $3, own_read = $4
				WHERE user_id = $1 AND room_id = $2`, userID, roomID, mark, ownRead); err != nil {
				return err
			}
		}
		out = chat.Membership{RoomID: roomID, UserID: userID, LastReadSeq: mark, LastSeq: lastSeq,
			UnreadCount: lastSeq - mark - (ownTotal - ownRead)}
		return nil
	})
	return out, dbErr("mark read", err)
}

// Membership implements chat.Store.
func (s *Store) Membership(ctx context.Context, userID, roomID int64) (chat.Membership, error) {
	out := chat.Membership{RoomID: roomID, UserID: userID}
	var member bool
	err := s.pool.QueryRow(ctx, `
		SELECT r.last_seq, m.user_id IS NOT NULL, coalesce(m.last_read_seq, 0), coalesce(`+unreadExpr+`, 0)
		FROM rooms r LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = $1
		WHERE r.id = $2`, userID, roomID).Scan(&out.LastSeq, &member, &out.LastReadSeq, &out.UnreadCount)
	if err != nil {
		return chat.Membership{}, notFound("load membership", err, chat.MsgRoomNotFound)
	}
	if !member {
		return chat.Membership{}, &apperr.Error{Code: apperr.CodePermissionDenied, Message: chat.MsgNotMember}
	}
	return out, nil
}

// MyRooms implements chat.Store. It sorts the user's memberships (their
// own rows, found by the primary key's user_id prefix) by activity: the
// cost grows with how many rooms the user is in, never with messages.
// Each room of the page then costs one probe of the newest end of its
// (room_id, seq) index for its last live message.
func (s *Store) MyRooms(ctx context.Context, userID int64, cur *chat.MyRoomsCursor, limit int) ([]chat.MyRoom, error) {
	at, after := time.Unix(0, math.MaxInt64).UTC(), int64(math.MaxInt64)
	if cur != nil {
		at, after = cur.Activity, cur.RoomID
	}
	rows, err := s.pool.Query(ctx, `
		WITH page AS (
			SELECT r.id, r.name, r.owner_id, coalesce(r.post_id, 0) AS post_id, r.last_seq, r.created_at,
				r.kind, coalesce(r.dm_low, 0) AS dm_low, coalesce(r.dm_high, 0) AS dm_high,
				m.last_read_seq, `+unreadExpr+` AS unread,
				greatest(coalesce(r.last_message_at, r.created_at), m.joined_at) AS act
			FROM room_members m JOIN rooms r ON r.id = m.room_id
			WHERE m.user_id = $1
				AND (greatest(coalesce(r.last_message_at, r.created_at), m.joined_at), r.id) < ($2, $3)
			ORDER BY act DESC, r.id DESC
			LIMIT $4
		)
		SELECT page.*, lm.id, lm.seq, lm.sender_id, lm.text, coalesce(lm.parent_id, 0), lm.client_msg_id,
			lm.created_at, lm.edited_at
		FROM page LEFT JOIN LATERAL (
			SELECT * FROM messages WHERE room_id = page.id AND deleted_at IS NULL ORDER BY seq DESC LIMIT 1
		) lm ON true
		ORDER BY page.act DESC, page.id DESC`, userID, at, after, limit)
	if err != nil {
		return nil, dbErr("list my rooms", err)
	}
	var out []chat.MyRoom
	var (
		r                        chat.MyRoom
		mID, mSeq, mSender, mPar *int64
		mText, mCMID             *string
		mAt, mEdited             *time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&r.Room.ID, &r.Room.Name, &r.Room.OwnerID, &r.Room.PostID, &r.Room.LastSeq,
		&r.Room.CreatedAt, &r.Room.Kind, &r.Room.DMUsers[0], &r.Room.DMUsers[1], &r.LastReadSeq, &r.UnreadCount, &r.Activity,
		&mID, &mSeq, &mSender, &mText, &mPar, &mCMID, &mAt, &mEdited}, func() error {
		x := r
		if mID != nil {
			x.LastMessage = &chat.Message{ID: *mID, RoomID: r.Room.ID, Seq: *mSeq, SenderID: *mSender, Text: *mText,
				ParentID: *mPar, ClientMsgID: *mCMID, CreatedAt: *mAt}
			if mEdited != nil {
				x.LastMessage.EditedAt = *mEdited
			}
		}
		out = append(out, x)
		return nil
	})
	return out, dbErr("list my rooms", err)
}

// ParentSenders implements chat.Store: one statement for every reply of a
// batch. The lateral lookup makes each key an index probe of its room's
// partition (run-time pruning on the correlated room_id); a plain join of
// the keys with messages was planned as a scan of every partition.
func (s *Store) ParentSenders(ctx context.Context, keys []chat.MessageRef) (map[int64]int64, error) {
	rooms, ids := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		rooms[i], ids[i] = k.RoomID, k.ID
	}
	rows, err := s.pool.Query(ctx, `
		SELECT k.id, m.sender_id FROM unnest($1::bigint[], $2::bigint[]) AS k(room_id, id)
		CROSS JOIN LATERAL (
			SELECT sender_id FROM messages m WHERE m.room_id = k.room_id AND m.id = k.id AND m.deleted_at IS NULL
		) m`, rooms, ids)
	if err != nil {
		return nil, dbErr("find parents", err)
	}
	out := make(map[int64]int64, len(keys))
	var id, sender int64
	_, err = pgx.ForEachRow(rows, []any{&id, &sender}, func() error {
		out[id] = sender
		return nil
	})
	return out, dbErr("find parents", err)
}

const notificationColumns = `id, user_id, kind, actor_id, room_id, message_id, seq, excerpt, created_at, read`

func scanNotification(row pgx.Row) (chat.Notification, error) {
	var n chat.Notification
	err := row.Scan(&n.ID, &n.UserID, &n.Kind, &n.Actor.ID, &n.RoomID, &n.MessageID, &n.Seq, &n.Excerpt, &n.CreatedAt, &n.Read)
	return n, err
}

// Notifications implements chat.Store; one round trip for the page and
// the unread count (the counter row, not a count).
func (s *Store) Notifications(ctx context.Context, userID int64, p chat.NotificationPage) ([]chat.Notification, int64, error) {
	var q string
	var args []any
	switch {
	case p.AfterID > 0 || p.OldestFirst:
		q = `SELECT ` + notificationColumns + ` FROM notifications WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3`
		args = []any{userID, p.AfterID, p.Limit}
	default:
		before := p.BeforeID
		if before <= 0 {
			before = math.MaxInt64
		}
		unread := ""
		if p.UnreadOnly {
			unread = ` AND NOT read`
		}
		q = `SELECT ` + notificationColumns + ` FROM notifications WHERE user_id = $1 AND id < $2` + unread +
			` ORDER BY id DESC LIMIT $3`
		args = []any{userID, before, p.Limit}
	}
	b := &pgx.Batch{}
	var list []chat.Notification
	var unread int64
	b.Queue(q, args...).Query(func(rows pgx.Rows) error {
		var err error
		list, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.Notification, error) { return scanNotification(r) })
		return err
	})
	b.Queue(`SELECT coalesce((SELECT unread FROM notification_counters WHERE user_id = $1), 0)`, userID).
		QueryRow(func(row pgx.Row) error { return row.Scan(&unread) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, 0, dbErr("list notifications", err)
	}
	return list, unread, nil
}

// MarkNotificationsRead implements chat.Store: one statement marks the
// rows and takes what it marked off the counter (rows already read are
// not matched, so racing calls never subtract twice).
func (s *Store) MarkNotificationsRead(ctx context.Context, userID int64, ids []int64, all bool) (int64, error) {
	if ids == nil {
		ids = []int64{}
	}
	var unread int64
	err := s.pool.QueryRow(ctx, `
		WITH upd AS (
			UPDATE notifications SET read = true
			WHERE user_id = $1 AND NOT read AND ($3 OR id = ANY($2))
			RETURNING 1
		), c AS (
			UPDATE notification_counters SET unread = unread - (SELECT count(*) FROM upd)
			WHERE user_id = $1 RETURNING unread
		)
		SELECT coalesce((SELECT unread FROM c), 0)`, userID, ids, all).Scan(&unread)
	return unread, dbErr("mark notifications read", err)
}

// CreateNotification implements chat.Store: the user's counter row hands
// out the next id in the same statement that stores the notification.
func (s *Store) CreateNotification(ctx context.Context, n chat.Notification) (chat.Notification, error) {
	err := s.pool.QueryRow(ctx, `
		WITH c AS (
			INSERT INTO notification_counters AS c (user_id, last_id, unread) VALUES ($1, 1, 1)
			ON CONFLICT (user_id) DO UPDATE SET last_id = c.last_id + 1, unread = c.unread + 1
			RETURNING last_id
		)
		INSERT INTO notifications (user_id, id, kind, actor_id, room_id, message_id, seq, excerpt)
		SELECT $1, last_id, $2, $3, $4, $5, $6, $7 FROM c
		RETURNING id, created_at`, n.UserID, n.Kind, n.Actor.ID, n.RoomID, n.MessageID, n.Seq, n.Excerpt).
		Scan(&n.ID, &n.CreatedAt)
	if err != nil {
		return chat.Notification{}, fmt.Errorf("create notification: %w", dbErr("insert", err))
	}
	return n, nil
}
