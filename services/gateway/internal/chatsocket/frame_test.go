package chatsocket

import (
	"errors"
	"strings"
	"testing"

	"github.com/cobraspace/cobraspace/platform/safetext"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

func TestChatDecodeFrame(t *testing.T) {
	long := strings.Repeat("가", MaxMessageChars)
	tests := []struct {
		name    string
		in      string
		want    ClientFrame
		wantErr string // error type, "" for success
	}{
		{"message", `{"type":"chat.message","message":"Hello, World!"}`, ClientFrame{Type: "chat.message", Message: "Hello, World!"}, ""},
		{"message with ids", `{"type":"chat.message","message":"hi","client_msg_id":"c1","parent_chat":7}`,
			ClientFrame{Type: "chat.message", Message: "hi", ClientMsgID: "c1", ParentChat: 7}, ""},
		{"null parent", `{"type":"chat.message","message":"hi","parent_chat":null}`, ClientFrame{Type: "chat.message", Message: "hi"}, ""},
		{"2000 chars", `{"type":"chat.message","message":"` + long + `"}`, ClientFrame{Type: "chat.message", Message: long}, ""},
		{"2001 chars", `{"type":"chat.message","message":"` + long + `x"}`, ClientFrame{}, chatjson.ErrMessageTooLong},
		{"empty message", `{"type":"chat.message","message":""}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"blank message", `{"type":"chat.message","message":"  \n"}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"missing message", `{"type":"chat.message"}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"message not string", `{"type":"chat.message","message":5}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"long client id", `{"type":"chat.message","message":"a","client_msg_id":"` + strings.Repeat("x", 65) + `"}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"bad parent", `{"type":"chat.message","message":"a","parent_chat":-1}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"NUL", `{"type":"chat.message","message":"a\u0000b"}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"NUL in client id", `{"type":"chat.message","message":"a","client_msg_id":"\u0000"}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"control character", `{"type":"chat.message","message":"\u001b[2J"}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"C1 control character", "{\"type\":\"chat.message\",\"message\":\"a\u0085\"}", ClientFrame{}, chatjson.ErrInvalidRequest},
		{"edit with NUL", `{"type":"chat.message.edit","id":3,"message":"\u0000"}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"tabs and line breaks", `{"type":"chat.message","message":"a\tb\r\nc"}`, ClientFrame{Type: "chat.message", Message: "a\tb\r\nc"}, ""},
		{"lone surrogate becomes U+FFFD", `{"type":"chat.message","message":"a\ud800"}`, ClientFrame{Type: "chat.message", Message: "a\uFFFD"}, ""},
		{"typing", `{"type":"chat.typing"}`, ClientFrame{Type: "chat.typing"}, ""},
		{"edit", `{"type":"chat.message.edit","id":3,"message":"x"}`, ClientFrame{Type: "chat.message.edit", ID: 3, Message: "x"}, ""},
		{"edit without id", `{"type":"chat.message.edit","message":"x"}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"edit too long", `{"type":"chat.message.edit","id":3,"message":"` + long + `x"}`, ClientFrame{}, chatjson.ErrMessageTooLong},
		{"delete", `{"type":"chat.message.delete","id":9}`, ClientFrame{Type: "chat.message.delete", ID: 9}, ""},
		{"delete id string", `{"type":"chat.message.delete","id":"9"}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"unknown type", `{"type":"chat.join"}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"no type", `{"message":"hi"}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"not json", `hello`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"array", `[1,2]`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"null", `null`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"two values", `{"type":"chat.typing"}{"type":"chat.typing"}`, ClientFrame{}, chatjson.ErrInvalidRequest},
		{"empty", ``, ClientFrame{}, chatjson.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeFrame([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeFrame: %v", err)
				}
				if got != tt.want {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("got error %v, want FrameError %s", err, tt.wantErr)
			}
			if fe.Type != tt.wantErr {
				t.Fatalf("got error type %q, want %q", fe.Type, tt.wantErr)
			}
		})
	}
}

// FuzzDecodeFrame checks that no input panics and that every result is
// either a valid frame or a FrameError. Its seed corpus is in
// testdata/fuzz/FuzzDecodeFrame and runs in every go test.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"type":"chat.message","message":"hi","client_msg_id":"a","parent_chat":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeFrame(data)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FrameError", err)
			}
			return
		}
		switch got.Type {
		case chatjson.TypeMessage, chatjson.TypeEdit:
			if got.Message == "" || len([]rune(got.Message)) > MaxMessageChars {
				t.Fatalf("accepted bad text %q", got.Message)
			}
			// Nothing PostgreSQL cannot store (NUL) or the API refuses
			// reaches the chat service.
			if safetext.Check(got.Message) != nil || safetext.Check(got.ClientMsgID) != nil {
				t.Fatalf("accepted refused text %q / client_msg_id %q", got.Message, got.ClientMsgID)
			}
		case chatjson.TypeDelete:
			if got.ID <= 0 {
				t.Fatalf("accepted id %d", got.ID)
			}
		case chatjson.TypeTyping:
		default:
			t.Fatalf("accepted type %q", got.Type)
		}
	})
}
