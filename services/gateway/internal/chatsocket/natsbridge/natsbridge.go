// Package natsbridge is the hub's NATS adapter: room event subscriptions
// (one per room per replica, held only while a local socket needs it, as in
// centrifugo's natsbroker), the per-user event subjects of /ws/user/ (one per
// user with a local stream) and the user revocation subject.
package natsbridge

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/platform/tracing"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// Bridge subscribes to chat subjects on one NATS connection.
type Bridge struct {
	nc       *nats.Conn
	subj     subjects.Subjects
	tracer   trace.Tracer
	delivery prometheus.Histogram // nil until RegisterMetrics
}

// New returns a Bridge on nc with subjects under prefix (NATS_PREFIX).
func New(nc *nats.Conn, prefix string) *Bridge {
	return &Bridge{nc: nc, subj: subjects.New(prefix),
		tracer: otel.Tracer("github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/natsbridge")}
}

// RegisterMetrics registers cobra_gateway_chat_delivery_seconds on reg
// and starts observing it: for every chat.message event, once per replica,
// the time from the message's commit (its created_at, stamped by the chat
// service's database) until the hub has queued the frame on every local
// socket of the room. The socket writers send queued frames at once, so
// this is the delivery latency short of the last network hop; it also
// includes any clock difference between the database and this host.
func (b *Bridge) RegisterMetrics(reg prometheus.Registerer) error {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "cobra_gateway_chat_delivery_seconds",
		Help:    "Seconds from a chat message's commit (created_at) to its fan-out to this replica's sockets.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14), // 1 ms .. 8 s
	})
	if err := reg.Register(h); err != nil {
		return err
	}
	b.delivery = h
	return nil
}

// SubscribeRoom delivers the room's events to fn, in order, from one
// goroutine. It returns after the server has registered the subscription
// (a flush), so every event published afterwards arrives. A lost event
// (slow consumer, reconnect) shows up as a seq gap that the hub repairs
// from history.
func (b *Bridge) SubscribeRoom(roomID int64, fn func(chatsocket.Event)) (func(), error) {
	sub, err := b.nc.Subscribe(b.subj.Room(roomID), func(m *nats.Msg) {
		switch kind := m.Header.Get(subjects.HeaderEvent); kind {
		case subjects.EventRoom:
			b.deliverTyped(roomID, m, fn)
		case subjects.EventMessages:
			var batch chatv1.RoomMessages
			if proto.Unmarshal(m.Data, &batch) == nil {
				b.deliverMessages(roomID, batch.GetMessages(), fn)
			}
		case subjects.EventEdit, subjects.EventDelete, subjects.EventJoin, subjects.EventLeave, subjects.EventTyping,
			subjects.EventRoomDeleted, subjects.EventReaction, subjects.EventReplies:
			b.deliverFrame(roomID, kind, m, fn)
		}
		// Any other kind is from a newer chat service and is dropped, never
		// forwarded: its data need not be a client frame.
	})
	if err != nil {
		return nil, err
	}
	if err := b.nc.Flush(); err != nil && b.nc.Status() != nats.RECONNECTING {
		_ = sub.Unsubscribe()
		return nil, err
	}
	// While NATS reconnects the subscription is kept and re-sent on
	// reconnect; what was published meanwhile is a gap filled from history.
	return func() { _ = sub.Unsubscribe() }, nil
}

// deliverTyped encodes the client frame of a typed room event
// (chatv1.RoomEvent) once for all of this replica's sockets and hands it
// to fn. An undecodable event, or one of a kind this gateway does not
// know, is dropped: a lost message leaves a seq gap, repaired from
// history.
func (b *Bridge) deliverTyped(roomID int64, m *nats.Msg, fn func(chatsocket.Event)) {
	var re chatv1.RoomEvent
	if proto.Unmarshal(m.Data, &re) != nil {
		return
	}
	var ev chatsocket.Event
	switch e := re.GetEvent().(type) {
	case *chatv1.RoomEvent_Messages:
		b.deliverMessages(roomID, e.Messages.GetMessages(), fn)
		return
	case *chatv1.RoomEvent_Edited:
		// The message rides along so that a socket whose user blocks the
		// sender can encode the edit without its text (blocks.go).
		ev = chatsocket.Event{Kind: subjects.EventEdit, Data: chatjson.EditFrame(e.Edited, false),
			SenderID: e.Edited.GetSenderId(), Message: e.Edited}
	case *chatv1.RoomEvent_Deleted:
		ev = chatsocket.Event{Kind: subjects.EventDelete, Data: chatjson.DeleteFrame(e.Deleted)}
	case *chatv1.RoomEvent_Reactions:
		ev = chatsocket.Event{Kind: subjects.EventReaction, Data: chatjson.ReactionFrame(roomID, e.Reactions)}
	case *chatv1.RoomEvent_Replies:
		ev = chatsocket.Event{Kind: subjects.EventReplies, Data: chatjson.RepliesFrame(roomID, e.Replies)}
	case *chatv1.RoomEvent_Joined:
		ev = chatsocket.Event{Kind: subjects.EventJoin, Data: chatjson.UserFrame(chatjson.TypeUserJoin, e.Joined)}
	case *chatv1.RoomEvent_Left:
		ev = chatsocket.Event{Kind: subjects.EventLeave, Data: chatjson.UserFrame(chatjson.TypeUserLeave, e.Left)}
	case *chatv1.RoomEvent_Typing:
		ev = chatsocket.Event{Kind: subjects.EventTyping, Data: chatjson.UserFrame(chatjson.TypeTyping, e.Typing)}
	case *chatv1.RoomEvent_RoomDeleted:
		ev = chatsocket.Event{Kind: subjects.EventRoomDeleted, Data: chatjson.RoomDeletedFrame(roomID)}
	default:
		return
	}
	b.deliverTraced(roomID, m.Header, ev, fn)
}

