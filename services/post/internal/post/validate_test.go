package post

import (
	"slices"
	"strings"
	"testing"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/fielderr"
)

func TestSearchTerms(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		invalid bool
	}{
		{"", nil, false},
		{"   ", nil, false},
		{"go", []string{"go"}, false},
		{" go  grpc ", []string{"go", "grpc"}, false},
		{"go,grpc", []string{"go", "grpc"}, false},
		{"' OR 1=1--", []string{"'", "OR", "1=1--"}, false},
		{`100% a_b c:\d "quoted"`, []string{"100%", "a_b", `c:\d`, `"quoted"`}, false},
		{"한글 검색", []string{"한글", "검색"}, false},
		{strings.Repeat("a ", 11), nil, true},
		{strings.Repeat("a", MaxSearchRunes+1), nil, true},
		{"a\x00b", nil, true},
	} {
		got, err := SearchTerms(tc.in)
		if tc.invalid {
			if apperr.ErrorCode(err) != apperr.CodeInvalid {
				t.Errorf("SearchTerms(%q): got %v, want invalid", tc.in, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("SearchTerms(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCheckTags(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		want    []string
		invalid bool
	}{
		{nil, []string{}, false},
		{[]string{" go ", "GO", "Go", "grpc"}, []string{"go", "grpc"}, false},
		{[]string{strings.Repeat("가", 50)}, []string{strings.Repeat("가", 50)}, false},
		{[]string{strings.Repeat("가", 51)}, nil, true},
		{[]string{" "}, nil, true},
		{strings.Split("a,b,c,d,e,f,g,h,i,j", ","), strings.Split("a,b,c,d,e,f,g,h,i,j", ","), false},
		{strings.Split("a,b,c,d,e,f,g,h,i,j,k", ","), nil, true},
		// Duplicates do not count towards the limit.
		{strings.Split("a,b,c,d,e,f,g,h,i,j,A", ","), strings.Split("a,b,c,d,e,f,g,h,i,j", ","), false},
	} {
		f := fielderr.Fields{}
		got := checkTags(f, tc.in)
		if tc.invalid {
			if len(f["tags"]) == 0 {
				t.Errorf("checkTags(%q): no error, want one on tags", tc.in)
			}
			continue
		}
		if len(f) != 0 || !slices.Equal(got, tc.want) {
			t.Errorf("checkTags(%q) = %q (errors %v), want %q", tc.in, got, f, tc.want)
		}
	}
}

func TestTitleAndContent(t *testing.T) {
	for _, tc := range []struct {
		title, content string
		bad            []string
	}{
		{"  Hello  ", "body", nil},
		{strings.Repeat("é", 200), strings.Repeat("é", 100_000), nil},
		{strings.Repeat("é", 201), "body", []string{"title"}},
		{"t", strings.Repeat("a", 100_001), []string{"content"}},
		{"", "", []string{"content", "title"}},
		{"t\x00", "  \n ", []string{"content", "title"}},
	} {
		f := fielderr.Fields{}
		title := checkTitle(f, tc.title)
		checkContent(f, tc.content)
		var bad []string
		for k := range f {
			bad = append(bad, k)
		}
		slices.Sort(bad)
		if !slices.Equal(bad, tc.bad) {
			t.Errorf("title %.20q content %.20q: errors on %v, want %v", tc.title, tc.content, bad, tc.bad)
		}
		if tc.bad == nil && title != strings.TrimSpace(tc.title) {
			t.Errorf("title %q kept as %q, want it trimmed", tc.title, title)
		}
	}
	if got := truncateRunes("가나다라", 2); got != "가나" {
		t.Errorf("truncateRunes = %q, want 가나", got)
	}
}
