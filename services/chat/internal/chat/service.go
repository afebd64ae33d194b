package chat

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/batch"
	"github.com/cobraspace/cobraspace/platform/safetext"
	"github.com/cobraspace/cobraspace/platform/subjects"
)

// Caller is the authenticated user a call acts for.
type Caller struct {
	ID    int64
	Email string
}

// Hooks let the process count what the service does without the domain
// depending on a metrics library. Nil hooks are skipped.
type Hooks struct {
	// Batch is told each group commit's size, duration (commit and
	// publish) and whether it failed.
	Batch func(size int, took time.Duration, err error)
	// Persisted is told how many new messages a commit stored.
	Persisted func(n int)
	// PublishFailed is told the event kind of a failed NATS publish.
	PublishFailed func(event string)
	// PresenceFailed is told the operation of a failed Redis call.
	PresenceFailed func(op string)
}

// Config is what NewService needs.
type Config struct {
	Store     Store
	Presence  Presence
	Publisher Publisher
	Users     UserDirectory
	// Nicknames resolves @mentions; nil: mentions notify nobody.
	Nicknames NicknameDirectory
	// UserEvents announces per-user events; nil: none are published.
	UserEvents UserPublisher
	Logger     *slog.Logger
	// PresenceTTL is how long a connection stays without a heartbeat (30 s).
	PresenceTTL time.Duration
	// Batch tunes the group commit of SendMessage.
	Batch batch.Config
	// CommitLanes is how many group commits may run at once [1]. Each room
	// belongs to one lane (room id modulo lanes), so a room's messages are
	// still stored and published in order; lanes lock disjoint rooms, as
	// two chat replicas' batches do. More lanes let a saturated service
	// use more than one PostgreSQL backend (BENCHMARKS.md M5), at the cost
	// of smaller batches, so more commits per message, below saturation.
	CommitLanes int
	Hooks       Hooks

	// Conversations: Relations answers blocks and staff (user service),
	// Moderation keeps mutes, reports and the audit, MutePublisher
	// announces mute changes to the other replicas.
	Relations     Relations
	Moderation    ModerationStore
	MutePublisher MutePublisher
}

// Service implements the chat rules on top of its adapters.
type Service struct {
	store     Store
	presence  Presence
	pub       Publisher
	users     UserDirectory
	nicknames NicknameDirectory
	userPub   UserPublisher
	log       *slog.Logger
	ttl       time.Duration
	hooks     Hooks
	lanes     []*batch.Batcher[pending, Stored] // group commits, by room (CommitLanes)

	relations Relations
	mod       ModerationStore
	mutePub   MutePublisher
	mutes     muteCache
	access    accessCache
}

// pending is one SendMessage waiting for its group commit; the sender's
// details ride along so the flush can publish without another lookup.
type pending struct {
	msg    NewMessage
	sender User
	// span is the request's place in its trace (invalid while tracing is
	// off): the flush publishes the message under it, so a trace follows
	// the message through the group commit to the gateways.
	span trace.SpanContext
}

// NewService returns a Service and starts its group-commit worker; Close
// stops it.
func NewService(cfg Config) *Service {
	if cfg.PresenceTTL <= 0 {
		cfg.PresenceTTL = 30 * time.Second
	}
	s := &Service{
		store: cfg.Store, presence: cfg.Presence, pub: cfg.Publisher, users: cfg.Users,
		nicknames: cfg.Nicknames, userPub: cfg.UserEvents,
		log: cfg.Logger, ttl: cfg.PresenceTTL, hooks: cfg.Hooks,
		relations: cfg.Relations, mod: cfg.Moderation, mutePub: cfg.MutePublisher,
	}
	bc := cfg.Batch
	bc.Observe = cfg.Hooks.Batch
	// A batch the store refused for some message's data is split until
	// that message fails alone: one user's bad text never fails the
	// other messages sharing its group commit.
	bc.Isolate = func(err error) bool { return apperr.ErrorCode(err) == apperr.CodeInvalid }
	s.lanes = make([]*batch.Batcher[pending, Stored], max(cfg.CommitLanes, 1))
	for i := range s.lanes {
		s.lanes[i] = batch.New(bc, s.flush)
	}
	return s
}

// lane is the group commit of a room's messages.
func (s *Service) lane(roomID int64) int {
	return int(uint64(roomID) % uint64(len(s.lanes))) //nolint:gosec // G115: the modulus is a small positive int
}

