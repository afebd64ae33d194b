package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/cobraspace/cobraspace/platform/grpcauth"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
)

// authedHandler is a handler that needs the caller's identity.
type authedHandler func(w http.ResponseWriter, r *http.Request, id auth.Identity)

// requireAuth runs h for authenticated callers only: 401 without a valid,
// unrevoked access token; 403 for a cookie-authenticated write from a
// foreign origin (CSRF).
func (s *Server) requireAuth(h authedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if id.UserID == 0 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
			errorJSON(w, http.StatusUnauthorized, msgNoCredentials)
			return
		}
		h(w, r.WithContext(auth.WithIdentity(r.Context(), id)), id)
	})
}

// optionalAuth runs h for anonymous callers too (id.UserID == 0); a token
// that is present but invalid is still a 401, as is a failed CSRF check.
func (s *Server) optionalAuth(h authedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if id.UserID != 0 {
			r = r.WithContext(auth.WithIdentity(r.Context(), id))
		}
		h(w, r, id)
	})
}

// authenticate identifies the caller; it answers (and returns false) for
// an invalid token or a CSRF failure. No credentials is not an error here.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (auth.Identity, bool) {
	id, err := s.auth.Authenticate(r)
	switch {
	case errors.Is(err, auth.ErrNoCredentials):
		return auth.Identity{}, true
	case err != nil:
		w.Header().Set("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
		errorJSON(w, http.StatusUnauthorized, msgTokenNotValid)
		return auth.Identity{}, false
	}
	if id.ViaCookie && !s.origins.CheckCSRF(r) {
		errorJSON(w, http.StatusForbidden, auth.CSRFMessage)
		return auth.Identity{}, false
	}
	infoOf(r.Context()).userID = id.UserID
	return id, true
}

// rpcContext returns the context for service calls made for id: the
// request's context carrying id's access token (nothing for anonymous).
func rpcContext(r *http.Request, id auth.Identity) context.Context {
	return grpcauth.WithToken(r.Context(), id.Token)
}
