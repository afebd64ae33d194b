package push

import (
	"context"
	"fmt"
	"time"
)

// Sender delivers one message to one subscription. WebPush is the Web Push
// implementation; an FCM or APNs adapter would be another (README.md, "Push
// notifications").
//
// Send returns nil when the push service accepted the message, ErrGone
// (possibly wrapped) when the subscription no longer exists, a *RetryError
// when trying again later may succeed, and any other error when it will not.
type Sender interface {
	Send(ctx context.Context, sub Subscription, msg Message) error
}

// Urgency is the Web Push Urgency header (RFC 8030 5.3): how eagerly a
// battery-powered device should wake for the message.
type Urgency string

// Urgencies.
const (
	UrgencyVeryLow Urgency = "very-low"
	UrgencyLow     Urgency = "low"
	UrgencyNormal  Urgency = "normal"
	UrgencyHigh    Urgency = "high"
)

// Message is what is pushed.
type Message struct {
	Payload []byte        // encrypted end to end; at most MaxPayload bytes
	TTL     time.Duration // how long the push service keeps it for an offline device
	Urgency Urgency
	// Topic lets the push service replace an undelivered message with the
	// same topic (RFC 8030 5.4); empty for none.
	Topic string
}

// MaxPayload is the largest payload that fits one 4096-byte aes128gcm
// record with its header (RFC 8291: push services need not accept more).
const MaxPayload = 3993

// RetryError is a failure worth retrying: a 5xx or 429 answer or a network
// error. After is the push service's Retry-After, or 0.
type RetryError struct {
	Status int // 0 for a network error
	After  time.Duration
	Err    error
}

func (e *RetryError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("push service answered %d", e.Status)
	}
	return "push service unreachable: " + e.Err.Error()
}

func (e *RetryError) Unwrap() error { return e.Err }
