package apperr

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// grpcCode is THE table from domain codes to gRPC codes; CodeInternal and
// unknown codes are INTERNAL.
var grpcCode = map[Code]codes.Code{
	CodeInvalid:          codes.InvalidArgument,
	CodeUnauthenticated:  codes.Unauthenticated,
	CodePermissionDenied: codes.PermissionDenied,
	CodeNotFound:         codes.NotFound,
	CodeAlreadyExists:    codes.AlreadyExists,
	CodeRateLimited:      codes.ResourceExhausted,
	CodeUnavailable:      codes.Unavailable,
}

// Messages of the statuses for errors that carry no user-facing message.
const (
	msgCanceled = "The request was canceled."
	msgDeadline = "The request took too long."
	msgInternal = "internal error"
)

// Translator turns the errors of one service into gRPC statuses, logging
// each failure that needs a look once, here.
type Translator struct {
	// Domain is the google.rpc.ErrorInfo domain of the service's reasons
	// (e.g. "chat.cobraspace").
	Domain string
	Logger *slog.Logger
}

// Status returns the gRPC status error for err: an *Error keeps its
// message (with its fields as google.rpc.BadRequest, its reason as
// google.rpc.ErrorInfo and its wait as google.rpc.RetryInfo); context
// errors (checked first) become CANCELLED / DEADLINE_EXCEEDED; anything else is logged and
// becomes INTERNAL without its text.
func (t Translator) Status(ctx context.Context, err error) error {
	// Context errors first: a dependency failure caused by the caller's
	// own deadline or cancellation is that, not an outage.
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, msgCanceled)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, msgDeadline)
	}
	var e *Error
	if errors.As(err, &e) {
		if c, ok := grpcCode[e.Code]; ok {
			if e.Code == CodeUnavailable {
				t.Logger.WarnContext(ctx, "dependency unavailable", "err", err)
			}
			return t.status(c, e)
		}
	}
	t.Logger.ErrorContext(ctx, "internal error", "err", err)
	return status.Error(codes.Internal, msgInternal)
}

// status is code with e's message and the details e carries.
func (t Translator) status(code codes.Code, e *Error) error {
	var details []protoadapt.MessageV1
	if len(e.Fields) > 0 {
		details = append(details, e.Fields.BadRequest(e.Reason))
	}
	if e.Reason != "" {
		details = append(details, &errdetails.ErrorInfo{Reason: e.Reason, Domain: t.Domain})
	}
	if e.RetryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)})
	}
	st := status.New(code, e.Message)
	if len(details) == 0 {
		return st.Err()
	}
	withDetails, err := st.WithDetails(details...)
	if err != nil { // only when the details cannot be marshalled
		return st.Err()
	}
	return withDetails.Err()
}
