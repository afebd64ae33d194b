package chat

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// The fakes embed the interfaces: only the methods Send uses are written;
// any other call panics, which would fail the test.
type traceStore struct {
	Store
	mu  sync.Mutex
	seq int64
}

func (st *traceStore) Room(_ context.Context, id int64) (Room, error) {
	return Room{ID: id, Kind: RoomKindPost}, nil
}

func (st *traceStore) StoreMessages(_ context.Context, msgs []NewMessage) ([]Stored, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]Stored, len(msgs))
	for i, m := range msgs {
		st.seq++
		out[i].Message = Message{ID: st.seq, RoomID: m.RoomID, Seq: st.seq, Text: m.Text}
	}
	return out, nil
}

type traceUsers struct{ UserDirectory }

func (traceUsers) Users(_ context.Context, ids []int64) (map[int64]User, error) {
	out := map[int64]User{}
	for _, id := range ids {
		out[id] = User{ID: id, Email: "u@example.com"}
	}
	return out, nil
}

type tracePublisher struct {
	mu    sync.Mutex
	spans map[int64]trace.SpanContext // by seq
}

func (p *tracePublisher) Publish(context.Context, int64, RoomEvent) error { return nil }

func (p *tracePublisher) PublishMessages(_ context.Context, _ int64, msgs []Published) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range msgs {
		p.spans[m.Message.Seq] = m.Span
	}
	return nil
}

// TestSendPublishesUnderRequestSpan: a message sent from a sampled trace is
// published with that trace's span although the group commit runs on its
// own goroutine; an untraced send publishes without a span.
func TestSendPublishesUnderRequestSpan(t *testing.T) {
	t.Parallel()
	pub := &tracePublisher{spans: map[int64]trace.SpanContext{}}
	s := NewService(Config{
		Store: &traceStore{}, Users: traceUsers{}, Publisher: pub, Moderation: noMutes{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	defer s.Close()

	sampled := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sampled)
	if _, err := s.Send(ctx, Caller{ID: 7}, NewMessage{RoomID: 1, Text: "traced"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(context.Background(), Caller{ID: 7}, NewMessage{RoomID: 1, Text: "untraced"}); err != nil {
		t.Fatal(err)
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if got := pub.spans[1]; got.TraceID() != sampled.TraceID() || got.SpanID() != sampled.SpanID() {
		t.Errorf("traced send published under trace %s span %s, want %s %s", got.TraceID(), got.SpanID(), sampled.TraceID(), sampled.SpanID())
	}
	if got := pub.spans[1]; !got.IsSampled() {
		t.Error("traced send published under an unsampled span")
	}
	if got, ok := pub.spans[1]; !ok || len(pub.spans) != 2 {
		t.Fatalf("published %d messages (first %v), want 2", len(pub.spans), got)
	}
	for seq, sc := range pub.spans {
		if seq != 1 && sc.IsValid() {
			t.Errorf("untraced send (seq %d) published under span %s, want none", seq, sc.SpanID())
		}
	}
}

// noMutes is a ModerationStore in which nobody is muted; sends ask it
// nothing else.
type noMutes struct{ ModerationStore }

func (noMutes) ActiveMutes(context.Context, int64) (map[int64]time.Time, error) { return nil, nil }