// Close waits for queued sends to be committed (and published), then stops
// the group-commit workers. Call it after the gRPC server has stopped.
func (s *Service) Close() {
	for _, b := range s.lanes {
		b.Close()
	}
}

// ---- rooms ----

// CreateRoom creates a room owned by the caller. With postID set (the rpc
// layer lets only the post service, acting for the post's writer, set it)
// it is idempotent: the post's existing room is returned when the caller
// owns it. A room of that post owned by someone else was taken before
// binding rooms was reserved to the post service (the post service asks
// only for posts it has just reserved, or whose room is gone): it is
// deleted with its messages and replaced, so the post's write succeeds.
// apperr.CodeInvalid for a bad name.
func (s *Service) CreateRoom(ctx context.Context, c Caller, name string, postID int64) (Room, error) {
	name, err := checkRoomName(name)
	if err != nil {
		return Room{}, err
	}
	if postID < 0 {
		return Room{}, apperr.FieldError("post", "Invalid pk - object does not exist.")
	}
	room, created, err := s.store.CreateRoom(ctx, name, c.ID, postID)
	if err != nil {
		return Room{}, err
	}
	if !created && room.OwnerID != c.ID {
		s.log.WarnContext(ctx, "replacing a post's room owned by someone else", "post_id", postID,
			"room_id", room.ID, "owner_id", room.OwnerID, "writer_id", c.ID)
		if err := s.removeRoom(ctx, room.ID); err != nil {
			return Room{}, err
		}
		if room, created, err = s.store.CreateRoom(ctx, name, c.ID, postID); err != nil {
			return Room{}, err
		}
	}
	if !created {
		room.OnlineCount = s.count(ctx, room.ID)
	}
	return room, nil
}

// Room returns a room with its online count; apperr.CodeNotFound when
// unknown or not readable by viewerID (0: a service without a user).
func (s *Service) Room(ctx context.Context, viewerID, id int64) (Room, error) {
	room, err := s.store.Room(ctx, id)
	if err != nil {
		return Room{}, err
	}
	if !room.Readable(viewerID) {
		return Room{}, errRoomNotFound()
	}
	room.OnlineCount = s.count(ctx, id)
	return room, nil
}

// Rooms pages over rooms, newest first. The cursor is opaque to callers
// (the id of the last room of the previous page); next is "" on the last
// page. apperr.CodeInvalid for a malformed cursor.
func (s *Service) Rooms(ctx context.Context, limit int, cursor string) (rooms []Room, next string, err error) {
	if limit <= 0 {
		limit = DefaultRooms
	}
	limit = min(limit, MaxRooms)
	var before int64
	if cursor != "" {
		before, err = strconv.ParseInt(cursor, 10, 64)
		if err != nil || before <= 0 {
			return nil, "", apperr.FieldError("cursor", "Invalid cursor.")
		}
	}
	rooms, err = s.store.Rooms(ctx, before, limit+1)
	if err != nil {
		return nil, "", err
	}
	if len(rooms) > limit {
		rooms = rooms[:limit]
		next = strconv.FormatInt(rooms[limit-1].ID, 10)
	}
	ids := make([]int64, len(rooms))
	for i, r := range rooms {
		ids[i] = r.ID
	}
	counts, err := s.presence.Counts(ctx, ids)
	if err != nil {
		s.presenceFailed(ctx, "counts", err)
	}
	for i := range rooms {
		rooms[i].OnlineCount = counts[rooms[i].ID]
	}
	return rooms, next, nil
}

// RenameRoom renames a room; owner only (apperr.CodePermissionDenied).
func (s *Service) RenameRoom(ctx context.Context, c Caller, id int64, name string) (Room, error) {
	name, err := checkRoomName(name)
	if err != nil {
		return Room{}, err
	}
	if _, err := s.ownRoom(ctx, c, id); err != nil {
		return Room{}, err
	}
	room, err := s.store.RenameRoom(ctx, id, name)
	if err != nil {
		return Room{}, err
	}
	room.OnlineCount = s.count(ctx, id)
	return room, nil
}

// DeleteRoom deletes a room with its messages and presence (owner only),
// then announces room_deleted.
func (s *Service) DeleteRoom(ctx context.Context, c Caller, id int64) error {
	if _, err := s.ownRoom(ctx, c, id); err != nil {
		return err
	}
	return s.removeRoom(ctx, id)
}

