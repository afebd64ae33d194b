package natsbridge

import (
	"context"
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

	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/platform/tracing"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket"
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

	committed := time.Now().Add(-200 * time.Millisecond).UTC()
	frame := `{"type":"chat.message","message":"a \"created_at\":\"2000-01-01T00:00:00Z\" lookalike","seq":3,"room":7,"created_at":"` +
		committed.Format(time.RFC3339Nano) + `","client_msg_id":"c1"}`
	ctx, pubSpan := otel.Tracer("test").Start(context.Background(), "SendMessage")
	msg := &nats.Msg{Subject: subjects.New(prefix).Room(7), Data: []byte(frame), Header: nats.Header{
		subjects.HeaderEvent: []string{subjects.EventMessage}, subjects.HeaderSeq: []string{strconv.Itoa(3)}}}
	tracing.Inject(ctx, msg.Header)
	pubSpan.End()
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	// An untraced typing event: delivered, neither traced nor timed.
	if err := nc.PublishMsg(&nats.Msg{Subject: subjects.New(prefix).Room(7), Data: []byte(`{"type":"chat.typing"}`),
		Header: nats.Header{subjects.HeaderEvent: []string{subjects.EventTyping}}}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{subjects.EventMessage, subjects.EventTyping} {
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

	var deliver *tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == "chat.room.deliver" {
			if deliver != nil {
				t.Fatal("got two delivery spans, want one (the typing event is untraced)")
			}
			deliver = &s
		}
	}
	if deliver == nil {
		t.Fatal("no chat.room.deliver span")
	}
	if deliver.SpanKind != trace.SpanKindConsumer {
		t.Errorf("delivery span kind %v, want consumer", deliver.SpanKind)
	}
	if deliver.SpanContext.TraceID() != pubSpan.SpanContext().TraceID() || deliver.Parent.SpanID() != pubSpan.SpanContext().SpanID() {
		t.Errorf("delivery span in trace %s under %s, want the publisher's %s under %s", deliver.SpanContext.TraceID(),
			deliver.Parent.SpanID(), pubSpan.SpanContext().TraceID(), pubSpan.SpanContext().SpanID())
	}
}

func TestCreatedAt(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 11, 26, 0, 0, 0, 123456000, time.UTC)
	for _, tc := range []struct {
		frame string
		ok    bool
	}{
		{`{"type":"chat.message","message":"hi","created_at":"2026-11-26T00:00:00.123456Z","edited_at":null}`, true},
		{`{"type":"chat.message","message":"x \"created_at\":\"1999-01-01T00:00:00Z\"","created_at":"2026-11-26T00:00:00.123456Z"}`, true},
		{`{"type":"chat.message","message":"no time"}`, false},
		{`{"type":"chat.message","created_at":"yesterday"}`, false},
		{`{"type":"chat.message","created_at":"2026-11-26T00:00:00Z`, false},
	} {
		got, ok := createdAt([]byte(tc.frame))
		if ok != tc.ok || (ok && !got.Equal(want)) {
			t.Errorf("createdAt(%s) = %v, %v; want %v, %v", tc.frame, got, ok, want, tc.ok)
		}
	}
}

// TestBridgeDeliversMessageBatches: a "messages" event (one commit's
// messages of the room) reaches the hub as ONE event holding every message
// in order, so each socket queues them together; each message is timed;
// an undecodable batch is dropped (its seqs become a gap the hub repairs).
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
