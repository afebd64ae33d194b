package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	postv1 "github.com/cobraspace/cobraspace/proto/cobraspace/post/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
	"github.com/cobraspace/cobraspace/services/gateway/internal/ratelimit"
)

// maxMessagesLimit caps ?limit= of a room's message pages (docs/api.md).
const maxMessagesLimit = 200

// chatRoutes registers the Chat REST routes of docs/api.md. The socket route
// is registered in routes.go (Config.ChatSocket). Room and message objects
// come from chatjson, the one place that shapes them for REST and sockets.
func (s *Server) chatRoutes(mux *http.ServeMux) {
	s.route(mux, "POST /api/chat/room/", s.requireAuth(s.handleCreateRoom()))
	s.route(mux, "GET /api/chat/room/", s.requireAuth(s.handleListRooms()))
	s.route(mux, "GET /api/chat/room/{id}/", s.requireAuth(s.handleGetRoom()))
	s.route(mux, "PUT /api/chat/room/{id}/", s.requireAuth(s.handleUpdateRoom()))
	s.route(mux, "PATCH /api/chat/room/{id}/", s.requireAuth(s.handleUpdateRoom()))
	s.route(mux, "DELETE /api/chat/room/{id}/", s.requireAuth(s.handleDeleteRoom()))
	s.route(mux, "GET /api/chat/room/{id}/messages/", s.requireAuth(s.handleListMessages()))
	s.route(mux, "POST /api/chat/message/", s.requireAuth(s.handleSendMessage()))
	s.route(mux, "PATCH /api/chat/message/{id}/", s.requireAuth(s.handleEditMessage()))
	s.route(mux, "DELETE /api/chat/message/{id}/", s.requireAuth(s.handleDeleteMessage()))
}

// handleCreateRoom: POST room/ {"name"} (+ optional "post") → 201 room.
func (s *Server) handleCreateRoom() authedHandler {
	type request struct {
		Name *string `json:"name"`
		Post *int64  `json:"post"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) {
			required(errs, "name", req.Name)
			if req.Post != nil && *req.Post <= 0 {
				errs["post"] = append(errs["post"], "Invalid pk - object does not exist.")
			}
		})
		if !ok {
			return
		}
		ctx := rpcContext(r, id)
		var room *chatv1.Room
		var err error
		if req.Post == nil {
			room, err = s.chat.CreateRoom(ctx, &chatv1.CreateRoomRequest{Name: *req.Name})
		} else {
			room, err = s.createPostRoom(ctx, *req.Post, *req.Name)
		}
		respond(s, w, r, http.StatusCreated, room, err, chatjson.NewRoom)
	}
}

// createPostRoom binds a new room to a post through the post service, the
// only service the chat service lets bind rooms to posts: it checks that the
// caller wrote the post and that the post has no room (the writer deleted
// it), so no one can take a post's room, or the id of a post not yet
// written.
func (s *Server) createPostRoom(ctx context.Context, postID int64, name string) (*chatv1.Room, error) {
	resp, err := s.posts.CreatePostRoom(ctx, &postv1.CreatePostRoomRequest{PostId: postID, Name: name})
	if err != nil {
		return nil, err
	}
	return s.chat.GetRoom(ctx, &chatv1.GetRoomRequest{Id: resp.GetRoomId()})
}

// handleListRooms: GET room/?limit=&cursor= → array of rooms, newest
// first, with a Link header for the next page.
func (s *Server) handleListRooms() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		servePage(s, w, r, func(p page) ([]*chatv1.Room, string, error) {
			resp, err := s.chat.ListRooms(rpcContext(r, id), &chatv1.ListRoomsRequest{Limit: p.Limit, Cursor: p.Cursor})
			return resp.GetRooms(), resp.GetNextCursor(), err
		}, chatjson.NewRoom)
	}
}

// handleGetRoom: GET room/<id>/ → room; unknown → 404.
func (s *Server) handleGetRoom() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		roomID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		room, err := s.chat.GetRoom(rpcContext(r, id), &chatv1.GetRoomRequest{Id: roomID})
		respond(s, w, r, http.StatusOK, room, err, chatjson.NewRoom)
	}
}

// handleUpdateRoom: PUT/PATCH room/<id>/ {"name"} → 200 room; owner only
// (the chat service answers PERMISSION_DENIED → 403 for others). PATCH
// without a name changes nothing and returns the room.
func (s *Server) handleUpdateRoom() authedHandler {
	type request struct {
		Name *string `json:"name"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		roomID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) {
			if req.Name != nil || r.Method != http.MethodPatch {
				required(errs, "name", req.Name)
			}
		})
		if !ok {
			return
		}
		ctx := rpcContext(r, id)
		if req.Name == nil { // PATCH without a name
			// Nothing to change, but the owner check still applies: an
			// empty rename must not let anyone probe other rooms.
			room, err := s.chat.GetRoom(ctx, &chatv1.GetRoomRequest{Id: roomID})
			if err != nil {
				rpcError(w, r, s.log, err)
				return
			}
			if room.GetOwnerId() != id.UserID {
				errorJSON(w, http.StatusForbidden, "You do not have permission to perform this action.")
				return
			}
			encode(w, http.StatusOK, chatjson.NewRoom(room))
			return
		}
		room, err := s.chat.UpdateRoom(ctx, &chatv1.UpdateRoomRequest{Id: roomID, Name: *req.Name})
		respond(s, w, r, http.StatusOK, room, err, chatjson.NewRoom)
	}
}