// removeRoom deletes a room with its messages, forgets its presence and
// announces room_deleted (gateways close its sockets with 4000).
func (s *Service) removeRoom(ctx context.Context, id int64) error {
	if err := s.store.DeleteRoom(ctx, id); err != nil {
		return err
	}
	if err := s.presence.ClearRoom(ctx, id); err != nil {
		s.presenceFailed(ctx, "clear_room", err) // expiry cleans up within the TTL
	}
	s.publish(ctx, id, RoomEvent{Kind: subjects.EventRoomDeleted})
	return nil
}

func (s *Service) ownRoom(ctx context.Context, c Caller, id int64) (Room, error) {
	room, err := s.store.Room(ctx, id)
	if err != nil {
		return Room{}, err
	}
	if !room.Readable(c.ID) {
		return Room{}, errRoomNotFound()
	}
	if room.OwnerID != c.ID {
		return Room{}, &apperr.Error{Code: apperr.CodePermissionDenied, Message: MsgNotRoomOwner}
	}
	return room, nil
}

// count is a room's online count; 0 when Redis is down (degraded).
func (s *Service) count(ctx context.Context, roomID int64) int {
	counts, err := s.presence.Counts(ctx, []int64{roomID})
	if err != nil {
		s.presenceFailed(ctx, "counts", err)
		return 0
	}
	return counts[roomID]
}

// ---- messages ----

// Send stores a message from the caller in its room's group commit and
// returns it after commit; a retried client_msg_id returns the stored
// message. apperr.CodeInvalid (also when the database refused this message's
// data; the rest of its batch is stored), apperr.CodeNotFound (room),
// apperr.CodeUnavailable (the batch failed or the user service is down; safe to
// retry).
func (s *Service) Send(ctx context.Context, c Caller, m NewMessage) (Message, error) {
	m.SenderID = c.ID
	if err := checkNewMessage(m); err != nil {
		return Message{}, err
	}
	if err := s.checkSend(ctx, m); err != nil {
		return Message{}, err
	}
	sender, err := s.user(ctx, c)
	if err != nil {
		return Message{}, err
	}
	s.dmRecipients(ctx, []*NewMessage{&m})
	s.mentionRecipients(ctx, []*NewMessage{&m})
	st, err := s.lanes[s.lane(m.RoomID)].Do(ctx, pending{msg: m, sender: sender, span: trace.SpanContextFromContext(ctx)})
	return sendOutcome(st, err)
}

// Outgoing is one message of SendMany with its sender and the span of
// its send (invalid when not traced).
type Outgoing struct {
	Sender Caller
	Msg    NewMessage
	Span   trace.SpanContext
}

// SendMany is Send for the messages of many senders at once (a gateway's
// batch): one user directory lookup for all senders, and every valid
// message handed to the group commit together. Each message gets its own
// result or error, with Send's rules; one message's failure never fails
// another.
func (s *Service) SendMany(ctx context.Context, out []Outgoing) ([]Message, []error) {
	msgs := make([]Message, len(out))
	errs := make([]error, len(out))
	ids := make([]int64, 0, len(out))
	for i := range out {
		out[i].Msg.SenderID = out[i].Sender.ID
		if errs[i] = checkNewMessage(out[i].Msg); errs[i] == nil {
			errs[i] = s.checkSend(ctx, out[i].Msg)
		}
		if errs[i] == nil {
			ids = append(ids, out[i].Sender.ID)
		}
	}
	if len(ids) == 0 {
		return msgs, errs
	}
	slices.Sort(ids)
	users, err := s.users.Users(ctx, slices.Compact(ids))
	reqs := make([]pending, 0, len(ids))
	at := make([]int, 0, len(ids)) // index in out of each request
	for i, o := range out {
		if errs[i] != nil {
			continue
		}
		if err != nil {
			errs[i] = Unavailable(err)
			continue
		}
		u, ok := users[o.Sender.ID]
		if !ok {
			u = User{Email: o.Sender.Email} // e.g. just deleted: the token's email
		}
		u.ID = o.Sender.ID
		reqs = append(reqs, pending{msg: o.Msg, sender: u, span: o.Span})
		at = append(at, i)
	}
	ptrs := make([]*NewMessage, len(reqs))
	for k := range reqs {
		ptrs[k] = &reqs[k].msg
	}
	s.dmRecipients(ctx, ptrs)
	s.mentionRecipients(ctx, ptrs)
	stored, serrs := s.commitAll(ctx, reqs)
	for k, i := range at {
		msgs[i], errs[i] = sendOutcome(stored[k], serrs[k])
	}
	return msgs, errs
}

