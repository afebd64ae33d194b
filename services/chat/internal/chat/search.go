package chat

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cobraspace/cobraspace/platform/apperr"
)

// ErrSearchTooBroad answers a search the database gave up on (its time
// bound): in practice a text of one or two characters that matches
// little in a very big room, which no index serves.
func ErrSearchTooBroad() *apperr.Error {
	return apperr.FieldError("search", "This search takes too long. Search for at least 3 characters.")
}

// Search limits.
const (
	MaxSearchRunes = 200
	DefaultSearch  = 50
	MaxSearch      = 200
)

// Search returns the messages of a room the caller may read whose text
// contains query (literal: % _ and \ are text; case-insensitive, any
// script), newest first, with seq < beforeSeq (0: from the newest).
// apperr.CodeInvalid (field "search"), CodeNotFound.
func (s *Service) Search(ctx context.Context, c Caller, roomID int64, query string, beforeSeq int64, limit int) ([]Message, error) {
	switch {
	case strings.TrimSpace(query) == "":
		return nil, apperr.FieldError("search", "This field may not be blank.")
	case !utf8.ValidString(query):
		return nil, apperr.FieldError("search", "Invalid text.")
	case strings.ContainsRune(query, 0):
		return nil, apperr.FieldError("search", "Null characters are not allowed.")
	case utf8.RuneCountInString(query) > MaxSearchRunes:
		return nil, apperr.FieldError("search", "Ensure this field has no more than 200 characters.")
	}
	if _, err := s.CheckReader(ctx, c.ID, roomID); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultSearch
	}
	msgs, err := s.mod.SearchMessages(ctx, roomID, query, max(beforeSeq, 0), min(limit, MaxSearch))
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(msgs))
	for _, m := range msgs {
		ids = append(ids, m.SenderID)
	}
	slices.Sort(ids)
	users, err := s.users.Users(ctx, slices.Compact(ids))
	if err != nil {
		return nil, Unavailable(err)
	}
	for i := range msgs {
		msgs[i].Sender = users[msgs[i].SenderID]
		msgs[i].Sender.ID = msgs[i].SenderID
	}
	return s.hideBlocked(ctx, c.ID, msgs)
}

// hideBlocked marks, for viewerID (0: a service, which blocks nobody), the
// messages of users the viewer blocks as hidden and drops their text. The
// viewer's blocks come from a cache that block events clear at once.
func (s *Service) hideBlocked(ctx context.Context, viewerID int64, msgs []Message) ([]Message, error) {
	if viewerID <= 0 || len(msgs) == 0 || s.relations == nil { // no user (0, RoomStream): nothing hidden
		return msgs, nil
	}
	blocked, err := s.relations.BlockedIDs(ctx, viewerID)
	if err != nil {
		return nil, err
	}
	for i := range msgs {
		if blocked[msgs[i].SenderID] {
			msgs[i].Hidden, msgs[i].Text = true, ""
		}
		if p := msgs[i].Parent; p != nil && blocked[p.SenderID] {
			p.Excerpt = "" // a reply quotes no text of a blocked user either
		}
	}
	return msgs, nil
}
