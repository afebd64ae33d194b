package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	postv1 "github.com/cobraspace/cobraspace/proto/cobraspace/post/v1"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// Composing a post detail calls the user and chat services concurrently;
// each call gets composeTimeout, so one slow dependency turns into a 503
// instead of a hanging request.
const composeTimeout = 2 * time.Second

// detailMessages is how many of the room's newest messages a post detail
// carries (docs/api.md: last 50).
const detailMessages = 50

// postRoutes registers the Posts routes of docs/api.md.
func (s *Server) postRoutes(mux *http.ServeMux) {
	s.route(mux, "GET /api/post/", s.optionalAuth(s.handleListPosts()))
	s.route(mux, "GET /api/post/posts/", s.optionalAuth(s.handleListPosts()))
	s.route(mux, "GET /api/post/detail/{id}/", s.optionalAuth(s.handlePostDetail()))
	s.route(mux, "POST /api/post/write/", s.requireAuth(s.handleWritePost()))
	for _, m := range []string{"POST", "PUT", "PATCH"} {
		s.route(mux, m+" /api/post/detail/{id}/edit/", s.requireAuth(s.handleEditPost()))
	}
	for _, m := range []string{"POST", "DELETE"} {
		s.route(mux, m+" /api/post/detail/{id}/delete/", s.requireAuth(s.handleDeletePost()))
	}
	s.route(mux, "GET /api/post/categories/", s.optionalAuth(s.handleListCategories()))
	s.route(mux, "POST /api/post/categories/", s.requireAuth(s.handleCreateCategory()))
	s.route(mux, "GET /api/post/tags/", s.optionalAuth(s.handleListTags()))
	s.route(mux, "POST /api/post/images/", s.requireAuth(s.handleUploadImage()), withBodyLimit(maxProfileBodyLen))
}

// imageJSON is an uploaded post image: where it is served and its size.
type imageJSON struct {
	URL    string `json:"url"`
	Width  int32  `json:"width"`
	Height int32  `json:"height"`
}

// handleUploadImage stores an image for a post (multipart, one "image"
// file of at most 5 MiB) in the user service's media store, like profile
// pictures: checked, re-encoded and size-bounded there.
func (s *Server) handleUploadImage() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		data, err := readImageForm(r)
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		img, err := s.users.UploadImage(rpcContext(r, id), &userv1.UploadImageRequest{Image: data})
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		encode(w, http.StatusCreated, imageJSON{URL: "/media/" + img.GetKey(), Width: img.GetWidth(), Height: img.GetHeight()})
	}
}

// readImageForm reads the "image" file of a multipart body: 415 for
// another body type, 413 over 5 MiB, 400 for a missing file or another field.
func readImageForm(r *http.Request) ([]byte, error) {
	if mt := mediaType(r); mt != "multipart/form-data" {
		return nil, unsupportedMediaType(mt)
	}
	if err := r.ParseMultipartForm(maxProfileBodyLen + 1<<20); err != nil { //nolint:gosec // G120: the route limits the body with http.MaxBytesReader
		var rerr *requestError
		if errors.As(readError(err), &rerr) && rerr.status == http.StatusRequestEntityTooLarge {
			return nil, rerr
		}
		return nil, &requestError{status: http.StatusBadRequest, detail: "Multipart form parse error - invalid form."}
	}
	if names := slices.Sorted(maps.Keys(r.MultipartForm.Value)); len(names) > 0 {
		return nil, fieldError(names[0], msgUnknownField)
	}
	for _, name := range slices.Sorted(maps.Keys(r.MultipartForm.File)) {
		if name != "image" {
			return nil, fieldError(name, msgUnknownField)
		}
	}
	files := r.MultipartForm.File["image"]
	if len(files) == 0 {
		return nil, fieldError("image", "No file was submitted.")
	}
	if files[0].Size > maxPictureBytes {
		return nil, &requestError{status: http.StatusRequestEntityTooLarge, detail: msgTooLarge}
	}
	f, err := files[0].Open()
	if err != nil {
		return nil, readError(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPictureBytes+1))
	if err != nil {
		return nil, readError(err)
	}
	return data, nil
}

