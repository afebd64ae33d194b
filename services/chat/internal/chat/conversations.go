package chat

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

// Conversations (issue #12): room membership with read markers and exact
// unread counts, and notifications (mentions, replies, friends).

// Notification kinds.
const (
	KindMention = "mention"
	KindReply   = "reply"
	KindDM      = "dm"
	KindFriend  = "friend"
)

// Limits of the conversation listings.
const (
	DefaultMyRooms       = 20
	MaxMyRooms           = 100
	DefaultNotifications = 20
	MaxNotifications     = 100
	// MaxMarkIDs bounds MarkNotificationsRead's ids.
	MaxMarkIDs = 100
)

// Messages of conversation errors.
const (
	MsgNotMember = "You are not a member of this room."
	MsgBadSeq    = "Ensure this value is between 0 and the room's last seq."
)

// Recipient is a user a message notifies, and why.
type Recipient struct {
	UserID int64
	Kind   string
}

// Notification is one notification of UserID.
type Notification struct {
	ID        int64
	UserID    int64
	Kind      string
	RoomID    int64
	MessageID int64
	Seq       int64
	Actor     User
	Excerpt   string
	CreatedAt time.Time
	Read      bool
}

// Membership is a user's reading state in one room.
type Membership struct {
	RoomID      int64
	UserID      int64
	LastReadSeq int64
	UnreadCount int64
	// LastSeq is the room's last seq when the state was read.
	LastSeq int64
}

// MyRoom is one room of a member's list.
type MyRoom struct {
	Room        Room
	LastReadSeq int64
	UnreadCount int64
	// LastMessage is nil when the room has no live message.
	LastMessage *Message
	// Activity orders the list: the newest message, or when the user
	// joined if later.
	Activity time.Time
}

// MyRoomsCursor is where a page of MyRooms starts: after (older than)
// this activity and room.
type MyRoomsCursor struct {
	Activity time.Time
	RoomID   int64
}

// NotificationPage selects notifications: AfterID > 0 or OldestFirst
// pages oldest first after AfterID; otherwise newest first below BeforeID
// (0: from the newest), only unread ones with UnreadOnly.
type NotificationPage struct {
	AfterID, BeforeID int64
	OldestFirst       bool
	UnreadOnly        bool
	Limit             int
}

// ConversationStore keeps memberships and notifications (PostgreSQL).
type ConversationStore interface {
	// JoinRoom makes userID a member of roomID with its marker at the
	// room's last seq; created is false when they already were.
	// apperr.CodeNotFound for an unknown room.
	JoinRoom(ctx context.Context, userID, roomID int64) (m Membership, created bool, err error)
	// MarkRead moves the marker forward to seq (never back).
	// apperr.CodeNotFound (room), CodePermissionDenied (not a member),
	// CodeInvalid field "seq" (above the room's last seq).
	MarkRead(ctx context.Context, userID, roomID, seq int64) (Membership, error)
	// Membership reads one member's state; errors as MarkRead.
	Membership(ctx context.Context, userID, roomID int64) (Membership, error)
	// MyRooms lists userID's rooms, newest activity first, after cur
	// (nil: from the newest), each with its last live message.
	MyRooms(ctx context.Context, userID int64, cur *MyRoomsCursor, limit int) ([]MyRoom, error)
	// ParentSenders returns the sender of each live message (room, id) of
	// keys that exists.
	ParentSenders(ctx context.Context, keys []MessageRef) (map[int64]int64, error)
	// Notifications lists a page of userID's notifications and the number
	// unread (Actor holds only the id).
	Notifications(ctx context.Context, userID int64, p NotificationPage) ([]Notification, int64, error)
	// MarkNotificationsRead marks ids (or all) read and returns the unread
	// count left.
	MarkNotificationsRead(ctx context.Context, userID int64, ids []int64, all bool) (int64, error)
	// CreateNotification stores n (without a message) under userID's next id.
	CreateNotification(ctx context.Context, n Notification) (Notification, error)
}

