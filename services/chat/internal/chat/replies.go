package chat

import (
	"context"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/subjects"
)

// Replies pages over the live replies to message id in seq order, with
// reactions marked for viewer (0: none). The cursor is opaque to callers
// (the seq of the previous page's last reply); next is "" on the last
// page. apperr.CodeNotFound when the message is unknown or deleted,
// apperr.CodeInvalid for a malformed cursor.
func (s *Service) Replies(ctx context.Context, viewer, id int64, limit int, cursor string) (msgs []Message, next string, err error) {
	if limit <= 0 {
		limit = DefaultReplies
	}
	limit = min(limit, MaxReplies)
	var after int64
	if cursor != "" {
		after, err = strconv.ParseInt(cursor, 10, 64)
		if err != nil || after <= 0 {
			return nil, "", apperr.FieldError("cursor", "Invalid cursor.")
		}
	}
	parent, err := s.store.Message(ctx, 0, id)
	if err != nil {
		return nil, "", err
	}
	// A message of a room the viewer may not read (another pair's DM)
	// does not exist for them.
	if _, err := s.CheckReader(ctx, viewer, parent.RoomID); err != nil {
		return nil, "", apperr.New(apperr.CodeNotFound, MsgMessageNotFound)
	}
	msgs, err = s.store.Replies(ctx, parent.RoomID, parent.ID, after, limit+1, viewer)
	if err != nil {
		return nil, "", err
	}
	if len(msgs) > limit {
		msgs = msgs[:limit]
		next = strconv.FormatInt(msgs[limit-1].Seq, 10)
	}
	if err := s.fillSenders(ctx, msgs); err != nil {
		return nil, "", err
	}
	msgs, err = s.hideBlocked(ctx, viewer, msgs)
	return msgs, next, err
}

// ToggleReaction adds the caller's reaction emoji to message id, or
// removes it when the caller reacted with it already, and announces the
// message's new counts to its room. apperr.CodeInvalid (field "emoji"),
// apperr.CodeNotFound, apperr.CodeAlreadyExists (ErrTooManyReactions).
func (s *Service) ToggleReaction(ctx context.Context, c Caller, id int64, emoji string) (ReactionChange, error) {
	if err := CheckEmoji(emoji); err != nil {
		return ReactionChange{}, err
	}
	m, err := s.store.Message(ctx, 0, id)
	if err != nil {
		return ReactionChange{}, err
	}
	if _, err := s.CheckReader(ctx, c.ID, m.RoomID); err != nil {
		return ReactionChange{}, apperr.New(apperr.CodeNotFound, MsgMessageNotFound)
	}
	ch, err := s.store.ToggleReaction(ctx, id, c.ID, emoji, MaxDistinctReactions)
	if err != nil {
		return ReactionChange{}, err
	}
	s.publish(ctx, ch.RoomID, RoomEvent{Kind: subjects.EventReaction, Reaction: ch})
	return ch, nil
}

// CheckEmoji accepts exactly one extended grapheme cluster (Unicode UAX
// #29, as rivo/uniseg segments it) of at most MaxEmojiBytes bytes that is
// an emoji: it starts with a pictographic code point (isPictographic),
// is a flag (two regional indicators), or is a keycap (a digit, # or *
// followed by U+20E3, optionally with U+FE0F between). Text such as
// letters, digits, CJK characters or punctuation is refused, as are
// sequences of several emoji.
func CheckEmoji(emoji string) error {
	bad := func(msg string) error { return apperr.FieldError("emoji", msg) }
	switch {
	case emoji == "":
		return bad("This field may not be blank.")
	case !utf8.ValidString(emoji):
		return bad("Enter a valid emoji.")
	case len(emoji) > MaxEmojiBytes:
		return bad("Ensure this field has no more than 16 bytes.")
	case uniseg.GraphemeClusterCount(emoji) != 1:
		return bad("Enter exactly one emoji.")
	case !isEmojiCluster(emoji):
		return bad("Enter a valid emoji.")
	}
	return nil
}

// isEmojiCluster tells whether one grapheme cluster is an emoji (see
// CheckEmoji).
func isEmojiCluster(g string) bool {
	first, size := utf8.DecodeRuneInString(g)
	rest := g[size:]
	switch {
	case isRegionalIndicator(first):
		second, n := utf8.DecodeRuneInString(rest)
		return isRegionalIndicator(second) && n == len(rest)
	case first == '#' || first == '*' || unicode.IsDigit(first) && first < 0x80:
		return rest == "\u20e3" || rest == "\ufe0f\u20e3"
	}
	if !isPictographic(first) {
		return false
	}
	// What may follow a pictograph inside one emoji: presentation
	// selectors, skin tones, zero-width joiners (and the pictographs they
	// join), tag characters (subdivision flags) and the keycap mark.
	for _, r := range rest {
		switch {
		case r == 0xFE0F || r == 0xFE0E || r == 0x200D || r == 0x20E3,
			r >= 0x1F3FB && r <= 0x1F3FF, // skin tones
			r >= 0xE0020 && r <= 0xE007F, // tags
			isPictographic(r):
		default:
			return false
		}
	}
	return true
}

func isRegionalIndicator(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

// pictographic lists the blocks of Unicode's Extended_Pictographic
// property (emoji-data.txt) that hold emoji, coarsened to whole ranges:
// the standard library has no such property, and uniseg keeps its tables
// unexported. Symbols within these blocks that are not emoji (e.g. some
// arrows) are accepted too; letters, digits, CJK and punctuation are not.
var pictographic = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x00A9, Hi: 0x00A9, Stride: 1}, {Lo: 0x00AE, Hi: 0x00AE, Stride: 1},
		{Lo: 0x203C, Hi: 0x203C, Stride: 1}, {Lo: 0x2049, Hi: 0x2049, Stride: 1},
		{Lo: 0x2122, Hi: 0x2122, Stride: 1}, {Lo: 0x2139, Hi: 0x2139, Stride: 1},
		{Lo: 0x2194, Hi: 0x21AA, Stride: 1}, {Lo: 0x231A, Hi: 0x23FF, Stride: 1},
		{Lo: 0x24C2, Hi: 0x24C2, Stride: 1}, {Lo: 0x25AA, Hi: 0x25FE, Stride: 1},
		{Lo: 0x2600, Hi: 0x27BF, Stride: 1}, {Lo: 0x2934, Hi: 0x2935, Stride: 1},
		{Lo: 0x2B05, Hi: 0x2B55, Stride: 1}, {Lo: 0x3030, Hi: 0x3030, Stride: 1},
		{Lo: 0x303D, Hi: 0x303D, Stride: 1}, {Lo: 0x3297, Hi: 0x3297, Stride: 1},
		{Lo: 0x3299, Hi: 0x3299, Stride: 1},
	},
	R32: []unicode.Range32{
		{Lo: 0x1F000, Hi: 0x1F0FF, Stride: 1}, // mahjong, dominoes, cards
		{Lo: 0x1F10D, Hi: 0x1F1AD, Stride: 1}, // enclosed alphanumerics (🅰 ...)
		{Lo: 0x1F201, Hi: 0x1F2FF, Stride: 1}, // enclosed ideographic (🈁 ...)
		{Lo: 0x1F300, Hi: 0x1F3FA, Stride: 1}, // symbols and pictographs, before the skin tones
		{Lo: 0x1F400, Hi: 0x1FAFF, Stride: 1}, // ... emoticons, transport, supplemental
		{Lo: 0x1FC00, Hi: 0x1FFFD, Stride: 1},
	},
}

func isPictographic(r rune) bool { return unicode.Is(pictographic, r) }
