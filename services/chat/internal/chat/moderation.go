package chat

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/safetext"
	"github.com/cobraspace/cobraspace/platform/subjects"
)

// Moderation limits and messages.
const (
	MaxMuteMinutes  = 10080 // a week
	MaxReportRunes  = 500
	ReasonMuted     = "muted" // ErrorInfo reason of a muted member's send
	MsgMuted        = "You are muted in this room."
	MsgNotModerator = "Only the room's owner or staff may do this."
	MsgNotStaff     = "Only staff may list reports."
	MsgMuteSelf     = "You cannot mute yourself."
)

// Audit actions.
const (
	AuditDelete = "delete"
	AuditMute   = "mute"
	AuditUnmute = "unmute"
)

// Relation is how two users stand, from the user service.
type Relation struct {
	Blocks, BlockedBy, OtherPrivate, OtherAddedUser, IsStaff bool
}

// Relations asks the user service how users stand (blocks, privacy,
// friendship, staff), behind a short cache (userclient.Relations).
type Relations interface {
	// Relation answers for userID and otherID (0: only IsStaff), from the
	// cache when fresh enough. CodeNotFound when otherID is unknown.
	Relation(ctx context.Context, userID, otherID int64) (Relation, error)
	// FreshRelation is Relation asked of the user service now: for rare
	// decisions that depend on what has no change event (privacy,
	// friendship), such as opening a DM room.
	FreshRelation(ctx context.Context, userID, otherID int64) (Relation, error)
	// BlockedIDs returns the users userID blocks, from the cache when
	// fresh enough.
	BlockedIDs(ctx context.Context, userID int64) (map[int64]bool, error)
}

// Audit is one moderation action.
type Audit struct {
	ActorID, TargetUserID, RoomID, MessageID int64
	Action, Detail                           string
}

// Report is one user's report of one message.
type Report struct {
	ID, MessageID, RoomID, SenderID, ReporterID int64
	MessageText, Reason                         string
	CreatedAt                                   time.Time
}

// ModerationStore keeps what the conversations features add to rooms
// and messages (PostgreSQL): mutes, reports, the moderation audit, search
// and DM rooms.
type ModerationStore interface {
	// SearchMessages returns up to limit live messages of a room with
	// seq < beforeSeq (0: no bound) whose text contains query (literal,
	// case-insensitive), newest first.
	SearchMessages(ctx context.Context, roomID int64, query string, beforeSeq int64, limit int) ([]Message, error)
	// OpenDMRoom returns the DM room of users low < high, creating it;
	// created tells which. Concurrent calls for one pair get one room.
	OpenDMRoom(ctx context.Context, low, high int64) (room Room, created bool, err error)
	// ActiveMutes returns the users muted in a room now, with their ends.
	ActiveMutes(ctx context.Context, roomID int64) (map[int64]time.Time, error)
	// SetMute mutes userID in roomID until until (zero: lifts it) and
	// records a in the same transaction. CodeNotFound for an unknown room.
	SetMute(ctx context.Context, roomID, userID, by int64, until time.Time, a Audit) error
	// DeleteMessageAudited deletes a message like Store.DeleteMessage and
	// records a in the same transaction.
	DeleteMessageAudited(ctx context.Context, roomID, id int64, a Audit) (Message, error)
	// AddReport stores r unless its reporter reported the message before;
	// it returns the stored report either way.
	AddReport(ctx context.Context, r Report) (stored Report, created bool, err error)
	// Reports returns reports with id < beforeID (0: newest), newest first.
	Reports(ctx context.Context, beforeID int64, limit int) ([]Report, error)
}

// MutePublisher tells every chat replica that a room's mutes changed, so
// each drops its cached mutes of the room at once.
type MutePublisher interface {
	MutesChanged(ctx context.Context, roomID int64) error
}

// isModerator reports whether the caller may moderate the room: its owner
// (a post's writer) or staff. DM rooms have no owner (0).
func (s *Service) isModerator(ctx context.Context, c Caller, room Room) (bool, error) {
	if room.OwnerID != 0 && room.OwnerID == c.ID {
		return true, nil
	}
	rel, err := s.relations.Relation(ctx, c.ID, 0)
	if err != nil {
		return false, err
	}
	return rel.IsStaff, nil
}