// tagJSON is a post's tag.
type tagJSON struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// postJSON is the post object of docs/api.md. writer is the writer's user id;
// category is the category id (category_name is added for convenience).
type postJSON struct {
	ID                   int64     `json:"id"`
	Title                string    `json:"title"`
	Content              string    `json:"content"`
	Category             int64     `json:"category"`
	CategoryName         string    `json:"category_name"`
	Tags                 []tagJSON `json:"tags"`
	Writer               int64     `json:"writer"`
	WriterNickname       string    `json:"writer_nickname"`
	WriterProfilePicture string    `json:"writer_profile_picture"`
	Hit                  int64     `json:"hit"`
	RoomID               int64     `json:"room_id"`
	CreatedAt            time.Time `json:"created_at"`
	UpdatedAt            time.Time `json:"updated_at"`
}

// newPostJSON converts a post; writer is its writer's summary (nil when the
// user service did not know the writer).
func newPostJSON(p *postv1.Post, writer *userv1.UserSummary) postJSON {
	tags := make([]tagJSON, 0, len(p.GetTags()))
	for _, t := range p.GetTags() {
		tags = append(tags, tagJSON{ID: t.GetId(), Name: t.GetName()})
	}
	return postJSON{
		ID:                   p.GetId(),
		Title:                p.GetTitle(),
		Content:              p.GetContent(),
		Category:             p.GetCategoryId(),
		CategoryName:         p.GetCategoryName(),
		Tags:                 tags,
		Writer:               p.GetWriterId(),
		WriterNickname:       writer.GetNickname(),
		WriterProfilePicture: writer.GetProfilePictureUrl(),
		Hit:                  p.GetHit(),
		RoomID:               p.GetRoomId(),
		CreatedAt:            p.GetCreatedAt().AsTime(),
		UpdatedAt:            p.GetUpdatedAt().AsTime(),
	}
}

// writers fetches the summaries of the writers of posts with one GetUsers
// call (deduplicated ids), keyed by user id; for an anonymous caller
// (anon) summaries up to recentTTL old may come from s.summaries.
func (s *Server) writers(ctx context.Context, anon bool, posts ...*postv1.Post) (map[int64]*userv1.UserSummary, error) {
	seen := map[int64]bool{}
	var ids []int64
	for _, p := range posts {
		if id := p.GetWriterId(); id != 0 && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return s.writerSummaries(ctx, anon, ids)
}

// writerSummaries is writers for users ids (distinct, non-zero).
func (s *Server) writerSummaries(ctx context.Context, anon bool, ids []int64) (map[int64]*userv1.UserSummary, error) {
	out := make(map[int64]*userv1.UserSummary, len(ids))
	missing := ids
	if anon {
		missing = nil
		for _, id := range ids {
			if u, ok := s.summaries.Get(id); ok {
				out[id] = u
			} else {
				missing = append(missing, id)
			}
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, composeTimeout)
	defer cancel()
	resp, err := s.users.GetUsers(ctx, &userv1.GetUsersRequest{UserIds: missing})
	if err != nil {
		return nil, err
	}
	for _, u := range resp.GetUsers() {
		out[u.GetUserId()] = u
		s.summaries.Add(u.GetUserId(), u)
	}
	return out, nil
}

// handleListPosts: GET /api/post/ and /api/post/posts/ with ?search=
// &category=&tag=&writer=&ordering=(-created_at|-hit)&limit=&cursor= →
// array of post objects and a Link header for the next page.
func (s *Server) handleListPosts() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		pg, err := readPage(r)
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		q := r.URL.Query()
		req := &postv1.ListPostsRequest{Search: q.Get("search"), Tag: q.Get("tag"), Limit: pg.Limit, Cursor: pg.Cursor}
		errs := map[string][]string{}
		req.CategoryId = idParam(errs, q, "category")
		req.WriterId = idParam(errs, q, "writer")
		switch q.Get("ordering") {
		case "":
		case "-created_at":
			req.Ordering = postv1.Ordering_ORDERING_NEWEST
		case "-hit":
			req.Ordering = postv1.Ordering_ORDERING_MOST_HITS
		default:
			errs["ordering"] = append(errs["ordering"], `Select a valid choice: "-created_at" or "-hit".`)
		}
		if len(errs) > 0 {
			fieldErrors(w, errs)
			return
		}
		// The answer depends only on path and query (not on who asks), so
		// it is cached under them; see listcache.go for who is served from
		// the cache and how stale it may be.
		key := r.URL.Path + "?" + r.URL.RawQuery
		path := r.URL.Path
		compose := func(ctx context.Context) (cachedPage, error) {
			return s.composeList(ctx, id.UserID == 0, req, path, q)
		}
		var page cachedPage
		if id.UserID == 0 {
			page, err = s.listCache.get(r.Context(), key, compose)
		} else {
			gen := s.listCache.generation()
			if page, err = compose(rpcContext(r, id)); err == nil {
				s.listCache.store(key, gen, page)
			}
		}
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		if page.link != "" {
			w.Header().Set("Link", page.link)
		}
		writeJSON(w, http.StatusOK, page.body)
	}
}

