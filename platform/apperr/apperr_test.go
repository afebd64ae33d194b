package apperr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cobraspace/cobraspace/platform/fielderr"
)

func TestErrorCode(t *testing.T) {
	wrapped := fmt.Errorf("load room: %w", New(CodeNotFound, "Room not found."))
	for _, tc := range []struct {
		err  error
		want Code
	}{
		{nil, ""},
		{errors.New("boom"), CodeInternal},
		{wrapped, CodeNotFound},
		{FieldError("name", "This field may not be blank."), CodeInvalid},
	} {
		if got := ErrorCode(tc.err); got != tc.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestInvalid(t *testing.T) {
	if err := Invalid(fielderr.Fields{}); err != nil {
		t.Fatalf("Invalid(empty) = %v, want nil", err)
	}
	f := fielderr.Fields{}
	f.Add("password", "too short")
	f.Add("email", "taken")
	var e *Error
	if err := Invalid(f); !errors.As(err, &e) || e.Code != CodeInvalid || e.Message != "taken" {
		t.Fatalf("Invalid = %#v, want CodeInvalid with the first message in field order", err)
	}
}

// TestUnwrap: the cause stays visible to errors.Is and to logs.
func TestUnwrap(t *testing.T) {
	cause := errors.New("connection refused")
	err := fmt.Errorf("store messages: %w", &Error{Code: CodeUnavailable, Message: "Retry.", Err: cause})
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(%v, cause) = false", err)
	}
	if got, want := err.Error(), "store messages: unavailable: Retry.: connection refused"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestStatus is the table from domain errors to what a gRPC client sees:
// code, message and details.
func TestStatus(t *testing.T) {
	tooLong := FieldError("message", "Ensure this field has no more than 2000 characters.")
	tooLong.Reason = "message_too_long"
	for _, tc := range []struct {
		name    string
		err     error
		code    codes.Code
		msg     string
		details []proto.Message
		logged  string
	}{
		{name: "fields", err: Invalid(fielderr.Fields{"email": {"taken"}, "password": {"short", "common"}}),
			code: codes.InvalidArgument, msg: "taken", details: []proto.Message{&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
				{Field: "email", Description: "taken"}, {Field: "password", Description: "short"}, {Field: "password", Description: "common"}}}}},
		{name: "invalid without fields", err: New(CodeInvalid, "Invalid cursor."), code: codes.InvalidArgument, msg: "Invalid cursor."},
		{name: "reason", err: tooLong, code: codes.InvalidArgument, msg: tooLong.Message, details: []proto.Message{
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "message", Description: tooLong.Message, Reason: "message_too_long"}}},
			&errdetails.ErrorInfo{Reason: "message_too_long", Domain: "test.cobraspace"}}},
		{name: "already exists", err: &Error{Code: CodeAlreadyExists, Message: "dup", Fields: fielderr.Fields{"name": {"dup"}}},
			code: codes.AlreadyExists, msg: "dup", details: []proto.Message{&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "dup"}}}}},
		{name: "unauthenticated", err: New(CodeUnauthenticated, "no"), code: codes.Unauthenticated, msg: "no"},
		{name: "permission", err: New(CodePermissionDenied, "no"), code: codes.PermissionDenied, msg: "no"},
		{name: "not found, wrapped", err: fmt.Errorf("room 7: %w", New(CodeNotFound, "Not found.")), code: codes.NotFound, msg: "Not found."},
		{name: "rate limited", err: &Error{Code: CodeRateLimited, Message: "wait", RetryAfter: 3 * time.Second},
			code: codes.ResourceExhausted, msg: "wait", details: []proto.Message{&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)}}},
		{name: "unavailable keeps its message, logs the cause", err: &Error{Code: CodeUnavailable, Message: "Retry.", Err: errors.New("dial tcp: refused")},
			code: codes.Unavailable, msg: "Retry.", logged: "dial tcp: refused"},
		{name: "canceled first", err: &Error{Code: CodeUnavailable, Message: "Retry.", Err: context.Canceled}, code: codes.Canceled, msg: msgCanceled},
		{name: "deadline", err: fmt.Errorf("query: %w", context.DeadlineExceeded), code: codes.DeadlineExceeded, msg: msgDeadline},
		{name: "internal hides its text", err: errors.New("secret SQL"), code: codes.Internal, msg: msgInternal, logged: "secret SQL"},
		{name: "explicit internal", err: &Error{Code: CodeInternal, Message: "secret"}, code: codes.Internal, msg: msgInternal, logged: "secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			tr := Translator{Domain: "test.cobraspace", Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			st := status.Convert(tr.Status(context.Background(), tc.err))
			if st.Code() != tc.code || st.Message() != tc.msg {
				t.Errorf("status = %v %q, want %v %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
			if got := st.Details(); len(got) != len(tc.details) || (len(got) > 0 && !protoEqual(got, tc.details)) {
				t.Errorf("details = %v, want %v", got, tc.details)
			}
			if tc.logged != "" && !strings.Contains(logs.String(), tc.logged) {
				t.Errorf("log %q does not name the cause %q", logs.String(), tc.logged)
			}
		})
	}
}

// protoEqual compares status details in order.
func protoEqual(got []any, want []proto.Message) bool {
	for i, d := range got {
		m, ok := d.(proto.Message)
		if !ok || !proto.Equal(m, want[i]) {
			return false
		}
	}
	return true
}