// commitAll runs reqs through their rooms' group commits, the lanes at
// once, and answers in reqs' order. A batch whose rooms share one lane
// (always, with one lane) goes in as it is.
func (s *Service) commitAll(ctx context.Context, reqs []pending) ([]Stored, []error) {
	first := 0
	if len(reqs) > 0 {
		first = s.lane(reqs[0].msg.RoomID)
	}
	if !slices.ContainsFunc(reqs, func(r pending) bool { return s.lane(r.msg.RoomID) != first }) {
		return s.lanes[first].DoAll(ctx, reqs)
	}
	byLane := make([][]int, len(s.lanes)) // indexes in reqs
	for i, r := range reqs {
		l := s.lane(r.msg.RoomID)
		byLane[l] = append(byLane[l], i)
	}
	stored, errs := make([]Stored, len(reqs)), make([]error, len(reqs))
	var wg sync.WaitGroup
	for l, idx := range byLane {
		if len(idx) == 0 {
			continue
		}
		wg.Go(func() {
			part := make([]pending, len(idx))
			for k, i := range idx {
				part[k] = reqs[i]
			}
			st, es := s.lanes[l].DoAll(ctx, part)
			for k, i := range idx {
				stored[i], errs[i] = st[k], es[k]
			}
		})
	}
	wg.Wait()
	return stored, errs
}

// checkNewMessage applies the rules of a message that need no lookup.
func checkNewMessage(m NewMessage) error {
	if err := checkText(m.Text); err != nil {
		return err
	}
	if utf8.RuneCountInString(m.ClientMsgID) > MaxClientMsgIDRunes {
		return apperr.FieldError("client_msg_id", "Ensure this field has no more than 64 characters.")
	}
	if err := safetext.Check(m.ClientMsgID); err != nil {
		return apperr.FieldError("client_msg_id", err.Error())
	}
	if m.ParentID < 0 {
		return ErrBadParent()
	}
	return nil
}

// checkSend applies the rules of a message that need lookups, all served
// from caches on the hot path: the sender may read the room (a DM room is
// NOT_FOUND to anyone else), neither user of a DM blocks the other, and
// the sender is not muted in the room.
func (s *Service) checkSend(ctx context.Context, m NewMessage) error {
	room, err := s.CheckReader(ctx, m.SenderID, m.RoomID)
	if err != nil {
		return err
	}
	if room.Kind == RoomKindDM {
		if err := s.checkDMSend(ctx, room, m.SenderID); err != nil {
			return err
		}
	}
	return s.checkNotMuted(ctx, m.RoomID, m.SenderID)
}

// sendOutcome turns a group commit's answer for one message into Send's
// result.
func sendOutcome(st Stored, err error) (Message, error) {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Message{}, err
	case apperr.ErrorCode(err) == apperr.CodeInvalid: // this message's own data, isolated
		return Message{}, err
	case err != nil:
		return Message{}, Unavailable(err)
	case st.Err != nil:
		return Message{}, st.Err
	}
	return st.Message, nil
}

// flush is the group commit: it stores a batch in one transaction, then
// publishes the new messages of each room in seq order, together. Duplicates publish nothing
// again (the first attempt published them, or gateways repair the gap).
func (s *Service) flush(ctx context.Context, reqs []pending) ([]Stored, error) {
	msgs := make([]NewMessage, len(reqs))
	for i, r := range reqs {
		msgs[i] = r.msg
	}
	s.withReplyRecipients(ctx, msgs)
	stored, err := s.store.StoreMessages(ctx, msgs)
	if err != nil {
		s.log.WarnContext(ctx, "group commit failed", "size", len(reqs), "err", err)
		return nil, err
	}
	s.fillParents(ctx, stored)
	// One "messages" event per room: its new messages, in seq order (the
	// store assigned seqs in batch order within each room).
	var rooms []int64
	byRoom := make(map[int64][]Published, 4)
	persisted := 0
	for i := range stored {
		if stored[i].Err != nil {
			continue
		}
		stored[i].Message.Sender = reqs[i].sender
		if stored[i].Duplicate {
			continue
		}
		s.publishUserEvents(ctx, &stored[i], reqs[i].sender)
		persisted++
		m := stored[i].Message
		if _, ok := byRoom[m.RoomID]; !ok {
			rooms = append(rooms, m.RoomID)
		}
		byRoom[m.RoomID] = append(byRoom[m.RoomID], Published{Message: m, Span: reqs[i].span})
	}
	for _, r := range rooms {
		if err := s.pub.PublishMessages(ctx, r, byRoom[r]); err != nil {
			s.log.WarnContext(ctx, "publish failed", "room_id", r, "event", subjects.EventMessages, "err", err)
			if s.hooks.PublishFailed != nil {
				s.hooks.PublishFailed(subjects.EventMessages)
			}
		}
	}
	s.announceReplyCounts(ctx, stored)
	if s.hooks.Persisted != nil {
		s.hooks.Persisted(persisted)
	}
	return stored, nil
}

