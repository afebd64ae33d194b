package httpapi

import (
	"net/http"

	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
)

// blockRoutes registers the blocks routes (Conversations: blocks). The user
// service keeps blocks; this only translates.
func (s *Server) blockRoutes(mux *http.ServeMux) {
	s.route(mux, "POST /api/user/block/", s.requireAuth(s.handleBlock()))
	s.route(mux, "DELETE /api/user/block/{user_id}/", s.requireAuth(s.handleUnblock()))
	s.route(mux, "GET /api/user/blocks/", s.requireAuth(s.handleListBlocks()))
}

// userField checks a required positive user id field named "user".
func userField(errs map[string][]string, v *int64) {
	switch {
	case v == nil:
		errs["user"] = append(errs["user"], msgRequired)
	case *v <= 0:
		errs["user"] = append(errs["user"], "Invalid pk - object does not exist.")
	}
}

// handleBlock: POST block/ {"user"} → 201 the blocked user (the same answer
// when already blocked); yourself → 400, unknown → 404.
func (s *Server) handleBlock() authedHandler {
	type request struct {
		User *int64 `json:"user"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) { userField(errs, req.User) })
		if !ok {
			return
		}
		resp, err := s.users.BlockUser(rpcContext(r, id), &userv1.BlockUserRequest{UserId: *req.User})
		respond(s, w, r, http.StatusCreated, resp.GetUser(), err, withoutStatus)
	}
}

// handleUnblock: DELETE block/<user_id>/ → 204 (also when not blocked);
// unknown user → 404.
func (s *Server) handleUnblock() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		uid, ok := pathID(r, "user_id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		if _, err := s.users.UnblockUser(rpcContext(r, id), &userv1.UnblockUserRequest{UserId: uid}); err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleListBlocks: GET blocks/?limit=&cursor= → the users the caller
// blocks, latest first.
func (s *Server) handleListBlocks() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		servePage(s, w, r, func(p page) ([]*userv1.UserSummary, string, error) {
			resp, err := s.users.ListBlocks(rpcContext(r, id), &userv1.ListBlocksRequest{Limit: p.Limit, Cursor: p.Cursor})
			return resp.GetUsers(), resp.GetNextCursor(), err
		}, withoutStatus)
	}
}