// deletableMessage loads message id for the caller to delete: their own,
// or any message of a room they moderate (moderated is then true and the
// deletion is audited).
func (s *Service) deletableMessage(ctx context.Context, c Caller, roomID, id int64) (m Message, moderated bool, err error) {
	m, err = s.store.Message(ctx, roomID, id)
	if err != nil {
		return Message{}, false, err
	}
	room, err := s.CheckReader(ctx, c.ID, m.RoomID)
	if err != nil {
		return Message{}, false, apperr.New(apperr.CodeNotFound, MsgMessageNotFound)
	}
	if m.SenderID == c.ID {
		return m, false, nil
	}
	ok, err := s.isModerator(ctx, c, room)
	if err != nil {
		return Message{}, false, err
	}
	if !ok {
		return Message{}, false, &apperr.Error{Code: apperr.CodePermissionDenied, Message: MsgNotSender}
	}
	return m, true, nil
}

// Mute mutes member userID of a room for minutes (0 lifts the mute) and
// returns the end (zero when lifted). Owner or staff only.
// apperr.CodeInvalid (fields "minutes", "user"), CodePermissionDenied,
// CodeNotFound.
func (s *Service) Mute(ctx context.Context, c Caller, roomID, userID int64, minutes int) (time.Time, error) {
	if minutes < 0 || minutes > MaxMuteMinutes {
		return time.Time{}, apperr.FieldError("minutes", "Ensure this value is between 0 and 10080.")
	}
	if userID <= 0 {
		return time.Time{}, apperr.FieldError("user", "Invalid pk - object does not exist.")
	}
	if userID == c.ID {
		return time.Time{}, apperr.FieldError("user", MsgMuteSelf)
	}
	room, err := s.CheckReader(ctx, c.ID, roomID)
	if err != nil {
		return time.Time{}, err
	}
	ok, err := s.isModerator(ctx, c, room)
	if err != nil {
		return time.Time{}, err
	}
	if !ok {
		return time.Time{}, &apperr.Error{Code: apperr.CodePermissionDenied, Message: MsgNotModerator}
	}
	a := Audit{ActorID: c.ID, TargetUserID: userID, RoomID: roomID, Action: AuditUnmute}
	var until time.Time
	if minutes > 0 {
		until = time.Now().Add(time.Duration(minutes) * time.Minute).Truncate(time.Microsecond)
		a.Action, a.Detail = AuditMute, "minutes="+strconv.Itoa(minutes)
	}
	if err := s.mod.SetMute(ctx, roomID, userID, c.ID, until, a); err != nil {
		return time.Time{}, err
	}
	s.mutes.forget(roomID)
	if err := s.mutePub.MutesChanged(ctx, roomID); err != nil {
		// Other replicas notice within muteCacheTTL.
		s.log.WarnContext(ctx, "announcing a mute failed", "room_id", roomID, "err", err)
	}
	return until, nil
}

// checkNotMuted refuses a muted member's send (CodePermissionDenied with
// reason ReasonMuted). It reads the room's mutes from a per-process cache
// (one query per room per muteCacheTTL at most), dropped at once by
// MutesChanged events from whichever replica changed them.
func (s *Service) checkNotMuted(ctx context.Context, roomID, userID int64) error {
	mutes, ok := s.mutes.get(roomID)
	if !ok {
		var err error
		if mutes, err = s.mod.ActiveMutes(ctx, roomID); err != nil {
			return Unavailable(err)
		}
		s.mutes.put(roomID, mutes)
	}
	if until, ok := mutes[userID]; ok && time.Now().Before(until) {
		return &apperr.Error{Code: apperr.CodePermissionDenied, Message: MsgMuted, Reason: ReasonMuted}
	}
	return nil
}

// ForgetMutes drops the cached mutes of a room (a MutesChanged event).
func (s *Service) ForgetMutes(roomID int64) { s.mutes.forget(roomID) }

