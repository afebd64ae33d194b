package postgres

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

var _ chat.ModerationStore = (*Store)(nil)

// ActiveMutes implements chat.ModerationStore.
func (s *Store) ActiveMutes(ctx context.Context, roomID int64) (map[int64]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT user_id, until FROM room_mutes WHERE room_id = $1 AND until > now()`, roomID)
	if err != nil {
		return nil, dbErr("active mutes", err)
	}
	out := map[int64]time.Time{}
	var id int64
	var until time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &until}, func() error {
		out[id] = until
		return nil
	})
	return out, dbErr("active mutes", err)
}

// SetMute implements chat.ModerationStore.
func (s *Store) SetMute(ctx context.Context, roomID, userID, by int64, until time.Time, a chat.Audit) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if until.IsZero() {
			_, err = tx.Exec(ctx, `DELETE FROM room_mutes WHERE room_id = $1 AND user_id = $2`, roomID, userID)
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO room_mutes (room_id, user_id, until, muted_by) VALUES ($1, $2, $3, $4)
				ON CONFLICT (room_id, user_id) DO UPDATE SET until = excluded.until, muted_by = excluded.muted_by, muted_at = now()`,
				roomID, userID, until, by)
		}
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, a)
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" { // the room went away
		return apperr.New(apperr.CodeNotFound, chat.MsgRoomNotFound)
	}
	return dbErr("set mute", err)
}

func insertAudit(ctx context.Context, tx pgx.Tx, a chat.Audit) error {
	_, err := tx.Exec(ctx, `INSERT INTO moderation_audit (actor_id, action, target_user_id, room_id, message_id, detail)
		VALUES ($1, $2, $3, $4, nullif($5::bigint, 0), $6)`, a.ActorID, a.Action, a.TargetUserID, a.RoomID, a.MessageID, a.Detail)
	return err
}

// DeleteMessageAudited implements chat.ModerationStore.
func (s *Store) DeleteMessageAudited(ctx context.Context, roomID, id int64, a chat.Audit) (chat.Message, error) {
	var m chat.Message
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		m, err = deleteMessage(ctx, tx, roomID, id)
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, a)
	})
	return m, notFound("delete message (moderated)", err, chat.MsgMessageNotFound)
}

const reportColumns = `id, message_id, room_id, sender_id, message_text, reporter_id, reason, created_at`

func scanReport(row pgx.Row) (chat.Report, error) {
	var r chat.Report
	err := row.Scan(&r.ID, &r.MessageID, &r.RoomID, &r.SenderID, &r.MessageText, &r.ReporterID, &r.Reason, &r.CreatedAt)
	return r, err
}

// AddReport implements chat.ModerationStore.
func (s *Store) AddReport(ctx context.Context, r chat.Report) (chat.Report, bool, error) {
	stored, err := scanReport(s.pool.QueryRow(ctx, `INSERT INTO message_reports
			(message_id, room_id, sender_id, message_text, reporter_id, reason) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (message_id, reporter_id) DO NOTHING RETURNING `+reportColumns,
		r.MessageID, r.RoomID, r.SenderID, r.MessageText, r.ReporterID, r.Reason))
	if err == nil {
		return stored, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return chat.Report{}, false, dbErr("add report", err)
	}
	stored, err = scanReport(s.pool.QueryRow(ctx, `SELECT `+reportColumns+` FROM message_reports
		WHERE message_id = $1 AND reporter_id = $2`, r.MessageID, r.ReporterID))
	return stored, false, dbErr("load report", err)
}

// Reports implements chat.ModerationStore.
func (s *Store) Reports(ctx context.Context, beforeID int64, limit int) ([]chat.Report, error) {
	if beforeID <= 0 {
		beforeID = math.MaxInt64
	}
	rows, err := s.pool.Query(ctx, `SELECT `+reportColumns+` FROM message_reports WHERE id < $1 ORDER BY id DESC LIMIT $2`,
		beforeID, limit)
	if err != nil {
		return nil, dbErr("list reports", err)
	}
	reports, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.Report, error) { return scanReport(r) })
	return reports, dbErr("list reports", err)
}

// likeEscaper makes text literal inside a LIKE pattern with ESCAPE '\':
// the backslash first, then the wildcards.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// SearchMessages implements chat.ModerationStore. ILIKE '%text%' is
// served by the trigram GIN index (migrations/00005) when the text has a
// trigram; the planner may instead walk the room's (room_id, seq) index
// newest first and filter, which is the faster plan when matches are
// frequent, and the only one for texts shorter than three characters.
// Either way the answer is the same. A text without a trigram that
// matches little in a big room reads the whole room (about 1.5 s for a
// million messages, BENCHMARKS.md), so each search may run searchTimeout
// at most and then answers chat.ErrSearchTooBroad.
func (s *Store) SearchMessages(ctx context.Context, roomID int64, query string, beforeSeq int64, limit int) ([]chat.Message, error) {
	if beforeSeq <= 0 {
		beforeSeq = math.MaxInt64
	}
	var msgs []chat.Message
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = `+strconv.Itoa(int(searchTimeout.Milliseconds()))); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+messageColumns+` FROM messages
			WHERE room_id = $1 AND seq < $2 AND deleted_at IS NULL AND text ILIKE $3 ESCAPE '\'
			ORDER BY seq DESC LIMIT $4`, roomID, beforeSeq, "%"+likeEscaper.Replace(query)+"%", limit)
		if err != nil {
			return err
		}
		msgs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.Message, error) { return scanMessage(r) })
		return err
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "57014" && ctx.Err() == nil { // query_canceled by our timeout
		return nil, chat.ErrSearchTooBroad()
	}
	return msgs, dbErr("search messages", err)
}

// searchTimeout bounds one search's work in the database.
const searchTimeout = 2 * time.Second

// dmRoomName names every DM room: clients show the other user instead.
const dmRoomName = "Direct message"

// OpenDMRoom implements chat.ModerationStore. The unique (dm_low,
// dm_high) makes a concurrent second insert wait for the first and do
// nothing; the select then sees the committed room.
func (s *Store) OpenDMRoom(ctx context.Context, low, high int64) (chat.Room, bool, error) {
	r, err := scanRoom(s.pool.QueryRow(ctx, `INSERT INTO rooms (name, owner_id, kind, dm_low, dm_high)
		VALUES ($1, 0, 'dm', $2, $3) ON CONFLICT (dm_low, dm_high) DO NOTHING RETURNING `+roomColumns,
		dmRoomName, low, high))
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return chat.Room{}, false, dbErr("open dm room", err)
	}
	r, err = scanRoom(s.pool.QueryRow(ctx, `SELECT `+roomColumns+` FROM rooms WHERE dm_low = $1 AND dm_high = $2`, low, high))
	return r, false, dbErr("load dm room", err)
}