// MessageRef names a message by room and id.
type MessageRef struct {
	RoomID, ID int64
}

// NicknameDirectory resolves @mentions (the user service).
type NicknameDirectory interface {
	// FindByNicknames returns, by lower-cased nickname, the ids of the
	// users whose nickname equals one of the (lower-cased, at most
	// MaxMentionNames) names case-insensitively, at most perName per name.
	FindByNicknames(ctx context.Context, names []string, perName int) (map[string][]int64, error)
}

// UserEvent is one live event of a user (exactly one field set).
type UserEvent struct {
	Notification *Notification
	Read         *Membership
	Joined       *Membership
}

// UserPublisher announces committed per-user events (NATS subject
// user.events.<id>).
type UserPublisher interface {
	PublishUser(ctx context.Context, userID int64, ev UserEvent) error
}

// ---- membership and read markers ----

// MyRooms pages over the caller's rooms, newest activity first. The cursor
// is opaque ("<unix micro>_<room id>"); next is "" on the last page.
func (s *Service) MyRooms(ctx context.Context, c Caller, limit int, cursor string) ([]MyRoom, string, error) {
	if limit <= 0 {
		limit = DefaultMyRooms
	}
	limit = min(limit, MaxMyRooms)
	var cur *MyRoomsCursor
	if cursor != "" {
		at, id, ok := strings.Cut(cursor, "_")
		micros, err1 := strconv.ParseInt(at, 10, 64)
		roomID, err2 := strconv.ParseInt(id, 10, 64)
		if !ok || err1 != nil || err2 != nil || roomID <= 0 {
			return nil, "", apperr.FieldError("cursor", "Invalid cursor.")
		}
		cur = &MyRoomsCursor{Activity: time.UnixMicro(micros), RoomID: roomID}
	}
	rooms, err := s.store.MyRooms(ctx, c.ID, cur, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rooms) > limit {
		rooms = rooms[:limit]
		last := rooms[limit-1]
		next = strconv.FormatInt(last.Activity.UnixMicro(), 10) + "_" + strconv.FormatInt(last.Room.ID, 10)
	}
	roomIDs := make([]int64, len(rooms))
	var ids []int64
	for i, r := range rooms {
		roomIDs[i] = r.Room.ID
		if r.LastMessage != nil {
			ids = append(ids, r.LastMessage.SenderID)
		}
	}
	counts, err := s.presence.Counts(ctx, roomIDs)
	if err != nil {
		s.presenceFailed(ctx, "counts", err) // 0 online, as in Rooms
	}
	for i := range rooms {
		rooms[i].Room.OnlineCount = counts[rooms[i].Room.ID]
	}
	if len(ids) > 0 {
		slices.Sort(ids)
		users, err := s.users.Users(ctx, slices.Compact(ids))
		if err != nil {
			return nil, "", Unavailable(err)
		}
		for _, r := range rooms {
			if m := r.LastMessage; m != nil {
				m.Sender = users[m.SenderID]
				m.Sender.ID = m.SenderID
			}
		}
		// A last message from a user the caller blocks shows hidden.
		last := make([]Message, 0, len(ids))
		for _, r := range rooms {
			if r.LastMessage != nil {
				last = append(last, *r.LastMessage)
			}
		}
		last, err = s.hideBlocked(ctx, c.ID, last)
		if err != nil {
			return nil, "", err
		}
		k := 0
		for _, r := range rooms {
			if r.LastMessage != nil {
				*r.LastMessage = last[k]
				k++
			}
		}
	}
	return rooms, next, nil
}

