package chatsocket

import (
	"context"
	"encoding/json"

	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// Blocks (conversations): a socket's user sees the messages of users they
// block as {"hidden":true} with no text, on every replica. Each socket
// keeps the set of users its user blocks: loaded when it opens (history
// and resumes come from the chat service already hidden for the user) and
// updated by the user service's block events (Hub.BlockChanged), so live
// frames are hidden here, per socket. Every other socket gets the shared
// frame as it came; only a blocker's socket pays for a re-encoded copy.

// loadHidden reads the users the socket's user blocks (Config.BlockedIDs).
func (c *client) loadHidden(ctx context.Context) error {
	if c.hub.cfg.BlockedIDs == nil {
		return nil
	}
	ids, err := c.hub.cfg.BlockedIDs(ctx, c.user.UserID)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		c.setHiddenLocked(id, true)
	}
	return nil
}

func (c *client) setHiddenLocked(userID int64, hidden bool) {
	if hidden {
		if c.hidden == nil {
			c.hidden = map[int64]struct{}{}
		}
		c.hidden[userID] = struct{}{}
	} else {
		delete(c.hidden, userID)
	}
}

// viewLocked is the frame of event ev as this socket's user may see it:
// a message or an edit (the events that carry a sender and text) of a
// user they block comes without its text.
func (c *client) viewLocked(ev Event) []byte {
	if _, ok := c.hidden[ev.SenderID]; !ok || ev.SenderID == 0 {
		return ev.Data
	}
	switch {
	case ev.Message == nil:
		return hiddenFrame(ev.Data)
	case ev.Kind == subjects.EventEdit:
		return chatjson.EditFrame(ev.Message, true)
	default:
		return chatjson.HiddenMessageFrame(ev.Message)
	}
}

// hiddenFrame is a frame encoded elsewhere (a chat.unread, or an event of
// a chat service older than RoomEvent) with its message's text removed
// and "hidden":true; every other field (id, seq, sender, ...) stays, so
// the client keeps its order and may show "a message from a blocked user".
func hiddenFrame(frame []byte) []byte {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(frame, &f); err != nil {
		// The chat service encodes its frames; never pass an unreadable one on.
		return []byte(`{"type":"chat.message","message":"","hidden":true}`)
	}
	if string(f["type"]) == `"chat.unread"` {
		// A user stream's unread count: its last_message is the message.
		if string(f["last_message"]) != "null" {
			f["last_message"] = hiddenFrame(f["last_message"])
		}
	} else {
		f["message"] = json.RawMessage(`""`)
		f["hidden"] = json.RawMessage(`true`)
	}
	out, _ := json.Marshal(f) // raw messages from a decoded object always encode
	return out
}

// BlockChanged applies a block change of userID (subjects.UserBlocks) to
// that user's sockets on this replica.
func (h *Hub) BlockChanged(userID, otherID int64, blocking bool) {
	h.mu.Lock()
	set := make([]*client, 0, len(h.users[userID]))
	for c := range h.users[userID] {
		set = append(set, c)
	}
	h.mu.Unlock()
	for _, c := range set {
		c.mu.Lock()
		c.setHiddenLocked(otherID, blocking)
		c.mu.Unlock()
	}
}
