package safetext

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		in   string
		want error
	}{
		{"", nil},
		{"plain text", nil},
		{"tab\tnewline\ncarriage\r", nil},
		{"한국어 😀 U+FFFD \uFFFD", nil},
		{"\u00a0 no-break space and U+2028 \u2028", nil},
		{"nul\x00", ErrNull},
		{"\x00", ErrNull},
		{"bell\a", ErrControl},
		{"escape\x1b[31m", ErrControl},
		{"delete\x7f", ErrControl},
		{"C1 \u0085", ErrControl},
		{"C1 \u009f", ErrControl},
		{"bad \xff utf-8", ErrUTF8},
		{"surrogate as bytes \xed\xa0\x80", ErrUTF8},
		{"cut \xe2\x82", ErrUTF8},
		// NUL wins over anything found before it.
		{"\x01 then \xff then \x00", ErrNull},
		{"\xff then \x01", ErrUTF8},
		{"\x01 then \xff", ErrControl},
	} {
		if got := Check(c.in); !errors.Is(got, c.want) {
			t.Errorf("Check(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

// FuzzCheck compares Check with a plain definition: NUL anywhere, else
// the first invalid byte or Unicode control character (Cc) other than tab,
// line feed and carriage return.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"", "ok", "a\x00b", "\x1b", "\t\n\r", "\xed\xa0\x80", "\u0085", "\uFFFD"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Check(s), reference(s); !errors.Is(got, want) {
			t.Fatalf("Check(%q) = %v, want %v", s, got, want)
		}
	})
}

func reference(s string) error {
	if strings.ContainsRune(s, 0) {
		return ErrNull
	}
	for i, r := range s {
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return ErrUTF8
		}
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return ErrControl
		}
	}
	return nil
}