// muteCacheTTL bounds how stale a replica's view of a room's mutes may be
// when a MutesChanged event is lost; maxMuteRooms bounds the cache.
const (
	muteCacheTTL = 30 * time.Second
	maxMuteRooms = 10_000
)

type muteEntry struct {
	until  map[int64]time.Time // nil: nobody is muted
	loaded time.Time
}

type muteCache struct {
	mu    sync.Mutex
	rooms map[int64]muteEntry
}

func (c *muteCache) get(roomID int64) (map[int64]time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.rooms[roomID]
	if !ok || time.Since(e.loaded) > muteCacheTTL {
		return nil, false
	}
	return e.until, true
}

func (c *muteCache) put(roomID int64, until map[int64]time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rooms == nil || len(c.rooms) >= maxMuteRooms {
		c.rooms = make(map[int64]muteEntry)
	}
	if len(until) == 0 {
		until = nil
	}
	c.rooms[roomID] = muteEntry{until: until, loaded: time.Now()}
}

func (c *muteCache) forget(roomID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.rooms, roomID)
}

// ReportMessage records the caller's report of a message they may read.
// apperr.CodeInvalid (field "reason"), CodeNotFound.
func (s *Service) ReportMessage(ctx context.Context, c Caller, messageID int64, reason string) (Report, bool, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return Report{}, false, apperr.FieldError("reason", "This field may not be blank.")
	case utf8.RuneCountInString(reason) > MaxReportRunes:
		return Report{}, false, apperr.FieldError("reason", "Ensure this field has no more than 500 characters.")
	}
	if err := safetext.Check(reason); err != nil {
		return Report{}, false, apperr.FieldError("reason", err.Error())
	}
	m, err := s.store.Message(ctx, 0, messageID)
	if err != nil {
		return Report{}, false, err
	}
	if _, err := s.CheckReader(ctx, c.ID, m.RoomID); err != nil {
		return Report{}, false, apperr.New(apperr.CodeNotFound, MsgMessageNotFound)
	}
	return s.mod.AddReport(ctx, Report{MessageID: m.ID, RoomID: m.RoomID, SenderID: m.SenderID,
		MessageText: m.Text, ReporterID: c.ID, Reason: reason})
}

// Reports pages over reports, newest first; staff only
// (CodePermissionDenied). The cursor is the id of the last report of the
// previous page.
func (s *Service) Reports(ctx context.Context, c Caller, limit int, cursor string) ([]Report, string, error) {
	rel, err := s.relations.Relation(ctx, c.ID, 0)
	if err != nil {
		return nil, "", err
	}
	if !rel.IsStaff {
		return nil, "", &apperr.Error{Code: apperr.CodePermissionDenied, Message: MsgNotStaff}
	}
	if limit <= 0 {
		limit = DefaultRooms
	}
	limit = min(limit, MaxRooms)
	var before int64
	if cursor != "" {
		if before, err = strconv.ParseInt(cursor, 10, 64); err != nil || before <= 0 {
			return nil, "", apperr.FieldError("cursor", "Invalid cursor.")
		}
	}
	reports, err := s.mod.Reports(ctx, before, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(reports) > limit {
		reports = reports[:limit]
		next = strconv.FormatInt(reports[limit-1].ID, 10)
	}
	return reports, next, nil
}

// deleteAudited deletes a message a moderator (not its sender) removes,
// with its audit record, and announces it like any deletion.
func (s *Service) deleteAudited(ctx context.Context, c Caller, old Message) (Message, error) {
	m, err := s.mod.DeleteMessageAudited(ctx, old.RoomID, old.ID, Audit{ActorID: c.ID, Action: AuditDelete,
		TargetUserID: old.SenderID, RoomID: old.RoomID, MessageID: old.ID})
	if err != nil {
		return Message{}, err
	}
	s.publish(ctx, m.RoomID, RoomEvent{Kind: subjects.EventDelete, Message: m})
	if m.Parent != nil { // a reply: its parent's count went down
		s.publish(ctx, m.RoomID, RoomEvent{Kind: subjects.EventReplies, Parent: *m.Parent})
	}
	return m, nil
}
