package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// dedupKey identifies an idempotent send.
type dedupKey struct {
	roomID, senderID int64
	clientMsgID      string
}

// StoreMessages implements chat.Store: the group commit. Either the whole
// batch commits or none of it; a batch the database refuses for some
// message's data fails with apperr.CodeInvalid.
//
// The common batch takes ONE round trip: a single statement (its own
// transaction) that locks the batch's rooms in id order, bumps each room's
// last_seq once by its number of new messages, checks reply parents and
// inserts the messages (insertBatch). Its fixed cost per batch (begin,
// several statements, commit, each a round trip) was most of the chat
// service's and PostgreSQL's CPU per message in busy rooms, where batches
// are small.
//
// Retried sends (a client_msg_id already stored) are rare, so the first
// attempt does not look for them: it lets the unique index catch them, and
// only then redoes the batch in an explicit transaction that looks the
// stored ones up first (storeWithLookup). That keeps an index probe per
// message off the hot path.
func (s *Store) StoreMessages(ctx context.Context, msgs []chat.NewMessage) ([]chat.Stored, error) {
	out, err := insertBatch(ctx, s.pool, msgs)
	if isDedupConflict(err) {
		out, err = s.storeWithLookup(ctx, msgs)
	}
	if isDataError(err) {
		// The database refused some message's data and wrote nothing.
		// apperr.CodeInvalid lets the group commit split the batch until that
		// message fails alone (chat.Service's batch.Config.Isolate).
		e := apperr.FieldError("message", chat.MsgUnstorable)
		e.Err = err
		return nil, e
	}
	if err != nil {
		return nil, dbErr("store messages", err)
	}
	return out, nil
}

// insertSQL stores a batch in one statement. v is the batch in order
// (i is its position, from 1), with ok telling whether a reply's parent is
// a live message of its room; locked holds the batch's rooms, locked in id
// order so that concurrent batches (other chat replicas) cannot deadlock,
// without the rooms deleted meanwhile; bump gives each room its block of
// seqs (base+1 .. top) and its activity time; numbered gives each accepted
// message its seq, in batch order per room; ins inserts them.
//
// In the same statement (so in the messages' transaction, at no extra
// round trip): mem makes each sender a member of the room (a new member
// has read up to top, their own messages included) or adds their new
// messages to own_total (see migrations/00004: unread counts are seq
// arithmetic); nn are the notifications the caller worked out ($6..$8:
// position in the batch, user, kind), nc takes each notified user's next
// ids under their counter row's lock (rows in user order, so concurrent
// batches cannot deadlock on them) and nins writes them.
//
// In the statements for batches with a reply, a parent must be a live
// message of the reply's room that is not itself a reply (threads are one
// level deep); v carries its seq, sender and excerpt for the reply's
// parent summary, and replied raises each parent's reply_count by its replies
// stored here (every writer of a room holds the room's row lock, so counts
// of one room's parents do not race).
//
// The result has a row per inserted message (tag 0: id, room, seq, time),
// per room found (tag 1: room), per message refused for its parent (tag
// 2: position), per membership created (tag 3: user, room, marker), per
// notification (tag 4: id, user, position in $6..$8) and per accepted
// reply (tag 5: position, parent seq, parent sender, parent's reply count
// after this batch, parent excerpt), so the caller can tell an unknown
// room from a bad parent.
var insertSQL = map[batchShape]string{
	{replies: false, notify: false}: batchSQL(false, false),
	{replies: true, notify: false}:  batchSQL(true, false),
	{replies: false, notify: true}:  batchSQL(false, true),
	{replies: true, notify: true}:   batchSQL(true, true),
}

// batchShape is what a batch's statement handles beyond plain messages:
// replies (parents to check and count) and notifications to write.
type batchShape struct{ replies, notify bool }

