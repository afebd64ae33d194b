// Package apperr is the one error shape of the Cobra Space services: a
// domain package returns an *Error whose Code classifies it and whose
// Message is written for end users, and its rpc package turns any error
// into a gRPC status with Translator.Status, the one table from codes to
// gRPC codes. Errors that are not an *Error are internal: logged, and
// answered without their text.
package apperr

import (
	"errors"
	"time"

	"github.com/cobraspace/cobraspace/platform/fielderr"
)

// Code classifies an error.
type Code string

// Error codes. Messages of every code but CodeInternal are written for end
// users.
const (
	CodeInvalid          Code = "invalid"           // validation; Fields says which field
	CodeUnauthenticated  Code = "unauthenticated"   // no or bad credentials
	CodePermissionDenied Code = "permission_denied" // the caller may not do this
	CodeNotFound         Code = "not_found"         // an unknown resource
	CodeAlreadyExists    Code = "already_exists"    // a duplicate; Fields says which field
	CodeRateLimited      Code = "rate_limited"      // too many attempts; RetryAfter says how long to wait
	CodeUnavailable      Code = "unavailable"       // overloaded or a dependency is down; safe to retry
	CodeInternal         Code = "internal"          // a bug or an unexpected failure
)

// Error is a domain error whose Message may be shown to users.
type Error struct {
	Code    Code
	Message string
	// Fields holds messages per public JSON field name (CodeInvalid and
	// CodeAlreadyExists).
	Fields fielderr.Fields
	// Reason is an optional machine-readable cause (e.g.
	// "message_too_long"), sent as a google.rpc.ErrorInfo.
	Reason string
	// RetryAfter is how long to wait before trying again (CodeRateLimited;
	// 0 when unknown).
	RetryAfter time.Duration
	// Err is the underlying cause, for logs only.
	Err error
}

// Error returns the code, message and cause, for logs; clients get only
// the message, through Translator.Status.
func (e *Error) Error() string {
	s := string(e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause, so errors.Is sees through an *Error.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error of code with a user-facing message.
func New(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// ErrorCode returns the Code of err: "" for nil, CodeInternal unless err
// wraps an *Error.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Invalid returns nil when f is empty, else a CodeInvalid error whose
// Message is f's first message (fields in name order).
func Invalid(f fielderr.Fields) error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: CodeInvalid, Message: f.First(), Fields: f}
}

// FieldError returns a CodeInvalid error for one field.
func FieldError(field, msg string) *Error {
	return &Error{Code: CodeInvalid, Message: msg, Fields: fielderr.Fields{field: {msg}}}
}
