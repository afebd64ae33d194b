package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// StoreMessages implements chat.Store: the group commit. In ONE transaction
// it locks the batch's rooms, checks parents, bumps each room's last_seq
// once by the number of new messages and inserts them all with one
// statement. Either the whole batch commits or none of it; a batch the
// database refuses for some message's data fails with apperr.CodeInvalid.
//
// Retried sends (a client_msg_id already stored) are rare, so the first
// attempt does not look for them: it lets the unique index catch them, and
// only then redoes the batch with a lookup that returns the stored
// messages. That keeps an index probe per message off the hot path.
func (s *Store) StoreMessages(ctx context.Context, msgs []chat.NewMessage) ([]chat.Stored, error) {
	out, err := s.storeBatch(ctx, msgs, false)
	if isDedupConflict(err) {
		out, err = s.storeBatch(ctx, msgs, true)
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

func isDedupConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "messages_client_msg_id"
}

func (s *Store) storeBatch(ctx context.Context, msgs []chat.NewMessage, dedup bool) (out []chat.Stored, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		out, err = storeBatch(ctx, tx, msgs, dedup)
		return err
	})
	return out, err
}

func storeBatch(ctx context.Context, tx pgx.Tx, msgs []chat.NewMessage, dedup bool) ([]chat.Stored, error) {
	out := make([]chat.Stored, len(msgs))

	// 1. Lock the rooms (in id order, so concurrent batches cannot
	// deadlock). The lock also orders this batch after any other writer of
	// these rooms, so the dedup lookup below sees their committed rows.
	var roomIDs []int64
	for _, m := range msgs {
		roomIDs = append(roomIDs, m.RoomID)
	}
	slices.Sort(roomIDs)
	roomIDs = slices.Compact(roomIDs)
	rows, err := tx.Query(ctx, `SELECT id FROM rooms WHERE id = ANY($1) ORDER BY id FOR UPDATE`, roomIDs)
	if err != nil {
		return nil, fmt.Errorf("lock rooms: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("lock rooms: %w", err)
	}
	for i, m := range msgs {
		if !slices.Contains(found, m.RoomID) {
			out[i].Err = apperr.New(apperr.CodeNotFound, chat.MsgRoomNotFound)
		}
	}

	// 2. Retried sends: return what was stored the first time.
	if dedup {
		if err := findStored(ctx, tx, msgs, out); err != nil {
			return nil, err
		}
	}

	// 3. Parents must be live messages of the same room.
	if err := checkParents(ctx, tx, msgs, out); err != nil {
		return nil, err
	}

	// 4. Within the batch, a repeated key is a copy of its first occurrence.
	first := make(map[dedupKey]int, len(msgs))
	copyOf := map[int]int{}
	perRoom := make(map[int64]int, len(roomIDs))
	order := make([]int, 0, len(msgs)) // indexes of the messages to insert, in batch order
	for i, m := range msgs {
		if out[i].Err != nil || out[i].Duplicate {
			continue
		}
		if m.ClientMsgID != "" {
			k := dedupKey{m.RoomID, m.SenderID, m.ClientMsgID}
			if j, ok := first[k]; ok {
				copyOf[i] = j
				continue
			}
			first[k] = i
		}
		perRoom[m.RoomID]++
		order = append(order, i)
	}
	if len(order) == 0 {
		return out, nil
	}

	// 5. One UPDATE hands every room its block of seqs.
	ids := make([]int64, 0, len(perRoom))
	counts := make([]int64, 0, len(perRoom))
	for id, n := range perRoom {
		ids = append(ids, id)
		counts = append(counts, int64(n))
	}
	rows, err = tx.Query(ctx, `
		UPDATE rooms SET last_seq = rooms.last_seq + v.n
		FROM unnest($1::bigint[], $2::bigint[]) AS v(id, n)
		WHERE rooms.id = v.id
		RETURNING rooms.id, rooms.last_seq`, ids, counts)
	if err != nil {
		return nil, fmt.Errorf("assign seqs: %w", err)
	}
	next := make(map[int64]int64, len(perRoom)) // room -> next seq to assign
	var id, last int64
	_, err = pgx.ForEachRow(rows, []any{&id, &last}, func() error {
		next[id] = last - int64(perRoom[id]) + 1
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("assign seqs: %w", err)
	}

	// 6. One INSERT of every new message.
	n := len(order)
	var (
		rooms   = make([]int64, n)
		seqs    = make([]int64, n)
		senders = make([]int64, n)
		texts   = make([]string, n)
		parents = make([]int64, n)
		cmids   = make([]string, n)
	)
	bySeq := make(map[[2]int64]int, n)
	for k, i := range order {
		m := msgs[i]
		rooms[k], seqs[k], senders[k], texts[k], parents[k], cmids[k] = m.RoomID, next[m.RoomID], m.SenderID, m.Text, m.ParentID, m.ClientMsgID
		next[m.RoomID]++
		bySeq[[2]int64{rooms[k], seqs[k]}] = i
	}
	// Only what the database chose comes back: the rest is stored as
	// given, and returning every message's text again was a fifth of this
	// function's CPU (decoding) besides PostgreSQL's own work.
	rows, err = tx.Query(ctx, `
		INSERT INTO messages (room_id, seq, sender_id, text, parent_id, client_msg_id)
		SELECT r, s, u, t, nullif(p, 0), c
		FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[]) AS v(r, s, u, t, p, c)
		ORDER BY r, s
		RETURNING id, room_id, seq, created_at`, rooms, seqs, senders, texts, parents, cmids)
	if err != nil {
		return nil, fmt.Errorf("insert messages: %w", err)
	}
	var room, seq int64
	var created time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &room, &seq, &created}, func() error {
		i := bySeq[[2]int64{room, seq}]
		m := msgs[i]
		out[i].Message = chat.Message{ID: id, RoomID: room, Seq: seq, SenderID: m.SenderID, Text: m.Text,
			ParentID: m.ParentID, ClientMsgID: m.ClientMsgID, CreatedAt: created}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert messages: %w", err)
	}
	for i, j := range copyOf {
		out[i] = chat.Stored{Message: out[j].Message, Duplicate: true}
	}
	return out, nil
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

// checkParents fails messages whose parent is not a live message of their
// room.
func checkParents(ctx context.Context, tx pgx.Tx, msgs []chat.NewMessage, out []chat.Stored) error {
	var parents []int64
	for i, m := range msgs {
		if m.ParentID != 0 && out[i].Err == nil && !out[i].Duplicate {
			parents = append(parents, m.ParentID)
		}
	}
	if len(parents) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT id, room_id FROM messages WHERE id = ANY($1) AND deleted_at IS NULL`, parents)
	if err != nil {
		return fmt.Errorf("check parents: %w", err)
	}
	roomOf := map[int64]int64{}
	var id, room int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &room}, func() error { roomOf[id] = room; return nil }); err != nil {
		return fmt.Errorf("check parents: %w", err)
	}
	for i, m := range msgs {
		if m.ParentID != 0 && out[i].Err == nil && !out[i].Duplicate && roomOf[m.ParentID] != m.RoomID {
			out[i].Err = apperr.FieldError("parent_chat", "The replied-to message is not in this room.")
		}
	}
	return nil
}
