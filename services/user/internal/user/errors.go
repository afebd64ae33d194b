package user

// Messages of the public contract (docs/api.md, user.proto).
const (
	MsgEmailTaken       = "A user is already registered with this e-mail address."
	MsgBadCredentials   = "Unable to log in with provided credentials." //nolint:gosec // G101: a message, not a credential
	MsgTooManyLogins    = "Too many login attempts. Try again later."
	MsgTokenInvalid     = "Token is invalid or expired."
	MsgBusy             = "The server is busy. Try again later."
	MsgUnavailable      = "The service is temporarily unavailable. Try again later."
	MsgUserNotFound     = "User with this email does not exist."
	MsgAddSelf          = "You cannot add yourself as a friend."
	MsgNotFriendSuffix  = "님은 친구 목록에 없습니다."
	MsgPrivate          = "This account is private."
	MsgNotFound         = "Not found."
	MsgPermissionDenied = "You do not have permission to perform this action."
	MsgRequired         = "This field is required."
	MsgBlank            = "This field may not be blank."
)
