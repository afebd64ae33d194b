// Package safetext decides which text the system accepts from users, in
// one place for every decoder of the gateway and every service's own
// validation.
//
// Accepted: valid UTF-8 without control characters, except tab, line feed
// and carriage return. Refused, with a message that can be shown to users:
//   - NUL (U+0000): PostgreSQL cannot store it in text at all; a NUL that
//     reached an INSERT failed the whole statement, and with it every other
//     user's message in the same group commit.
//   - other control characters (Unicode category Cc: U+0001–U+001F,
//     U+007F–U+009F): they have no place in text people read, and some
//     terminals and log viewers act on them.
//   - invalid UTF-8: gRPC cannot carry it (proto3 strings are UTF-8) and
//     PostgreSQL refuses it. JSON bodies and socket frames are checked for
//     it before decoding; query strings and paths are checked here.
//
// A lone UTF-16 surrogate written as a JSON escape ("\ud800") is not
// refused: JSON decoders turn it into U+FFFD, which is valid text and is
// stored as such (as browsers' TextEncoder does).
package safetext

import (
	"errors"
	"unicode/utf8"
)

// The errors Check returns; their text is the user-facing message.
var (
	ErrNull    = errors.New("Null characters are not allowed.")    //nolint:revive,staticcheck // error-strings, ST1005: the API's user-facing message
	ErrControl = errors.New("Control characters are not allowed.") //nolint:revive,staticcheck // error-strings, ST1005: the API's user-facing message
	ErrUTF8    = errors.New("Invalid UTF-8 text.")                 //nolint:revive,staticcheck // error-strings, ST1005: the API's user-facing message
)

// Check returns nil when s is acceptable text, else ErrNull when it has a
// NUL anywhere, else ErrControl or ErrUTF8 for the first other problem.
func Check(s string) error {
	var found error
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == 0 {
				return ErrNull
			}
			if found == nil && (c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f) {
				found = ErrControl
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case found != nil:
		case r == utf8.RuneError && size == 1:
			found = ErrUTF8
		case r <= 0x9f: // C1 controls, U+0080–U+009F
			found = ErrControl
		}
		i += size
	}
	return found
}
