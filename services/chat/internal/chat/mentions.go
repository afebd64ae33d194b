package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of the work one message's mentions may cause, whatever its text:
// a message naming 200 users notifies at most MaxMentionRecipients.
const (
	// MaxMentionNames is how many distinct @nicknames of one message are
	// looked up; later ones are ignored.
	MaxMentionNames = 20
	// MaxUsersPerMention is how many users one @nickname notifies
	// (nicknames are not unique); the lowest ids win.
	MaxUsersPerMention = 10
	// MaxMentionRecipients bounds the users one message notifies by
	// mention.
	MaxMentionRecipients = 50
	// maxNicknameRunes is the user service's nickname limit: a longer
	// @word names nobody.
	maxNicknameRunes = 20
)

// Mentions returns the distinct @nicknames of text, lower-cased, in order
// of first appearance, at most MaxMentionNames. A mention is "@" at the
// start of the text or after a character that is not a letter, digit or
// "_" (so "a@b.com" mentions nobody), followed by the nickname, which ends
// at white space, punctuation or a symbol (the contract's rule; a
// nickname containing those cannot be mentioned past them), except "_",
// which joins words in nicknames as in identifiers and never ends a
// sentence.
func Mentions(text string) []string {
	if strings.IndexByte(text, '@') < 0 {
		return nil // the common case costs one byte scan
	}
	var out []string
	seen := map[string]bool{}
	prev := rune(-1)
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if r != '@' || prev == '_' || unicode.IsLetter(prev) || unicode.IsDigit(prev) {
			prev = r
			i += size
			continue
		}
		j := i + size
		n := 0
		for j < len(text) {
			c, cs := utf8.DecodeRuneInString(text[j:])
			if c != '_' && (unicode.IsSpace(c) || unicode.IsPunct(c) || unicode.IsSymbol(c)) || c == '@' {
				break
			}
			j += cs
			n++
		}
		if n > 0 && n <= maxNicknameRunes {
			name := strings.ToLower(text[i+size : j])
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
				if len(out) == MaxMentionNames {
					return out
				}
			}
		}
		prev = '@'
		if j > i+size {
			prev, _ = utf8.DecodeLastRuneInString(text[:j])
		}
		i = j
	}
	return out
}

// Excerpt is the start of a message as notifications show it: its first
// ExcerptRunes characters (the store cuts the same way, with left()).
func Excerpt(text string) string {
	n := 0
	for i := range text {
		if n == ExcerptRunes {
			return text[:i]
		}
		n++
	}
	return text
}
