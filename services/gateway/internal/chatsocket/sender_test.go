package chatsocket

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatroute"
)

// podChat is one chat pod that stores whatever it is sent and records the
// rooms and batch sizes it saw; room 13 is unknown to it.
type podChat struct {
	chatv1.ChatServiceClient
	mu      sync.Mutex
	rooms   map[int64]int
	batches []int
	seq     int64
}

func (p *podChat) SendMessages(_ context.Context, in *chatv1.SendMessagesRequest, _ ...grpc.CallOption) (*chatv1.SendMessagesResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batches = append(p.batches, len(in.GetMessages()))
	resp := &chatv1.SendMessagesResponse{}
	for _, e := range in.GetMessages() {
		room := e.GetMessage().GetRoomId()
		if room == 13 {
			resp.Outcomes = append(resp.Outcomes, &chatv1.SendOutcome{Outcome: &chatv1.SendOutcome_Error{Error: &chatv1.SendError{
				Code: int32(codes.NotFound), Message: "Room not found."}}})
			continue
		}
		p.rooms[room]++
		p.seq++
		resp.Outcomes = append(resp.Outcomes, &chatv1.SendOutcome{Outcome: &chatv1.SendOutcome_Message{Message: &chatv1.Message{
			RoomId: room, Seq: p.seq, SenderId: e.GetSenderId(), Text: e.GetMessage().GetText()}}})
	}
	return resp, nil
}

// Concurrent sends of many rooms: each room's messages reach one pod only,
// in batches; each sender gets its own outcome, errors as gRPC statuses.
func TestSenderRoutesRoomsToOnePodInBatches(t *testing.T) {
	t.Parallel()
	pods := []*podChat{{rooms: map[int64]int{}}, {rooms: map[int64]int{}}}
	route := func(room int64) chatroute.Endpoint {
		i := room % 2
		return chatroute.Endpoint{Addr: fmt.Sprint("pod", i), Client: pods[i]}
	}
	s := newSender(route, 5*time.Second, 2*time.Millisecond, nil)
	defer s.close()

	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			room := int64(i%10 + 1)
			m, err := s.send(context.Background(), Principal{UserID: int64(i + 1)},
				&chatv1.SendMessageRequest{RoomId: room, Text: fmt.Sprint("m", i)})
			switch {
			case err != nil:
				errs <- fmt.Errorf("send %d: %w", i, err)
			case m.GetRoomId() != room || m.GetSenderId() != int64(i+1) || m.GetText() != fmt.Sprint("m", i):
				errs <- fmt.Errorf("send %d got %v", i, m)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, p := range pods {
		total := 0
		for room, n := range p.rooms {
			if room%2 != int64(i) {
				t.Errorf("pod %d got room %d", i, room)
			}
			total += n
		}
		if total != 100 || len(p.batches) >= 100 {
			t.Errorf("pod %d: %d messages in %d calls, want 100 in fewer calls", i, total, len(p.batches))
		}
	}

	_, err := s.send(context.Background(), Principal{UserID: 1}, &chatv1.SendMessageRequest{RoomId: 13, Text: "x"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("unknown room: %v, want NOT_FOUND", err)
	}
	s.forget([]string{"pod1"})
	if _, err := s.send(context.Background(), Principal{UserID: 1}, &chatv1.SendMessageRequest{RoomId: 3, Text: "after"}); err != nil {
		t.Errorf("send after the pod's batcher was forgotten: %v", err)
	}
	s.close()
	if _, err := s.send(context.Background(), Principal{UserID: 1}, &chatv1.SendMessageRequest{RoomId: 2, Text: "x"}); status.Code(err) != codes.Unavailable {
		t.Errorf("send after close: %v, want UNAVAILABLE", err)
	}
}

// statusOf gives back the reason that picks the message_too_long frame.
func TestStatusOfKeepsTheReason(t *testing.T) {
	t.Parallel()
	st := status.Convert(statusOf(&chatv1.SendError{Code: int32(codes.InvalidArgument), Message: "long", Reason: "message_too_long"}))
	if st.Code() != codes.InvalidArgument || st.Message() != "long" || !isTooLong(st) {
		t.Errorf("got %v %q (too long %v)", st.Code(), st.Message(), isTooLong(st))
	}
	if status.Code(statusOf(nil)) != codes.Internal {
		t.Error("a missing outcome is not INTERNAL")
	}
}
