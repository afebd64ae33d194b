package natsbridge

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/platform/tracing"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// TestSubscribeRoomDeliveryAndTrace publishes a traced chat.message the way
// the chat service does and checks that the bridge delivers it, observes
// its commit-to-fan-out latency once, and records a delivery span in the
// publisher's trace. It installs a global TracerProvider: not parallel.
func TestSubscribeRoomDeliveryAndTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})

	nc, err := nats.Connect(testenv.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	prefix := testenv.Prefix(t)
	b := New(nc, prefix)
	reg := prometheus.NewRegistry()
	if err := b.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	got := make(chan chatsocket.Event, 4)
	unsub, err := b.SubscribeRoom(7, func(ev chatsocket.Event) { got <- ev })
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()

	// A traced message (its trace context inside the event), a traced
	// edit (in the headers) and an untraced typing event.
	committed := time.Now().Add(-200 * time.Millisecond)
	ctx, pubSpan := otel.Tracer("test").Start(context.Background(), "SendMessage")
	pubSpan.End()
	msgs := &chatv1.RoomMessages{Messages: []*chatv1.RoomMessage{{Seq: 3, CreatedUnixNano: committed.UnixNano(),
		Traceparent: tracing.Traceparent(ctx), Message: &chatv1.Message{Id: 30, Seq: 3, RoomId: 7, Text: "hi"}}}}
	publishTyped(t, nc, prefix, 7, &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Messages{Messages: msgs}}, nil)
	edit := &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Edited{Edited: &chatv1.Message{Id: 30, Seq: 3, RoomId: 7, Text: "hi!"}}}
	publishTyped(t, nc, prefix, 7, edit, func(h nats.Header) { tracing.Inject(ctx, h) })
	publishTyped(t, nc, prefix, 7, &chatv1.RoomEvent{Event: &chatv1.RoomEvent_Typing{Typing: &chatv1.RoomUser{Nickname: "a"}}}, nil)
	for i, want := range []string{subjects.EventMessages, subjects.EventEdit, subjects.EventTyping} {
		select {
		case ev := <-got:
			if ev.Kind != want {
				t.Errorf("event %d kind %q, want %q", i, ev.Kind, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d (%s) not delivered", i, want)
		}
	}

	// The observation follows fn; give the callback a moment to return.
	var count uint64
	var sum float64
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if len(mfs) == 1 {
			h := mfs[0].GetMetric()[0].GetHistogram()
			if count, sum = h.GetSampleCount(), h.GetSampleSum(); count > 0 {
				break
			}
		}
	}
	if count != 1 {
		t.Fatalf("cobra_gateway_chat_delivery_seconds count %d, want 1 (the message only)", count)
	}
	if sum < 0.2 || sum > 5 {
		t.Errorf("delivery latency %.3fs, want about 0.2s (committed 200 ms before publishing)", sum)
	}

	var delivered []string
	for _, s := range exp.GetSpans() {
		if s.Name != "chat.room.deliver" {
			continue
		}
		var event string
		for _, kv := range s.Attributes {
			if kv.Key == "cobra.event" {
				event = kv.Value.AsString()
			}
		}
		delivered = append(delivered, event)
		if s.SpanKind != trace.SpanKindConsumer {
			t.Errorf("%s delivery span kind %v, want consumer", event, s.SpanKind)
		}
		if s.SpanContext.TraceID() != pubSpan.SpanContext().TraceID() || s.Parent.SpanID() != pubSpan.SpanContext().SpanID() {
			t.Errorf("%s delivery span in trace %s under %s, want the publisher's %s under %s", event, s.SpanContext.TraceID(),
				s.Parent.SpanID(), pubSpan.SpanContext().TraceID(), pubSpan.SpanContext().SpanID())
		}
	}
	slices.Sort(delivered)
	if want := []string{subjects.EventEdit, subjects.EventMessage}; !slices.Equal(delivered, want) {
		t.Errorf("delivery spans of %q, want %q (the typing event is untraced)", delivered, want)
	}
}

