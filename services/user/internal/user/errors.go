package user

import (
	"sort"
	"time"
)

// Code classifies an error the Service returns; the rpc package maps each
// code to one gRPC status code.
type Code string

// Error codes. Messages of every code but CodeInternal are written for end
// users.
const (
	CodeInvalid          Code = "invalid"           // field validation; Fields says which
	CodeUnauthenticated  Code = "unauthenticated"   // bad credentials or token
	CodePermissionDenied Code = "permission_denied" // e.g. a private profile
	CodeNotFound         Code = "not_found"         // unknown user, friend or media key
	CodeRateLimited      Code = "rate_limited"      // too many login attempts
	CodeUnavailable      Code = "unavailable"       // overloaded or a dependency is down
	CodeInternal         Code = "internal"          // a bug or an unexpected failure
)

// Error is a user-facing error of the Service.
type Error struct {
	Code    Code
	Message string
	// Fields holds validation messages per public JSON field name
	// (CodeInvalid only).
	Fields map[string][]string
	// RetryAfter is how long to wait before trying again (CodeRateLimited
	// only; 0 when unknown).
	RetryAfter time.Duration
}

// Error returns the code and message (for logs; clients get the message
// through the rpc package).
func (e *Error) Error() string {
	if e.Message != "" {
		return string(e.Code) + ": " + e.Message
	}
	return string(e.Code)
}

// newError returns a user-facing error; messages stay literal constants so
// they can be matched against the public contract.
func newError(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

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

func fieldError(field, msg string) error { return fieldErrors{field: {msg}}.err() }

// Messages of the public contract (api.md, user.proto).
const (
	MsgEmailTaken       = "A user is already registered with this e-mail address."
	MsgBadCredentials   = "Unable to log in with provided credentials."
	MsgTooManyLogins    = "Too many login attempts. Try again later."
	MsgTokenInvalid     = "Token is invalid or expired."
	MsgBusy             = "The server is busy. Try again later."
	MsgUserNotFound     = "User with this email does not exist."
	MsgAddSelf          = "You cannot add yourself as a friend."
	MsgNotFriendSuffix  = "님은 친구 목록에 없습니다."
	MsgPrivate          = "This account is private."
	MsgNotFound         = "Not found."
	MsgPermissionDenied = "You do not have permission to perform this action."
	MsgRequired         = "This field is required."
	MsgBlank            = "This field may not be blank."
)
