package user

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

func TestPasswordPolicyCheck(t *testing.T) {
	t.Parallel()
	p := NewPasswordPolicy()
	tests := []struct {
		name, password, email string
		want                  []string
	}{
		{"good", "correct horse battery", "alice@example.com", nil},
		{"good with symbols", "Tr0ub4dor&3x!", "bob@example.com", nil},
		{"short", "x7#kQ2", "alice@example.com", []string{MsgPasswordTooShort}},
		{"numeric short", "1234", "alice@example.com", []string{MsgPasswordTooShort, MsgPasswordCommon, MsgPasswordNumeric}},
		{"numeric long", "90210555123", "alice@example.com", []string{MsgPasswordNumeric}},
		{"common", "password123", "alice@example.com", []string{MsgPasswordCommon}},
		{"common any case", "PassWord123", "alice@example.com", []string{MsgPasswordCommon}},
		{"common short", "qwerty", "alice@example.com", []string{MsgPasswordTooShort, MsgPasswordCommon}},
		{"similar to email", "alice@example.co", "alice@example.com", []string{MsgPasswordSimilar}},
		{"contains local part", "xxjohnsmithxx", "johnsmith@example.com", []string{MsgPasswordSimilar}},
		{"local part reordered", "htimsnhoj", "johnsmith@example.com", []string{MsgPasswordSimilar}},
		{"too long", strings.Repeat("ab1!", 33), "alice@example.com", []string{MsgPasswordTooLong}},
		{"non-ascii digits count as digits", "١٢٣٤٥٦٧٨٩", "alice@example.com", []string{MsgPasswordNumeric}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := p.Check(tc.password, tc.email)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Check(%q, %q) = %q, want %q", tc.password, tc.email, got, tc.want)
			}
		})
	}
}

func TestCommonPasswordListSize(t *testing.T) {
	t.Parallel()
	p := NewPasswordPolicy()
	if got := len(p.common); got < 1000 {
		t.Errorf("common passwords = %d, want at least 1000", got)
	}
	for _, pw := range []string{"123456", "password", "iloveyou", "qwerty123", "letmein"} {
		if !p.IsCommon(pw) {
			t.Errorf("IsCommon(%q) = false, want true", pw)
		}
	}
}

