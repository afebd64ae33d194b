package post

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/fielderr"
)

// Service implements the post service's use cases on a Store and the chat
// service's Rooms.
type Service struct {
	store  Store
	rooms  Rooms
	logger *slog.Logger
}

// NewService returns a Service.
func NewService(store Store, rooms Rooms, logger *slog.Logger) *Service {
	return &Service{store: store, rooms: rooms, logger: logger}
}

// Input is what a client sends to create or update a post.
type Input struct {
	Title      string
	Content    string
	CategoryID int64
	Tags       []string
}

// ListRequest is a client's post-list request.
type ListRequest struct {
	Search     string
	CategoryID int64
	Tag        string
	WriterID   int64
	Ordering   Ordering // OrderDefault, OrderNewest or OrderMostHits
	Limit      int
	Cursor     string
}

// ListPosts returns a page of posts and the cursor of the next page ("" on
// the last page). apperr.CodeInvalid for a bad search or cursor.
func (s *Service) ListPosts(ctx context.Context, r ListRequest) ([]Post, string, error) {
	terms, err := SearchTerms(r.Search)
	if err != nil {
		return nil, "", err
	}
	if refused := refusedText(r.Tag); refused != "" {
		return nil, "", apperr.FieldError("tag", refused)
	}
	q := Query{
		Terms:      terms,
		CategoryID: r.CategoryID,
		Tag:        strings.TrimSpace(r.Tag),
		WriterID:   r.WriterID,
		Ordering:   r.Ordering,
		Limit:      r.Limit,
	}
	if q.Ordering == OrderDefault || q.Ordering == OrderRelevance {
		q.Ordering = OrderNewest
		if len(terms) > 0 {
			q.Ordering = OrderRelevance
		}
	}
	switch {
	case q.Limit <= 0:
		q.Limit = DefaultPageSize
	case q.Limit > MaxPageSize:
		q.Limit = MaxPageSize
	}
	if r.Cursor != "" {
		if q.After, err = DecodeCursor(r.Cursor, q.Ordering); err != nil {
			return nil, "", err
		}
	}
	posts, next, err := s.store.ListPosts(ctx, q)
	if err != nil {
		return nil, "", err
	}
	if next == nil {
		return posts, "", nil
	}
	return posts, EncodeCursor(*next), nil
}

// GetPost returns post id; with countHit it first adds 1 to its hit
// counter (atomically, so concurrent views all count). apperr.CodeNotFound.
func (s *Service) GetPost(ctx context.Context, id int64, countHit bool) (Post, error) {
	if id <= 0 {
		return Post{}, ErrNotFound
	}
	return s.store.Post(ctx, id, countHit)
}

// CreatePost creates a post written by writerID together with its chat
// room, so that no post is ever visible without its room:
//
//  1. validate everything that can be checked before any side effect;
//  2. reserve the post's id;
//  3. ask the chat service for the room of that post id (idempotent per
//     post id, so the one retry after a failure cannot make a second room);
//  4. insert the post with its room id in one transaction.
//
// When step 3 fails nothing exists and the caller gets apperr.CodeUnavailable.
// When step 4 fails the room is deleted again, best effort (see README.md
// for the window in which an orphan room can remain). apperr.CodeInvalid,
// apperr.CodeUnavailable.
func (s *Service) CreatePost(ctx context.Context, writerID int64, in Input) (Post, error) {
	if writerID <= 0 {
		return Post{}, &apperr.Error{Code: apperr.CodeUnauthenticated, Message: MsgNoCredentials}
	}
	f := fielderr.Fields{}
	title := checkTitle(f, in.Title)
	checkContent(f, in.Content)
	tags := checkTags(f, in.Tags)
	if in.CategoryID <= 0 {
		f.Add("category", MsgRequired)
	} else if err := s.checkCategory(ctx, f, in.CategoryID); err != nil {
		return Post{}, err
	}
	if err := apperr.Invalid(f); err != nil {
		return Post{}, err
	}

	id, err := s.store.NextPostID(ctx)
	if err != nil {
		return Post{}, err
	}
	roomName := truncateRunes(title, MaxRoomNameRunes)
	roomID, err := s.rooms.CreateRoom(ctx, roomName, id)
	if err != nil && ctx.Err() == nil {
		// One retry with the same post id: CreateRoom is idempotent per
		// post, so when the first call created the room but its answer was
		// lost (a timeout), the retry returns that room instead of leaving
		// it orphaned.
		roomID, err = s.rooms.CreateRoom(ctx, roomName, id)
	}
	if err != nil {
		return Post{}, err
	}
	p, err := s.store.InsertPost(ctx, NewPost{
		ID: id, Title: title, Content: in.Content, CategoryID: in.CategoryID,
		Tags: tags, WriterID: writerID, RoomID: roomID,
	})
	if err != nil {
		s.compensateRoom(ctx, id, roomID, err)
		return Post{}, err
	}
	return p, nil
}

