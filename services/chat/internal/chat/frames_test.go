package chat

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

func TestFrames(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 9, 0, 0, 123456000, time.FixedZone("KST", 9*3600))
	alice := User{ID: 1, Email: "alice@example.com", Nickname: "<alice>", ProfilePictureURL: "/media/a.webp"}
	msg := Message{ID: 10, RoomID: 3, Seq: 7, SenderID: 1, Text: "hi \"there\"", ClientMsgID: "c1", CreatedAt: at, Sender: alice}
	reply := msg
	reply.ParentID = 9
	reply.Parent = &Parent{ID: 9, Seq: 6, SenderID: 2, Excerpt: "hello", Sender: User{ID: 2, Email: "bob@example.com", Nickname: "bob"}}
	edited := msg
	edited.EditedAt = at.Add(time.Second)

	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"message", MessageFrame(msg), `{"type":"chat.message","message":"hi \"there\"","sender":"alice@example.com","nickname":"\u003calice\u003e","profile_picture_url":"/media/a.webp","id":10,"seq":7,"room":3,"created_at":"2026-11-26T00:00:00.123456Z","client_msg_id":"c1","parent_chat":null,"edited_at":null,"reply_count":0,"reactions":[],"parent":null}`},
		{"reply", MessageFrame(reply), `"parent_chat":9,"edited_at":null,"reply_count":0,"reactions":[],"parent":{"id":9,"seq":6,"sender":"bob@example.com","nickname":"bob","excerpt":"hello","deleted":false}}`},
		{"reaction", ReactionFrame(ReactionChange{MessageID: 10, RoomID: 3, Seq: 7, Rev: 4, Added: true,
			Reactions: []Reaction{{Emoji: "👍", Count: 2, Me: true}}}),
			`{"type":"chat.message.reaction","id":10,"seq":7,"room":3,"reactions":[{"emoji":"👍","count":2}],"rev":4}`},
		{"replies", RepliesFrame(3, Parent{ID: 9, Seq: 6, ReplyCount: 5}), `{"type":"chat.message.replies","id":9,"seq":6,"room":3,"reply_count":5}`},
		{"edit", EditFrame(edited), `{"type":"chat.message.edit","id":10,"seq":7,"room":3,"message":"hi \"there\"","edited_at":"2026-11-26T00:00:01.123456Z"}`},
		{"delete", DeleteFrame(msg), `{"type":"chat.message.delete","id":10,"seq":7,"room":3}`},
		{"join", JoinFrame(alice), `{"type":"chat.user.join","username":"\u003calice\u003e","email":"alice@example.com","profile_picture_url":"/media/a.webp"}`},
		{"leave", LeaveFrame(alice), `{"type":"chat.user.leave","username":"\u003calice\u003e","email":"alice@example.com"}`},
		{"typing", TypingFrame(alice), `{"type":"chat.typing","username":"\u003calice\u003e","email":"alice@example.com"}`},
		{"room deleted", RoomDeletedFrame(3), `{"type":"chat.room.deleted","room":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.got); got != tt.want && (tt.name != "reply" || !strings.HasSuffix(got, tt.want)) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

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
