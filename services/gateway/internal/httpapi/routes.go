package httpapi

import (
	"fmt"
	"net/http"
	"strings"
)

// routes registers every public route.
//
// How to add routes:
//   - Write the handlers in the file of their area (users.go, posts.go,
//     chat.go) as methods of *Server returning http.Handler; declare the
//     request and response types inside or next to them; read bodies with
//     readRequest (JSON, 415/413/400 and field errors answered), answer a
//     service call with respond (or respondNoContent), or with
//     encode/errorJSON and service errors with rpcError (the one
//     gRPC → HTTP table).
//   - Register them with s.route(mux, "METHOD /api/area/path/", h): the
//     path is written WITH its trailing slash and works without it too;
//     the body limit is 1 MiB unless withBodyLimit says otherwise.
//   - Wrap with s.requireAuth (401 without a valid token, CSRF check for
//     cookie sessions) or s.optionalAuth (anonymous allowed); the handler
//     gets the auth.Identity, and rpcContext(r, id) forwards the token.
//   - Ids in paths: {id} plus pathID(r, "id"); anything non-numeric is 404.
//   - Lists: servePage (?limit=&cursor= and the Link header of the next
//     page), or readPage and setNextLink.
//   - Add the paths to openapi.yaml; the OpenAPI test checks real answers.
//
// An area's routes live in a method of its own (s.userRoutes(mux),
// s.postRoutes(mux), s.chatRoutes(mux)) called from here, one line each.
func (s *Server) routes(mux *http.ServeMux) {
	s.userRoutes(mux)
	s.mediaRoutes(mux)
	s.route(mux, "GET /api/openapi.yaml/", s.handleOpenAPI())
	s.route(mux, "GET /ws/chat/{room_id}/chat/", s.handleSocket(s.chatSocket))
	s.route(mux, "GET /ws/user/", s.handleSocket(s.userSocket))
	// Other areas are registered below, one line each.
	s.chatRoutes(mux)
	s.replyRoutes(mux)
	s.postRoutes(mux)
	s.blockRoutes(mux)
	s.moderationRoutes(mux)
	s.conversationRoutes(mux)
	s.pushRoutes(mux)

	// Everything else: the web client, or a JSON 404/405 for API paths.
	mux.Handle("/", s.handleFallback())
}

// handleSocket serves a WebSocket endpoint when the gateway has it
// (Config.ChatSocket, Config.UserSocket); 404 otherwise.
func (s *Server) handleSocket(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h == nil {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// apiPrefixes are the paths that never reach the web client: an unknown
// route under them is a JSON 404 (or 405 when another method exists).
var apiPrefixes = []string{"/api/", "/ws/", "/media/"}

func isAPIPath(p string) bool {
	for _, pre := range apiPrefixes {
		if strings.HasPrefix(p, pre) || p == strings.TrimSuffix(pre, "/") {
			return true
		}
	}
	return false
}

// handleFallback answers every request no route matched.
func (s *Server) handleFallback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isAPIPath(r.URL.Path) && s.web != nil {
			s.web.ServeHTTP(w, r)
			return
		}
		if allow := s.allowedMethods(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			errorJSON(w, http.StatusMethodNotAllowed, fmt.Sprintf(msgMethodNotAllowed, r.Method))
			return
		}
		errorJSON(w, http.StatusNotFound, msgNotFound)
	})
}

// allowedMethods lists the methods some route accepts for r's path (empty
// when the path is unknown).
func (s *Server) allowedMethods(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := s.mux.Handler(r2); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}
