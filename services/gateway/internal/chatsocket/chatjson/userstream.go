package chatjson

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// TypeNotificationResume ends the replay of /ws/user/?after=.
const TypeNotificationResume = "notification.resume"

// NotificationResumeFrame encodes {"type":"notification.resume","recovered":recovered}.
func NotificationResumeFrame(recovered bool) []byte {
	return mustMarshal(struct {
		Type      string `json:"type"`
		Recovered bool   `json:"recovered"`
	}{TypeNotificationResume, recovered})
}

// UnreadFrame encodes {"type":"chat.unread","room","unread_count","last_message"}
// with last message lastMessage, a message object's JSON (nil: null).
func UnreadFrame(room, unread int64, lastMessage []byte) []byte {
	b := make([]byte, 0, 64+len(lastMessage))
	b = append(b, `{"type":"`+TypeUnread+`","room":`...)
	b = strconv.AppendInt(b, room, 10)
	b = append(b, `,"unread_count":`...)
	b = strconv.AppendInt(b, unread, 10)
	b = append(b, `,"last_message":`...)
	if lastMessage == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, lastMessage...)
	}
	return append(b, '}')
}

// messageFramePrefix starts every chat.message frame: the older chat
// service and MessageFrame both encode the type first.
var messageFramePrefix = []byte(`{"type":"chat.message",`)

// MessageObject turns a chat.message frame into the message object (the
// frame without its type) and returns the sender's email, for deriving
// chat.unread from the room events of a chat service older than RoomEvent
// (newer events carry the message: MessageJSON). ok is false for a frame
// that is not a chat.message JSON object.
func MessageObject(frame []byte) (obj []byte, sender string, ok bool) {
	var head struct {
		Type   string `json:"type"`
		Sender string `json:"sender"`
	}
	if json.Unmarshal(frame, &head) != nil || head.Type != TypeMessage {
		return nil, "", false
	}
	if rest, found := bytes.CutPrefix(frame, messageFramePrefix); found {
		obj = make([]byte, 0, len(rest)+1)
		obj = append(append(obj, '{'), rest...)
		return obj, head.Sender, true
	}
	// Another field order: drop "type" by decoding and encoding again.
	var m map[string]json.RawMessage
	if json.Unmarshal(frame, &m) != nil {
		return nil, "", false
	}
	delete(m, "type")
	return mustMarshal(m), head.Sender, true
}
