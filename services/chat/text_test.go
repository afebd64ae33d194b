package main

import (
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/cobraspace/cobraspace/platform/fielderr"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// TestUnstorableTextOverRPC: the chat service refuses text with NUL or
// other control characters from any gRPC caller (not only through the
// gateway) with INVALID_ARGUMENT naming the field, and keeps working.
func TestUnstorableTextOverRPC(t *testing.T) {
	t.Parallel()
	h := start(t)
	room, err := h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: "text"})
	if err != nil {
		t.Fatal(err)
	}
	sent, err := h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ text, msg string }{
		{"a\x00b", "Null characters are not allowed."},
		{"a\x1b[2Jb", "Control characters are not allowed."},
	} {
		calls := []struct {
			field string
			call  func() error
		}{
			{"name", func() error {
				_, err := h.client.CreateRoom(h.as(1), &chatv1.CreateRoomRequest{Name: bad.text})
				return err
			}},
			{"name", func() error {
				_, err := h.client.UpdateRoom(h.as(1), &chatv1.UpdateRoomRequest{Id: room.GetId(), Name: bad.text})
				return err
			}},
			{"message", func() error {
				_, err := h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: bad.text})
				return err
			}},
			{"client_msg_id", func() error {
				_, err := h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "ok", ClientMsgId: bad.text})
				return err
			}},
			{"message", func() error {
				_, err := h.client.EditMessage(h.as(1), &chatv1.EditMessageRequest{Id: sent.GetId(), Text: bad.text})
				return err
			}},
		}
		for _, c := range calls {
			err := c.call()
			wantCode(t, err, codes.InvalidArgument, bad.msg)
			if f := fielderr.FromError(err); len(f[c.field]) != 1 || f[c.field][0] != bad.msg {
				t.Errorf("%q: got fields %v, want %s: %s", bad.text, f, c.field, bad.msg)
			}
		}
	}
	// Tabs and line breaks are text; the room and its history are intact.
	if _, err := h.client.SendMessage(h.as(1), &chatv1.SendMessageRequest{RoomId: room.GetId(), Text: "a\tb\r\nc"}); err != nil {
		t.Fatal(err)
	}
	hist, err := h.client.ListMessages(h.as(1), &chatv1.ListMessagesRequest{RoomId: room.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.GetMessages()) != 2 || hist.GetMessages()[0].GetText() != "hello" {
		t.Errorf("history: got %v, want hello and the tabbed message", hist.GetMessages())
	}
}
