package chat

import (
	"context"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

// Messages of direct messages.
const (
	MsgDMSelf    = "You cannot send a direct message to yourself."
	MsgDMDenied  = "You cannot send direct messages to this user."
	MsgNoSuchDMU = "User not found."
)

// OpenDirectRoom returns the private room of the caller and otherID,
// creating it the first time (created). Allowed when the other's profile
// is public or they added the caller as a friend, and neither blocks the
// other: else CodePermissionDenied, also for an existing room (a block
// closes it). CodeInvalid (field "user") for the caller, CodeNotFound for
// an unknown user.
func (s *Service) OpenDirectRoom(ctx context.Context, c Caller, otherID int64) (Room, bool, error) {
	if otherID == c.ID {
		return Room{}, false, apperr.FieldError("user", MsgDMSelf)
	}
	if otherID <= 0 {
		return Room{}, false, apperr.New(apperr.CodeNotFound, MsgNoSuchDMU)
	}
	rel, err := s.relations.FreshRelation(ctx, c.ID, otherID)
	if err != nil {
		return Room{}, false, err
	}
	if rel.Blocks || rel.BlockedBy || (rel.OtherPrivate && !rel.OtherAddedUser) {
		return Room{}, false, &apperr.Error{Code: apperr.CodePermissionDenied, Message: MsgDMDenied}
	}
	low, high := min(c.ID, otherID), max(c.ID, otherID)
	room, created, err := s.mod.OpenDMRoom(ctx, low, high)
	if err != nil {
		return Room{}, false, err
	}
	s.access.put(room)
	// Both users are members from the start, so the room is in both
	// "my rooms" lists before anyone writes (joinMembership announces it).
	s.joinMembership(ctx, low, room.ID)
	s.joinMembership(ctx, high, room.ID)
	room.OnlineCount = s.count(ctx, room.ID)
	return room, created, nil
}

// checkDMSend refuses a message into a DM room when either user blocks the
// other (the block came after the room was opened).
func (s *Service) checkDMSend(ctx context.Context, room Room, senderID int64) error {
	other := room.DMUsers[0]
	if other == senderID {
		other = room.DMUsers[1]
	}
	rel, err := s.relations.Relation(ctx, senderID, other)
	if err != nil {
		return err
	}
	if rel.Blocks || rel.BlockedBy {
		return &apperr.Error{Code: apperr.CodePermissionDenied, Message: MsgDMDenied}
	}
	return nil
}

// dmRecipient is the user a message notifies as a DM: the other user of
// its room when that is a DM room (known from CheckReader's cache, which
// checkSend filled), else 0.
func (s *Service) dmRecipient(m *NewMessage) int64 {
	r, ok := s.access.get(m.RoomID)
	if !ok || r.Kind != RoomKindDM {
		return 0
	}
	if r.DMUsers[0] == m.SenderID {
		return r.DMUsers[1]
	}
	return r.DMUsers[0]
}
