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
}
