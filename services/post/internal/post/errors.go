package post

import (
	"errors"
	"sort"
)

// Code classifies an error the Service returns; the rpc package maps each
// code to one gRPC status code.
type Code string

// Error codes. Messages of every code but CodeInternal are written for end
// users.
const (
	CodeInvalid          Code = "invalid"           // field validation; Fields says which
	CodePermissionDenied Code = "permission_denied" // not the post's writer
	CodeNotFound         Code = "not_found"         // unknown post
	CodeAlreadyExists    Code = "already_exists"    // duplicate category name
	CodeUnavailable      Code = "unavailable"       // the chat service is down
	CodeUnauthenticated  Code = "unauthenticated"   // a write without a caller
)

// Error is a user-facing error of the Service.
type Error struct {
	Code    Code
	Message string
	// Fields holds messages per public JSON field name (CodeInvalid and
	// CodeAlreadyExists).
	Fields map[string][]string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// ErrorCode returns the Code of err, or "" when err is not an *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Messages of the public contract (api.md, post.proto). They follow Django
// REST framework's wording, which clients of the original already show.
const (
	MsgNotFound         = "Not found."
	MsgPermissionDenied = "You do not have permission to perform this action."
	MsgChatUnavailable  = "The chat service is unavailable; try again."
	MsgNoCredentials    = "Authentication credentials were not provided."
	MsgRequired         = "This field is required."
	MsgBlank            = "This field may not be blank."
	MsgCategoryExists   = "category with this name already exists."
	MsgInvalidCursor    = "Invalid cursor."
	MsgUnknownField     = "Unknown field in update_mask."
)

// fieldErrors collects validation messages per field.
type fieldErrors map[string][]string

func (f fieldErrors) add(field, msg string) { f[field] = append(f[field], msg) }

// err returns nil when there are no messages, else a CodeInvalid *Error
// whose Message is the first message of the first field (sorted).
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	sort.Strings(names)
	return &Error{Code: CodeInvalid, Message: f[names[0]][0], Fields: f}
}

// FieldError returns a CodeInvalid error for one field; adapters use it for
// violations only the database can see (e.g. a category deleted meanwhile).
func FieldError(field, msg string) error { return fieldErrors{field: {msg}}.err() }

// ErrNotFound is returned by stores for an unknown post.
var ErrNotFound = &Error{Code: CodeNotFound, Message: MsgNotFound}

// ErrCategoryExists is returned by stores for a duplicate category name.
var ErrCategoryExists = &Error{Code: CodeAlreadyExists, Message: MsgCategoryExists,
	Fields: map[string][]string{"name": {MsgCategoryExists}}}

// ErrChatUnavailable is returned when the chat service cannot create or
// delete a post's room; nothing was changed and a retry is safe.
var ErrChatUnavailable = &Error{Code: CodeUnavailable, Message: MsgChatUnavailable}