// fillParents gives the parents of the new replies of a commit their
// senders' details, in one directory lookup; a batch without replies
// costs nothing. A directory failure leaves the details empty: the
// messages are committed and must be answered.
func (s *Service) fillParents(ctx context.Context, stored []Stored) {
	var ids []int64
	for _, st := range stored {
		if p := st.Message.Parent; st.Err == nil && p != nil && p.SenderID != 0 {
			ids = append(ids, p.SenderID)
		}
	}
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	users, err := s.users.Users(ctx, slices.Compact(ids))
	if err != nil {
		s.log.WarnContext(ctx, "user directory failed; reply parents without sender details", "err", err)
		return
	}
	for _, st := range stored {
		if p := st.Message.Parent; st.Err == nil && p != nil {
			p.Sender = users[p.SenderID]
			p.Sender.ID = p.SenderID
		}
	}
}

// announceReplyCounts publishes the new reply count of every parent that
// got replies in a commit, once per parent, after the messages themselves
// (the last reply of a parent in the batch carries its final count).
func (s *Service) announceReplyCounts(ctx context.Context, stored []Stored) {
	type key struct{ room, id int64 }
	latest := map[key]Parent{}
	var order []key
	for _, st := range stored {
		p := st.Message.Parent
		if st.Err != nil || st.Duplicate || p == nil {
			continue
		}
		k := key{st.Message.RoomID, p.ID}
		if _, ok := latest[k]; !ok {
			order = append(order, k)
		}
		latest[k] = *p
	}
	for _, k := range order {
		s.publish(ctx, k.room, RoomEvent{Kind: subjects.EventReplies, Parent: latest[k]})
	}
}

// Edit changes the text of the caller's message and announces it. roomID
// is the message's room, or 0 when the caller does not know it (slower:
// see Store.Message). apperr.CodeNotFound (unknown or deleted), apperr.CodePermissionDenied, apperr.CodeInvalid.
func (s *Service) Edit(ctx context.Context, c Caller, roomID, id int64, text string) (Message, error) {
	old, err := s.ownMessage(ctx, c, roomID, id)
	if err != nil {
		return Message{}, err
	}
	if err := checkText(text); err != nil {
		return Message{}, err
	}
	// The lookup found the room: the update touches one partition.
	m, err := s.store.EditMessage(ctx, old.RoomID, id, text)
	if err != nil {
		return Message{}, err
	}
	s.publish(ctx, m.RoomID, RoomEvent{Kind: subjects.EventEdit, Message: m})
	s.withThreadAndReactions(ctx, c, &m)
	if m.Sender, err = s.user(ctx, c); err != nil {
		m.Sender = User{ID: c.ID, Email: c.Email} // the edit is committed; answer anyway
	}
	return m, nil
}

// withThreadAndReactions gives an edited message, for the answer, the
// parent summary and reactions a history page would show (one more read:
// edits are rare). The text and edit time stay the ones just written, in
// case the page came from a replica that has not replayed the edit yet.
// On failure the answer goes without them: the edit is committed.
func (s *Service) withThreadAndReactions(ctx context.Context, c Caller, m *Message) {
	page, err := s.store.Messages(ctx, m.RoomID, Page{AfterSeq: m.Seq - 1, BeforeSeq: m.Seq + 1, Limit: 1,
		KnownSeq: m.Seq, Viewer: c.ID})
	if err != nil || len(page) != 1 || page[0].ID != m.ID {
		return
	}
	if err := s.fillSenders(ctx, page); err != nil {
		return
	}
	m.ReplyCount, m.Parent, m.Reactions = page[0].ReplyCount, page[0].Parent, page[0].Reactions
}

