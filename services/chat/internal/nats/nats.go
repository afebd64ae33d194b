// Package nats publishes the chat service's room events on NATS: one
// subject per room (platform/subjects), header Cobra-Event: event, and a
// protobuf chatv1.RoomEvent as data, typed (the gateways build the client
// frames from it); new messages as one RoomEvent per commit with all of
// the room's messages. The trace context (platform/tracing) travels in the
// headers when the call is traced, per message in the data for new
// messages.
package nats

import (
	"context"
	"fmt"
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
func (p *Publisher) Publish(ctx context.Context, roomID int64, ev chat.RoomEvent) error {
	pb, err := roomEvent(ev)
	if err == nil {
		err = p.send(ctx, roomID, pb)
	}
	if err != nil {
		return fmt.Errorf("publish %s of room %d: %w", ev.Kind, roomID, err)
	}
	return nil
}

// PublishMessages implements chat.Publisher: one NATS message carries the
// room's new messages of one commit (RoomEvent.messages), each with its
// trace context when its send was traced. Like Publish it only queues.
func (p *Publisher) PublishMessages(_ context.Context, roomID int64, msgs []chat.Published) error {
	batch := &chatv1.RoomMessages{Messages: make([]*chatv1.RoomMessage, len(msgs))}
	for i, pm := range msgs {
		m := pm.Message
		batch.Messages[i] = &chatv1.RoomMessage{Seq: m.Seq, CreatedUnixNano: m.CreatedAt.UnixNano(),
			Traceparent: tracing.Traceparent(trace.ContextWithSpanContext(context.Background(), pm.Span)),
			SenderId:    m.SenderID, Message: roomMessage(m)}
	}
	// The traces travel per message inside the data, not in the headers.
	ev := &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Messages{Messages: batch}}
	if err := p.send(context.Background(), roomID, ev); err != nil {
		return fmt.Errorf("publish %d messages of room %d: %w", len(msgs), roomID, err)
	}
	return nil
}

// roomEvent is the protobuf of ev, by its kind.
func roomEvent(ev chat.RoomEvent) (*chatv1.RoomEvent, error) {
	switch ev.Kind {
	case subjects.EventEdit:
		return &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Edited{Edited: roomMessage(ev.Message)}}, nil
	case subjects.EventDelete:
		// A deleted message's text and details stay out of the event:
		// clients need only to know which message went.
		m := ev.Message
		return &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Deleted{
			Deleted: &chatv1.Message{Id: m.ID, Seq: m.Seq, RoomId: m.RoomID}}}, nil
	case subjects.EventReaction:
		c := ev.Reaction
		return &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Reactions{Reactions: &chatv1.MessageReactions{
			Id: c.MessageID, Seq: c.Seq, Reactions: withoutMe(chatpb.Reactions(c.Reactions)), Rev: c.Rev}}}, nil
	case subjects.EventReplies:
		p := ev.Parent
		return &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Replies{Replies: &chatv1.MessageReplies{
			Id: p.ID, Seq: p.Seq, ReplyCount: p.ReplyCount}}}, nil
	case subjects.EventJoin:
		return &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Joined{Joined: roomUser(ev.User)}}, nil
	case subjects.EventLeave:
		return &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Left{Left: roomUser(ev.User)}}, nil
	case subjects.EventTyping:
		return &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Typing{Typing: roomUser(ev.User)}}, nil
	case subjects.EventRoomDeleted:
		return &chatv1.RoomEvent{Event: &chatv1.RoomEvent_RoomDeleted{RoomDeleted: &chatv1.RoomDeleted{}}}, nil
	}
	return nil, fmt.Errorf("unknown room event kind %q", ev.Kind)
}

// roomMessage is m as a room event carries it: the whole room receives
// the event, so its reactions carry no viewer's "me".
func roomMessage(m chat.Message) *chatv1.Message {
	pb := chatpb.Message(m)
	withoutMe(pb.Reactions)
	return pb
}

// withoutMe clears "me" in rs, which go to every viewer of a room, and
// returns rs.
func withoutMe(rs []*chatv1.Reaction) []*chatv1.Reaction {
	for _, r := range rs {
		r.Me = false
	}
	return rs
}

func roomUser(u chat.User) *chatv1.RoomUser {
	return &chatv1.RoomUser{UserId: u.ID, Email: u.Email, Nickname: u.Nickname, ProfilePictureUrl: u.ProfilePictureURL}
}

// send encodes ev and queues it on the room's subject with the event
// header (and ctx's trace context, when sampled), through a pooled
// message.
func (p *Publisher) send(ctx context.Context, roomID int64, ev *chatv1.RoomEvent) error {
	data, err := proto.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	m := p.msgs.Get().(*pooledMsg)
	defer func() {
		m.Data = nil // a pooled message must not keep its event alive
		clear(m.Header)
		p.msgs.Put(m)
	}()
	m.Subject, m.Data = p.subjects.Room(roomID), data
	m.event[0] = subjects.EventRoom
	m.Header[subjects.HeaderEvent] = m.event[:]
	tracing.Inject(ctx, m.Header)
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
