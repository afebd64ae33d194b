package chatsocket

import (
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/subjects"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// chat.unread is derived here, per (user, room), from the room's own
// events: the chat service does not publish per member, so a message in a
// room of 1,000 members costs it one publish, not 1,000.
//
// A watch starts from a snapshot of the chat service (ListMyRooms or
// UnreadCount: the unread count, the read marker and the room's last seq,
// read after the room's subscription became active) and then counts the
// room's new messages not sent by the user. Messages arriving while a
// snapshot is read wait and are applied on top of it by seq, so nothing
// is counted twice or missed. A seq gap (a lost NATS message) takes a new
// snapshot; so does a read marker that falls inside the part of the count
// whose seqs are not known (the snapshot's), while a marker within the
// known seqs is applied exactly without a call.
//
// Bounds: a user's stream watches at most Config.UserRooms rooms per
// replica (the most recently active ones: seeded from the first
// ListMyRooms page, then by message activity and new memberships), whatever
// the number of their sockets; each watch remembers at most maxKnownUnread
// seqs and buffers at most maxSyncBuffered messages while it syncs.

const maxKnownUnread = 1024

// roomWatch is one user's unread counter of one room. Fields after room
// are guarded by s.mu.
type roomWatch struct {
	s  *userStream
	id int64

	room *room // guarded by hub.mu; nil once unwatched

	gone     bool
	lastRead int64   // the user's read marker
	lastSeq  int64   // highest seq applied
	base     int64   // unread messages in (lastRead, baseSeq] whose seqs are unknown (from a snapshot)
	baseSeq  int64   // the snapshot's last seq
	seqs     []int64 // seqs of others' messages above max(lastRead, baseSeq), ascending
	sent     int64   // unread count last sent to the sockets (-1: none)
	active   int64   // s.tick of the last activity (eviction order)

	syncing     bool          // a snapshot is being read: messages wait in buf
	buf         []watchedMsg  // messages received while syncing
	overflow    bool          // buf overflowed: take another snapshot
	pendingRead int64         // highest marker received while syncing
	held        []byte        // newest message object seen while syncing or at a gap
	heldSender  int64         // its sender's id
	retry       time.Duration // backoff of failed snapshots
}

// watchedMsg is one new message of a watched room.
type watchedMsg struct {
	seq      int64
	sender   string // email
	senderID int64  // 0 when unknown (a chat service older than blocks)
	obj      []byte // the message object (last_message)
}

func (w *roomWatch) count() int64 { return w.base + int64(len(w.seqs)) }

// add applies a message with seq > lastSeq.
func (w *roomWatch) add(seq int64, own bool) {
	w.lastSeq = seq
	if own || seq <= w.lastRead || seq <= w.baseSeq {
		return
	}
	w.seqs = append(w.seqs, seq)
	if len(w.seqs) > maxKnownUnread {
		// Forget the oldest half's seqs, keeping their count: a marker
		// inside them will need a snapshot.
		k := len(w.seqs) / 2
		w.base += int64(k)
		w.baseSeq = w.seqs[k-1]
		w.seqs = append(w.seqs[:0], w.seqs[k:]...)
	}
}

// read moves the marker to seq; false means the count cannot be derived
// (the marker falls among the unknown seqs of base): take a snapshot.
func (w *roomWatch) read(seq int64) bool {
	if seq <= w.lastRead {
		return true
	}
	w.lastRead = seq
	if w.base > 0 {
		if seq < w.baseSeq {
			return false
		}
		w.base = 0
	}
	i := sort.Search(len(w.seqs), func(i int) bool { return w.seqs[i] > seq })
	w.seqs = append(w.seqs[:0], w.seqs[i:]...)
	return true
}

// watch hands the room's new messages (Kind EventMessages) or its deletion
// to the unread counters following it. The message objects are encoded
// once per event, not once per watcher.
func (r *room) watch(ev Event) {
	ws := *r.watchers.Load()
	if len(ws) == 0 {
		return
	}
	if ev.Kind == subjects.EventRoomDeleted {
		for _, w := range ws {
			go w.s.drop(w)
		}
		return
	}
	msgs := make([]watchedMsg, 0, len(ev.Messages))
	for _, m := range ev.Messages {
		if m.Seq <= 0 {
			continue
		}
		obj, sender := messageObject(m)
		msgs = append(msgs, watchedMsg{seq: m.Seq, sender: sender, senderID: m.SenderID, obj: obj})
	}
	if len(msgs) == 0 {
		return
	}
	for _, w := range ws {
		w.s.onMessages(w, msgs)
	}
}

// messageObject is the message object of message event m (chat.unread's
// last_message) and its sender's email. An event of a chat service older
// than RoomEvent has only its frame; an unreadable one still counts (as
// someone else's message).
func messageObject(m Event) (obj []byte, sender string) {
	if m.Message != nil {
		return chatjson.MessageJSON(m.Message), m.Message.GetSenderEmail()
	}
	obj, sender, _ = chatjson.MessageObject(m.Data)
	return obj, sender
}

// onMessages counts new messages of a watched room and sends one
// chat.unread per batch (one commit's messages of the room: usually one).
func (s *userStream) onMessages(w *roomWatch, msgs []watchedMsg) {
	s.mu.Lock()
	if w.gone {
		s.mu.Unlock()
		return
	}
	s.tick++
	w.active = s.tick
	if w.syncing {
		if len(w.buf)+len(msgs) > maxSyncBuffered {
			w.overflow, w.buf = true, nil
		} else {
			w.buf = append(w.buf, msgs...)
		}
		w.held, w.heldSender = msgs[len(msgs)-1].obj, msgs[len(msgs)-1].senderID
		s.mu.Unlock()
		return
	}
	var last []byte
	var lastSender int64
	fresh, gap := false, false
	for _, m := range msgs {
		if m.seq <= w.lastSeq {
			continue // a copy, or a late one a snapshot already covers
		}
		if m.seq > w.lastSeq+1 {
			gap = true
		}
		w.add(m.seq, s.own(m.sender))
		last, lastSender, fresh = m.obj, m.senderID, true
	}
	if !fresh {
		s.mu.Unlock()
		return
	}
	n := w.count()
	w.sent = n
	if gap {
		// Messages were lost (or are late): count them from a snapshot
		// once the stragglers had time to arrive.
		w.held, w.heldSender = last, lastSender
		s.syncLocked(w, s.hub.cfg.GapWait)
	}
	s.mu.Unlock()
	s.broadcast(chatjson.UnreadFrame(w.id, n, last), lastSender)
}

// onRead applies a read marker and sends chat.read.
func (s *userStream) onRead(m *chatv1.ReadMarker) {
	s.mu.Lock()
	w := s.rooms[m.GetRoomId()]
	frame := chatjson.ReadFrame(m)
	switch {
	case w == nil || w.gone:
	case w.syncing:
		w.pendingRead = max(w.pendingRead, m.GetLastReadSeq())
	case w.read(m.GetLastReadSeq()):
		w.sent = w.count()
		frame = chatjson.ReadFrame(&chatv1.ReadMarker{RoomId: w.id, LastReadSeq: w.lastRead, UnreadCount: w.sent})
	default:
		w.pendingRead = m.GetLastReadSeq()
		s.syncLocked(w, 0)
	}
	s.mu.Unlock()
	s.broadcast(frame, 0)
}

// onJoined starts watching a room the user just became a member of.
func (s *userStream) onJoined(roomID int64) {
	go func() {
		if w := s.watch(roomID); w != nil {
			s.snapshot(w)
		}
	}()
}

// syncLocked starts a snapshot of w after delay. s.mu held.
func (s *userStream) syncLocked(w *roomWatch, delay time.Duration) {
	if w.syncing {
		return
	}
	w.syncing, w.buf, w.overflow = true, nil, false
	time.AfterFunc(delay, func() { s.snapshot(w) })
}

// snapshot reads w's state from the chat service and rebases on it.
func (s *userStream) snapshot(w *roomWatch) {
	if s.ctx.Err() != nil {
		return
	}
	ctx, cancel := s.rpcCtx()
	resp, err := s.hub.chat.UnreadCount(ctx, &chatv1.UnreadCountRequest{RoomId: w.id})
	cancel()
	if err != nil {
		if status.Code(err) == codes.NotFound {
			s.drop(w) // no longer a member, or the room is gone
			return
		}
		if s.ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		w.retry = min(max(2*w.retry, time.Second), 30*time.Second)
		d := w.retry
		s.mu.Unlock()
		s.hub.log.Warn("unread snapshot failed", "user", s.userID, "room", w.id, "err", err)
		time.AfterFunc(d, func() { s.snapshot(w) })
		return
	}
	m := resp.GetMembership()
	s.rebase(w, m.GetLastReadSeq(), m.GetUnreadCount(), m.GetLastSeq(), false)
}

// rebase sets w to a snapshot and applies what arrived while it was read;
// quiet: the client knows this count already (the first ListMyRooms), so
// no frame unless something changed on top of it.
func (s *userStream) rebase(w *roomWatch, lastRead, unread, lastSeq int64, quiet bool) {
	s.mu.Lock()
	if w.gone {
		s.mu.Unlock()
		return
	}
	if w.overflow || w.pendingRead > lastRead {
		// The buffer lost messages, or a marker newer than the snapshot
		// arrived: read again (the next snapshot includes it).
		w.overflow, w.buf, w.pendingRead = false, nil, 0
		s.mu.Unlock()
		go s.snapshot(w)
		return
	}
	w.retry = 0
	w.lastRead, w.lastSeq, w.base, w.baseSeq, w.seqs = lastRead, lastSeq, unread, lastSeq, nil
	if quiet {
		w.sent = unread
	}
	last, lastSender := w.held, w.heldSender
	gap := false
	for _, m := range w.buf {
		if m.seq <= w.lastSeq {
			continue
		}
		gap = gap || m.seq > w.lastSeq+1
		w.add(m.seq, s.own(m.sender))
		last, lastSender = m.obj, m.senderID
	}
	changed := len(w.buf) > 0 && last != nil
	w.buf, w.held, w.heldSender, w.syncing, w.pendingRead = nil, nil, 0, false, 0
	n := w.count()
	var frame []byte
	if n != w.sent || changed {
		frame = chatjson.UnreadFrame(w.id, n, last)
		w.sent = n
	}
	if gap {
		s.syncLocked(w, s.hub.cfg.GapWait)
	}
	s.mu.Unlock()
	if frame != nil {
		s.broadcast(frame, lastSender)
	}
}

// seed starts the counters of the user's most recently active rooms: the
// rooms of a first ListMyRooms are subscribed, then a second one, read
// after every subscription is active, is the snapshot they start from.
func (s *userStream) seed() {
	first, ok := s.listRooms()
	if !ok {
		return
	}
	// Oldest first, so the newest rooms get the newest activity ticks.
	var watched []*roomWatch
	for i := len(first) - 1; i >= 0; i-- {
		if w := s.watch(first[i].GetRoom().GetId()); w != nil {
			watched = append(watched, w)
		}
	}
	if len(watched) == 0 {
		return
	}
	second, ok := s.listRooms()
	if !ok {
		return
	}
	snap := make(map[int64]*chatv1.MyRoom, len(second))
	for _, r := range second {
		snap[r.GetRoom().GetId()] = r
	}
	for _, w := range watched {
		if r := snap[w.id]; r != nil {
			s.rebase(w, r.GetLastReadSeq(), r.GetUnreadCount(), r.GetRoom().GetLastSeq(), true)
		} else {
			go s.snapshot(w) // it slid off the page meanwhile
		}
	}
}

// listRooms reads the first Config.UserRooms rooms of ListMyRooms, retrying
// with backoff while the stream lives.
func (s *userStream) listRooms() ([]*chatv1.MyRoom, bool) {
	backoff := time.Second
	for {
		var out []*chatv1.MyRoom
		cursor := ""
		var err error
		for len(out) < s.hub.cfg.UserRooms {
			ctx, cancel := s.rpcCtx()
			var resp *chatv1.ListMyRoomsResponse
			resp, err = s.hub.chat.ListMyRooms(ctx, &chatv1.ListMyRoomsRequest{
				Limit:  int32(min(s.hub.cfg.UserRooms-len(out), notificationPage)), //nolint:gosec // G115: at most 100
				Cursor: cursor,
			})
			cancel()
			if err != nil {
				break
			}
			out = append(out, resp.GetRooms()...)
			if cursor = resp.GetNextCursor(); cursor == "" {
				break
			}
		}
		if err == nil {
			return out, true
		}
		if s.ctx.Err() != nil {
			return nil, false
		}
		s.hub.log.Warn("unread seed failed", "user", s.userID, "err", err)
		select {
		case <-s.ctx.Done():
			return nil, false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// watch adds a syncing watch of roomID (nil when the stream ended, the
// room is watched already or the hub drains), evicting the least recently
// active watch beyond Config.UserRooms, and returns once the room's
// subscription is active.
func (s *userStream) watch(roomID int64) *roomWatch {
	h := s.hub
	h.mu.Lock()
	s.mu.Lock()
	if s.closed || s.rooms[roomID] != nil || h.draining {
		s.mu.Unlock()
		h.mu.Unlock()
		return nil
	}
	var evicted *roomWatch
	if len(s.rooms) >= h.cfg.UserRooms {
		for _, w := range s.rooms {
			if evicted == nil || w.active < evicted.active {
				evicted = w
			}
		}
		delete(s.rooms, evicted.id)
	}
	s.tick++
	w := &roomWatch{s: s, id: roomID, sent: -1, syncing: true, active: s.tick}
	s.rooms[roomID] = w
	s.mu.Unlock()
	r, creator := h.roomLocked(roomID)
	w.room = r
	old := *r.watchers.Load()
	next := make([]*roomWatch, len(old), len(old)+1)
	copy(next, old)
	next = append(next, w)
	r.watchers.Store(&next)
	var unsub *room
	if evicted != nil {
		unsub = h.unwatchLocked(evicted)
	}
	h.mu.Unlock()
	if unsub != nil {
		h.unsubscribe(unsub)
	}
	if err := h.subscribed(r, creator); err != nil {
		h.log.Warn("unread watch subscribe failed", "room", roomID, "err", err)
		s.drop(w)
		return nil
	}
	return w
}

// drop stops watching w (room deleted, membership gone).
func (s *userStream) drop(w *roomWatch) {
	h := s.hub
	h.mu.Lock()
	s.mu.Lock()
	if s.rooms[w.id] == w {
		delete(s.rooms, w.id)
	}
	s.mu.Unlock()
	r := h.unwatchLocked(w)
	h.mu.Unlock()
	if r != nil {
		h.unsubscribe(r)
	}
}

// unwatchLocked takes w off its room and returns the room when that was its
// last reference (the caller unsubscribes it after releasing h.mu). h.mu
// held, w.s.mu not.
func (h *Hub) unwatchLocked(w *roomWatch) *room {
	w.s.mu.Lock()
	w.gone, w.buf, w.seqs = true, nil, nil
	w.s.mu.Unlock()
	r := w.room
	if r == nil {
		return nil
	}
	w.room = nil
	old := *r.watchers.Load()
	next := make([]*roomWatch, 0, len(old))
	for _, x := range old {
		if x != w {
			next = append(next, x)
		}
	}
	r.watchers.Store(&next)
	if h.unrefLocked(r) {
		return r
	}
	return nil
}
