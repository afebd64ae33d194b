package chatsocket

import (
	"context"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/batch"
	"github.com/cobraspace/cobraspace/platform/tracing"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// sender hands the messages this replica's sockets send to the chat
// service in batches: one SendMessages call carries every message sent
// while the previous call was in flight, so a busy room costs the chat
// service one call, and PostgreSQL one commit, per batch instead of one
// per message, and a lone message waits for nobody. The call is made with
// the gateway's service identity; each entry names the sender whose token
// this replica verified when the socket opened (and whose session would
// have closed the socket if revoked).
type sender struct {
	b *batch.Batcher[*chatv1.SenderMessage, *chatv1.SendOutcome]
}

// maxSendBatch is the most messages per call (the chat service accepts 512).
const maxSendBatch = 256

func newSender(chat chatv1.ChatServiceClient, timeout, wait time.Duration, observe func(size int, took time.Duration, err error)) *sender {
	flush := func(ctx context.Context, msgs []*chatv1.SenderMessage) ([]*chatv1.SendOutcome, error) {
		resp, err := chat.SendMessages(ctx, &chatv1.SendMessagesRequest{Messages: msgs})
		if err != nil {
			return nil, err
		}
		if n := len(resp.GetOutcomes()); n != len(msgs) {
			return nil, status.Errorf(codes.Internal, "chat answered %d outcomes for %d messages", n, len(msgs))
		}
		return resp.GetOutcomes(), nil
	}
	return &sender{b: batch.New(batch.Config{MaxSize: maxSendBatch, MaxWait: wait, FlushTimeout: timeout, Observe: observe}, flush)}
}

// send stores one message of user and returns it once committed, or the
// gRPC status error SendMessage would have returned for it.
func (s *sender) send(ctx context.Context, user Principal, req *chatv1.SendMessageRequest) (*chatv1.Message, error) {
	entry := &chatv1.SenderMessage{SenderId: user.UserID, SenderEmail: user.Email, Message: req}
	if tc := traceparent(ctx); tc != "" {
		entry.Traceparent = tc
	}
	out, err := s.b.Do(ctx, entry)
	if err != nil {
		return nil, err
	}
	if m := out.GetMessage(); m != nil {
		return m, nil
	}
	return nil, statusOf(out.GetError())
}

func (s *sender) close() { s.b.Close() }

// traceparent is ctx's W3C trace context when its span is sampled, "" otherwise.
func traceparent(ctx context.Context) string {
	h := map[string][]string{}
	tracing.Inject(ctx, h)
	if v := h[tracing.TraceparentHeader]; len(v) > 0 {
		return v[0]
	}
	return ""
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
