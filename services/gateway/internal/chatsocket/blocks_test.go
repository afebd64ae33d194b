package chatsocket

import (
	"encoding/json"
	"testing"
)

// A hidden frame keeps every field but the text, which is emptied, and
// says hidden; an unreadable frame never passes through.
func TestHiddenFrame(t *testing.T) {
	t.Parallel()
	in := []byte(`{"type":"chat.message","message":"secret","sender":"b@example.com","id":7,"seq":3,"room":1}`)
	var got map[string]any
	if err := json.Unmarshal(hiddenFrame(in), &got); err != nil {
		t.Fatal(err)
	}
	if got["message"] != "" || got["hidden"] != any(true) || got["id"] != float64(7) || got["seq"] != float64(3) ||
		got["type"] != "chat.message" || got["sender"] != "b@example.com" {
		t.Fatalf("hidden frame = %v", got)
	}
	if out := string(hiddenFrame([]byte(`{"message":"secret"`))); out != `{"type":"chat.message","message":"","hidden":true}` {
		t.Fatalf("unreadable frame became %s", out)
	}
	// A user stream's chat.unread hides the text of its last message.
	unread := []byte(`{"type":"chat.unread","room":1,"unread_count":2,"last_message":{"id":7,"message":"secret","sender":"b@example.com"}}`)
	var u struct {
		Type        string         `json:"type"`
		UnreadCount int            `json:"unread_count"`
		Last        map[string]any `json:"last_message"`
	}
	if err := json.Unmarshal(hiddenFrame(unread), &u); err != nil {
		t.Fatal(err)
	}
	if u.Type != "chat.unread" || u.UnreadCount != 2 || u.Last["message"] != "" || u.Last["hidden"] != any(true) ||
		u.Last["id"] != float64(7) {
		t.Fatalf("hidden chat.unread = %+v", u)
	}
	if out := string(hiddenFrame([]byte(`{"type":"chat.unread","room":1,"unread_count":0,"last_message":null}`))); out !=
		`{"last_message":null,"room":1,"type":"chat.unread","unread_count":0}` {
		t.Fatalf("chat.unread without a message became %s", out)
	}
}
