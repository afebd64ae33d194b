// Package nats publishes the chat service's room events on NATS: one
// subject per room (platform/subjects), the event kind and seq in headers,
// the client frame as data, the trace context (platform/tracing) when the
// call is traced.
package nats

import (
	"context"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/platform/tracing"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// Publisher implements chat.Publisher.
type Publisher struct {
	nc       *nats.Conn
	subjects subjects.Subjects
}

// NewPublisher returns a Publisher on nc with subjects under prefix.
func NewPublisher(nc *nats.Conn, prefix string) *Publisher {
	return &Publisher{nc: nc, subjects: subjects.New(prefix)}
}

var _ chat.Publisher = (*Publisher)(nil)

// Publish implements chat.Publisher. It only queues the message in the
// client (nats.go flushes in the background, and buffers while
// reconnecting), so it does not wait for the server.
//
// When ctx carries a sampled span (platform/tracing), its trace context
// travels in the headers so the gateways' delivery continues the trace.
func (p *Publisher) Publish(ctx context.Context, roomID int64, event string, seq int64, frame []byte) error {
	msg := &nats.Msg{
		Subject: p.subjects.Room(roomID),
		Header:  nats.Header{subjects.HeaderEvent: []string{event}},
		Data:    frame,
	}
	if seq > 0 {
		msg.Header.Set(subjects.HeaderSeq, strconv.FormatInt(seq, 10))
	}
	tracing.Inject(ctx, msg.Header)
	return p.nc.PublishMsg(msg)
}
