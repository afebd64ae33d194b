package user

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

// Page sizes of lists.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// MsgInvalidCursor is the message for a cursor this service did not issue.
const MsgInvalidCursor = "Invalid cursor."

// FriendCursor is a position in a friends list (ordered by the time a
// friend was added, then by id). The zero value is the start.
type FriendCursor struct {
	AddedAt  time.Time
	FriendID int64
}

// pageSize clamps a requested limit to [1, MaxPageSize], DefaultPageSize
// when unset.
func pageSize(limit int32) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return int(limit)
}

// Cursors are opaque to clients: base64url of a tagged position, so that a
// cursor of one list is refused by another.

func encodeFriendCursor(c FriendCursor) string {
	raw := "f:" + strconv.FormatInt(c.AddedAt.UnixMicro(), 10) + ":" + strconv.FormatInt(c.FriendID, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeFriendCursor(s string) (FriendCursor, error) {
	if s == "" {
		return FriendCursor{}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	parts := strings.Split(string(raw), ":")
	if err != nil || len(parts) != 3 || parts[0] != "f" {
		return FriendCursor{}, apperr.FieldError("cursor", MsgInvalidCursor)
	}
	micros, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return FriendCursor{}, apperr.FieldError("cursor", MsgInvalidCursor)
	}
	return FriendCursor{AddedAt: time.UnixMicro(micros).UTC(), FriendID: id}, nil
}

func encodeIDCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("u:" + strconv.FormatInt(id, 10)))
}

func decodeIDCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	rest, ok := strings.CutPrefix(string(raw), "u:")
	if err != nil || !ok {
		return 0, apperr.FieldError("cursor", MsgInvalidCursor)
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.FieldError("cursor", MsgInvalidCursor)
	}
	return id, nil
}
