package post

import (
	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/fielderr"
)

// Messages of the public contract (docs/api.md, post.proto). They follow Django
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

// ErrNotFound is returned by stores for an unknown post.
var ErrNotFound = apperr.New(apperr.CodeNotFound, MsgNotFound)

// ErrCategoryExists is returned by stores for a duplicate category name.
var ErrCategoryExists = &apperr.Error{Code: apperr.CodeAlreadyExists, Message: MsgCategoryExists,
	Fields: fielderr.Fields{"name": {MsgCategoryExists}}}

// ErrChatUnavailable is returned when the chat service cannot create or
// delete a post's room; nothing was changed and a retry is safe.
var ErrChatUnavailable = apperr.New(apperr.CodeUnavailable, MsgChatUnavailable)
