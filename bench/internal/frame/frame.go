// Package frame reads the server → client chat frames that the load
// generator cares about, and writes the text of its own messages.
//
// At tens of thousands of deliveries per second the generator would spend
// most of its CPU in encoding/json, competing for the same two cores as the
// system it measures, so Parse scans for the few keys it needs. JSON string
// escaping guarantees that a key pattern such as `"seq":` cannot occur
// inside a string value; anything Parse cannot read falls back to
// encoding/json.
package frame

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// Frame is the subset of a server frame the generator checks.
type Frame struct {
	Type        string `json:"type"`
	Seq         int64  `json:"seq"`
	Room        int64  `json:"room"`
	ClientMsgID string `json:"client_msg_id"`
	Message     string `json:"message"`
	ErrorType   string `json:"error_type"`
	Recovered   bool   `json:"recovered"`
	Email       string `json:"email"`
}

// Parse reads b, a single JSON object.
func Parse(b []byte) (Frame, error) {
	var f Frame
	if et, ok := str(b, `"error_type":"`); ok {
		f.ErrorType = et
		f.Message, _ = str(b, `"message":"`)
		return f, nil
	}
	t, ok := str(b, `"type":"`)
	if !ok {
		return slow(b)
	}
	f.Type = t
	switch t {
	case "chat.message":
		var ok1, ok2, ok3 bool
		f.Seq, ok1 = num(b, `"seq":`)
		f.Room, ok2 = num(b, `"room":`)
		f.Message, ok3 = str(b, `"message":"`)
		f.ClientMsgID, _ = str(b, `"client_msg_id":"`)
		if !ok1 || !ok2 || !ok3 {
			return slow(b)
		}
	case "chat.resume":
		f.Recovered = bytes.Contains(b, []byte(`"recovered":true`))
	case "chat.user.join", "chat.user.leave":
		f.Email, _ = str(b, `"email":"`)
	}
	return f, nil
}

// slow decodes with encoding/json: correct for any valid frame, e.g. one
// whose strings hold escapes the fast path does not unescape.
func slow(b []byte) (Frame, error) {
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return Frame{}, err
	}
	return f, nil
}

// str returns the string value after key (which ends with the opening
// quote). Values with escapes are reported as not found.
func str(b []byte, key string) (string, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return "", false
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// num returns the integer value after key.
func num(b []byte, key string) (int64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := b[i+len(key):]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	j := 0
	for j < len(rest) && (rest[j] >= '0' && rest[j] <= '9' || j == 0 && rest[j] == '-') {
		j++
	}
	v, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return v, err == nil
}

// Text is the message text the generator sends: the intended send time (so
// every receiver can compute latency without a side channel) and the send
// number.
func Text(intended time.Time, n int64) string {
	return "t=" + strconv.FormatInt(intended.UnixNano(), 10) + " n=" + strconv.FormatInt(n, 10)
}

// AppendText appends Text(intended, n) to b, then a space and pad bytes of
// filler when pad > 0 (bigger messages for scenarios that need bytes).
func AppendText(b []byte, intended time.Time, n int64, pad int) []byte {
	b = append(b, "t="...)
	b = strconv.AppendInt(b, intended.UnixNano(), 10)
	b = append(b, " n="...)
	b = strconv.AppendInt(b, n, 10)
	if pad > 0 {
		b = append(b, ' ')
		for i := range pad {
			b = append(b, 'a'+byte(i%26))
		}
	}
	return b
}

// ErrNotOurs is returned by ParseText for text the generator did not write.
var ErrNotOurs = errors.New("frame: not a load-generator message")

// ParseText returns the intended send time and send number of a Text.
func ParseText(s string) (intended time.Time, n int64, err error) {
	if len(s) < 2 || s[:2] != "t=" {
		return time.Time{}, 0, ErrNotOurs
	}
	sp := -1
	for i := 2; i < len(s); i++ {
		if s[i] == ' ' {
			sp = i
			break
		}
	}
	if sp < 0 || len(s) < sp+3 || s[sp+1:sp+3] != "n=" {
		return time.Time{}, 0, ErrNotOurs
	}
	end := len(s)
	for i := sp + 3; i < len(s); i++ {
		if s[i] == ' ' { // padding follows
			end = i
			break
		}
	}
	ns, err1 := strconv.ParseInt(s[2:sp], 10, 64)
	n, err2 := strconv.ParseInt(s[sp+3:end], 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, 0, ErrNotOurs
	}
	return time.Unix(0, ns), n, nil
}

// Centrifugo is the subset of one Centrifugo JSON-protocol message (one line
// of a WebSocket frame, which may carry several separated by '\n') that the
// generator checks when it measures Centrifugo in the same shape as Cobra
// Space: a server ping, a reply to one of our commands, or a publication
// pushed into a subscribed channel.
type Centrifugo struct {
	// Ping is the empty object {} the server sends as its application-level
	// ping; the client must answer with {} (its pong).
	Ping bool
	// ID is the id of the command a reply answers (0 for pushes and pings).
	ID int64
	// ErrorCode is the code of a reply's error (0 for success).
	ErrorCode int64
	// Publication fields, for a push: the channel's history offset (our
	// seq) and the data we published.
	Pub         bool
	Offset      int64
	Message     string
	ClientMsgID string
}

// ParseCentrifugo reads one line of a Centrifugo JSON-protocol frame. Like
// Parse it scans for the few keys it needs; a publication's data is our own
// {"message":…,"client_msg_id":…} object, so its keys cannot collide with
// the protocol's.
func ParseCentrifugo(b []byte) (Centrifugo, error) {
	b = bytes.TrimSpace(b)
	var m Centrifugo
	if bytes.Equal(b, []byte("{}")) {
		m.Ping = true
		return m, nil
	}
	if len(b) < 2 || b[0] != '{' {
		return m, errors.New("frame: not a Centrifugo message")
	}
	if bytes.Contains(b, []byte(`"push":`)) {
		if !bytes.Contains(b, []byte(`"pub":`)) {
			return m, nil // another push (join, leave, unsubscribe…): not counted
		}
		var ok1, ok2 bool
		m.Pub = true
		m.Offset, ok1 = num(b, `"offset":`)
		m.Message, ok2 = str(b, `"message":"`)
		m.ClientMsgID, _ = str(b, `"client_msg_id":"`)
		if !ok1 || !ok2 {
			return m, errors.New("frame: Centrifugo publication without offset or message")
		}
		return m, nil
	}
	id, ok := num(b, `"id":`)
	if !ok {
		return m, errors.New("frame: Centrifugo message is neither push, reply nor ping")
	}
	m.ID = id
	if bytes.Contains(b, []byte(`"error":`)) {
		m.ErrorCode, _ = num(b, `"code":`)
		if m.ErrorCode == 0 {
			m.ErrorCode = -1
		}
	}
	return m, nil
}