// MarkRead moves the caller's read marker of a room forward to seq and
// announces the marker on the caller's user subject (every socket of the
// caller, on any gateway, learns it). A lower seq changes nothing and is
// still answered (and announced: a client that lost the race learns the
// real marker).
func (s *Service) MarkRead(ctx context.Context, c Caller, roomID, seq int64) (Membership, error) {
	if seq < 0 {
		return Membership{}, apperr.FieldError("seq", MsgBadSeq)
	}
	// Another pair's DM room does not exist for the caller (404, not the
	// store's 403 for a non-member).
	if _, err := s.CheckReader(ctx, c.ID, roomID); err != nil {
		return Membership{}, err
	}
	m, err := s.store.MarkRead(ctx, c.ID, roomID, seq)
	if err != nil {
		return Membership{}, err
	}
	s.publishUser(ctx, c.ID, UserEvent{Read: &m})
	return m, nil
}

// UnreadCount answers one member's state in a room (a gateway repairing a
// gap in its unread counts).
func (s *Service) UnreadCount(ctx context.Context, userID, roomID int64) (Membership, error) {
	if _, err := s.CheckReader(ctx, userID, roomID); err != nil {
		return Membership{}, err
	}
	return s.store.Membership(ctx, userID, roomID)
}

// joinMembership makes the caller a member of a room whose socket they
// opened, announcing a new membership. A failure is logged, not returned:
// the socket works without it, and the next Join retries.
func (s *Service) joinMembership(ctx context.Context, userID, roomID int64) {
	m, created, err := s.store.JoinRoom(ctx, userID, roomID)
	if err != nil {
		s.log.WarnContext(ctx, "membership on join failed", "room_id", roomID, "user_id", userID, "err", err)
		return
	}
	if created {
		s.publishUser(ctx, userID, UserEvent{Joined: &m})
	}
}

// ---- notifications ----

// MayRead reports, for each user of ids, whether they may read room: the
// single place deciding who a mention may notify. Every user may read a
// post's room; a DM room only its two users (CheckReader's rule, from the
// same cache). When the room cannot be looked up nobody is notified.
func (s *Service) MayRead(ctx context.Context, room Room, ids []int64) []int64 {
	r, err := s.roomAccess(ctx, room.ID)
	if err != nil {
		return nil
	}
	return slices.DeleteFunc(ids, func(id int64) bool { return !r.Readable(id) })
}

// dropBlocked removes the users who block actor from ids: the single
// place where blocks filter notifications. The user service owns blocks;
// Relations caches its answers (dropped at once by block events). A user
// whose answer cannot be had is dropped too: a missed notification is
// better than one from someone the user blocked.
func (s *Service) dropBlocked(ctx context.Context, actor int64, ids []int64) []int64 {
	if s.relations == nil {
		return ids
	}
	return slices.DeleteFunc(ids, func(id int64) bool {
		rel, err := s.relations.Relation(ctx, id, actor)
		return err != nil || rel.Blocks
	})
}

// dmRecipients makes each message to a DM room notify the room's other
// user (kind dm), unless they block the sender. It runs before
// mentionRecipients, which then does not mention that user again.
func (s *Service) dmRecipients(ctx context.Context, msgs []*NewMessage) {
	for _, m := range msgs {
		if other := s.dmRecipient(m); other != 0 && len(s.dropBlocked(ctx, m.SenderID, []int64{other})) > 0 {
			m.Notify = append(m.Notify, Recipient{UserID: other, Kind: KindDM})
		}
	}
}

// maxNicknameCalls bounds the concurrent FindByNicknames calls of one
// batch of sends.
const maxNicknameCalls = 4

