// Package postgres stores rooms and messages in PostgreSQL. It implements
// chat.Store, including the group commit of message batches.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// Store implements chat.Store on a pool.
type Store struct {
	pool *pgxpool.Pool
	// read serves history pages and room listings: a replica's pool, or
	// pool itself.
	read *pgxpool.Pool
}

// New returns a Store using pool for everything.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool, read: pool} }

// WithReadPool returns a Store that reads history pages (Messages) and room
// listings (Rooms) from read, e.g. a pool on a streaming replica, and
// everything else from the primary pool. Writes, and reads that must see
// the caller's own writes (a room just created, the message about to be
// edited), stay on the primary. A replica that lags behind the primary for
// the room being read is not used for it (see Messages).
func (s *Store) WithReadPool(read *pgxpool.Pool) *Store { return &Store{pool: s.pool, read: read} }

var _ chat.Store = (*Store)(nil)

const roomColumns = `id, name, owner_id, coalesce(post_id, 0), last_seq, created_at,
	kind, coalesce(dm_low, 0), coalesce(dm_high, 0)`

func scanRoom(row pgx.Row) (chat.Room, error) {
	var r chat.Room
	err := row.Scan(&r.ID, &r.Name, &r.OwnerID, &r.PostID, &r.LastSeq, &r.CreatedAt,
		&r.Kind, &r.DMUsers[0], &r.DMUsers[1])
	return r, err
}

const messageColumns = `id, room_id, seq, sender_id, text, coalesce(parent_id, 0), client_msg_id, created_at, edited_at, reply_count`

func scanMessage(row pgx.Row) (chat.Message, error) {
	var m chat.Message
	var edited *time.Time
	err := row.Scan(&m.ID, &m.RoomID, &m.Seq, &m.SenderID, &m.Text, &m.ParentID, &m.ClientMsgID, &m.CreatedAt, &edited,
		&m.ReplyCount)
	if edited != nil {
		m.EditedAt = *edited
	}
	return m, err
}

// CreateRoom implements chat.Store.
func (s *Store) CreateRoom(ctx context.Context, name string, ownerID, postID int64) (chat.Room, bool, error) {
	r, err := scanRoom(s.pool.QueryRow(ctx, `
		INSERT INTO rooms (name, owner_id, post_id) VALUES ($1, $2, nullif($3::bigint, 0))
		ON CONFLICT (post_id) DO NOTHING
		RETURNING `+roomColumns, name, ownerID, postID))
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) || postID == 0 {
		return chat.Room{}, false, dbErr("create room", err)
	}
	// The post already has its room.
	r, err = scanRoom(s.pool.QueryRow(ctx, `SELECT `+roomColumns+` FROM rooms WHERE post_id = $1`, postID))
	if err != nil {
		return chat.Room{}, false, notFound("room of post", err, chat.MsgRoomNotFound)
	}
	return r, false, nil
}

// Room implements chat.Store.
func (s *Store) Room(ctx context.Context, id int64) (chat.Room, error) {
	r, err := scanRoom(s.pool.QueryRow(ctx, `SELECT `+roomColumns+` FROM rooms WHERE id = $1`, id))
	return r, notFound("load room", err, chat.MsgRoomNotFound)
}

// Rooms implements chat.Store. With a read pool it lists from there; a
// replica's listing may miss rooms created within its replay lag, which
// suits browsing (a room's own lookup, Room, reads the primary). Should the
// read pool fail, the primary answers.
func (s *Store) Rooms(ctx context.Context, beforeID int64, limit int) ([]chat.Room, error) {
	if beforeID <= 0 {
		beforeID = math.MaxInt64
	}
	list := func(q *pgxpool.Pool) ([]chat.Room, error) {
		rows, err := q.Query(ctx, `SELECT `+roomColumns+` FROM rooms WHERE id < $1 AND kind = 'post' ORDER BY id DESC LIMIT $2`, beforeID, limit)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.Room, error) { return scanRoom(r) })
	}
	rooms, err := list(s.read)
	if err != nil && s.read != s.pool && ctx.Err() == nil {
		rooms, err = list(s.pool)
	}
	return rooms, dbErr("list rooms", err)
}

// RenameRoom implements chat.Store.
func (s *Store) RenameRoom(ctx context.Context, id int64, name string) (chat.Room, error) {
	r, err := scanRoom(s.pool.QueryRow(ctx, `UPDATE rooms SET name = $2 WHERE id = $1 RETURNING `+roomColumns, id, name))
	return r, notFound("rename room", err, chat.MsgRoomNotFound)
}