// handleDeleteRoom: DELETE room/<id>/ → 204; owner only. The chat service
// publishes room_deleted, which closes the room's sockets with 4000 on
// every replica.
func (s *Server) handleDeleteRoom() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		roomID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		_, err := s.chat.DeleteRoom(rpcContext(r, id), &chatv1.DeleteRoomRequest{Id: roomID})
		s.respondNoContent(w, r, err)
	}
}

// handleListMessages: GET room/<id>/messages/?before=<seq>|after=<seq>
// &limit=(≤ 200) → array of messages in seq order. Without before/after
// it is the newest page; after=0 is the first page. A full page announces
// the next one (older for before/none, newer for after) in a Link header.
func (s *Server) handleListMessages() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		roomID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		if r.URL.Query().Has("search") {
			s.searchMessages(w, r, id, roomID)
			return
		}
		p, err := readPageMax(r, maxMessagesLimit)
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		q := r.URL.Query()
		before, errB := seqParam(q.Get("before"))
		after, errA := seqParam(q.Get("after"))
		errs := map[string][]string{}
		if errB != "" {
			errs["before"] = append(errs["before"], errB)
		}
		if errA != "" {
			errs["after"] = append(errs["after"], errA)
		}
		if q.Get("before") != "" && q.Get("after") != "" {
			errs["before"] = append(errs["before"], "Use either before or after, not both.")
		}
		if len(errs) > 0 {
			fieldErrors(w, errs)
			return
		}
		resp, err := s.chat.ListMessages(rpcContext(r, id), &chatv1.ListMessagesRequest{
			RoomId: roomID, BeforeSeq: before, AfterSeq: after, Limit: p.Limit,
			// proto3 cannot tell after=0 from no after: say which it is.
			OldestFirst: q.Get("after") != "",
		})
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		msgs := resp.GetMessages()
		if len(msgs) == int(p.Limit) && len(msgs) > 0 {
			qs := r.URL.Query()
			if q.Get("after") != "" {
				qs.Del("before")
				qs.Set("after", strconv.FormatInt(msgs[len(msgs)-1].GetSeq(), 10))
			} else {
				qs.Del("after")
				qs.Set("before", strconv.FormatInt(msgs[0].GetSeq(), 10))
			}
			w.Header().Set("Link", "<"+r.URL.Path+"?"+qs.Encode()+`>; rel="next"`)
		}
		encode(w, http.StatusOK, chatjson.NewMessages(msgs))
	}
}

// seqParam parses an optional seq query value; the message is a field
// error ("" when fine).
func seqParam(v string) (int64, string) {
	if v == "" {
		return 0, ""
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, "A valid non-negative integer is required."
	}
	return n, ""
}

// handleSendMessage: POST message/ {"room","message"} (+ "parent_chat",
// "client_msg_id") → 201 message. The sender is always the caller (the
// token's user); the chat service delivers it live like a socket message.
func (s *Server) handleSendMessage() authedHandler {
	type request struct {
		Room        *int64  `json:"room"`
		Message     *string `json:"message"`
		ParentChat  *int64  `json:"parent_chat"`
		ClientMsgID *string `json:"client_msg_id"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		if ok, wait := s.sendLimit.Allow(r.Context(), id.UserID); !ok {
			throttled(w, wait)
			return
		}
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) {
			if req.Room == nil {
				errs["room"] = append(errs["room"], msgRequired)
			} else if *req.Room <= 0 {
				errs["room"] = append(errs["room"], "Invalid pk - object does not exist.")
			}
			required(errs, "message", req.Message)
			if req.ParentChat != nil && *req.ParentChat <= 0 {
				errs["parent_chat"] = append(errs["parent_chat"], "Invalid pk - object does not exist.")
			}
		})
		if !ok {
			return
		}
		var parent int64
		if req.ParentChat != nil {
			parent = *req.ParentChat
		}
		m, err := s.chat.SendMessage(rpcContext(r, id), &chatv1.SendMessageRequest{
			RoomId: *req.Room, Text: *req.Message, ParentId: parent, ClientMsgId: str(req.ClientMsgID),
		})
		respond(s, w, r, http.StatusCreated, m, err, chatjson.NewMessage)
	}
}

// throttled answers 429 like Django REST framework's throttles, with a
// Retry-After header in whole seconds.
func throttled(w http.ResponseWriter, wait time.Duration) {
	secs := ratelimit.RetrySeconds(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	unit := "seconds"
	if secs == 1 {
		unit = "second"
	}
	errorJSON(w, http.StatusTooManyRequests, fmt.Sprintf("Request was throttled. Expected available in %d %s.", secs, unit))
}

// handleEditMessage: PATCH message/<id>/ {"message"} → 200 message; sender
// only (403 for others), announced live as chat.message.edit.
func (s *Server) handleEditMessage() authedHandler {
	type request struct {
		Message *string `json:"message"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		msgID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) {
			required(errs, "message", req.Message)
		})
		if !ok {
			return
		}
		m, err := s.chat.EditMessage(rpcContext(r, id), &chatv1.EditMessageRequest{Id: msgID, Text: *req.Message})
		respond(s, w, r, http.StatusOK, m, err, chatjson.NewMessage)
	}
}

// handleDeleteMessage: DELETE message/<id>/ → 204; sender only, announced
// live as chat.message.delete.
func (s *Server) handleDeleteMessage() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		msgID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		_, err := s.chat.DeleteMessage(rpcContext(r, id), &chatv1.DeleteMessageRequest{Id: msgID})
		s.respondNoContent(w, r, err)
	}
}