// mentionRecipients works out whom the @mentions of msgs notify before
// they join a group commit: users of those nicknames who may read the
// room, never the sender themself nor users who block them. Only messages
// with "@" cost anything: the distinct nicknames of all of msgs are looked
// up together, MaxMentionNames per call (one call for most batches, a few
// in parallel otherwise). A failed lookup drops those mention
// notifications rather than the messages (logged): the messages matter
// more.
func (s *Service) mentionRecipients(ctx context.Context, msgs []*NewMessage) {
	if s.nicknames == nil {
		return
	}
	names := make([][]string, len(msgs))
	var all []string
	for i, m := range msgs {
		names[i] = Mentions(m.Text)
		for _, n := range names[i] {
			if !slices.Contains(all, n) {
				all = append(all, n)
			}
		}
	}
	if len(all) == 0 {
		return
	}
	found := s.findNicknames(ctx, all)
	for i, m := range msgs {
		var ids []int64
		for _, n := range names[i] {
			ids = append(ids, found[n]...)
		}
		slices.Sort(ids)
		ids = slices.DeleteFunc(slices.Compact(ids), func(id int64) bool { return id == m.SenderID })
		if len(ids) > MaxMentionRecipients {
			ids = ids[:MaxMentionRecipients]
		}
		if len(ids) == 0 {
			continue
		}
		ids = s.dropBlocked(ctx, m.SenderID, s.MayRead(ctx, Room{ID: m.RoomID}, ids))
		for _, id := range ids {
			if !slices.ContainsFunc(m.Notify, func(r Recipient) bool { return r.UserID == id }) { // a DM's recipient
				m.Notify = append(m.Notify, Recipient{UserID: id, Kind: KindMention})
			}
		}
	}
}

// findNicknames looks names up in chunks of MaxMentionNames, at most
// maxNicknameCalls at a time; chunks whose call fails are left out.
func (s *Service) findNicknames(ctx context.Context, names []string) map[string][]int64 {
	out := make(map[string][]int64, len(names))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxNicknameCalls)
	for chunk := range slices.Chunk(names, MaxMentionNames) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			found, err := s.nicknames.FindByNicknames(ctx, chunk, MaxUsersPerMention)
			if err != nil {
				s.log.WarnContext(ctx, "mention notifications dropped: nickname lookup failed", "err", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for n, ids := range found {
				out[n] = ids
			}
		})
	}
	wg.Wait()
	return out
}

// withReplyRecipients returns msgs with the sender of each reply's parent
// added to its Notify (kind reply, replacing a mention of the same user;
// never the replier themself nor someone who blocks them). The group
// commit calls it with its batch: one lookup of every parent per batch
// with replies, none otherwise. The parent's sender may always read the
// room (they wrote in it). Notify slices are copied, never changed in
// place, since a batch that is split and retried comes here again. A
// failed lookup drops the reply notifications (logged), not the batch.
func (s *Service) withReplyRecipients(ctx context.Context, msgs []NewMessage) {
	var parents []MessageRef
	for _, m := range msgs {
		if m.ParentID > 0 {
			parents = append(parents, MessageRef{RoomID: m.RoomID, ID: m.ParentID})
		}
	}
	if len(parents) == 0 {
		return
	}
	senders, err := s.store.ParentSenders(ctx, parents)
	if err != nil {
		s.log.WarnContext(ctx, "reply notifications dropped: parent lookup failed", "err", err)
		return
	}
	for i := range msgs {
		m := &msgs[i]
		ps, ok := senders[m.ParentID]
		if !ok || m.ParentID <= 0 || ps == m.SenderID || len(s.dropBlocked(ctx, m.SenderID, []int64{ps})) == 0 {
			continue
		}
		m.Notify = slices.DeleteFunc(slices.Clone(m.Notify), func(r Recipient) bool { return r.UserID == ps })
		m.Notify = append(m.Notify, Recipient{UserID: ps, Kind: KindReply})
	}
}

