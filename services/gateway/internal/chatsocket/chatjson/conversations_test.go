package chatjson

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// The per-user frames have the exact shape of the contract: a friend
// notification has null room, message_id and seq; chat.read carries the
// unread count.
func TestConversationFrames(t *testing.T) {
	at := timestamppb.New(time.Date(2026, 12, 3, 9, 30, 52, 123456000, time.UTC))
	for _, tc := range []struct {
		got  []byte
		want string
	}{
		{NotificationFrame(&chatv1.Notification{Id: 14, Kind: "mention", RoomId: 12, MessageId: 901, Seq: 57,
			Actor:   &chatv1.NotificationActor{Id: 7, Nickname: "ormi_kim", ProfilePictureUrl: "/media/a.webp"},
			Excerpt: "@lee <look>", CreatedAt: at}),
			`{"type":"notification.new","id":14,"kind":"mention","room":12,"message_id":901,"seq":57,` +
				`"actor":{"id":7,"nickname":"ormi_kim","profile_picture_url":"/media/a.webp"},` +
				`"excerpt":"@lee \u003clook\u003e","created_at":"2026-12-03T09:30:52.123456Z","read":false}`},
		{NotificationFrame(&chatv1.Notification{Id: 2, Kind: "friend", Actor: &chatv1.NotificationActor{Id: 3}, CreatedAt: at, Read: true}),
			`{"type":"notification.new","id":2,"kind":"friend","room":null,"message_id":null,"seq":null,` +
				`"actor":{"id":3,"nickname":"","profile_picture_url":""},"excerpt":"","created_at":"2026-12-03T09:30:52.123456Z","read":true}`},
		{ReadFrame(&chatv1.ReadMarker{RoomId: 12, LastReadSeq: 57, UnreadCount: 3}),
			`{"type":"chat.read","room":12,"last_read_seq":57,"unread_count":3}`},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
	}
}
