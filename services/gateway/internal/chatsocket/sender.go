package chatsocket

import (
	"context"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/batch"
	"github.com/cobraspace/cobraspace/platform/tracing"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatroute"
)

// sender hands the messages this replica's sockets send to the chat
// service in batches: one SendMessages call per chat pod carries every
// message for that pod sent while its previous call was in flight, so a
// busy room costs the chat service one call, and PostgreSQL one commit,
// per batch instead of one per message, and a lone message waits for
// nobody. Each room's messages go to one pod (Config.Route), whose group
// commit then gathers whole rooms. The call is made with the gateway's
// service identity; each entry names the sender whose token this replica
// verified when the socket opened (and whose session would have closed
// the socket if revoked).
type sender struct {
	route   func(roomID int64) chatroute.Endpoint
	timeout time.Duration
	wait    time.Duration
	observe func(size int, took time.Duration, err error)

	mu      sync.Mutex
	closed  bool
	batches map[string]*batch.Batcher[*chatv1.SenderMessage, *chatv1.SendOutcome] // by pod address
}

// maxSendBatch is the most messages per call (the chat service accepts 512).
const maxSendBatch = 256

func newSender(route func(roomID int64) chatroute.Endpoint, timeout, wait time.Duration,
	observe func(size int, took time.Duration, err error)) *sender {
	return &sender{route: route, timeout: timeout, wait: wait, observe: observe,
		batches: map[string]*batch.Batcher[*chatv1.SenderMessage, *chatv1.SendOutcome]{}}
}

// batcher returns the batcher of pod, started on its first message.
func (s *sender) batcher(pod chatroute.Endpoint) (*batch.Batcher[*chatv1.SenderMessage, *chatv1.SendOutcome], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, batch.ErrClosed
	}
	if b := s.batches[pod.Addr]; b != nil {
		return b, nil
	}
	chat := pod.Client
	flush := func(ctx context.Context, msgs []*chatv1.SenderMessage) ([]*chatv1.SendOutcome, error) {
		// The batcher fails the whole batch if the outcomes do not match
		// the messages one to one.
		resp, err := chat.SendMessages(ctx, &chatv1.SendMessagesRequest{Messages: msgs})
		return resp.GetOutcomes(), err
	}
	b := batch.New(batch.Config{MaxSize: maxSendBatch, MaxWait: s.wait, FlushTimeout: s.timeout, Observe: s.observe}, flush)
	s.batches[pod.Addr] = b
	return b, nil
}

// send stores one message of user and returns it once committed, or the
// gRPC status error SendMessage would have returned for it.
func (s *sender) send(ctx context.Context, user Principal, req *chatv1.SendMessageRequest) (*chatv1.Message, error) {
	b, err := s.batcher(s.route(req.GetRoomId()))
	if err != nil {
		return nil, status.Error(codes.Unavailable, "The gateway is shutting down.")
	}
	entry := &chatv1.SenderMessage{SenderId: user.UserID, SenderEmail: user.Email, Message: req,
		Traceparent: tracing.Traceparent(ctx)}
	out, err := b.Do(ctx, entry)
	if err != nil {
		return nil, err
	}
	if m := out.GetMessage(); m != nil {
		return m, nil
	}
	return nil, statusOf(out.GetError())
}

// forget stops the batchers of pods that went away, after flushing what
// they hold (to the gone pod: those sends most likely fail, and their
// senders retry).
func (s *sender) forget(pods []string) {
	s.mu.Lock()
	var stop []*batch.Batcher[*chatv1.SenderMessage, *chatv1.SendOutcome]
	for _, addr := range pods {
		if b := s.batches[addr]; b != nil {
			stop = append(stop, b)
			delete(s.batches, addr)
		}
	}
	s.mu.Unlock()
	for _, b := range stop {
		b.Close()
	}
}

// close flushes and stops every batcher.
func (s *sender) close() {
	s.mu.Lock()
	s.closed = true
	all := s.batches
	s.batches = nil
	s.mu.Unlock()
	for _, b := range all {
		b.Close()
	}
}

// statusOf turns one entry's error back into the status SendMessage
// would have returned, so that sendErr maps it to the same error frame.
func statusOf(e *chatv1.SendError) error {
	if e == nil {
		return status.Error(codes.Internal, "chat answered neither a message nor an error")
	}
	st := status.New(codes.Code(e.GetCode()), e.GetMessage()) //nolint:gosec // G115: a gRPC code
	if e.GetReason() != "" {
		if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: e.GetReason()}); err == nil {
			st = d
		}
	}
	return st.Err()
}
