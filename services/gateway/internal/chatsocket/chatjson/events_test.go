package chatjson_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// TestLiveMessageViews: the frames a live message and its edit become for
// the whole room, for a viewer who blocks the sender, and as chat.unread's
// last_message. A live frame never carries a viewer's "me".
func TestLiveMessageViews(t *testing.T) {
	t.Parallel()
	at := timestamppb.New(time.Date(2026, 12, 6, 1, 2, 3, 500_000_000, time.UTC))
	m := &chatv1.Message{Id: 9, Seq: 4, RoomId: 2, Text: "secret", SenderId: 7, SenderEmail: "s@x.test", Nickname: "ess",
		ProfilePictureUrl: "/s.png", ParentId: 3, ClientMsgId: "c-1", CreatedAt: at, ReplyCount: 1,
		Reactions: []*chatv1.Reaction{{Emoji: "🎉", Count: 2, Me: true}},
		Parent:    &chatv1.MessageParent{Id: 3, Seq: 1, SenderEmail: "p@x.test", Nickname: "pea", Excerpt: "hi"}}
	const object = `"id":9,"seq":4,"room":2,"message":"secret","sender":"s@x.test","nickname":"ess",` +
		`"profile_picture_url":"/s.png","parent_chat":3,"client_msg_id":"c-1","created_at":"2026-12-06T01:02:03.5Z",` +
		`"edited_at":null,"reply_count":1,"reactions":[{"emoji":"🎉","count":2}],` +
		`"parent":{"id":3,"seq":1,"sender":"p@x.test","nickname":"pea","excerpt":"hi","deleted":false}}`
	hidden := `"id":9,"seq":4,"room":2,"message":"","sender":"s@x.test","nickname":"ess",` +
		`"profile_picture_url":"/s.png","parent_chat":3,"client_msg_id":"c-1","created_at":"2026-12-06T01:02:03.5Z",` +
		`"edited_at":null,"hidden":true,"reply_count":1,"reactions":[{"emoji":"🎉","count":2}],` +
		`"parent":{"id":3,"seq":1,"sender":"p@x.test","nickname":"pea","excerpt":"hi","deleted":false}}`
	edited := &chatv1.Message{Id: 9, Seq: 4, RoomId: 2, Text: "secret!", SenderId: 7, EditedAt: at}
	for _, tc := range []struct {
		name, got, want string
	}{
		{"message", string(chatjson.MessageFrame(m)), `{"type":"chat.message",` + object},
		{"hidden message", string(chatjson.HiddenMessageFrame(m)), `{"type":"chat.message",` + hidden},
		{"message object", string(chatjson.MessageJSON(m)), `{` + object},
		{"edit", string(chatjson.EditFrame(edited, false)),
			`{"type":"chat.message.edit","id":9,"seq":4,"room":2,"message":"secret!","edited_at":"2026-12-06T01:02:03.5Z"}`},
		{"hidden edit", string(chatjson.EditFrame(edited, true)),
			`{"type":"chat.message.edit","id":9,"seq":4,"room":2,"message":"","edited_at":"2026-12-06T01:02:03.5Z","hidden":true}`},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
	if !m.GetReactions()[0].GetMe() || m.GetText() != "secret" {
		t.Error("encoding a view changed the shared message")
	}
}

// BenchmarkMessageFrame is the per-replica cost of a live message: decoding
// the typed message from its NATS data and encoding its frame.
func BenchmarkMessageFrame(b *testing.B) {
	m := &chatv1.Message{Id: 123456, Seq: 98765, RoomId: 42, Text: strings.Repeat("benchmark text ", 6), SenderId: 7,
		SenderEmail: "user7@cobra.space", Nickname: "user7", ProfilePictureUrl: "/media/profile_images/u7.png",
		ClientMsgId: "0b7f2c1e-5d0c-4d8a-9f57-1c2f3e4d5a6b", CreatedAt: timestamppb.Now()}
	data, err := proto.Marshal(&chatv1.RoomMessage{Seq: m.Seq, SenderId: m.SenderId, Message: m})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var rm chatv1.RoomMessage
		if err := proto.Unmarshal(data, &rm); err != nil {
			b.Fatal(err)
		}
		_ = chatjson.MessageFrame(rm.GetMessage())
	}
}