// batchSQL builds the statement for a batch with or without replies, and
// with or without notifications. The parent lookup and the reply_count
// update are only in the statement for batches that carry a reply,
// because the planner cannot tell that their inputs are empty and an
// UPDATE of messages joined with an empty set still plans a scan of every
// partition (measured: ~7x the PostgreSQL CPU per message of the plain
// statement). The notification CTEs are only in the statement for batches
// that notify someone (mentions, replies, DMs): most batches do not, and
// the executor still sets up and runs every CTE of a statement.
func batchSQL(replies, notify bool) string {
	v := `SELECT v.*, 0::bigint AS pseq, 0::bigint AS psender, ''::text AS excerpt, true AS ok
	FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[])
		WITH ORDINALITY AS v(r, u, t, p, c, i)`
	replied, parentRows, notifying, notifyRows := "", "", "", ""
	if notify {
		notifying = `, nn AS (
	SELECT k.k, k.u, k.kind, numbered.r, numbered.seq, numbered.u AS actor, left(numbered.t, 100) AS excerpt,
		count(*) OVER (PARTITION BY k.u) AS n, row_number() OVER (PARTITION BY k.u ORDER BY k.k) AS nth
	FROM unnest($6::bigint[], $7::bigint[], $8::text[]) WITH ORDINALITY AS k(i, u, kind, k)
	JOIN numbered ON numbered.i = k.i
), nc AS (
	INSERT INTO notification_counters AS c (user_id, last_id, unread)
	SELECT u, count(*), count(*) FROM nn GROUP BY u ORDER BY u
	ON CONFLICT (user_id) DO UPDATE SET last_id = c.last_id + excluded.last_id, unread = c.unread + excluded.unread
	RETURNING c.user_id, c.last_id
), nins AS (
	INSERT INTO notifications (user_id, id, kind, actor_id, room_id, message_id, seq, excerpt, created_at)
	SELECT nn.u, nc.last_id - nn.n + nn.nth, nn.kind, nn.actor, nn.r, ins.id, nn.seq, nn.excerpt, ins.created_at
	FROM nn JOIN nc ON nc.user_id = nn.u JOIN ins ON ins.room_id = nn.r AND ins.seq = nn.seq
	RETURNING id, user_id, room_id, seq
)`
		notifyRows = `
UNION ALL SELECT 4, nins.id, nins.user_id, nn.k, now(), 0, '' FROM nins JOIN nn ON nn.u = nins.user_id AND nn.r = nins.room_id AND nn.seq = nins.seq`
	}
	if replies {
		v = `SELECT v.*, pm.seq AS pseq, pm.sender_id AS psender, pm.excerpt, (v.p = 0 OR pm.seq IS NOT NULL) AS ok
	FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[])
		WITH ORDINALITY AS v(r, u, t, p, c, i)
	LEFT JOIN LATERAL (
		SELECT pm.seq, pm.sender_id, left(pm.text, ` + excerptRunes + `) AS excerpt FROM messages pm
		WHERE v.p <> 0 AND pm.id = v.p AND pm.room_id = v.r AND pm.deleted_at IS NULL AND pm.parent_id IS NULL
	) pm ON true`
		replied = `, replied AS (
	UPDATE messages pm SET reply_count = pm.reply_count + n.n
	FROM (SELECT r, p, count(*) AS n FROM numbered WHERE p <> 0 GROUP BY r, p) n
	WHERE pm.room_id = n.r AND pm.id = n.p
	RETURNING pm.id, pm.reply_count
)`
		parentRows = `
UNION ALL SELECT 5, v.i, v.pseq, v.psender, now(), replied.reply_count, v.excerpt FROM v JOIN replied ON replied.id = v.p WHERE v.ok`
	}
	return `
WITH v AS (
	` + v + `
), locked AS (
	SELECT id FROM rooms WHERE id = ANY($1) ORDER BY id FOR UPDATE
), counts AS (
	SELECT locked.id, count(v.i) AS n FROM locked LEFT JOIN v ON v.r = locked.id AND v.ok GROUP BY locked.id
), bump AS (
	UPDATE rooms SET last_seq = rooms.last_seq + counts.n,
		last_message_at = CASE WHEN counts.n > 0 THEN clock_timestamp() ELSE rooms.last_message_at END
	FROM counts WHERE rooms.id = counts.id
	RETURNING rooms.id, rooms.last_seq - counts.n AS base, rooms.last_seq AS top -- RETURNING sees the new last_seq
), numbered AS (
	SELECT v.i, v.r, v.u, v.t, v.p, v.c, bump.top, bump.base + row_number() OVER (PARTITION BY v.r ORDER BY v.i) AS seq
	FROM v JOIN bump ON bump.id = v.r
	WHERE v.ok
), ins AS (
	INSERT INTO messages (room_id, seq, sender_id, text, parent_id, client_msg_id)
	SELECT r, seq, u, t, nullif(p, 0), c FROM numbered
	ORDER BY 1, 2
	RETURNING id, room_id, seq, created_at
), mem AS (
	INSERT INTO room_members AS m (user_id, room_id, last_read_seq, own_total, own_read)
	SELECT u, r, top, count(*), count(*) FROM numbered GROUP BY u, r, top ORDER BY u, r
	ON CONFLICT (user_id, room_id) DO UPDATE SET own_total = m.own_total + excluded.own_total
	RETURNING m.user_id, m.room_id, m.last_read_seq, (m.xmax = 0) AS created
)` + notifying + replied + `
SELECT 0, id, room_id, seq, created_at, 0::bigint, ''::text FROM ins
UNION ALL SELECT 1, 0, id, 0, now(), 0, '' FROM bump
UNION ALL SELECT 2, i, r, 0, now(), 0, '' FROM v WHERE NOT ok
UNION ALL SELECT 3, user_id, room_id, last_read_seq, now(), 0, '' FROM mem WHERE created` +
		notifyRows + parentRows
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// insertBatch is StoreMessages' one-round-trip path (insertSQL). A
// client_msg_id repeated within the batch is stored once; its copies are
// duplicates of the first. One stored before makes the statement fail with
// the unique index's violation (isDedupConflict), having written nothing.
func insertBatch(ctx context.Context, q querier, msgs []chat.NewMessage) ([]chat.Stored, error) {
	out := make([]chat.Stored, len(msgs))
	order, copyOf := firstOccurrences(msgs)
	n := len(order)
	var (
		rooms   = make([]int64, n)
		senders = make([]int64, n)
		texts   = make([]string, n)
		parents = make([]int64, n)
		cmids   = make([]string, n)
	)
	for k, i := range order {
		m := msgs[i]
		rooms[k], senders[k], texts[k], parents[k], cmids[k] = m.RoomID, m.SenderID, m.Text, m.ParentID, m.ClientMsgID
	}
	// The notifications to write: position in the arrays (from 1), user, kind.
	var nPos, nUser []int64
	var nKind []string
	var nOf []int // index in msgs of each
	for k, i := range order {
		for _, r := range msgs[i].Notify {
			nPos, nUser, nKind, nOf = append(nPos, int64(k+1)), append(nUser, r.UserID), append(nKind, r.Kind), append(nOf, i)
		}
	}
	shape := batchShape{replies: slices.ContainsFunc(parents, func(p int64) bool { return p != 0 }), notify: len(nPos) > 0}
	args := []any{rooms, senders, texts, parents, cmids}
	if shape.notify {
		args = append(args, nPos, nUser, nKind)
	}
	rows, err := q.Query(ctx, insertSQL[shape], args...)
	if err != nil {
		return nil, err
	}
	found := make(map[int64]bool, 4)
	inserted := make(map[int64][]chat.Message, 4) // per room
	type memberKey struct{ user, room int64 }
	joined := map[memberKey]int64{} // new memberships: their marker
	type notif struct{ id, user, k int64 }
	var notifs []notif
	parentOf := map[int]*chat.Parent{} // by index in msgs
	var tag int
	var a, b, c, d int64
	var created time.Time
	var excerpt string
	_, err = pgx.ForEachRow(rows, []any{&tag, &a, &b, &c, &created, &d, &excerpt}, func() error {
		switch tag {
		case 0:
			inserted[b] = append(inserted[b], chat.Message{ID: a, Seq: c, CreatedAt: created})
		case 1:
			found[b] = true
		case 2: // the position in the arrays (from 1) of a reply refused for its parent
			out[order[a-1]].Err = chat.ErrBadParent()
		case 3:
			joined[memberKey{a, b}] = c
		case 4:
			notifs = append(notifs, notif{a, b, c})
		case 5: // a reply's accepted parent
			i := order[a-1]
			parentOf[i] = &chat.Parent{ID: msgs[i].ParentID, Seq: b, SenderID: c, Excerpt: excerpt, ReplyCount: d}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Each room's accepted messages got its seqs in batch order: after
	// sorting its rows by seq, the k-th row is its k-th accepted message.
	for _, rows := range inserted {
		slices.SortFunc(rows, func(a, b chat.Message) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	next := make(map[int64]int, len(inserted))
	for _, i := range order {
		m := msgs[i]
		switch {
		case out[i].Err != nil:
		case !found[m.RoomID]:
			out[i].Err = apperr.New(apperr.CodeNotFound, chat.MsgRoomNotFound)
		default:
			k := next[m.RoomID]
			if k >= len(inserted[m.RoomID]) {
				return nil, fmt.Errorf("insert messages: room %d returned %d rows, fewer than its accepted messages",
					m.RoomID, len(inserted[m.RoomID]))
			}
			next[m.RoomID] = k + 1
			g := inserted[m.RoomID][k]
			out[i].Message = chat.Message{ID: g.ID, RoomID: m.RoomID, Seq: g.Seq, SenderID: m.SenderID, Text: m.Text,
				ParentID: m.ParentID, ClientMsgID: m.ClientMsgID, CreatedAt: g.CreatedAt, Parent: parentOf[i]}
		}
	}
	for _, i := range order {
		m := msgs[i]
		if mark, ok := joined[memberKey{m.SenderID, m.RoomID}]; ok && out[i].Err == nil {
			out[i].Joined = &chat.Membership{RoomID: m.RoomID, UserID: m.SenderID, LastReadSeq: mark, LastSeq: mark}
			delete(joined, memberKey{m.SenderID, m.RoomID}) // the sender's first message there carries it
		}
	}
	for _, n := range notifs {
		i := nOf[n.k-1]
		m := &out[i].Message
		out[i].Notifications = append(out[i].Notifications, chat.Notification{
			ID: n.id, UserID: n.user, Kind: nKind[n.k-1], RoomID: m.RoomID, MessageID: m.ID, Seq: m.Seq,
			Actor: chat.User{ID: m.SenderID}, Excerpt: chat.Excerpt(m.Text), CreatedAt: m.CreatedAt,
		})
	}
	for i, j := range copyOf {
		if out[j].Err != nil {
			out[i].Err = out[j].Err
			continue
		}
		out[i] = chat.Stored{Message: out[j].Message, Duplicate: true}
	}
	return out, nil
}

// firstOccurrences returns the indexes of the messages to insert, in batch
// order, and for each later copy of a (room, sender, client_msg_id) the
// index of its first occurrence.
func firstOccurrences(msgs []chat.NewMessage) (order []int, copyOf map[int]int) {
	order = make([]int, 0, len(msgs))
	copyOf = map[int]int{}
	first := make(map[dedupKey]int, len(msgs))
	for i, m := range msgs {
		if m.ClientMsgID != "" {
			k := dedupKey{m.RoomID, m.SenderID, m.ClientMsgID}
			if j, ok := first[k]; ok {
				copyOf[i] = j
				continue
			}
			first[k] = i
		}
		order = append(order, i)
	}
	return order, copyOf
}

// isDataError reports whether PostgreSQL refused a statement for the data
// it was given (data exception, constraint violation, program limit, e.g.
// a NUL in text): the transaction rolled back, and the same statement
// without the offending rows can succeed. A lost connection is not one:
// its COMMIT may or may not have happened.
func isDataError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// isDedupConflict reports whether err is a violation of the idempotency
// index (room_id, sender_id, client_msg_id). PostgreSQL names the index of
// the partition that refused the row: messages_pNN_client_msg_id
// (migrations/00003); messages_client_msg_id is the parent's (and the
// unpartitioned table's) name.
func isDedupConflict(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" {
		return false
	}
	name := pe.ConstraintName
	return name == "messages_client_msg_id" ||
		strings.HasPrefix(name, "messages_p") && strings.HasSuffix(name, "_client_msg_id")
}

// storeWithLookup stores a batch in which some client_msg_id was stored
// before: in one transaction it locks the batch's rooms (in id order), so
// that every earlier writer of them has committed, marks the messages
// already stored as duplicates of what was stored, and inserts the others
// with insertSQL.
func (s *Store) storeWithLookup(ctx context.Context, msgs []chat.NewMessage) (out []chat.Stored, err error) {
	roomIDs := make([]int64, len(msgs))
	for i, m := range msgs {
		roomIDs[i] = m.RoomID
	}
	slices.Sort(roomIDs)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT id FROM rooms WHERE id = ANY($1) ORDER BY id FOR UPDATE`,
			slices.Compact(roomIDs)); err != nil {
			return fmt.Errorf("lock rooms: %w", err)
		}
		out = make([]chat.Stored, len(msgs))
		if err := findStored(ctx, tx, msgs, out); err != nil {
			return err
		}
		var rest []chat.NewMessage
		var at []int
		for i, m := range msgs {
			if !out[i].Duplicate {
				rest, at = append(rest, m), append(at, i)
			}
		}
		if len(rest) == 0 {
			return nil
		}
		stored, err := insertBatch(ctx, tx, rest)
		if err != nil {
			return err
		}
		for k, i := range at {
			out[i] = stored[k]
		}
		return nil
	})
	return out, err
}

// findStored marks messages whose (room, sender, client_msg_id) is already
// stored as duplicates of the stored message.
func findStored(ctx context.Context, tx pgx.Tx, msgs []chat.NewMessage, out []chat.Stored) error {
	var rooms, senders []int64
	var cmids []string
	for i, m := range msgs {
		if m.ClientMsgID != "" && out[i].Err == nil {
			rooms, senders, cmids = append(rooms, m.RoomID), append(senders, m.SenderID), append(cmids, m.ClientMsgID)
		}
	}
	if len(cmids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `
		SELECT `+messageColumns+`
		FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS k(room_id, sender_id, client_msg_id)
		JOIN messages USING (room_id, sender_id, client_msg_id)
		WHERE client_msg_id <> ''`, rooms, senders, cmids)
	if err != nil {
		return fmt.Errorf("find stored messages: %w", err)
	}
	stored, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.Message, error) { return scanMessage(r) })
	if err != nil {
		return fmt.Errorf("find stored messages: %w", err)
	}
	byKey := make(map[dedupKey]chat.Message, len(stored))
	for _, m := range stored {
		byKey[dedupKey{m.RoomID, m.SenderID, m.ClientMsgID}] = m
	}
	for i, m := range msgs {
		if prev, ok := byKey[dedupKey{m.RoomID, m.SenderID, m.ClientMsgID}]; ok && m.ClientMsgID != "" && out[i].Err == nil {
			out[i] = chat.Stored{Message: prev, Duplicate: true}
		}
	}
	return nil
}
