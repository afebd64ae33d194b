package httpapi

import (
	"net/http"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// replyRoutes registers the replies and reactions routes of the
// Conversations section of docs/api.md.
func (s *Server) replyRoutes(mux *http.ServeMux) {
	s.route(mux, "GET /api/chat/message/{id}/replies/", s.requireAuth(s.handleListReplies()))
	s.route(mux, "POST /api/chat/message/{id}/reactions/", s.requireAuth(s.handleToggleReaction()))
}

// handleListReplies: GET message/<id>/replies/?limit=&cursor= → the
// message's live replies in seq order, each a message object; the next
// page in a Link header. Unknown or deleted message → 404.
func (s *Server) handleListReplies() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		msgID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		servePage(s, w, r, func(p page) ([]*chatv1.Message, string, error) {
			resp, err := s.chat.ListReplies(rpcContext(r, id),
				&chatv1.ListRepliesRequest{MessageId: msgID, Limit: p.Limit, Cursor: p.Cursor})
			return resp.GetMessages(), resp.GetNextCursor(), err
		}, chatjson.NewMessage)
	}
}

// reactionsAnswer is the body of a toggle: the message's reactions after
// it, "me" for the caller.
type reactionsAnswer struct {
	ID        int64               `json:"id"`
	Seq       int64               `json:"seq"`
	Room      int64               `json:"room"`
	Reactions []chatjson.Reaction `json:"reactions"`
	// Added tells whether the toggle added the caller's reaction.
	Added bool  `json:"added"`
	Rev   int64 `json:"rev"`
}

// handleToggleReaction: POST message/<id>/reactions/ {"emoji"} → 200
// {"id","reactions":[{"emoji","count","me"}]}: adds the caller's reaction,
// or removes it when the caller already reacted with that emoji. The chat
// service validates the emoji (400 {"emoji": [...]}) and refuses a new
// emoji beyond the per-message cap (409). Toggles share the per-user
// message rate limit: a reaction costs the room's sockets a frame like a
// message does.
func (s *Server) handleToggleReaction() authedHandler {
	type request struct {
		Emoji *string `json:"emoji"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		msgID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		if ok, wait := s.sendLimit.Allow(r.Context(), id.UserID); !ok {
			throttled(w, wait)
			return
		}
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) {
			if req.Emoji == nil {
				errs["emoji"] = append(errs["emoji"], msgRequired)
			}
		})
		if !ok {
			return
		}
		resp, err := s.chat.ToggleReaction(rpcContext(r, id), &chatv1.ToggleReactionRequest{MessageId: msgID, Emoji: *req.Emoji})
		respond(s, w, r, http.StatusOK, resp, err, func(c *chatv1.ToggleReactionResponse) reactionsAnswer {
			return reactionsAnswer{ID: c.GetMessageId(), Seq: c.GetSeq(), Room: c.GetRoomId(),
				Reactions: chatjson.NewReactions(c.GetReactions()), Added: c.GetAdded(), Rev: c.GetRev()}
		})
	}
}