// composeList fetches a page of posts and their writers and encodes the
// answer to a list request of path and query q (anon: for an anonymous
// caller). The post list is the same for every caller, so ctx need not
// carry a token.
func (s *Server) composeList(ctx context.Context, anon bool, req *postv1.ListPostsRequest, path string, q url.Values) (cachedPage, error) {
	resp, err := s.posts.ListPosts(ctx, req)
	if err != nil {
		return cachedPage{}, err
	}
	users, err := s.writers(ctx, anon, resp.GetPosts()...)
	if err != nil {
		return cachedPage{}, err
	}
	out := make([]postJSON, 0, len(resp.GetPosts()))
	for _, p := range resp.GetPosts() {
		out = append(out, newPostJSON(p, users[p.GetWriterId()]))
	}
	body, err := marshalJSON(out)
	if err != nil {
		return cachedPage{}, err
	}
	return cachedPage{body: body, link: nextLink(path, maps.Clone(q), resp.GetNextCursor())}, nil
}

// idParam reads an optional positive integer query parameter (0 when
// absent); anything else adds a field error.
func idParam(errs map[string][]string, q map[string][]string, name string) int64 {
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		errs[name] = append(errs[name], "Select a valid choice. That choice is not one of the available choices.")
		return 0
	}
	return n
}

// writerJSON is the writer object of a post detail.
type writerJSON struct {
	ID                int64  `json:"id"`
	Email             string `json:"email"`
	Nickname          string `json:"nickname"`
	ProfilePictureURL string `json:"profile_picture_url"`
}

// roomDataJSON is a post detail's room with its newest messages, shown to
// every reader (joining the chat needs a sign-in).
type roomDataJSON struct {
	ID           int64              `json:"id"`
	Name         string             `json:"name"`
	ChatURL      string             `json:"chat_url"`
	Owner        int64              `json:"owner"`
	Post         int64              `json:"post"`
	OnlineCount  *int32             `json:"online_count,omitempty"`
	CreatedAt    *time.Time         `json:"created_at,omitempty"`
	ChatMessages []chatjson.Message `json:"chat_messages"`
}

// postDetailJSON is the detail response: the post object's fields, with
// writer as an object, plus post_id and room_data (null only when the
// post's room no longer exists).
type postDetailJSON struct {
	PostID int64 `json:"post_id"`
	postJSON
	Writer   writerJSON    `json:"writer"`
	RoomData *roomDataJSON `json:"room_data"`
}

