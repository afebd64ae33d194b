package frame

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Frame
	}{
		{
			name: "chat message",
			in:   `{"type":"chat.message","message":"t=5 n=1","sender":"a@b.c","nickname":"x \"seq\":9","profile_picture_url":"/m/a.png","id":10,"seq":3,"room":7,"created_at":"2026-01-01T00:00:00Z","client_msg_id":"r1-1","parent_chat":null}`,
			want: Frame{Type: "chat.message", Seq: 3, Room: 7, Message: "t=5 n=1", ClientMsgID: "r1-1"},
		},
		{
			name: "fields in another order",
			in:   `{"seq": 12,"room":1,"client_msg_id":"","message":"hi","type":"chat.message"}`,
			want: Frame{Type: "chat.message", Seq: 12, Room: 1, Message: "hi"},
		},
		{
			name: "escaped text falls back to encoding/json",
			in:   `{"type":"chat.message","message":"a\"b","seq":4,"room":2}`,
			want: Frame{Type: "chat.message", Seq: 4, Room: 2, Message: `a"b`},
		},
		{
			name: "error frame",
			in:   `{"error_type":"rate_limited","message":"Too many messages."}`,
			want: Frame{ErrorType: "rate_limited", Message: "Too many messages."},
		},
		{
			name: "resume",
			in:   `{"type":"chat.resume","recovered":true}`,
			want: Frame{Type: "chat.resume", Recovered: true},
		},
		{
			name: "resume not recovered",
			in:   `{"type":"chat.resume","recovered":false}`,
			want: Frame{Type: "chat.resume"},
		},
		{
			name: "leave",
			in:   `{"type":"chat.user.leave","username":"n","email":"slow@x.y"}`,
			want: Frame{Type: "chat.user.leave", Email: "slow@x.y"},
		},
		{
			name: "history is only typed",
			in:   `{"type":"chat.history","messages":[{"message":"t=1 n=1","seq":1}]}`,
			want: Frame{Type: "chat.history"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := Parse([]byte(`not json`)); err == nil {
		t.Errorf("Parse(not json): got nil error")
	}
}

func TestTextRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Unix(1764000000, 123456789)
	got, n, err := ParseText(Text(at, 42))
	if err != nil || !got.Equal(at) || n != 42 {
		t.Errorf("got (%v, %d, %v), want (%v, 42, nil)", got, n, err, at)
	}
	padded := string(AppendText(nil, at, 7, 100))
	if len(padded) != len(Text(at, 7))+101 {
		t.Errorf("padded text length: got %d, want %d", len(padded), len(Text(at, 7))+101)
	}
	if got, n, err := ParseText(padded); err != nil || !got.Equal(at) || n != 7 {
		t.Errorf("padded: got (%v, %d, %v), want (%v, 7, nil)", got, n, err, at)
	}
	for _, bad := range []string{"", "hello", "t=12", "t=x n=1", "t=1 m=2", "t=1 n="} {
		if _, _, err := ParseText(bad); err == nil {
			t.Errorf("ParseText(%q): got nil error", bad)
		}
	}
}

func TestParseCentrifugo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Centrifugo
		wantErr bool
	}{
		{name: "ping", in: `{}`, want: Centrifugo{Ping: true}},
		{name: "connect reply", in: `{"id":1,"connect":{"client":"c1","version":"6.9.1","ping":25,"pong":true}}`, want: Centrifugo{ID: 1}},
		{name: "subscribe reply", in: `{"id":2,"subscribe":{}}`, want: Centrifugo{ID: 2}},
		{name: "publish refused", in: `{"id":7,"error":{"code":103,"message":"permission denied"}}`, want: Centrifugo{ID: 7, ErrorCode: 103}},
		{
			name: "publication",
			in:   `{"push":{"channel":"chat:r-1","pub":{"data":{"message":"t=5 n=1","client_msg_id":"r-1"},"info":{"user":"3","client":"c"},"offset":42}}}`,
			want: Centrifugo{Pub: true, Offset: 42, Message: "t=5 n=1", ClientMsgID: "r-1"},
		},
		{name: "other push", in: `{"push":{"channel":"chat:r-1","join":{"info":{"user":"3"}}}}`, want: Centrifugo{}},
		{name: "publication without offset", in: `{"push":{"channel":"c","pub":{"data":{"message":"x"}}}}`, wantErr: true},
		{name: "not an object", in: `hello`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCentrifugo([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err: got %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