// DeleteRoom implements chat.Store. It deletes the room's messages itself
// (messages have no foreign key, see migrations/00002): deleting the room
// row first takes its lock, so a group commit into the room either
// committed before (and its messages are deleted here) or finds the room
// gone afterwards.
func (s *Store) DeleteRoom(ctx context.Context, id int64) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM rooms WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return apperr.New(apperr.CodeNotFound, chat.MsgRoomNotFound)
		}
		if _, err = tx.Exec(ctx, `DELETE FROM messages WHERE room_id = $1`, id); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `DELETE FROM message_reactions WHERE room_id = $1`, id); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `DELETE FROM message_reaction_counts WHERE room_id = $1`, id); err != nil {
			return err
		}
		// Its members go too (their notifications stay: they name the room
		// and message, which now answer 404).
		_, err = tx.Exec(ctx, `DELETE FROM room_members WHERE room_id = $1`, id)
		return err
	})
	return dbErr("delete room", err)
}

// whereID selects message id of room roomID; roomID 0 means the room is
// unknown. Messages are partitioned (and, under Citus, sharded) by room_id:
// with the room, the lookup touches one partition; without it, it probes
// the id index of every partition (under Citus, every shard). Only the
// public REST routes (/api/chat/message/<id>/, whose contract names no
// room) take that slower path; sockets know their room. The two cases are
// separate statements, not one with "$1 = 0 OR room_id = $1", so that a
// cached generic plan still prunes to one partition.
func whereID(roomID, id int64) (cond string, args []any) {
	if roomID == 0 {
		return `id = $1 AND deleted_at IS NULL`, []any{id}
	}
	return `room_id = $1 AND id = $2 AND deleted_at IS NULL`, []any{roomID, id}
}

