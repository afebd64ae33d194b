package httpapi

import (
	"net/http"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// Conversations (issue #12): my rooms with unread counts, read markers and
// notifications. The chat service owns the state; these handlers only
// validate and shape it (chatjson, shared with the per-user socket).

// maxMarkIDs caps the ids of one POST notifications/read/ (the chat
// service's limit).
const maxMarkIDs = 100

// conversationRoutes registers the routes of docs/api.md "Conversations:
// my rooms, unread and read markers; notifications".
func (s *Server) conversationRoutes(mux *http.ServeMux) {
	s.route(mux, "GET /api/chat/rooms/mine/", s.requireAuth(s.handleMyRooms()))
	s.route(mux, "POST /api/chat/room/{id}/read/", s.requireAuth(s.handleMarkRead()))
	s.route(mux, "GET /api/notifications/", s.requireAuth(s.handleListNotifications()))
	s.route(mux, "POST /api/notifications/read/", s.requireAuth(s.handleMarkNotificationsRead()))
}

// handleMyRooms: GET rooms/mine/?limit=&cursor= → the caller's rooms,
// newest activity first, each with unread_count, last_read_seq,
// last_message and kind; Link header for the next page.
func (s *Server) handleMyRooms() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		servePage(s, w, r, func(p page) ([]*chatv1.MyRoom, string, error) {
			resp, err := s.chat.ListMyRooms(rpcContext(r, id), &chatv1.ListMyRoomsRequest{Limit: p.Limit, Cursor: p.Cursor})
			return resp.GetRooms(), resp.GetNextCursor(), err
		}, chatjson.NewMyRoom)
	}
}

// handleMarkRead: POST room/<id>/read/ {"seq"} → 200
// {"room","last_read_seq","unread_count"}. The marker only moves forward;
// 404 for an unknown room, 403 for a room the caller is no member of, 400
// for a seq below 0 or past the room's last message.
func (s *Server) handleMarkRead() authedHandler {
	type request struct {
		Seq *int64 `json:"seq"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		roomID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) {
			switch {
			case req.Seq == nil:
				errs["seq"] = append(errs["seq"], msgRequired)
			case *req.Seq < 0:
				errs["seq"] = append(errs["seq"], "Ensure this value is greater than or equal to 0.")
			}
		})
		if !ok {
			return
		}
		resp, err := s.chat.MarkRead(rpcContext(r, id), &chatv1.MarkReadRequest{RoomId: roomID, Seq: *req.Seq})
		respond(s, w, r, http.StatusOK, resp, err, func(resp *chatv1.MarkReadResponse) chatjson.ReadMarker {
			return chatjson.NewReadMarker(resp.GetMarker())
		})
	}
}

// handleListNotifications: GET notifications/?unread=1&limit=&cursor= →
// the caller's notifications newest first (only unread ones with
// unread=1), Link header for the next page.
func (s *Server) handleListNotifications() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		var unread bool
		switch v := r.URL.Query().Get("unread"); v {
		case "", "0", "false":
		case "1", "true":
			unread = true
		default:
			fieldErrors(w, map[string][]string{"unread": {"Must be 1 or 0."}})
			return
		}
		servePage(s, w, r, func(p page) ([]*chatv1.Notification, string, error) {
			resp, err := s.chat.ListNotifications(rpcContext(r, id), &chatv1.ListNotificationsRequest{
				Limit: p.Limit, Cursor: p.Cursor, UnreadOnly: unread,
			})
			return resp.GetNotifications(), resp.GetNextCursor(), err
		}, chatjson.NewNotification)
	}
}

// handleMarkNotificationsRead: POST notifications/read/ {"ids":[...]} or
// {"all":true} → 200 {"unread": <count left>}. Ids that are not the
// caller's are ignored.
func (s *Server) handleMarkNotificationsRead() authedHandler {
	type request struct {
		IDs []int64 `json:"ids"`
		All *bool   `json:"all"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) {
			all := req.All != nil && *req.All
			switch {
			case req.IDs == nil && !all:
				errs["ids"] = append(errs["ids"], "Give ids or \"all\": true.")
			case len(req.IDs) > maxMarkIDs:
				errs["ids"] = append(errs["ids"], "Ensure this field has no more than 100 elements.")
			}
			for _, n := range req.IDs {
				if n <= 0 {
					errs["ids"] = append(errs["ids"], "Invalid pk - object does not exist.")
					break
				}
			}
		})
		if !ok {
			return
		}
		resp, err := s.chat.MarkNotificationsRead(rpcContext(r, id), &chatv1.MarkNotificationsReadRequest{
			Ids: req.IDs, All: req.All != nil && *req.All,
		})
		respond(s, w, r, http.StatusOK, resp, err, func(resp *chatv1.MarkNotificationsReadResponse) map[string]int64 {
			return map[string]int64{"unread": resp.GetUnread()}
		})
	}
}