// compensateRoom deletes the room of a post whose insert failed. It runs
// even when the caller has gone (the request context may be what failed),
// with its own deadline.
func (s *Service) compensateRoom(ctx context.Context, postID, roomID int64, cause error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.rooms.DeleteRoom(cctx, roomID); err != nil {
		s.logger.ErrorContext(ctx, "orphan chat room: post insert failed and the room could not be deleted",
			"post_id", postID, "room_id", roomID, "insert_err", cause, "err", err)
		return
	}
	s.logger.WarnContext(ctx, "post insert failed; its chat room was deleted again",
		"post_id", postID, "room_id", roomID, "err", cause)
}

func (s *Service) checkCategory(ctx context.Context, f fielderr.Fields, id int64) error {
	ok, err := s.store.CategoryExists(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		f.Add("category", InvalidCategoryMessage(id))
	}
	return nil
}

// InvalidCategoryMessage is the message for an unknown category id.
func InvalidCategoryMessage(id int64) string { return invalidPK(id) }

// invalidPK is Django REST framework's message for an unknown related id.
func invalidPK(id int64) string {
	return fmt.Sprintf("Invalid pk \"%d\" - object does not exist.", id)
}

// MsgHasRoom answers a request for a new room for a post whose room exists.
const MsgHasRoom = "This post already has a chat room."

// CreatePostRoom gives post postID a new chat room named name, owned by
// the post's writer, when the writer deleted its room; the post then
// points at the new room. Only the writer may; a post that still has its
// room keeps it. Binding a room to a post is reserved to this service by
// the chat service, so this (and CreatePost) is the only way to do it.
// apperr.CodeInvalid (field "post": unknown post or room exists; "name"),
// apperr.CodePermissionDenied, apperr.CodeUnavailable.
func (s *Service) CreatePostRoom(ctx context.Context, callerID, postID int64, name string) (int64, error) {
	p, err := s.owned(ctx, callerID, postID)
	if apperr.ErrorCode(err) == apperr.CodeNotFound {
		return 0, apperr.FieldError("post", invalidPK(postID))
	}
	if err != nil {
		return 0, err
	}
	exists, err := s.rooms.RoomExists(ctx, p.RoomID)
	if err != nil {
		return 0, err
	}
	if exists {
		return 0, apperr.FieldError("post", MsgHasRoom)
	}
	// Idempotent per post, so two concurrent requests get the same room.
	roomID, err := s.rooms.CreateRoom(ctx, name, postID)
	if err != nil {
		return 0, err
	}
	if err := s.store.SetRoomID(ctx, postID, roomID); err != nil {
		return 0, err
	}
	return roomID, nil
}