// Delete deletes the caller's message, or as the room's owner or staff any
// message of the room (audited), and announces it; roomID as for Edit.
// apperr.CodeNotFound, apperr.CodePermissionDenied.
func (s *Service) Delete(ctx context.Context, c Caller, roomID, id int64) (Message, error) {
	old, moderated, err := s.deletableMessage(ctx, c, roomID, id)
	if err != nil {
		return Message{}, err
	}
	if moderated {
		return s.deleteAudited(ctx, c, old)
	}
	m, err := s.store.DeleteMessage(ctx, old.RoomID, id)
	if err != nil {
		return Message{}, err
	}
	s.publish(ctx, m.RoomID, RoomEvent{Kind: subjects.EventDelete, Message: m})
	if m.Parent != nil { // a reply: its parent's count went down
		s.publish(ctx, m.RoomID, RoomEvent{Kind: subjects.EventReplies, Parent: *m.Parent})
	}
	return m, nil
}

// ownMessage loads the caller's message id; roomID is its room if known, 0
// if not (see Store.Message).
func (s *Service) ownMessage(ctx context.Context, c Caller, roomID, id int64) (Message, error) {
	m, err := s.store.Message(ctx, roomID, id)
	if err != nil {
		return Message{}, err
	}
	if _, err := s.CheckReader(ctx, c.ID, m.RoomID); err != nil {
		return Message{}, apperr.New(apperr.CodeNotFound, MsgMessageNotFound)
	}
	if m.SenderID != c.ID {
		return Message{}, &apperr.Error{Code: apperr.CodePermissionDenied, Message: MsgNotSender}
	}
	return m, nil
}

// History returns a page of a room's messages with their senders' details,
// in seq order (see Page): with AfterSeq or OldestFirst the oldest ones
// after AfterSeq, otherwise the newest ones before BeforeSeq (or the newest
// of all). A Limit of 0 means DefaultHistory. apperr.CodeNotFound (also
// when viewerID may not read the room; 0: a service without a user),
// apperr.CodeUnavailable.
func (s *Service) History(ctx context.Context, viewerID, roomID int64, p Page) ([]Message, error) {
	if p.Limit <= 0 {
		p.Limit = DefaultHistory
	}
	p.Limit = min(p.Limit, MaxHistory)
	p.AfterSeq, p.BeforeSeq = max(p.AfterSeq, 0), max(p.BeforeSeq, 0)
	// The room comes from the primary (a room just created exists), and its
	// last seq tells a replica-reading store how fresh the page must be.
	room, err := s.store.Room(ctx, roomID)
	if err != nil {
		return nil, err
	}
	if !room.Readable(viewerID) {
		return nil, errRoomNotFound()
	}
	p.KnownSeq = room.LastSeq
	msgs, err := s.store.Messages(ctx, roomID, p)
	if err != nil {
		return nil, err
	}
	if err := s.fillSenders(ctx, msgs); err != nil {
		return nil, err
	}
	return s.hideBlocked(ctx, viewerID, msgs)
}

// fillSenders gives messages read from the store their senders' (and
// their parents' senders') details, in one directory lookup.
func (s *Service) fillSenders(ctx context.Context, msgs []Message) error {
	var ids []int64
	for _, m := range msgs {
		ids = append(ids, m.SenderID)
		if m.Parent != nil && m.Parent.SenderID != 0 {
			ids = append(ids, m.Parent.SenderID)
		}
	}
	slices.Sort(ids)
	users, err := s.users.Users(ctx, slices.Compact(ids))
	if err != nil {
		return Unavailable(err)
	}
	for i := range msgs {
		msgs[i].Sender = users[msgs[i].SenderID]
		msgs[i].Sender.ID = msgs[i].SenderID
		if p := msgs[i].Parent; p != nil && p.SenderID != 0 {
			p.Sender = users[p.SenderID]
			p.Sender.ID = p.SenderID
		}
	}
	return nil
}

// ---- presence ----