// Notifications pages over the caller's notifications (see
// NotificationPage; the cursor is the last id of the previous page) and
// returns the caller's unread count.
func (s *Service) Notifications(ctx context.Context, c Caller, limit int, cursor string, unreadOnly bool,
	afterID int64, oldestFirst bool) ([]Notification, string, int64, error) {
	if limit <= 0 {
		limit = DefaultNotifications
	}
	limit = min(limit, MaxNotifications)
	ascending := afterID > 0 || oldestFirst
	p := NotificationPage{AfterID: max(afterID, 0), OldestFirst: ascending, UnreadOnly: unreadOnly && !ascending, Limit: limit + 1}
	if cursor != "" && !ascending {
		before, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || before <= 0 {
			return nil, "", 0, apperr.FieldError("cursor", "Invalid cursor.")
		}
		p.BeforeID = before
	}
	list, unread, err := s.store.Notifications(ctx, c.ID, p)
	if err != nil {
		return nil, "", 0, err
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = strconv.FormatInt(list[limit-1].ID, 10)
	}
	if err := s.fillActors(ctx, list); err != nil {
		return nil, "", 0, err
	}
	return list, next, unread, nil
}

// fillActors sets each notification's actor details from the directory.
func (s *Service) fillActors(ctx context.Context, list []Notification) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]int64, len(list))
	for i, n := range list {
		ids[i] = n.Actor.ID
	}
	slices.Sort(ids)
	users, err := s.users.Users(ctx, slices.Compact(ids))
	if err != nil {
		return Unavailable(err)
	}
	for i := range list {
		id := list[i].Actor.ID
		list[i].Actor = users[id]
		list[i].Actor.ID = id
	}
	return nil
}

// MarkNotificationsRead marks the caller's notifications ids (or all)
// read and returns how many stay unread. apperr.CodeInvalid field "ids"
// for more than MaxMarkIDs or an id below 1.
func (s *Service) MarkNotificationsRead(ctx context.Context, c Caller, ids []int64, all bool) (int64, error) {
	if len(ids) > MaxMarkIDs {
		return 0, apperr.FieldError("ids", "Ensure this field has no more than 100 elements.")
	}
	if slices.ContainsFunc(ids, func(id int64) bool { return id < 1 }) {
		return 0, apperr.FieldError("ids", "A valid integer is required.")
	}
	return s.store.MarkNotificationsRead(ctx, c.ID, ids, all)
}

// CreateFriendNotification notifies userID that actorID added them as a
// friend; nothing for oneself (ok false).
func (s *Service) CreateFriendNotification(ctx context.Context, actorID, userID int64) (Notification, bool, error) {
	if actorID <= 0 || userID <= 0 {
		return Notification{}, false, apperr.FieldError("user", "Invalid pk - object does not exist.")
	}
	if actorID == userID || len(s.dropBlocked(ctx, actorID, []int64{userID})) == 0 {
		return Notification{}, false, nil
	}
	n, err := s.store.CreateNotification(ctx, Notification{UserID: userID, Kind: KindFriend, Actor: User{ID: actorID}})
	if err != nil {
		return Notification{}, false, err
	}
	if actor, err := s.users.Users(ctx, []int64{actorID}); err == nil {
		n.Actor = actor[actorID]
		n.Actor.ID = actorID
	}
	s.publishUser(ctx, userID, UserEvent{Notification: &n})
	return n, true, nil
}

// publishUserEvents announces what a group commit's messages caused:
// new memberships of their senders and notifications (after the commit).
func (s *Service) publishUserEvents(ctx context.Context, st *Stored, sender User) {
	if st.Joined != nil {
		s.publishUser(ctx, st.Joined.UserID, UserEvent{Joined: st.Joined})
	}
	for i := range st.Notifications {
		n := &st.Notifications[i]
		n.Actor = sender
		s.publishUser(ctx, n.UserID, UserEvent{Notification: n})
	}
}

// publishUser announces a committed per-user event; failures are logged
// and counted, never returned (the database is the truth: streams replay
// notifications by id, unread counts are refetched).
func (s *Service) publishUser(ctx context.Context, userID int64, ev UserEvent) {
	if s.userPub == nil {
		return
	}
	if err := s.userPub.PublishUser(ctx, userID, ev); err != nil {
		s.log.WarnContext(ctx, "publish failed", "user_id", userID, "event", "user", "err", err)
		if s.hooks.PublishFailed != nil {
			s.hooks.PublishFailed("user")
		}
	}
}
