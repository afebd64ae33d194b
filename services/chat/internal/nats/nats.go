// Package nats publishes the chat service's room events on NATS: one
// subject per room (platform/subjects), the event kind in a header; the
// client frame as data, or for new messages a protobuf chatv1.RoomMessages
// with every message of one commit; the trace context (platform/tracing)
// when the call is traced.
package nats

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/platform/tracing"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
	"github.com/cobraspace/cobraspace/services/chat/internal/chatpb"
)

// Publisher implements chat.Publisher.
type Publisher struct {
	nc       *nats.Conn
	subjects subjects.Subjects
	// msgs recycles messages with their header maps (one of each per sent
	// chat message showed in the service's allocations): PublishMsg copies
	// subject, headers and data into the connection's buffer before it
	// returns, so a message can be reused as soon as it has.
	msgs sync.Pool
}

// pooledMsg is a message and the backing array of its event header.
type pooledMsg struct {
	nats.Msg
	event [1]string
}

// NewPublisher returns a Publisher on nc with subjects under prefix.
func NewPublisher(nc *nats.Conn, prefix string) *Publisher {
	p := &Publisher{nc: nc, subjects: subjects.New(prefix)}
	p.msgs.New = func() any { return &pooledMsg{Msg: nats.Msg{Header: nats.Header{}}} }
	return p
}

var _ chat.Publisher = (*Publisher)(nil)

// Publish implements chat.Publisher. It only queues the message in the
// client (nats.go flushes in the background, and buffers while
// reconnecting), so it does not wait for the server.
//
// When ctx carries a sampled span (platform/tracing), its trace context
// travels in the headers so the gateways' delivery continues the trace.
func (p *Publisher) Publish(ctx context.Context, roomID int64, event string, frame []byte) error {
	if err := p.send(ctx, roomID, event, frame); err != nil {
		return fmt.Errorf("publish %s of room %d: %w", event, roomID, err)
	}
	return nil
}

// PublishMessages implements chat.Publisher: one NATS message carries the
// room's new messages of one commit (chatv1.RoomMessages), each with its
// trace context when its send was traced. Like Publish it only queues.
func (p *Publisher) PublishMessages(_ context.Context, roomID int64, msgs []chat.Published) error {
	batch := &chatv1.RoomMessages{Messages: make([]*chatv1.RoomMessage, len(msgs))}
	for i, m := range msgs {
		batch.Messages[i] = &chatv1.RoomMessage{Seq: m.Seq, Frame: m.Frame, CreatedUnixNano: m.CreatedAt.UnixNano(),
			Traceparent: tracing.Traceparent(trace.ContextWithSpanContext(context.Background(), m.Span)), SenderId: m.SenderID}
	}
	data, err := proto.Marshal(batch)
	if err != nil {
		return fmt.Errorf("encode messages of room %d: %w", roomID, err)
	}
	// The traces travel per message inside the data, not in the headers.
	if err := p.send(context.Background(), roomID, subjects.EventMessages, data); err != nil {
		return fmt.Errorf("publish %d messages of room %d: %w", len(msgs), roomID, err)
	}
	return nil
}

// send queues data on the room's subject with the event header (and ctx's
// trace context, when sampled), through a pooled message.
func (p *Publisher) send(ctx context.Context, roomID int64, event string, data []byte) error {
	m := p.msgs.Get().(*pooledMsg)
	defer func() {
		m.Data = nil // the data is not ours to keep
		clear(m.Header)
		p.msgs.Put(m)
	}()
	m.Subject, m.Data = p.subjects.Room(roomID), data
	m.event[0] = event
	m.Header[subjects.HeaderEvent] = m.event[:]
	tracing.Inject(ctx, m.Header)
	if id := chat.SenderFrom(ctx); id != 0 {
		m.Header[subjects.HeaderSender] = []string{strconv.FormatInt(id, 10)}
	}
	return p.nc.PublishMsg(&m.Msg)
}

// UserPublisher implements chat.UserPublisher: each event is a protobuf
// chatv1.UserEvent on the user's subject (subjects.UserEvents), queued
// like Publish's.
type UserPublisher struct {
	nc       *nats.Conn
	subjects subjects.Subjects
}

// NewUserPublisher returns a UserPublisher on nc with subjects under prefix.
func NewUserPublisher(nc *nats.Conn, prefix string) *UserPublisher {
	return &UserPublisher{nc: nc, subjects: subjects.New(prefix)}
}

var _ chat.UserPublisher = (*UserPublisher)(nil)

// PublishUser implements chat.UserPublisher.
func (p *UserPublisher) PublishUser(ctx context.Context, userID int64, ev chat.UserEvent) error {
	data, err := proto.Marshal(chatpb.UserEvent(ev))
	if err != nil {
		return fmt.Errorf("encode user event: %w", err)
	}
	m := &nats.Msg{Subject: p.subjects.UserEvents(userID), Data: data, Header: nats.Header{}}
	tracing.Inject(ctx, m.Header)
	if err := p.nc.PublishMsg(m); err != nil {
		return fmt.Errorf("publish user event of user %d: %w", userID, err)
	}
	return nil
}