// publishTyped publishes ev on the room's subject as the chat service
// does, with headers set by header (when not nil).
func publishTyped(t *testing.T, nc *nats.Conn, prefix string, roomID int64, ev *chatv1.RoomEvent, header func(nats.Header)) {
	t.Helper()
	data, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: subjects.New(prefix).Room(roomID), Data: data,
		Header: nats.Header{subjects.HeaderEvent: []string{subjects.EventRoom}}}
	if header != nil {
		header(msg.Header)
	}
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
}

// TestBridgeEncodesTypedEvents: each typed event reaches the hub as its
// client frame, encoded once here; edits carry their message and sender
// for sockets that hide them; undecodable events, kinds this gateway does
// not know and events under a header kind it does not know are dropped.
func TestBridgeEncodesTypedEvents(t *testing.T) {
	t.Parallel()
	nc, err := nats.Connect(testenv.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	prefix := testenv.Prefix(t)
	got := make(chan chatsocket.Event, 16)
	unsub, err := New(nc, prefix).SubscribeRoom(5, func(ev chatsocket.Event) { got <- ev })
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()

	msg := &chatv1.Message{Id: 50, Seq: 2, RoomId: 5, Text: "hello", SenderId: 8, SenderEmail: "b@x.test", Nickname: "bee",
		CreatedAt: timestamppb.New(time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC))}
	edited := proto.Clone(msg).(*chatv1.Message)
	edited.Text, edited.EditedAt = "hello!", timestamppb.New(time.Date(2026, 12, 6, 1, 3, 0, 0, time.UTC))
	user := &chatv1.RoomUser{UserId: 8, Email: "b@x.test", Nickname: "bee", ProfilePictureUrl: "/p.png"}
	bad := &nats.Msg{Subject: subjects.New(prefix).Room(5), Data: []byte("\xff not protobuf"),
		Header: nats.Header{subjects.HeaderEvent: []string{subjects.EventRoom}}}
	if err := nc.PublishMsg(bad); err != nil {
		t.Fatal(err)
	}
	publishTyped(t, nc, prefix, 5, &chatv1.RoomEvent{}, nil) // a kind newer than this gateway
	future := &nats.Msg{Subject: subjects.New(prefix).Room(5), Data: []byte("\x0a\x02 a newer format"),
		Header: nats.Header{subjects.HeaderEvent: []string{"event.v2"}}}
	if err := nc.PublishMsg(future); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ev    *chatv1.RoomEvent
		kind  string
		frame string
	}{
		{&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Messages{Messages: &chatv1.RoomMessages{Messages: []*chatv1.RoomMessage{
			{Seq: 2, SenderId: 8, Message: msg}}}}}, subjects.EventMessages, string(chatjson.MessageFrame(msg))},
		{&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Edited{Edited: edited}}, subjects.EventEdit,
			`{"type":"chat.message.edit","id":50,"seq":2,"room":5,"message":"hello!","edited_at":"2026-12-06T01:03:00Z"}`},
		{&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Deleted{Deleted: &chatv1.Message{Id: 50, Seq: 2, RoomId: 5}}}, subjects.EventDelete,
			`{"type":"chat.message.delete","id":50,"seq":2,"room":5}`},
		{&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Reactions{Reactions: &chatv1.MessageReactions{Id: 50, Seq: 2, Rev: 4,
			Reactions: []*chatv1.Reaction{{Emoji: "👍", Count: 2}}}}}, subjects.EventReaction,
			`{"type":"chat.message.reaction","id":50,"seq":2,"room":5,"reactions":[{"emoji":"👍","count":2}],"rev":4}`},
		{&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Replies{Replies: &chatv1.MessageReplies{Id: 50, Seq: 2, ReplyCount: 3}}},
			subjects.EventReplies, `{"type":"chat.message.replies","id":50,"seq":2,"room":5,"reply_count":3}`},
		{&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Joined{Joined: user}}, subjects.EventJoin,
			`{"type":"chat.user.join","username":"bee","email":"b@x.test","profile_picture_url":"/p.png"}`},
		{&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Left{Left: user}}, subjects.EventLeave,
			`{"type":"chat.user.leave","username":"bee","email":"b@x.test"}`},
		{&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Typing{Typing: user}}, subjects.EventTyping,
			`{"type":"chat.typing","username":"bee","email":"b@x.test"}`},
		{&chatv1.RoomEvent{Event: &chatv1.RoomEvent_RoomDeleted{RoomDeleted: &chatv1.RoomDeleted{}}}, subjects.EventRoomDeleted,
			`{"type":"chat.room.deleted","room":5}`},
	}
	for _, tc := range cases {
		publishTyped(t, nc, prefix, 5, tc.ev, nil)
	}
	for _, tc := range cases {
		var ev chatsocket.Event
		select {
		case ev = <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s not delivered", tc.kind)
		}
		if ev.Kind != tc.kind {
			t.Fatalf("got %q, want %q (the undecodable and the unknown events dropped)", ev.Kind, tc.kind)
		}
		frame := ev.Data
		switch ev.Kind {
		case subjects.EventMessages:
			if len(ev.Messages) != 1 {
				t.Fatalf("got %d messages, want 1", len(ev.Messages))
			}
			m := ev.Messages[0]
			if m.Kind != subjects.EventMessage || m.Seq != 2 || m.SenderID != 8 || !proto.Equal(m.Message, msg) {
				t.Errorf("message event %+v, want seq 2 from user 8 with its message", m)
			}
			frame = m.Data
		case subjects.EventEdit:
			if ev.SenderID != 8 || !proto.Equal(ev.Message, edited) {
				t.Errorf("edit event: sender %d, message %v; want 8 and the edited message", ev.SenderID, ev.Message)
			}
		}
		if string(frame) != tc.frame {
			t.Errorf("%s frame\n got %s\nwant %s", tc.kind, frame, tc.frame)
		}
	}
}

