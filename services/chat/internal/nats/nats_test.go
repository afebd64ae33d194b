package nats

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/platform/tracing"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// TestPublishTypedEvents publishes every kind of room event through a real
// NATS server and decodes what a gateway receives: one message on the
// room's subject, header Cobra-Event: event, a RoomEvent with the kind's
// field set; the trace context in the headers for a traced event, per
// message in the data for new messages.
//
// Not parallel: it sets the global propagator, as platform/tracing.Setup
// does in the service.
func TestPublishTypedEvents(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })

	nc, err := nats.Connect(testenv.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	prefix := testenv.Prefix(t)
	const roomID = 3
	sub, err := nc.SubscribeSync(subjects.New(prefix).Room(roomID))
	if err != nil {
		t.Fatal(err)
	}
	pub := NewPublisher(nc, prefix)

	sampled := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled})
	traced := trace.ContextWithSpanContext(context.Background(), sampled)
	wantTraceparent := fmt.Sprintf("00-%s-%s-01", sampled.TraceID(), sampled.SpanID())

	// receive returns the next message on the room's subject as a
	// RoomEvent, after checking its event header and, for a traced
	// event, its trace header.
	receive := func(t *testing.T, tracedHeader bool) *chatv1.RoomEvent {
		t.Helper()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header.Values(subjects.HeaderEvent); len(got) != 1 || got[0] != subjects.EventRoom {
			t.Errorf("header %s: got %q, want [%q]", subjects.HeaderEvent, got, subjects.EventRoom)
		}
		if got := m.Header.Get(subjects.HeaderSender); got != "" {
			t.Errorf("header %s: got %q, want none", subjects.HeaderSender, got)
		}
		want := ""
		if tracedHeader {
			want = wantTraceparent
		}
		if got := m.Header.Get(tracing.TraceparentHeader); got != want {
			t.Errorf("header %s: got %q, want %q", tracing.TraceparentHeader, got, want)
		}
		var ev chatv1.RoomEvent
		if err := proto.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("data %x: %v", m.Data, err)
		}
		return &ev
	}

	created := time.Date(2026, 11, 26, 9, 0, 0, 123456789, time.UTC)
	alice := chat.User{ID: 1, Email: "alice@example.com", Nickname: "alice", ProfilePictureURL: "/media/a.webp"}
	bob := chat.User{ID: 2, Email: "bob@example.com", Nickname: "bob"}
	msg := chat.Message{ID: 10, RoomID: roomID, Seq: 7, SenderID: 1, Text: "hi", ClientMsgID: "c1",
		CreatedAt: created, Sender: alice}
	reply := chat.Message{ID: 11, RoomID: roomID, Seq: 8, SenderID: 2, Text: "hello", ParentID: 10,
		CreatedAt: created.Add(time.Millisecond), Sender: bob,
		Parent: &chat.Parent{ID: 10, Seq: 7, SenderID: 1, Excerpt: "hi", Sender: alice},
		// New messages have none; should one, its "me" stays out.
		Reactions: []chat.Reaction{{Emoji: "👍", Count: 1, Me: true}}}

	t.Run("messages", func(t *testing.T) {
		if err := pub.PublishMessages(context.Background(), roomID, []chat.Published{
			{Message: msg, Span: sampled}, {Message: reply},
		}); err != nil {
			t.Fatal(err)
		}
		got := receive(t, false).GetMessages().GetMessages()
		want := []*chatv1.RoomMessage{
			{Seq: 7, CreatedUnixNano: created.UnixNano(), Traceparent: wantTraceparent, SenderId: 1,
				Message: &chatv1.Message{Id: 10, Seq: 7, RoomId: roomID, Text: "hi", SenderId: 1,
					SenderEmail: "alice@example.com", Nickname: "alice", ProfilePictureUrl: "/media/a.webp",
					ClientMsgId: "c1", CreatedAt: timestamppb.New(created)}},
			{Seq: 8, CreatedUnixNano: created.Add(time.Millisecond).UnixNano(), SenderId: 2,
				Message: &chatv1.Message{Id: 11, Seq: 8, RoomId: roomID, Text: "hello", SenderId: 2,
					SenderEmail: "bob@example.com", Nickname: "bob", ParentId: 10,
					CreatedAt: timestamppb.New(created.Add(time.Millisecond)),
					Parent: &chatv1.MessageParent{Id: 10, Seq: 7, SenderId: 1, SenderEmail: "alice@example.com",
						Nickname: "alice", Excerpt: "hi"},
					Reactions: []*chatv1.Reaction{{Emoji: "👍", Count: 1}}}},
		}
		if len(got) != len(want) {
			t.Fatalf("got %d messages %v, want %d", len(got), got, len(want))
		}
		for i := range want {
			if !proto.Equal(got[i], want[i]) {
				t.Errorf("message %d:\n got  %v\n want %v", i, got[i], want[i])
			}
		}
	})

	edited := msg
	edited.Text, edited.EditedAt = "hi, edited", created.Add(time.Second)
	edited.Sender = chat.User{} // as the store returns it
	tests := []struct {
		name string
		ev   chat.RoomEvent
		want *chatv1.RoomEvent
	}{
		{"edit", chat.RoomEvent{Kind: subjects.EventEdit, Message: edited},
			&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Edited{Edited: &chatv1.Message{Id: 10, Seq: 7, RoomId: roomID,
				Text: "hi, edited", SenderId: 1, ClientMsgId: "c1", CreatedAt: timestamppb.New(created),
				EditedAt: timestamppb.New(created.Add(time.Second))}}}},
		// Only which message went: not its text or sender.
		{"delete", chat.RoomEvent{Kind: subjects.EventDelete, Message: reply},
			&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Deleted{Deleted: &chatv1.Message{Id: 11, Seq: 8, RoomId: roomID}}}},
		{"reaction", chat.RoomEvent{Kind: subjects.EventReaction, Reaction: chat.ReactionChange{
			MessageID: 10, RoomID: roomID, Seq: 7, Added: true, Rev: 4,
			Reactions: []chat.Reaction{{Emoji: "👍", Count: 2, Me: true}, {Emoji: "🎉", Count: 1}}}},
			&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Reactions{Reactions: &chatv1.MessageReactions{Id: 10, Seq: 7, Rev: 4,
				Reactions: []*chatv1.Reaction{{Emoji: "👍", Count: 2}, {Emoji: "🎉", Count: 1}}}}}},
		{"replies", chat.RoomEvent{Kind: subjects.EventReplies, Parent: chat.Parent{ID: 10, Seq: 7, ReplyCount: 5}},
			&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Replies{Replies: &chatv1.MessageReplies{Id: 10, Seq: 7, ReplyCount: 5}}}},
		{"join", chat.RoomEvent{Kind: subjects.EventJoin, User: alice},
			&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Joined{Joined: &chatv1.RoomUser{UserId: 1, Email: "alice@example.com",
				Nickname: "alice", ProfilePictureUrl: "/media/a.webp"}}}},
		{"leave", chat.RoomEvent{Kind: subjects.EventLeave, User: bob},
			&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Left{Left: &chatv1.RoomUser{UserId: 2, Email: "bob@example.com",
				Nickname: "bob"}}}},
		{"typing", chat.RoomEvent{Kind: subjects.EventTyping, User: alice},
			&chatv1.RoomEvent{Event: &chatv1.RoomEvent_Typing{Typing: &chatv1.RoomUser{UserId: 1, Email: "alice@example.com",
				Nickname: "alice", ProfilePictureUrl: "/media/a.webp"}}}},
		{"room deleted", chat.RoomEvent{Kind: subjects.EventRoomDeleted},
			&chatv1.RoomEvent{Event: &chatv1.RoomEvent_RoomDeleted{RoomDeleted: &chatv1.RoomDeleted{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := pub.Publish(traced, roomID, tt.ev); err != nil {
				t.Fatal(err)
			}
			if got := receive(t, true); !proto.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}

	t.Run("untraced after traced", func(t *testing.T) {
		// The pooled message must not keep the last event's trace header.
		if err := pub.Publish(context.Background(), roomID, chat.RoomEvent{Kind: subjects.EventTyping, User: bob}); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, false); got.GetTyping().GetUserId() != 2 {
			t.Errorf("got %v, want bob typing", got)
		}
	})

	t.Run("unknown kind", func(t *testing.T) {
		if err := pub.Publish(traced, roomID, chat.RoomEvent{Kind: "nonsense"}); err == nil {
			t.Error("published an event of an unknown kind")
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if m, err := sub.NextMsg(100 * time.Millisecond); err == nil {
			t.Errorf("got %v after a refused event, want nothing", m)
		}
	})
}