// Message implements chat.Store.
func (s *Store) Message(ctx context.Context, roomID, id int64) (chat.Message, error) {
	cond, args := whereID(roomID, id)
	m, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE `+cond, args...))
	return m, notFound("load message", err, chat.MsgMessageNotFound)
}

// EditMessage implements chat.Store.
func (s *Store) EditMessage(ctx context.Context, roomID, id int64, text string) (chat.Message, error) {
	cond, args := whereID(roomID, id)
	m, err := scanMessage(s.pool.QueryRow(ctx, fmt.Sprintf(`
		UPDATE messages SET text = $%d, edited_at = clock_timestamp()
		WHERE %s RETURNING %s`, len(args)+1, cond, messageColumns), append(args, text)...))
	return m, notFound("edit message", err, chat.MsgMessageNotFound)
}

// DeleteMessage implements chat.Store. Deleting a reply lowers its
// parent's reply_count in the same statement; the returned message's
// Parent then holds the parent's id, seq and new count.
func (s *Store) DeleteMessage(ctx context.Context, roomID, id int64) (chat.Message, error) {
	m, err := deleteMessage(ctx, s.pool, roomID, id)
	return m, notFound("delete message", err, chat.MsgMessageNotFound)
}

// rowQuerier is a pool or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// deleteMessage marks a message deleted and, for a reply, lowers its
// parent's reply_count in the same statement (Parent carries the new
// count); the sender's delete and a moderator's audited one share it.
func deleteMessage(ctx context.Context, q rowQuerier, roomID, id int64) (chat.Message, error) {
	cond, args := whereID(roomID, id)
	var pid, pseq, pcount int64
	var m chat.Message
	var edited *time.Time
	err := q.QueryRow(ctx, `
		WITH d AS (
			UPDATE messages SET deleted_at = clock_timestamp()
			WHERE `+cond+` RETURNING `+messageColumns+`, parent_id AS pid
		), p AS (
			UPDATE messages pm SET reply_count = greatest(pm.reply_count - 1, 0)
			FROM d WHERE pm.room_id = d.room_id AND pm.id = d.pid
			RETURNING pm.id AS p_id, pm.seq AS p_seq, pm.reply_count AS p_count
		)
		SELECT d.*, coalesce(p.p_id, 0), coalesce(p.p_seq, 0), coalesce(p.p_count, 0)
		FROM d LEFT JOIN p ON true`,
		args...).Scan(&m.ID, &m.RoomID, &m.Seq, &m.SenderID, &m.Text, &m.ParentID, &m.ClientMsgID, &m.CreatedAt, &edited,
		&m.ReplyCount, new(*int64), &pid, &pseq, &pcount)
	if edited != nil {
		m.EditedAt = *edited
	}
	if pid != 0 {
		m.Parent = &chat.Parent{ID: pid, Seq: pseq, ReplyCount: pcount}
	}
	return m, err
}

// Messages implements chat.Store. With a read pool (WithReadPool) it reads
// the page from there, in one round trip with the replica's own last_seq
// of the room, read first: if that is below p.KnownSeq, the replica has
// not replayed every message the caller may know of, and the page is read
// from the primary instead (as it is when the read pool fails). Seqs are bumped in the transaction that inserts
// their messages, so a replica with the room's last_seq at or past
// p.KnownSeq has all of them; edits and deletions do not bump it and may
// show up to the replica's lag late.
func (s *Store) Messages(ctx context.Context, roomID int64, p chat.Page) ([]chat.Message, error) {
	if s.read != s.pool {
		msgs, fresh, err := s.replicaPage(ctx, roomID, p)
		if err == nil && fresh {
			return msgs, nil
		}
		if err != nil && ctx.Err() != nil {
			return nil, dbErr("list messages (read pool)", err)
		}
		// Behind, or failing: the primary answers.
	}
	rows, err := s.pool.Query(ctx, pageSQL(p), pageArgs(roomID, p)...)
	if err != nil {
		return nil, dbErr("list messages", err)
	}
	return collectPage(rows, p)
}

// Replies implements chat.Store. The partial index messages_replies
// serves it (migrations/00006). Replies are read from the primary: a
// thread is opened right after its replies were announced.
func (s *Store) Replies(ctx context.Context, roomID, parentID, afterSeq int64, limit int, viewer int64) ([]chat.Message, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pageColumns+` FROM messages m `+pageJoins+`
		WHERE m.room_id = $1 AND m.parent_id = $2 AND m.seq > $3 AND m.deleted_at IS NULL
		ORDER BY m.seq LIMIT $4`, roomID, parentID, afterSeq, limit, viewer)
	if err != nil {
		return nil, dbErr("list replies", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.Message, error) { return scanPageRow(r) })
	return msgs, dbErr("list replies", err)
}

// replicaPage reads page p from the read pool; fresh is false when the
// replica is behind p.KnownSeq for the room (the page's rows are then
// discarded).
func (s *Store) replicaPage(ctx context.Context, roomID int64, p chat.Page) (msgs []chat.Message, fresh bool, err error) {
	b := &pgx.Batch{}
	var replicaSeq int64
	b.Queue(`SELECT coalesce((SELECT last_seq FROM rooms WHERE id = $1), -1)`, roomID).QueryRow(func(row pgx.Row) error {
		return row.Scan(&replicaSeq)
	})
	// Queued after the last_seq read, so its snapshot is at least as new.
	b.Queue(pageSQL(p), pageArgs(roomID, p)...).Query(func(rows pgx.Rows) error {
		if replicaSeq < p.KnownSeq {
			rows.Close()
			return nil
		}
		fresh = true
		msgs, err = collectPage(rows, p)
		return err
	})
	if err := s.read.SendBatch(ctx, b).Close(); err != nil {
		return nil, false, err
	}
	return msgs, fresh, err
}

// pageColumns are a message of a page (alias m) with its parent summary
// and reactions, from pageJoins; $5 is the viewer whose reactions are
// marked. The joins are lateral and run below the LIMIT, so only for the
// rows returned: the parent is one index probe in the room's own
// partition, the reactions one probe of message_reaction_counts (one row
// per emoji, however many users reacted) and one per emoji for the
// viewer's own.
const pageColumns = `m.id, m.room_id, m.seq, m.sender_id, m.text, coalesce(m.parent_id, 0), m.client_msg_id,
	m.created_at, m.edited_at, m.reply_count,
	coalesce(pm.seq, 0), coalesce(pm.sender_id, 0), coalesce(pm.excerpt, ''), coalesce(pm.deleted, true),
	rc.emoji, rc.counts, rc.mine`

var pageJoins = `
	LEFT JOIN LATERAL (
		SELECT p.seq, CASE WHEN p.deleted_at IS NULL THEN p.sender_id END AS sender_id,
			CASE WHEN p.deleted_at IS NULL THEN left(p.text, ` + excerptRunes + `) END AS excerpt,
			p.deleted_at IS NOT NULL AS deleted
		FROM messages p WHERE m.parent_id IS NOT NULL AND p.room_id = m.room_id AND p.id = m.parent_id
	) pm ON true
	LEFT JOIN LATERAL (
		SELECT array_agg(c.emoji ORDER BY c.first_at, c.emoji) AS emoji,
			array_agg(c.count ORDER BY c.first_at, c.emoji) AS counts,
			array_agg($5::bigint <> 0 AND EXISTS (SELECT 1 FROM message_reactions r
				WHERE r.message_id = c.message_id AND r.user_id = $5 AND r.emoji = c.emoji) ORDER BY c.first_at, c.emoji) AS mine
		FROM message_reaction_counts c WHERE c.message_id = m.id
	) rc ON true`

// excerptRunes is chat.ExcerptRunes in SQL.
var excerptRunes = strconv.Itoa(chat.ExcerptRunes)

// scanPageRow reads a row of pageColumns.
func scanPageRow(row pgx.Row) (chat.Message, error) {
	var m chat.Message
	var edited *time.Time
	var p chat.Parent
	var emoji []string
	var counts []int64
	var mine []bool
	err := row.Scan(&m.ID, &m.RoomID, &m.Seq, &m.SenderID, &m.Text, &m.ParentID, &m.ClientMsgID, &m.CreatedAt, &edited,
		&m.ReplyCount, &p.Seq, &p.SenderID, &p.Excerpt, &p.Deleted, &emoji, &counts, &mine)
	if err != nil {
		return m, err
	}
	if edited != nil {
		m.EditedAt = *edited
	}
	if m.ParentID != 0 {
		p.ID = m.ParentID
		m.Parent = &p
	}
	m.Reactions = reactionsOf(emoji, counts, mine)
	return m, nil
}

// reactionsOf zips the aggregated arrays of a message's reactions.
func reactionsOf(emoji []string, counts []int64, mine []bool) []chat.Reaction {
	out := make([]chat.Reaction, 0, len(emoji))
	for i := range emoji {
		if i < len(counts) && i < len(mine) {
			out = append(out, chat.Reaction{Emoji: emoji[i], Count: counts[i], Me: mine[i]})
		}
	}
	return out
}

// pageSQL selects page p of room $1 (pageArgs), newest first unless p
// asks for the oldest.
func pageSQL(p chat.Page) string {
	order := "DESC" // the newest ones, reversed by collectPage
	if p.AfterSeq > 0 || p.OldestFirst {
		order = "ASC"
	}
	return `SELECT ` + pageColumns + ` FROM messages m ` + pageJoins + `
		WHERE m.room_id = $1 AND m.seq > $2 AND m.seq < $3 AND m.deleted_at IS NULL
		ORDER BY m.seq ` + order + ` LIMIT $4`
}

func pageArgs(roomID int64, p chat.Page) []any {
	beforeSeq := p.BeforeSeq
	if beforeSeq <= 0 {
		beforeSeq = math.MaxInt64
	}
	return []any{roomID, p.AfterSeq, beforeSeq, p.Limit, p.Viewer}
}

// collectPage reads pageSQL's rows into ascending seq order.
func collectPage(rows pgx.Rows, p chat.Page) ([]chat.Message, error) {
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.Message, error) { return scanPageRow(r) })
	if err != nil {
		return nil, dbErr("list messages", err)
	}
	if p.AfterSeq <= 0 && !p.OldestFirst {
		slices.Reverse(msgs)
	}
	return msgs, nil
}

// notFound turns "no rows" into a NOT_FOUND error with msg; other errors
// are dbErr's.
func notFound(op string, err error, msg string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, apperr.New(apperr.CodeNotFound, msg))
	}
	return dbErr(op, err)
}

// dbErr says which operation failed (op) and classifies the failure:
// errors PostgreSQL reports about the statement itself are internal
// (bugs); everything else (connection lost, server shutting down,
// deadlock, timeouts) is UNAVAILABLE, safe to retry. Domain errors keep
// their code.
func dbErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *apperr.Error
	if errors.As(err, &de) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", "40", "53", "57", "58": // connection, rollback, resources, operator, system
			return fmt.Errorf("%s: %w", op, chat.Unavailable(err))
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w", op, chat.Unavailable(err))
}