// TestBridgeDeliversMessageBatches: a "messages" event of a chat service
// older than RoomEvent (one commit's messages of the room, each with its
// frame) reaches the hub as ONE event holding every message in order, so
// each socket queues them together; each message is timed; an
// undecodable batch is dropped (its seqs become a gap the hub repairs).
func TestBridgeDeliversMessageBatches(t *testing.T) {
	t.Parallel()
	nc, err := nats.Connect(testenv.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	prefix := testenv.Prefix(t)
	b := New(nc, prefix)
	reg := prometheus.NewRegistry()
	if err := b.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	got := make(chan chatsocket.Event, 4)
	unsub, err := b.SubscribeRoom(9, func(ev chatsocket.Event) { got <- ev })
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()

	publish := func(data []byte) {
		t.Helper()
		if err := nc.PublishMsg(&nats.Msg{Subject: subjects.New(prefix).Room(9), Data: data,
			Header: nats.Header{subjects.HeaderEvent: []string{subjects.EventMessages}}}); err != nil {
			t.Fatal(err)
		}
	}
	publish([]byte("\xff not protobuf"))
	batch := &chatv1.RoomMessages{}
	for seq := int64(4); seq <= 6; seq++ {
		batch.Messages = append(batch.Messages, &chatv1.RoomMessage{Seq: seq,
			Frame: []byte(`{"type":"chat.message","seq":` + strconv.FormatInt(seq, 10) + `}`), CreatedUnixNano: time.Now().UnixNano()})
	}
	data, err := proto.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	publish(data)

	select {
	case ev := <-got:
		if ev.Kind != subjects.EventMessages || len(ev.Messages) != 3 {
			t.Fatalf("got %q with %d messages, want one messages event with 3 (the undecodable one dropped)", ev.Kind, len(ev.Messages))
		}
		for i, m := range ev.Messages {
			if want := int64(4 + i); m.Seq != want || m.Kind != subjects.EventMessage || !strings.Contains(string(m.Data), strconv.FormatInt(want, 10)) {
				t.Errorf("message %d: %+v, want seq %d with its frame", i, m, want)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("batch not delivered")
	}
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if len(mfs) == 1 && mfs[0].GetMetric()[0].GetHistogram().GetSampleCount() == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery histogram: %v, want 3 observations", mfs)
		}
	}
}
