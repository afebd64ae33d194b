package chat

import (
	"errors"
	"fmt"
)

// Code classifies domain errors; package rpc maps each to one gRPC code.
type Code int

// Error codes.
const (
	CodeInternal Code = iota
	CodeInvalid
	CodeUnauthenticated
	CodePermissionDenied
	CodeNotFound
	CodeUnavailable
)

// User-facing messages of the errors the contract names.
const (
	MsgRoomNotFound    = "Room not found."
	MsgMessageNotFound = "Message not found."
	MsgNotRoomOwner    = "You do not own this room."
	MsgNotSender       = "You can only change your own messages."
	MsgUnavailable     = "The chat service is temporarily unavailable. Please retry."
	MsgUnauthenticated = "Authentication credentials were not provided."
	// MsgUnstorable answers a message the database refused for its data,
	// which validation should have caught.
	MsgUnstorable = "This message cannot be stored."
)

// ReasonMessageTooLong is the ErrorInfo reason of an over-long message.
const ReasonMessageTooLong = "message_too_long"

// Error is a domain error whose Message may be shown to users. Field names
// the public JSON field of a CodeInvalid error; Reason is an optional
// machine-readable cause.
type Error struct {
	Code    Code
	Message string
	Field   string
	Reason  string
	// Err is the underlying cause, for logs only.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the Code of err: CodeInternal unless err wraps an *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Invalid returns a CodeInvalid error for a public field.
func Invalid(field, msg string) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: msg}
}

// NotFound returns a CodeNotFound error.
func NotFound(msg string) *Error { return &Error{Code: CodeNotFound, Message: msg} }

// Unavailable wraps the failure of a dependency; the call is safe to retry.
func Unavailable(err error) *Error {
	return &Error{Code: CodeUnavailable, Message: MsgUnavailable, Err: err}
}
