package chat

import (
	"errors"
	"strings"
	"testing"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

func TestCheckText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, reason string
		ok                 bool
	}{
		{"one char", "a", "", true},
		{"2000 runes", strings.Repeat("é", 2000), "", true},
		{"kept as written", "  padded  ", "", true},
		{"empty", "", "", false},
		{"white space", " \t\n\u3000", "", false},
		{"2001 runes", strings.Repeat("가", 2001), ReasonMessageTooLong, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkText(tt.text)
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				var e *apperr.Error
				if !errors.As(err, &e) {
					t.Fatalf("got %T, want *apperr.Error", err)
				}
				if e.Code != apperr.CodeInvalid || len(e.Fields["message"]) != 1 || e.Reason != tt.reason {
					t.Errorf("got %+v, want field message, reason %q", e, tt.reason)
				}
			}
		})
	}
}

func TestCheckEmoji(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"👍", "❤️", "👍🏽", "👩‍💻", "🇰🇷", "1️⃣", "#⃣", "☕", "🏴‍☠️", "🫠", "©️"} {
		if err := CheckEmoji(ok); err != nil {
			t.Errorf("CheckEmoji(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"", "a", "가", "1", "!", "👍👍", "🇰🇷🇯🇵", "ab", " 👍", "👍 ", "\x00",
		"👨‍👩‍👧‍👦", // one grapheme, but 25 bytes
		string([]byte{0xff}), "e\u0301"} {
		err := CheckEmoji(bad)
		var e *apperr.Error
		if !errors.As(err, &e) || e.Code != apperr.CodeInvalid || len(e.Fields["emoji"]) != 1 {
			t.Errorf("CheckEmoji(%q) = %v, want a field error on emoji", bad, err)
		}
	}
}
