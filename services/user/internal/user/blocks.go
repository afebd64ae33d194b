package user

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

// MaxBlocks bounds how many users one user may block: gateways keep each
// socket's blocked set in memory, so it must stay small.
const MaxBlocks = 1000

// Messages of blocks.
const (
	MsgBlockSelf     = "You cannot block yourself."
	MsgTooManyBlocks = "You cannot block more than 1000 users."
	MsgNoSuchUser    = "User not found."
)

// Blocked is a user on a blocks list with the time they were blocked.
type Blocked struct {
	Summary
	BlockedAt time.Time
}

// BlockCursor is a position in a blocks list (latest first). The zero value
// is the start.
type BlockCursor struct {
	BlockedAt time.Time
	UserID    int64
}

// Relation is how two users stand (GetRelation).
type Relation struct {
	Blocks, BlockedBy, OtherPrivate, OtherAddedUser, IsStaff bool
}

// ErrTooManyBlocks is returned when the user already blocks MaxBlocks users.
var ErrTooManyBlocks = errors.New("too many blocks")

// BlockStore keeps blocks and the staff role.
type BlockStore interface {
	// Block records that userID blocks blockedID and returns blockedID as
	// userID may see them (a private user's email blank unless they added
	// userID); created is false when it was already recorded. ErrNotFound
	// when blockedID is unknown, ErrTooManyBlocks past MaxBlocks.
	Block(ctx context.Context, userID, blockedID int64, limit int) (blocked Summary, created bool, err error)
	// Unblock removes the block; removed is false when there was none.
	Unblock(ctx context.Context, userID, blockedID int64) (removed bool, err error)
	// ListBlocks returns blocks of userID after the cursor, latest first,
	// emails shown as in Block.
	ListBlocks(ctx context.Context, userID int64, after BlockCursor, limit int) ([]Blocked, error)
	// BlockedIDs returns every id userID blocks.
	BlockedIDs(ctx context.Context, userID int64) ([]int64, error)
	// Relation answers how userID and otherID stand (otherID 0: only
	// IsStaff). ErrNotFound when otherID is set and unknown.
	Relation(ctx context.Context, userID, otherID int64) (Relation, error)
	// SetStaff sets the staff role of the user with email; ErrNotFound.
	SetStaff(ctx context.Context, email string, on bool) (userID int64, err error)
}

// BlockAnnouncer tells gateways and the chat service that userID's blocks
// changed, so they drop cached answers at once.
type BlockAnnouncer interface {
	BlocksChanged(ctx context.Context, userID, otherID int64, blocking bool) error
}

// Block makes userID block otherID. apperr.CodeInvalid (field "user": the
// caller or too many blocks), apperr.CodeNotFound.
func (s *Service) Block(ctx context.Context, userID, otherID int64) (Summary, bool, error) {
	if otherID == userID {
		return Summary{}, false, apperr.FieldError("user", MsgBlockSelf)
	}
	if otherID <= 0 {
		return Summary{}, false, apperr.New(apperr.CodeNotFound, MsgNoSuchUser)
	}
	blocked, created, err := s.cfg.Blocks.Block(ctx, userID, otherID, MaxBlocks)
	switch {
	case errors.Is(err, ErrNotFound):
		return Summary{}, false, apperr.New(apperr.CodeNotFound, MsgNoSuchUser)
	case errors.Is(err, ErrTooManyBlocks):
		return Summary{}, false, apperr.FieldError("user", MsgTooManyBlocks)
	case err != nil:
		return Summary{}, false, err
	}
	if created {
		s.announceBlocks(ctx, userID, otherID, true)
	}
	return blocked, created, nil
}

// Unblock removes userID's block of otherID (none is not an error).
// apperr.CodeNotFound when otherID is unknown.
func (s *Service) Unblock(ctx context.Context, userID, otherID int64) error {
	removed, err := s.cfg.Blocks.Unblock(ctx, userID, otherID)
	if err != nil {
		return err
	}
	if removed {
		s.announceBlocks(ctx, userID, otherID, false)
		return nil
	}
	users, err := s.cfg.Store.Users(ctx, []int64{otherID})
	if err != nil {
		return err
	}
	if len(users) == 0 {
		return apperr.New(apperr.CodeNotFound, MsgNoSuchUser)
	}
	return nil
}

// announceBlocks publishes a block change. A lost announcement only delays
// the change by the consumers' cache lifetime (README), so it is logged,
// not returned.
func (s *Service) announceBlocks(ctx context.Context, userID, otherID int64, blocking bool) {
	if s.cfg.BlockAnnouncer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), depTimeout)
	defer cancel()
	if err := s.cfg.BlockAnnouncer.BlocksChanged(ctx, userID, otherID, blocking); err != nil {
		s.cfg.Logger.Warn("announcing a block change failed", "user", userID, "err", err)
	}
}

// ListBlocks returns a page of the users userID blocks, latest first, and
// the next cursor. apperr.CodeInvalid (field "cursor").
func (s *Service) ListBlocks(ctx context.Context, userID int64, limit int32, cursor string) ([]Summary, string, error) {
	after, err := decodeBlockCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	n := pageSize(limit)
	blocked, err := s.cfg.Blocks.ListBlocks(ctx, userID, after, n+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(blocked) > n {
		blocked = blocked[:n]
		last := blocked[n-1]
		next = encodeBlockCursor(BlockCursor{BlockedAt: last.BlockedAt, UserID: last.UserID})
	}
	out := make([]Summary, len(blocked))
	for i, b := range blocked {
		out[i] = b.Summary
	}
	return out, next, nil
}

// BlockedIDs returns every id userID blocks (at most MaxBlocks).
func (s *Service) BlockedIDs(ctx context.Context, userID int64) ([]int64, error) {
	return s.cfg.Blocks.BlockedIDs(ctx, userID)
}

// Relation answers how userID and otherID stand. apperr.CodeNotFound when
// otherID is set and unknown.
func (s *Service) Relation(ctx context.Context, userID, otherID int64) (Relation, error) {
	r, err := s.cfg.Blocks.Relation(ctx, userID, otherID)
	if errors.Is(err, ErrNotFound) {
		return Relation{}, apperr.New(apperr.CodeNotFound, MsgNoSuchUser)
	}
	return r, err
}

// SetStaff grants (on) or withdraws the staff role of the user with email.
// Only the operator command calls it: no RPC does.
func (s *Service) SetStaff(ctx context.Context, email string, on bool) (int64, error) {
	return s.cfg.Blocks.SetStaff(ctx, NormalizeEmail(email), on)
}

func encodeBlockCursor(c BlockCursor) string {
	raw := "b:" + strconv.FormatInt(c.BlockedAt.UnixMicro(), 10) + ":" + strconv.FormatInt(c.UserID, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeBlockCursor(s string) (BlockCursor, error) {
	if s == "" {
		return BlockCursor{}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	parts := strings.Split(string(raw), ":")
	if err != nil || len(parts) != 3 || parts[0] != "b" {
		return BlockCursor{}, apperr.FieldError("cursor", MsgInvalidCursor)
	}
	micros, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return BlockCursor{}, apperr.FieldError("cursor", MsgInvalidCursor)
	}
	return BlockCursor{BlockedAt: time.UnixMicro(micros).UTC(), UserID: id}, nil
}