// Join records a connection of the caller in a room and returns the room,
// who is online and the caller's own details. The caller's first
// connection in the room announces join. With Redis down it still
// succeeds, degraded: the caller alone is online and nothing is announced.
func (s *Service) Join(ctx context.Context, c Caller, ref ConnRef) (room Room, online []User, me User, err error) {
	if err := checkConnID(ref.ConnectionID); err != nil {
		return Room{}, nil, User{}, err
	}
	if err := checkLease(ref.Lease); err != nil {
		return Room{}, nil, User{}, err
	}
	if room, err = s.store.Room(ctx, ref.RoomID); err != nil {
		return Room{}, nil, User{}, err
	}
	if !room.Readable(c.ID) {
		return Room{}, nil, User{}, errRoomNotFound()
	}
	if me, err = s.user(ctx, c); err != nil {
		return Room{}, nil, User{}, err
	}
	s.joinMembership(ctx, c.ID, ref.RoomID)
	first, err := s.presence.Join(ctx, ref, c.ID, time.Now().Add(s.ttl))
	if err != nil {
		s.presenceFailed(ctx, "join", err)
		room.OnlineCount = 1
		return room, []User{me}, me, nil
	}
	if first {
		s.publish(ctx, ref.RoomID, RoomEvent{Kind: subjects.EventJoin, User: me})
	}
	ids, err := s.presence.Online(ctx, ref.RoomID)
	if err != nil {
		s.presenceFailed(ctx, "online", err)
		ids = []int64{c.ID}
	}
	slices.Sort(ids)
	users, err := s.users.Users(ctx, ids)
	if err != nil {
		s.log.WarnContext(ctx, "user directory failed; presence lists the caller only", "err", err)
		users = map[int64]User{c.ID: me}
	}
	for _, id := range ids {
		if u, ok := users[id]; ok {
			u.ID = id
			online = append(online, u)
		}
	}
	room.OnlineCount = len(ids)
	return room, online, me, nil
}

// Leave forgets a connection; the user's last connection in the room
// announces leave. Unknown connections are ignored. apperr.CodeUnavailable when
// Redis is down (the connection then expires within the TTL).
func (s *Service) Leave(ctx context.Context, ref ConnRef) error {
	uid, last, err := s.presence.Leave(ctx, ref)
	if err != nil {
		s.presenceFailed(ctx, "leave", err)
		return Unavailable(err)
	}
	if last {
		s.announceLeave(ctx, Departure{RoomID: ref.RoomID, UserID: uid})
	}
	return nil
}

// Heartbeat renews a gateway's lease in the rooms of sockets (room id ->
// the gateway's count there) for the presence TTL, and returns the rooms
// whose count differs, to reconcile, and the store's clock when it
// counted (Unix ms). apperr.CodeUnavailable when Redis is down.
func (s *Service) Heartbeat(ctx context.Context, lease string, sockets map[int64]int) (recount []int64, asOfMs int64, err error) {
	if err := checkLease(lease); err != nil {
		return nil, 0, err
	}
	recount, asOfMs, err = s.presence.Renew(ctx, lease, sockets, time.Now().Add(s.ttl))
	if err != nil {
		s.presenceFailed(ctx, "heartbeat", err)
		return nil, 0, Unavailable(err)
	}
	return recount, asOfMs, nil
}

// ReconcilePresence makes a lease's connections in rooms those of refs (as
// the gateway saw them after asOfMs): the users of the connections dropped
// thereby leave, and the refs the store did not know are returned (the
// gateway joins them again). apperr.CodeUnavailable when Redis is down.
func (s *Service) ReconcilePresence(ctx context.Context, lease string, asOfMs int64, rooms []int64, refs []ConnRef) ([]ConnRef, error) {
	if err := checkLease(lease); err != nil {
		return nil, err
	}
	unknown, gone, err := s.presence.Reconcile(ctx, lease, asOfMs, rooms, refs)
	if err != nil {
		s.presenceFailed(ctx, "reconcile", err)
		return nil, Unavailable(err)
	}
	for _, d := range gone {
		s.announceLeave(ctx, d)
	}
	return unknown, nil
}

// Typing announces that the caller is typing in a room. apperr.CodeNotFound.
func (s *Service) Typing(ctx context.Context, c Caller, roomID int64) error {
	if _, err := s.CheckReader(ctx, c.ID, roomID); err != nil {
		return err
	}
	me, err := s.user(ctx, c)
	if err != nil {
		return err
	}
	s.publish(ctx, roomID, RoomEvent{Kind: subjects.EventTyping, User: me})
	return nil
}

