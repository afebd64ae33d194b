package chatsocket

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"

	"github.com/cobraspace/cobraspace/platform/safetext"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// Limits of client frames (docs/api.md).
const (
	MaxMessageChars  = 2000
	MaxClientMsgID   = 64
	invalidFormatMsg = "Invalid message format."
)

// ClientFrame is a decoded client → server frame.
type ClientFrame struct {
	Type        string
	Message     string
	ID          int64
	ParentChat  int64
	ClientMsgID string
}

// FrameError is a client mistake answered with an error frame; the socket
// stays open.
type FrameError struct {
	Type    string // chatjson.Err*
	Message string
}

func (e *FrameError) Error() string { return e.Type + ": " + e.Message }

var errInvalid = &FrameError{Type: chatjson.ErrInvalidRequest, Message: invalidFormatMsg}

// wireFrame mirrors the JSON; pointers tell a missing field from a zero one.
type wireFrame struct {
	Type        *string `json:"type"`
	Message     *string `json:"message"`
	ID          *int64  `json:"id"`
	ParentChat  *int64  `json:"parent_chat"`
	ClientMsgID *string `json:"client_msg_id"`
}

// DecodeFrame parses and validates one client frame. It returns a
// *FrameError for malformed JSON, an unknown type, missing fields or text
// that safetext refuses (invalid_request) and for text over
// MaxMessageChars (message_too_long).
func DecodeFrame(data []byte) (ClientFrame, error) {
	var w wireFrame
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&w); err != nil {
		return ClientFrame{}, errInvalid
	}
	// Exactly one JSON value per frame.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ClientFrame{}, errInvalid
	}
	if w.Type == nil {
		return ClientFrame{}, errInvalid
	}
	f := ClientFrame{Type: *w.Type}
	switch f.Type {
	case chatjson.TypeMessage:
		if w.Message == nil {
			return ClientFrame{}, errInvalid
		}
		if err := checkText(*w.Message); err != nil {
			return ClientFrame{}, err
		}
		f.Message = *w.Message
		if w.ParentChat != nil {
			if *w.ParentChat <= 0 {
				return ClientFrame{}, errInvalid
			}
			f.ParentChat = *w.ParentChat
		}
		if w.ClientMsgID != nil {
			if utf8.RuneCountInString(*w.ClientMsgID) > MaxClientMsgID {
				return ClientFrame{}, errInvalid
			}
			if err := safetext.Check(*w.ClientMsgID); err != nil {
				return ClientFrame{}, &FrameError{Type: chatjson.ErrInvalidRequest, Message: err.Error()}
			}
			f.ClientMsgID = *w.ClientMsgID
		}
	case chatjson.TypeTyping:
	case chatjson.TypeEdit:
		if w.ID == nil || *w.ID <= 0 || w.Message == nil {
			return ClientFrame{}, errInvalid
		}
		if err := checkText(*w.Message); err != nil {
			return ClientFrame{}, err
		}
		f.ID, f.Message = *w.ID, *w.Message
	case chatjson.TypeDelete:
		if w.ID == nil || *w.ID <= 0 {
			return ClientFrame{}, errInvalid
		}
		f.ID = *w.ID
	default:
		return ClientFrame{}, errInvalid
	}
	return f, nil
}

// checkText enforces 1–2,000 characters (runes), not blank, and text
// that safetext accepts (no NUL or other control characters but tab, line
// feed and carriage return): PostgreSQL cannot store a NUL, and one in a
// group commit failed the other users' messages sent at the same time.
func checkText(s string) error {
	if len(bytes.TrimSpace([]byte(s))) == 0 {
		return errInvalid
	}
	if utf8.RuneCountInString(s) > MaxMessageChars {
		return &FrameError{Type: chatjson.ErrMessageTooLong, Message: "Ensure this field has no more than 2000 characters."}
	}
	if err := safetext.Check(s); err != nil {
		return &FrameError{Type: chatjson.ErrInvalidRequest, Message: err.Error()}
	}
	return nil
}