// handlePostDetail: GET detail/<id>/ → the post (its hit counted), its
// writer and its room with the last 50 messages. The writer and the room
// of a post never change, so once this replica has seen a post they are
// known up front (postRefs) and all four calls — the post, the writer, the
// room and its messages — run at once; the first time, the post comes
// first. For anonymous callers the writer and the room may come from the
// last second's answers (postrefs.go). Each call gets composeTimeout: a
// failed or slow dependency is a 503, never a hang. GetPost runs exactly
// once per request, so every view is counted once.
func (s *Server) handlePostDetail() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		postID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		ctx, cancel := context.WithTimeout(rpcContext(r, id), composeTimeout)
		defer cancel()
		var (
			wg       sync.WaitGroup
			p        *postv1.Post
			users    map[int64]*userv1.UserSummary
			room     *chatv1.Room
			messages *chatv1.ListMessagesResponse
			errs     [4]error
		)
		// The first failure cancels the others: the answer is an error
		// anyway. A room that is gone (NOT_FOUND) is no failure: room_data
		// is null.
		fail := func(i int, err error) {
			errs[i] = err
			if err != nil && (i == 0 || status.Code(err) != codes.NotFound) {
				cancel()
			}
		}
		getPost := func() {
			var err error
			p, err = s.posts.GetPost(ctx, &postv1.GetPostRequest{Id: postID, CountHit: true})
			fail(0, err)
		}
		anon := id.UserID == 0
		ref, known := s.postRefs.Get(postID)
		if known {
			wg.Go(getPost)
		} else {
			getPost()
			if errs[0] != nil {
				rpcError(w, r, s.log, errs[0])
				return
			}
			ref = postRef{writerID: p.GetWriterId(), roomID: p.GetRoomId()}
			s.postRefs.Add(postID, ref)
		}
		wg.Go(func() {
			var err error
			users, err = s.writerSummaries(ctx, anon, []int64{ref.writerID})
			fail(1, err)
		})
		haveRoom := false
		if anon {
			room, haveRoom = s.rooms.Get(ref.roomID)
		}
		if !haveRoom {
			wg.Go(func() {
				var err error
				room, err = s.chat.GetRoom(ctx, &chatv1.GetRoomRequest{Id: ref.roomID})
				if err == nil {
					s.rooms.Add(ref.roomID, room)
				}
				fail(2, err)
			})
		}
		wg.Go(func() {
			var err error
			messages, err = s.chat.ListMessages(ctx, &chatv1.ListMessagesRequest{RoomId: ref.roomID, Limit: detailMessages})
			fail(3, err)
		})
		wg.Wait()
		if errs[0] != nil {
			// The post's own answer (NOT_FOUND: deleted) wins over the
			// cancellations it caused.
			rpcError(w, r, s.log, errs[0])
			return
		}

		roomGone := status.Code(errs[2]) == codes.NotFound || status.Code(errs[3]) == codes.NotFound
		var failed error
		for i, err := range errs[1:] {
			switch {
			case err == nil, i > 0 && roomGone && status.Code(err) == codes.NotFound:
			case failed == nil || status.Code(failed) == codes.Canceled:
				// Prefer the error that caused the others' cancellation.
				failed = err
			}
		}
		if failed != nil {
			rpcError(w, r, s.log, dependencyError(failed))
			return
		}

		writer := users[p.GetWriterId()]
		out := postDetailJSON{
			PostID:   p.GetId(),
			postJSON: newPostJSON(p, writer),
			Writer: writerJSON{
				ID:                p.GetWriterId(),
				Email:             writer.GetEmail(),
				Nickname:          writer.GetNickname(),
				ProfilePictureURL: writer.GetProfilePictureUrl(),
			},
		}
		// room_data stays null when the room's owner deleted it through the
		// chat API.
		if !roomGone {
			created := room.GetCreatedAt().AsTime()
			online := room.GetOnlineCount()
			out.RoomData = &roomDataJSON{
				ID: room.GetId(), Name: room.GetName(), ChatURL: chatjson.ChatURL(room.GetId()),
				Owner: room.GetOwnerId(), Post: p.GetId(), OnlineCount: &online, CreatedAt: &created,
				ChatMessages: chatjson.NewMessages(messages.GetMessages()),
			}
		}
		encode(w, http.StatusOK, out)
	}
}

