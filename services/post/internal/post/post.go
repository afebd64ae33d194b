// Package post is the domain of the post service: posts with their
// category, tags and hit counter, the rules for writing them, search and
// pagination, and how a post and its chat room stay consistent. Storage and
// the chat service are behind the Store and Rooms interfaces.
package post

import (
	"context"
	"time"
)

// Limits of the public contract (docs/api.md).
const (
	MaxTitleRunes    = 200
	MaxContentRunes  = 100_000
	MaxTags          = 10
	MaxTagRunes      = 50
	MaxCategoryRunes = 50
	MaxRoomNameRunes = 100 // the chat service's limit for room names
	MaxSearchRunes   = 200
	MaxSearchTerms   = 10
	DefaultPageSize  = 20
	MaxPageSize      = 100
	DefaultTagsLimit = 100
	MaxTagsLimit     = 1000
)

// Post is one post.
type Post struct {
	ID           int64
	Title        string
	Content      string // Markdown, stored as written
	CategoryID   int64
	CategoryName string
	Tags         []Tag // ordered by name, case-insensitively
	WriterID     int64
	Hit          int64
	RoomID       int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Category groups posts; names are unique case-insensitively.
type Category struct {
	ID   int64
	Name string
}

// Tag labels posts; names are unique case-insensitively.
type Tag struct {
	ID        int64
	Name      string
	PostCount int64 // filled by Store.Tags only
}

// NewPost is a validated post to insert under an id reserved with
// Store.NextPostID, with the room the chat service created for it.
type NewPost struct {
	ID         int64
	Title      string
	Content    string
	CategoryID int64
	Tags       []string // trimmed, unique case-insensitively
	WriterID   int64
	RoomID     int64
}

// Changes are the validated fields an update sets; nil fields stay.
type Changes struct {
	Title      *string
	Content    *string
	CategoryID *int64
	Tags       *[]string
}

// Ordering is the order of a post list.
type Ordering int

// Orderings of ListPosts.
const (
	// OrderDefault is OrderRelevance with a search, else OrderNewest.
	OrderDefault Ordering = iota
	// OrderNewest: created_at, then id, descending.
	OrderNewest
	// OrderMostHits: hit, then id, descending.
	OrderMostHits
	// OrderRelevance: posts whose title contains every search term first,
	// then the other matches, each group newest first.
	OrderRelevance
)

// Position is where a page starts: just after the post it describes, in
// the list's ordering. The Store fills the fields its ordering needs.
type Position struct {
	Ordering  Ordering
	Tier      int // OrderRelevance: 0 title matches, 1 other matches
	CreatedAt time.Time
	Hit       int64
	ID        int64
}

// Query selects a page of posts. Filters combine with AND; zero values do
// not filter.
type Query struct {
	// Terms must each occur, case-insensitively and literally, in the
	// title, content, category name or a tag name.
	Terms      []string
	CategoryID int64
	Tag        string // exact name, case-insensitive
	WriterID   int64
	Ordering   Ordering // never OrderDefault
	Limit      int
	After      *Position // nil for the first page
}

// Store keeps posts, categories and tags.
type Store interface {
	// ListPosts returns up to q.Limit posts and, when more follow, the
	// position of the last one (nil on the last page).
	ListPosts(ctx context.Context, q Query) ([]Post, *Position, error)
	// Post returns one post; with countHit it first adds 1 to its hit
	// counter, atomically. ErrNotFound when unknown.
	Post(ctx context.Context, id int64, countHit bool) (Post, error)
	// NextPostID reserves an id for a post about to be created.
	NextPostID(ctx context.Context) (int64, error)
	// InsertPost stores p with its tags (creating unknown tags) in one
	// transaction. An apperr.CodeInvalid error on field "category" when the
	// category does not exist.
	InsertPost(ctx context.Context, p NewPost) (Post, error)
	// UpdatePost applies c to post id and bumps updated_at. ErrNotFound
	// when unknown.
	UpdatePost(ctx context.Context, id int64, c Changes) (Post, error)
	// DeletePost deletes a post with its tags and counter. ErrNotFound
	// when unknown.
	DeletePost(ctx context.Context, id int64) error
	// SetRoomID points post id at a new chat room. ErrNotFound when
	// unknown.
	SetRoomID(ctx context.Context, id, roomID int64) error
	// CategoryExists reports whether category id exists.
	CategoryExists(ctx context.Context, id int64) (bool, error)
	// Categories lists every category by name.
	Categories(ctx context.Context) ([]Category, error)
	// CreateCategory adds a category. ErrCategoryExists for a duplicate
	// name (case-insensitive).
	CreateCategory(ctx context.Context, name string) (Category, error)
	// Tags lists up to limit tags, most used first.
	Tags(ctx context.Context, limit int) ([]Tag, error)
}

// Rooms is the chat service, which owns every post's chat room. Calls act
// for the user whose token ctx carries.
type Rooms interface {
	// CreateRoom creates the room of post postID, owned by the caller; it
	// is idempotent per postID. An apperr.CodeInvalid error (field "name") for a
	// name the chat service refuses; ErrChatUnavailable on any other
	// failure.
	CreateRoom(ctx context.Context, name string, postID int64) (roomID int64, err error)
	// RoomExists reports whether room roomID still exists.
	// ErrChatUnavailable when the chat service cannot tell.
	RoomExists(ctx context.Context, roomID int64) (bool, error)
	// RenameRoom renames a room (its post's title changed).
	RenameRoom(ctx context.Context, roomID int64, name string) error
	// DeleteRoom deletes a room with its messages and closes its sockets;
	// an already deleted room is not an error. ErrChatUnavailable on any
	// other failure.
	DeleteRoom(ctx context.Context, roomID int64) error
}
