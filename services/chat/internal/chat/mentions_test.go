package chat

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestMentions(t *testing.T) {
	storm := ""
	for i := range 200 {
		storm += fmt.Sprintf("@user%d ", i)
	}
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"no mention here", nil},
		{"@Kim hello", []string{"kim"}},
		{"hi @KIM, @kim! @Kim?", []string{"kim"}},  // case-insensitive, once
		{"@이영희님 안녕", []string{"이영희님"}},             // Korean: ends at white space only
		{"@이영희, 안녕 @박철수.", []string{"이영희", "박철수"}}, // punctuation ends it
		{"mail me at kim@example.com", nil},        // "@" after a letter is no mention
		{"(@lee) [@park] \"@choi\"", []string{"lee", "park", "choi"}},
		{"@ alone, @@double", []string{"double"}},
		{"@a_b-c", []string{"a_b"}},          // "_" is punctuation (connector) in Unicode: it ends the name
		{"@" + strings.Repeat("x", 21), nil}, // longer than any nickname
		{"@" + strings.Repeat("x", 20), []string{strings.Repeat("x", 20)}},
		{"line\n@next\tline", []string{"next"}},
		{"emoji @kim😀 ok", []string{"kim"}}, // a symbol ends it
	} {
		if got := Mentions(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("Mentions(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
	if got := Mentions(storm); len(got) != MaxMentionNames || got[0] != "user0" || got[MaxMentionNames-1] != "user19" {
		t.Errorf("a storm of 200 mentions gave %d names (%q...), want the first %d", len(got), got[:min(3, len(got))], MaxMentionNames)
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("가", 150)
	if got := Excerpt(long); got != strings.Repeat("가", ExcerptRunes) {
		t.Errorf("Excerpt of 150 Korean characters has %d runes", len([]rune(got)))
	}
	if got := Excerpt("short"); got != "short" {
		t.Errorf("Excerpt(short) = %q", got)
	}
}