// Sweep drops expired connections once (across every replica) and
// announces the users that thereby left; it returns how many left.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	gone, err := s.presence.Sweep(ctx, time.Now(), 1000)
	if err != nil {
		return 0, err
	}
	for _, d := range gone {
		s.announceLeave(ctx, d)
	}
	return len(gone), nil
}

// RunSweeper sweeps every interval until ctx ends, so the users of a
// crashed gateway leave within the TTL plus one interval.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.presenceFailed(ctx, "sweep", err)
			}
		}
	}
}

func (s *Service) announceLeave(ctx context.Context, d Departure) {
	u := User{ID: d.UserID}
	users, err := s.users.Users(ctx, []int64{d.UserID})
	if err != nil {
		s.log.WarnContext(ctx, "user directory failed; leave announced without a name", "user_id", d.UserID, "err", err)
	} else if found, ok := users[d.UserID]; ok {
		u = found
		u.ID = d.UserID
	}
	s.publish(ctx, d.RoomID, RoomEvent{Kind: subjects.EventLeave, User: u})
}

// ---- helpers ----

// user returns the caller's public details. A caller the directory does
// not know (e.g. just deleted) gets the token's email; a directory outage
// without a cached entry is apperr.CodeUnavailable.
func (s *Service) user(ctx context.Context, c Caller) (User, error) {
	users, err := s.users.Users(ctx, []int64{c.ID})
	if err != nil {
		return User{}, Unavailable(err)
	}
	u, ok := users[c.ID]
	if !ok {
		return User{ID: c.ID, Email: c.Email}, nil
	}
	u.ID = c.ID
	return u, nil
}

// publish announces a committed change. A failure is logged and counted
// but never fails the call: PostgreSQL is the truth, and gateways repair
// gaps from history.
func (s *Service) publish(ctx context.Context, roomID int64, ev RoomEvent) {
	if err := s.pub.Publish(ctx, roomID, ev); err != nil {
		s.log.WarnContext(ctx, "publish failed", "room_id", roomID, "event", ev.Kind, "err", err)
		if s.hooks.PublishFailed != nil {
			s.hooks.PublishFailed(ev.Kind)
		}
	}
}

func (s *Service) presenceFailed(ctx context.Context, op string, err error) {
	s.log.WarnContext(ctx, "presence degraded: redis call failed", "op", op, "err", err)
	if s.hooks.PresenceFailed != nil {
		s.hooks.PresenceFailed(op)
	}
}

// checkText accepts 1 to 2,000 characters, stored as written, that are
// not all white space and that safetext accepts (the gateway checks the
// same; internal callers exist).
func checkText(text string) error {
	if strings.TrimSpace(text) == "" {
		return apperr.FieldError("message", "This field may not be blank.")
	}
	if utf8.RuneCountInString(text) > MaxMessageRunes {
		e := apperr.FieldError("message", "Ensure this field has no more than 2000 characters.")
		e.Reason = ReasonMessageTooLong
		return e
	}
	if err := safetext.Check(text); err != nil {
		return apperr.FieldError("message", err.Error())
	}
	return nil
}

// checkRoomName trims a room name and accepts 1 to 100 characters that
// safetext accepts.
func checkRoomName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", apperr.FieldError("name", "This field may not be blank.")
	}
	if utf8.RuneCountInString(name) > MaxRoomNameRunes {
		return "", apperr.FieldError("name", "Ensure this field has no more than 100 characters.")
	}
	if err := safetext.Check(name); err != nil {
		return "", apperr.FieldError("name", err.Error())
	}
	return name, nil
}

func checkConnID(id string) error {
	if id == "" || len(id) > 128 {
		return apperr.FieldError("connection_id", "A connection id of 1 to 128 bytes is required.")
	}
	return nil
}

// checkLease checks a presence lease: 1 to 128 letters, digits, '.', '_'
// or '-' (the presence store separates a lease from a connection id by a
// space).
func checkLease(lease string) error {
	ok := lease != "" && len(lease) <= 128
	for i := 0; ok && i < len(lease); i++ {
		b := lease[i]
		ok = b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-'
	}
	if !ok {
		return apperr.FieldError("lease", "A lease of 1 to 128 letters, digits, '.', '_' or '-' is required.")
	}
	return nil
}