// dependencyError makes any failure of a composing call a 503: a NOT_FOUND
// or PERMISSION_DENIED from the user or chat service about a post that
// exists is their fault, not the client's.
func dependencyError(err error) error {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Unauthenticated:
		return err
	}
	return status.Error(codes.Unavailable, "dependency failed")
}

// postRequest is the body of write/ and edit/. tags may be ["go"] or
// [{"name": "go"}]; category is the category id (a number, or a numeric
// string as form-style clients send).
type postRequest struct {
	Title    *string         `json:"title"`
	Content  *string         `json:"content"`
	Category json.RawMessage `json:"category"`
	Tags     json.RawMessage `json:"tags"`
}

// fields validates the parts of r that are present into a CreatePost-like
// value and lists their names (the update mask). Missing required fields
// are errors only when create is set.
func (pr postRequest) fields(create bool) (title, content string, category int64, tags []string, mask []string, errs map[string][]string) {
	errs = map[string][]string{}
	if pr.Title != nil {
		title, mask = *pr.Title, append(mask, "title")
	} else if create {
		errs["title"] = append(errs["title"], msgRequired)
	}
	if pr.Content != nil {
		content, mask = *pr.Content, append(mask, "content")
	} else if create {
		errs["content"] = append(errs["content"], msgRequired)
	}
	if pr.Category != nil {
		mask = append(mask, "category")
		var ok bool
		if category, ok = parseCategory(pr.Category); !ok {
			if string(pr.Category) == "null" {
				errs["category"] = append(errs["category"], "This field may not be null.")
			} else {
				errs["category"] = append(errs["category"], "Incorrect type. Expected pk value.")
			}
		}
	} else if create {
		errs["category"] = append(errs["category"], msgRequired)
	}
	if pr.Tags != nil {
		mask = append(mask, "tags")
		var ok bool
		if tags, ok = parseTags(pr.Tags); !ok {
			errs["tags"] = append(errs["tags"], `Expected a list of tag names or of {"name": ...} objects.`)
		}
	}
	return title, content, category, tags, mask, errs
}

func parseCategory(raw json.RawMessage) (int64, bool) {
	if string(raw) == "null" {
		return 0, false
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err == nil {
		return n, true // the post service checks that it exists
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func parseTags(raw json.RawMessage) ([]string, bool) {
	if string(raw) == "null" {
		return nil, true
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, false
	}
	tags := make([]string, 0, len(items))
	for _, it := range items {
		var name string
		if err := json.Unmarshal(it, &name); err == nil {
			tags = append(tags, name)
			continue
		}
		var obj struct {
			Name *string `json:"name"`
		}
		dec := json.NewDecoder(strings.NewReader(string(it)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&obj); err != nil || obj.Name == nil {
			return nil, false
		}
		tags = append(tags, *obj.Name)
	}
	return tags, true
}

// postsChanged empties the list cache after a post write through this
// replica. It runs whatever the write's outcome: a failed call (a timeout)
// may still have committed.
func (s *Server) postsChanged() {
	s.listCache.invalidate()
}

// respondPost answers a call that wrote post p: err through rpcError,
// otherwise the post object (with its writer) with code.
func (s *Server) respondPost(ctx context.Context, w http.ResponseWriter, r *http.Request, code int, p *postv1.Post, err error) {
	if err != nil {
		rpcError(w, r, s.log, err)
		return
	}
	users, err := s.writers(ctx, false, p)
	if err != nil {
		rpcError(w, r, s.log, err)
		return
	}
	encode(w, code, newPostJSON(p, users[p.GetWriterId()]))
}

// handleWritePost: POST write/ {"title","content","category","tags"} →
// 201 post object; the post service creates the post's chat room with it.
func (s *Server) handleWritePost() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		req, ok := readRequest[postRequest](s, w, r, nil)
		if !ok {
			return
		}
		title, content, category, tags, _, errs := req.fields(true)
		if len(errs) > 0 {
			fieldErrors(w, errs)
			return
		}
		ctx := rpcContext(r, id)
		p, err := s.posts.CreatePost(ctx, &postv1.CreatePostRequest{Title: title, Content: content, CategoryId: category, Tags: tags})
		s.postsChanged()
		s.respondPost(ctx, w, r, http.StatusCreated, p, err)
	}
}

// handleEditPost: POST/PUT/PATCH detail/<id>/edit/ with any of the write
// fields → 200 post object; writer only (403 otherwise). Fields left out
// keep their values; the writer never changes.
func (s *Server) handleEditPost() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		postID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		req, ok := readRequest[postRequest](s, w, r, nil)
		if !ok {
			return
		}
		title, content, category, tags, mask, errs := req.fields(false)
		if len(errs) > 0 {
			fieldErrors(w, errs)
			return
		}
		ctx := rpcContext(r, id)
		p, err := s.posts.UpdatePost(ctx, &postv1.UpdatePostRequest{
			Id: postID, UpdateMask: mask, Title: title, Content: content, CategoryId: category, Tags: tags,
		})
		s.postsChanged()
		s.respondPost(ctx, w, r, http.StatusOK, p, err)
	}
}