func TestQuickRatio(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want float64
	}{
		{"", "", 1},
		{"abc", "abc", 1},
		{"abc", "xyz", 0},
		{"abcd", "bcde", 0.75},
		{"aab", "abb", 2.0 * 2 / 6},
	}
	for _, tc := range tests {
		if got := QuickRatio(tc.a, tc.b); got != tc.want {
			t.Errorf("QuickRatio(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestTooSimilar(t *testing.T) {
	t.Parallel()
	tests := []struct {
		password, email string
		want            bool
	}{
		{"alice@example.com", "alice@example.com", true},
		{"ALICE@EXAMPLE.COM", "alice@example.com", true},
		{"examples", "alice@example.com", true},             // similar to a part
		{"bob", "bob@x.io", true},                           // identical to the local part
		{"zq8#lmv!wpt2", "alice@example.com", false},        // unrelated
		{"a-very-long-passphrase-indeed", "al@x.io", false}, // short parts are skipped
	}
	for _, tc := range tests {
		if got := TooSimilar(tc.password, tc.email); got != tc.want {
			t.Errorf("TooSimilar(%q, %q) = %v, want %v", tc.password, tc.email, got, tc.want)
		}
	}
}

func TestValidEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		email string
		want  bool
	}{
		{"alice@example.com", true},
		{"a.b+tag@sub.example.co.kr", true},
		{"O'Neil@example.org", true},
		{"x@example.xn--3e0b707e", true},
		{"", false},
		{"alice", false},
		{"alice@", false},
		{"@example.com", false},
		{"alice@localhost", false},
		{"alice@example.c0m", false},
		{"alice@exa_mple.com", false},
		{"alice@-example.com", false},
		{"al ice@example.com", false},
		{"alice..b@example.com", false},
		{".alice@example.com", false},
		{"alice@example..com", false},
		{"a@b@example.com", false},
		{"<script>@example.com", false},
		{"ünicode@example.com", false},
		{strings.Repeat("a", 65) + "@example.com", false},
		{"a@" + strings.Repeat("b", 250) + ".com", false},
	}
	for _, tc := range tests {
		if got := ValidEmail(tc.email); got != tc.want {
			t.Errorf("ValidEmail(%q) = %v, want %v", tc.email, got, tc.want)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	if got, want := NormalizeEmail("  Alice@Example.COM "), "Alice@example.com"; got != want {
		t.Errorf("NormalizeEmail = %q, want %q", got, want)
	}
}

func TestDefaultNickname(t *testing.T) {
	t.Parallel()
	tests := []struct{ email, want string }{
		{"alice@example.com", "alice"},
		{"abcdefghijklmnopqrstuvwxyz@example.com", "abcdefghijklmnopqrst"},
		{"exactlytwentychars20@example.com", "exactlytwentychars20"},
	}
	for _, tc := range tests {
		if got := DefaultNickname(tc.email); got != tc.want {
			t.Errorf("DefaultNickname(%q) = %q, want %q", tc.email, got, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestValidateUpdate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		update     ProfileUpdate
		wantFields []string
	}{
		{"empty", ProfileUpdate{}, nil},
		{"all good", ProfileUpdate{
			Nickname: ptr("  Ali  "), Bio: ptr("Go and Rust"), Skills: ptr([]string{"go", " Go ", "sql"}),
			Interests: ptr([]string{}), Status: ptr(StatusBusy), IsPrivate: ptr(true), ContactNumber: ptr("+82 10-1234-5678"),
		}, nil},
		{"blank nickname", ProfileUpdate{Nickname: ptr("   ")}, []string{"nickname"}},
		{"long nickname", ProfileUpdate{Nickname: ptr(strings.Repeat("가", 21))}, []string{"nickname"}},
		{"long bio", ProfileUpdate{Bio: ptr(strings.Repeat("b", 501))}, []string{"bio"}},
		{"too many skills", ProfileUpdate{Skills: ptr(manyItems(21))}, []string{"skills"}},
		{"long interest", ProfileUpdate{Interests: ptr([]string{strings.Repeat("i", 41)})}, []string{"interests"}},
		{"bad status", ProfileUpdate{Status: ptr(Status("sleeping"))}, []string{"status"}},
		{"bad phone", ProfileUpdate{ContactNumber: ptr("call me")}, []string{"contact_number"}},
		{"several", ProfileUpdate{Nickname: ptr(""), Status: ptr(Status(""))}, []string{"nickname", "status"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateUpdate(&tc.update)
			var got []string
			if err != nil {
				var e *apperr.Error
				ok := errors.As(err, &e)
				if !ok || e.Code != apperr.CodeInvalid {
					t.Fatalf("err = %v, want an apperr.CodeInvalid *apperr.Error", err)
				}
				for f := range e.Fields {
					got = append(got, f)
				}
				slices.Sort(got)
			}
			if !slices.Equal(got, tc.wantFields) {
				t.Errorf("bad fields = %q, want %q", got, tc.wantFields)
			}
		})
	}
	u := ProfileUpdate{Nickname: ptr("  Ali "), Skills: ptr([]string{"go", " Go ", "", "sql"})}
	if err := ValidateUpdate(&u); err != nil {
		t.Fatal(err)
	}
	if *u.Nickname != "Ali" || !slices.Equal(*u.Skills, []string{"go", "sql"}) {
		t.Errorf("cleaned = %q %q, want \"Ali\" [go sql]", *u.Nickname, *u.Skills)
	}
}

func manyItems(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "item" + strings.Repeat("x", i)
	}
	return out
}

func TestCursorsRoundTrip(t *testing.T) {
	t.Parallel()
	id, err := decodeIDCursor(encodeIDCursor(42))
	if err != nil || id != 42 {
		t.Errorf("id cursor = %d, %v; want 42", id, err)
	}
	for _, bad := range []string{"x", encodeIDCursor(0), "dTotMQ"} {
		if _, err := decodeIDCursor(bad); err == nil {
			t.Errorf("decodeIDCursor(%q) = nil error, want invalid", bad)
		}
	}
	// A cursor of one list is refused by the other.
	if _, err := decodeFriendCursor(encodeIDCursor(5)); err == nil {
		t.Error("friend cursor accepted a search cursor")
	}
	if got := pageSize(0); got != DefaultPageSize {
		t.Errorf("pageSize(0) = %d, want %d", got, DefaultPageSize)
	}
	if got := pageSize(1000); got != MaxPageSize {
		t.Errorf("pageSize(1000) = %d, want %d", got, MaxPageSize)
	}
}
