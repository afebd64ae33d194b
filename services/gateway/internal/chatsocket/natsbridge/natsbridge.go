// Package natsbridge is the hub's NATS adapter: room event subscriptions
// (one per room per replica, held only while a local socket needs it, as in
// centrifugo's natsbroker), the per-user event subjects of /ws/user/ (one per
// user with a local stream) and the user revocation subject.
package natsbridge

import (
	"bytes"
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
		kind := m.Header.Get(subjects.HeaderEvent)
		if kind == subjects.EventMessages {
			b.deliverMessages(roomID, m.Data, fn)
			return
		}
		ev := chatsocket.Event{Kind: kind, Data: m.Data}
		if s := m.Header.Get(subjects.HeaderSeq); s != "" {
			ev.Seq, _ = strconv.ParseInt(s, 10, 64)
		}
		if s := m.Header.Get(subjects.HeaderSender); s != "" {
			ev.SenderID, _ = strconv.ParseInt(s, 10, 64)
		}
		// Only events the chat service traced (sampled) carry the
		// header, so untraced delivery stays span-free.
		if len(m.Header[tracing.TraceparentHeader]) > 0 {
			_, span := b.startDeliver(tracing.Extract(context.Background(), m.Header), roomID, ev.Kind)
			defer span.End()
		}
		fn(ev)
		if b.delivery != nil && ev.Kind == subjects.EventMessage {
			if at, ok := createdAt(ev.Data); ok {
				b.delivery.Observe(time.Since(at).Seconds())
			}
		}
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

// deliverMessages hands a "messages" event (chatv1.RoomMessages: one
// commit's new messages of the room) to fn as ONE event, so that the hub
// queues them on each socket together and each socket writes them with
// one system call. An undecodable batch is dropped: the seq gap it leaves
// is repaired from history like a lost NATS message.
func (b *Bridge) deliverMessages(roomID int64, data []byte, fn func(chatsocket.Event)) {
	var batch chatv1.RoomMessages
	if err := proto.Unmarshal(data, &batch); err != nil || len(batch.GetMessages()) == 0 {
		return
	}
	ev := chatsocket.Event{Kind: subjects.EventMessages, Messages: make([]chatsocket.Event, len(batch.GetMessages()))}
	for i, m := range batch.GetMessages() {
		ev.Messages[i] = chatsocket.Event{Kind: subjects.EventMessage, Seq: m.GetSeq(), Data: m.GetFrame(), SenderID: m.GetSenderId()}
		if tp := m.GetTraceparent(); tp != "" {
			_, span := b.startDeliver(tracing.WithTraceparent(context.Background(), tp), roomID, subjects.EventMessage)
			defer span.End()
		}
	}
	fn(ev)
	if b.delivery != nil {
		now := time.Now()
		for _, m := range batch.GetMessages() {
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

// createdAtKey starts the created_at field of a chat.message frame. Inside
// the message text a quote is always escaped (\"), so the key cannot match
// there.
var createdAtKey = []byte(`"created_at":"`)

// createdAt reads a chat.message frame's created_at (RFC 3339) without
// decoding the whole frame: this runs once per message per replica.
func createdAt(frame []byte) (time.Time, bool) {
	i := bytes.Index(frame, createdAtKey)
	if i < 0 {
		return time.Time{}, false
	}
	rest := frame[i+len(createdAtKey):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:end]))
	return t, err == nil
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