// handleDeletePost: POST/DELETE detail/<id>/delete/ → 204; writer only.
// The post service deletes the room (and its messages) first; the chat
// service then closes the room's sockets with 4000.
func (s *Server) handleDeletePost() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		postID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		_, err := s.posts.DeletePost(rpcContext(r, id), &postv1.DeletePostRequest{Id: postID})
		s.postsChanged()
		s.respondNoContent(w, r, err)
	}
}

// categoryJSON is a category.
type categoryJSON struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func newCategoryJSON(c *postv1.Category) categoryJSON {
	return categoryJSON{ID: c.GetId(), Name: c.GetName()}
}

// handleListCategories: GET categories/ → [{"id","name"}] by name.
func (s *Server) handleListCategories() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		resp, err := s.posts.ListCategories(rpcContext(r, id), &postv1.ListCategoriesRequest{})
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		encode(w, http.StatusOK, convert(resp.GetCategories(), newCategoryJSON))
	}
}

// handleCreateCategory: POST categories/ {"name"} → 201 {"id","name"}; a
// duplicate name (case-insensitive) → 400 {"name": [...]}, as DRF's
// unique validator answered.
func (s *Server) handleCreateCategory() authedHandler {
	type request struct {
		Name *string `json:"name"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) {
			required(errs, "name", req.Name)
		})
		if !ok {
			return
		}
		c, err := s.posts.CreateCategory(rpcContext(r, id), &postv1.CreateCategoryRequest{Name: *req.Name})
		if st, _ := status.FromError(err); err != nil && st.Code() == codes.AlreadyExists {
			fieldErrors(w, map[string][]string{"name": {st.Message()}})
			return
		}
		respond(s, w, r, http.StatusCreated, c, err, newCategoryJSON)
	}
}

// tagCountJSON is an entry of the tag list.
type tagCountJSON struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	PostCount int64  `json:"post_count"`
}

// handleListTags: GET tags/ → [{"id","name","post_count"}], most used
// first (?limit= up to 1,000, default 100).
func (s *Server) handleListTags() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		var limit int32
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				fieldErrors(w, map[string][]string{"limit": {"A valid positive integer is required."}})
				return
			}
			limit = int32(min(n, 1000))
		}
		resp, err := s.posts.ListTags(rpcContext(r, id), &postv1.ListTagsRequest{Limit: limit})
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		encode(w, http.StatusOK, convert(resp.GetTags(), func(t *postv1.Tag) tagCountJSON {
			return tagCountJSON{ID: t.GetId(), Name: t.GetName(), PostCount: t.GetPostCount()}
		}))
	}
}
