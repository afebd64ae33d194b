package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// TestReplies: a reply stores its parent's summary and raises the
// parent's reply_count in the group commit; replies to a reply, to a
// deleted parent or to a message of another room are refused without
// storing anything (not even a seq); deleting a reply lowers the count;
// history carries the parent (marked deleted once it is) and the replies
// route pages in seq order.
func TestReplies(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	room, other := mustRoom(t, s, 1), mustRoom(t, s, 1)
	parent := send(t, s, chat.NewMessage{RoomID: room.ID, SenderID: 1, Text: "the parent, long enough"})[0].Message
	elsewhere := send(t, s, chat.NewMessage{RoomID: other.ID, SenderID: 1, Text: "elsewhere"})[0].Message
	gone := send(t, s, chat.NewMessage{RoomID: room.ID, SenderID: 1, Text: "gone"})[0].Message
	if _, err := s.DeleteMessage(ctx, room.ID, gone.ID); err != nil {
		t.Fatal(err)
	}

	// One batch: two replies, a plain message, and three bad replies.
	out := send(t, s,
		chat.NewMessage{RoomID: room.ID, SenderID: 2, Text: "r1", ParentID: parent.ID},
		chat.NewMessage{RoomID: room.ID, SenderID: 3, Text: "plain"},
		chat.NewMessage{RoomID: room.ID, SenderID: 3, Text: "r2", ParentID: parent.ID},
		chat.NewMessage{RoomID: room.ID, SenderID: 3, Text: "to deleted", ParentID: gone.ID},
		chat.NewMessage{RoomID: room.ID, SenderID: 3, Text: "other room", ParentID: elsewhere.ID},
	)
	for i, st := range out[:3] {
		if st.Err != nil {
			t.Fatalf("message %d: %v", i, st.Err)
		}
	}
	for i, st := range out[3:] {
		if apperr.ErrorCode(st.Err) != apperr.CodeInvalid {
			t.Errorf("bad reply %d: err %v, want invalid parent_chat", i, st.Err)
		}
	}
	r1, r2 := out[0].Message, out[2].Message
	if p := r2.Parent; p == nil || p.ID != parent.ID || p.Seq != parent.Seq || p.SenderID != 1 ||
		p.Excerpt != "the parent, long enough" || p.ReplyCount != 2 {
		t.Fatalf("r2.Parent = %+v, want parent %d seq %d, 2 replies", p, parent.ID, parent.Seq)
	}
	if out[1].Message.Parent != nil {
		t.Errorf("plain message has a parent %+v", out[1].Message.Parent)
	}
	// A reply to a reply (a chain) is refused too.
	chain := send(t, s, chat.NewMessage{RoomID: room.ID, SenderID: 2, Text: "chain", ParentID: r1.ID})[0]
	if apperr.ErrorCode(chain.Err) != apperr.CodeInvalid {
		t.Fatalf("reply to a reply: %v, want invalid", chain.Err)
	}
	// Nothing of the refused ones took a seq.
	if got, _ := s.Room(ctx, room.ID); got.LastSeq != r2.Seq {
		t.Errorf("last_seq = %d, want %d (refused replies take no seq)", got.LastSeq, r2.Seq)
	}

	// A long parent's excerpt is cut at 100 characters.
	long := send(t, s, chat.NewMessage{RoomID: room.ID, SenderID: 1, Text: fmt.Sprintf("%0150d", 7)})[0].Message
	lr := send(t, s, chat.NewMessage{RoomID: room.ID, SenderID: 2, Text: "re long", ParentID: long.ID})[0].Message
	if n := len([]rune(lr.Parent.Excerpt)); n != chat.ExcerptRunes {
		t.Errorf("excerpt of %d runes, want %d", n, chat.ExcerptRunes)
	}

	// Replies route: seq order, paged.
	page, err := s.Replies(ctx, room.ID, parent.ID, 0, 1, 0)
	if err != nil || len(page) != 1 || page[0].ID != r1.ID {
		t.Fatalf("first page %+v, %v; want r1", page, err)
	}
	page, err = s.Replies(ctx, room.ID, parent.ID, page[0].Seq, 10, 0)
	if err != nil || len(page) != 1 || page[0].ID != r2.ID || page[0].Parent == nil || page[0].Parent.Excerpt == "" {
		t.Fatalf("second page %+v, %v; want r2 with its parent", page, err)
	}

	// Deleting a reply lowers the count; history shows the count.
	d, err := s.DeleteMessage(ctx, room.ID, r1.ID)
	if err != nil || d.Parent == nil || d.Parent.ID != parent.ID || d.Parent.ReplyCount != 1 {
		t.Fatalf("delete reply: %+v, %v; want parent count 1", d.Parent, err)
	}
	hist, err := s.Messages(ctx, room.ID, chat.Page{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]chat.Message{}
	for _, m := range hist {
		byID[m.ID] = m
	}
	if byID[parent.ID].ReplyCount != 1 {
		t.Errorf("history reply_count = %d, want 1", byID[parent.ID].ReplyCount)
	}
	// The parent deleted: the reply still shows it, as deleted.
	if _, err := s.DeleteMessage(ctx, room.ID, parent.ID); err != nil {
		t.Fatal(err)
	}
	hist, _ = s.Messages(ctx, room.ID, chat.Page{Limit: 50})
	for _, m := range hist {
		if m.ID == r2.ID {
			if p := m.Parent; p == nil || !p.Deleted || p.Excerpt != "" || p.SenderID != 0 || p.Seq != parent.Seq {
				t.Errorf("reply of a deleted parent: parent %+v, want deleted, no excerpt or sender", p)
			}
		}
	}
}

// TestReactionToggles: toggling adds then removes; counts are per emoji
// across users with "me" per user; the cap refuses a new emoji but not
// one already there; concurrent toggles of one user stay consistent.
func TestReactionToggles(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	room := mustRoom(t, s, 1)
	m := send(t, s, chat.NewMessage{RoomID: room.ID, SenderID: 1, Text: "react to me"})[0].Message

	c, err := s.ToggleReaction(ctx, m.ID, 2, "👍", 3)
	if err != nil || !c.Added || len(c.Reactions) != 1 || c.Reactions[0] != (chat.Reaction{Emoji: "👍", Count: 1, Me: true}) ||
		c.RoomID != room.ID || c.Seq != m.Seq {
		t.Fatalf("first toggle: %+v, %v", c, err)
	}
	c, _ = s.ToggleReaction(ctx, m.ID, 3, "👍", 3)
	if c.Reactions[0].Count != 2 || !c.Reactions[0].Me {
		t.Fatalf("second user: %+v", c)
	}
	rev := c.Rev
	c, _ = s.ToggleReaction(ctx, m.ID, 2, "👍", 3)
	if c.Added || c.Reactions[0].Count != 1 || c.Reactions[0].Me || c.Rev <= rev {
		t.Fatalf("toggle off: %+v (rev was %d)", c, rev)
	}
	// The cap: 3 distinct emoji; a fourth new one is refused, an
	// existing one is still fine.
	for _, e := range []string{"❤️", "🎉"} {
		if _, err := s.ToggleReaction(ctx, m.ID, 2, e, 3); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ToggleReaction(ctx, m.ID, 4, "🔥", 3); apperr.ErrorCode(err) != apperr.CodeAlreadyExists {
		t.Fatalf("over the cap: %v, want already exists", err)
	}
	if c, err = s.ToggleReaction(ctx, m.ID, 4, "🎉", 3); err != nil || len(c.Reactions) != 3 {
		t.Fatalf("existing emoji at the cap: %+v, %v", c, err)
	}
	// History reads the counts with "me" for the viewer.
	hist, err := s.Messages(ctx, room.ID, chat.Page{Limit: 10, Viewer: 4})
	if err != nil || len(hist) != 1 {
		t.Fatal(hist, err)
	}
	want := []chat.Reaction{{Emoji: "👍", Count: 1}, {Emoji: "❤️", Count: 1}, {Emoji: "🎉", Count: 2, Me: true}}
	if fmt.Sprint(hist[0].Reactions) != fmt.Sprint(want) {
		t.Errorf("history reactions %+v, want %+v", hist[0].Reactions, want)
	}

	// One user toggling the same emoji from many places at once: the
	// toggles serialise, so an even number leaves nothing, and the count
	// row always matches the reaction rows.
	const n = 10
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := s.ToggleReaction(ctx, m.ID, 9, "🚀", 10); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var rows, counted int
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM message_reactions WHERE message_id = $1 AND emoji = '🚀'),
		coalesce((SELECT count FROM message_reaction_counts WHERE message_id = $1 AND emoji = '🚀'), 0)`, m.ID).
		Scan(&rows, &counted); err != nil {
		t.Fatal(err)
	}
	if rows != 0 || counted != 0 {
		t.Errorf("after %d concurrent toggles: %d rows, count %d; want none", n, rows, counted)
	}

	// Unknown and deleted messages.
	if _, err := s.ToggleReaction(ctx, 1<<40, 2, "👍", 3); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Errorf("unknown message: %v", err)
	}
	if _, err := s.DeleteMessage(ctx, room.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ToggleReaction(ctx, m.ID, 2, "👍", 3); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Errorf("deleted message: %v", err)
	}
	// Deleting the room deletes its reactions.
	if err := s.DeleteRoom(ctx, room.ID); err != nil {
		t.Fatal(err)
	}
	var left int
	_ = s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM message_reactions WHERE room_id = $1) +
		(SELECT count(*) FROM message_reaction_counts WHERE room_id = $1)`, room.ID).Scan(&left)
	if left != 0 {
		t.Errorf("%d reaction rows left after the room was deleted", left)
	}
}
