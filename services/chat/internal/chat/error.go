package chat

import "github.com/cobraspace/cobraspace/platform/apperr"

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

// ErrBadParent is the error of a reply whose parent_chat is not a live
// message of its room, or is itself a reply (threads are one level deep).
func ErrBadParent() *apperr.Error {
	return apperr.FieldError("parent_chat",
		"The replied-to message must be a message of this room that is not deleted and not itself a reply.")
}

// ErrTooManyReactions refuses a new emoji on a message that carries
// MaxDistinctReactions already (409).
func ErrTooManyReactions() *apperr.Error {
	return apperr.New(apperr.CodeAlreadyExists, "This message already has the maximum of 20 different reactions.")
}

// ReasonMessageTooLong is the ErrorInfo reason of an over-long message.
const ReasonMessageTooLong = "message_too_long"

// Unavailable wraps the failure of a dependency; the call is safe to retry.
func Unavailable(err error) *apperr.Error {
	return &apperr.Error{Code: apperr.CodeUnavailable, Message: MsgUnavailable, Err: err}
}
