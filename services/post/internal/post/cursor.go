package post

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

// Cursors are opaque to clients: base64url of the ordering's tag and the
// sort key of the last post of the previous page (keyset pagination), so a
// page never repeats or skips posts when new posts are added meanwhile,
// and a cursor of one ordering is refused by another.
//
//	newest:    "n:<created_at unix µs>:<id>"
//	most hits: "h:<hit>:<id>"
//	relevance: "r:<tier>:<created_at unix µs>:<id>"

// EncodeCursor returns the opaque cursor for p.
func EncodeCursor(p Position) string {
	var raw string
	switch p.Ordering {
	case OrderMostHits:
		raw = "h:" + strconv.FormatInt(p.Hit, 10) + ":" + strconv.FormatInt(p.ID, 10)
	case OrderRelevance:
		raw = "r:" + strconv.Itoa(p.Tier) + ":" + strconv.FormatInt(p.CreatedAt.UnixMicro(), 10) + ":" + strconv.FormatInt(p.ID, 10)
	default:
		raw = "n:" + strconv.FormatInt(p.CreatedAt.UnixMicro(), 10) + ":" + strconv.FormatInt(p.ID, 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor parses a cursor of ordering o (not OrderDefault); a
// apperr.CodeInvalid error on field "cursor" when it is malformed or belongs to
// another ordering.
func DecodeCursor(s string, o Ordering) (*Position, error) {
	bad := apperr.FieldError("cursor", MsgInvalidCursor)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(raw), ":")
	nums := make([]int64, 0, 3)
	for _, p := range parts[1:] {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 {
			return nil, bad
		}
		nums = append(nums, n)
	}
	pos := &Position{Ordering: o}
	switch {
	case o == OrderNewest && parts[0] == "n" && len(nums) == 2:
		pos.CreatedAt, pos.ID = time.UnixMicro(nums[0]).UTC(), nums[1]
	case o == OrderMostHits && parts[0] == "h" && len(nums) == 2:
		pos.Hit, pos.ID = nums[0], nums[1]
	case o == OrderRelevance && parts[0] == "r" && len(nums) == 3 && nums[0] <= 1:
		pos.Tier, pos.CreatedAt, pos.ID = int(nums[0]), time.UnixMicro(nums[1]).UTC(), nums[2]
	default:
		return nil, bad
	}
	return pos, nil
}