// UpdatePost changes the fields of post id named in mask ("title",
// "content", "category", "tags"); only its writer may, and the writer never
// changes. updated_at is bumped when mask names anything; a new title
// renames the post's chat room (best effort). apperr.CodeInvalid,
// apperr.CodeNotFound, apperr.CodePermissionDenied.
func (s *Service) UpdatePost(ctx context.Context, callerID, id int64, mask []string, in Input) (Post, error) {
	p, err := s.owned(ctx, callerID, id)
	if err != nil {
		return Post{}, err
	}
	f := fielderr.Fields{}
	var c Changes
	for _, field := range mask {
		switch field {
		case "title":
			t := checkTitle(f, in.Title)
			c.Title = &t
		case "content":
			checkContent(f, in.Content)
			c.Content = &in.Content
		case "category":
			cat := in.CategoryID
			if cat <= 0 {
				f.Add("category", MsgRequired)
			} else if err := s.checkCategory(ctx, f, cat); err != nil {
				return Post{}, err
			}
			c.CategoryID = &cat
		case "tags":
			tags := checkTags(f, in.Tags)
			c.Tags = &tags
		default:
			f.Add("update_mask", MsgUnknownField)
		}
	}
	if err := apperr.Invalid(f); err != nil {
		return Post{}, err
	}
	if c == (Changes{}) {
		return p, nil
	}
	updated, err := s.store.UpdatePost(ctx, id, c)
	if err != nil {
		return Post{}, err
	}
	if name := truncateRunes(updated.Title, MaxRoomNameRunes); name != truncateRunes(p.Title, MaxRoomNameRunes) {
		// The room is named after the post. A failed rename is only
		// cosmetic, so it is logged and the update stands.
		if err := s.rooms.RenameRoom(ctx, updated.RoomID, name); err != nil {
			s.logger.WarnContext(ctx, "chat room not renamed after a title change",
				"post_id", id, "room_id", updated.RoomID, "err", err)
		}
	}
	return updated, nil
}

// DeletePost deletes post id and, first, its chat room with the room's
// messages (the chat service closes the room's sockets with 4000). When
// the chat service is down the post stays and apperr.CodeUnavailable is
// returned, so a post never points at a room that is gone; a retry is
// safe because an already deleted room counts as deleted. Writer only.
// apperr.CodeNotFound, apperr.CodePermissionDenied, apperr.CodeUnavailable.
func (s *Service) DeletePost(ctx context.Context, callerID, id int64) error {
	p, err := s.owned(ctx, callerID, id)
	if err != nil {
		return err
	}
	if err := s.rooms.DeleteRoom(ctx, p.RoomID); err != nil {
		return err
	}
	return s.store.DeletePost(ctx, id)
}

// owned returns post id when callerID wrote it. The check-then-act is safe
// because a post's writer never changes.
func (s *Service) owned(ctx context.Context, callerID, id int64) (Post, error) {
	if callerID <= 0 {
		return Post{}, &apperr.Error{Code: apperr.CodeUnauthenticated, Message: MsgNoCredentials}
	}
	if id <= 0 {
		return Post{}, ErrNotFound
	}
	p, err := s.store.Post(ctx, id, false)
	if err != nil {
		return Post{}, err
	}
	if p.WriterID != callerID {
		return Post{}, &apperr.Error{Code: apperr.CodePermissionDenied, Message: MsgPermissionDenied}
	}
	return p, nil
}

// Categories lists every category by name.
func (s *Service) Categories(ctx context.Context) ([]Category, error) {
	return s.store.Categories(ctx)
}

// CreateCategory adds a category. apperr.CodeInvalid, apperr.CodeAlreadyExists.
func (s *Service) CreateCategory(ctx context.Context, callerID int64, name string) (Category, error) {
	if callerID <= 0 {
		return Category{}, &apperr.Error{Code: apperr.CodeUnauthenticated, Message: MsgNoCredentials}
	}
	name, err := checkCategoryName(name)
	if err != nil {
		return Category{}, err
	}
	return s.store.CreateCategory(ctx, name)
}

// Tags lists up to limit tags (DefaultTagsLimit when 0, at most
// MaxTagsLimit) with their post counts, most used first.
func (s *Service) Tags(ctx context.Context, limit int) ([]Tag, error) {
	switch {
	case limit <= 0:
		limit = DefaultTagsLimit
	case limit > MaxTagsLimit:
		limit = MaxTagsLimit
	}
	return s.store.Tags(ctx, limit)
}