// deliverFrame hands on an event of a chat service older than RoomEvent,
// whose data is the client frame itself, so that gateways can be rolled
// out before the chat service.
func (b *Bridge) deliverFrame(roomID int64, kind string, m *nats.Msg, fn func(chatsocket.Event)) {
	ev := chatsocket.Event{Kind: kind, Data: m.Data}
	if s := m.Header.Get(subjects.HeaderSender); s != "" {
		ev.SenderID, _ = strconv.ParseInt(s, 10, 64)
	}
	b.deliverTraced(roomID, m.Header, ev, fn)
}

// deliverTraced calls fn with ev inside a delivery span when the chat
// service traced the change: only sampled events carry the trace header,
// so untraced delivery stays span-free.
func (b *Bridge) deliverTraced(roomID int64, h nats.Header, ev chatsocket.Event, fn func(chatsocket.Event)) {
	if len(h[tracing.TraceparentHeader]) > 0 {
		_, span := b.startDeliver(tracing.Extract(context.Background(), h), roomID, ev.Kind)
		defer span.End()
	}
	fn(ev)
}

// deliverMessages hands the new messages of one commit to fn as ONE event,
// so that the hub queues them on each socket together and each socket
// writes them with one system call. Each message's frame is encoded here,
// once per replica (or taken as it came from an older chat service).
func (b *Bridge) deliverMessages(roomID int64, msgs []*chatv1.RoomMessage, fn func(chatsocket.Event)) {
	if len(msgs) == 0 {
		return
	}
	ev := chatsocket.Event{Kind: subjects.EventMessages, Messages: make([]chatsocket.Event, len(msgs))}
	for i, m := range msgs {
		e := chatsocket.Event{Kind: subjects.EventMessage, Seq: m.GetSeq(), Data: m.GetFrame(), SenderID: m.GetSenderId()}
		if msg := m.GetMessage(); msg != nil {
			e.Data, e.Message = chatjson.MessageFrame(msg), msg
		}
		ev.Messages[i] = e
		if tp := m.GetTraceparent(); tp != "" {
			_, span := b.startDeliver(tracing.WithTraceparent(context.Background(), tp), roomID, subjects.EventMessage)
			defer span.End()
		}
	}
	fn(ev)
	if b.delivery != nil {
		now := time.Now()
		for _, m := range msgs {
			b.delivery.Observe(now.Sub(time.Unix(0, m.GetCreatedUnixNano())).Seconds())
		}
	}
}

// startDeliver starts the span of delivering one traced event to this
// replica's sockets.
func (b *Bridge) startDeliver(ctx context.Context, roomID int64, kind string) (context.Context, trace.Span) {
	return b.tracer.Start(ctx, "chat.room.deliver", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.Int64("cobra.room_id", roomID), attribute.String("cobra.event", kind)))
}

// SubscribeBlocks calls fn for every block change announced by the user
// service (subjects.UserBlocks), so sockets update their hidden sets at
// once (conversations: blocks). Malformed events are ignored.
func (b *Bridge) SubscribeBlocks(fn func(userID, otherID int64, blocking bool)) (func(), error) {
	sub, err := b.nc.Subscribe(b.subj.AllUserBlocks(), func(m *nats.Msg) {
		var c subjects.BlockChange
		if json.Unmarshal(m.Data, &c) == nil && c.User > 0 && c.Other > 0 {
			fn(c.User, c.Other, c.Blocking)
		}
	})
	if err != nil {
		return nil, err
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// SubscribeUser delivers the user's live events (notifications, read
// markers, new memberships; chatv1.UserEvent on subjects.UserEvents) to fn,
// in order, from one goroutine. Like SubscribeRoom it returns once the
// subscription is active. An undecodable event is dropped: a lost
// notification shows up as an id gap that the hub repairs from the
// database.
func (b *Bridge) SubscribeUser(userID int64, fn func(*chatv1.UserEvent)) (func(), error) {
	sub, err := b.nc.Subscribe(b.subj.UserEvents(userID), func(m *nats.Msg) {
		var ev chatv1.UserEvent
		if proto.Unmarshal(m.Data, &ev) != nil {
			return
		}
		fn(&ev)
	})
	if err != nil {
		return nil, err
	}
	if err := b.nc.Flush(); err != nil && b.nc.Status() != nats.RECONNECTING {
		_ = sub.Unsubscribe()
		return nil, err
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
