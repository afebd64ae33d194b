package httpapi

import (
	"net/http"

	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
)

// pushRoutes registers /api/notifications/push/...: a browser's Web Push
// subscription, kept by the user service, which pushes the caller's
// notifications to it while no page of theirs is open. With push off (no
// VAPID keys) every route answers 404.
func (s *Server) pushRoutes(mux *http.ServeMux) {
	s.route(mux, "GET /api/notifications/push/key/", s.requireAuth(s.handlePushKey()))
	s.route(mux, "GET /api/notifications/push/", s.requireAuth(s.handleListPush()))
	s.route(mux, "POST /api/notifications/push/", s.requireAuth(s.handleSubscribePush()))
	s.route(mux, "DELETE /api/notifications/push/", s.requireAuth(s.handleUnsubscribePush()))
}

// pushDeviceJSON is one of the caller's subscribed devices. The keys are
// left out: they are the browser's, and nothing on the page needs them.
type pushDeviceJSON struct {
	Endpoint      string  `json:"endpoint"`
	UserAgent     string  `json:"user_agent"`
	CreatedAt     *string `json:"created_at"`
	LastSuccessAt *string `json:"last_success_at"`
}

func newPushDevice(p *userv1.PushSubscription) pushDeviceJSON {
	return pushDeviceJSON{
		Endpoint: p.GetEndpoint(), UserAgent: p.GetUserAgent(),
		CreatedAt: rfc3339(p.GetCreatedAt()), LastSuccessAt: rfc3339(p.GetLastSuccessAt()),
	}
}

// handlePushKey: GET push/key/ → {"public_key"}, the VAPID key to pass as
// applicationServerKey to PushManager.subscribe.
func (s *Server) handlePushKey() authedHandler {
	type response struct {
		PublicKey string `json:"public_key"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		res, err := s.users.GetPushKey(rpcContext(r, id), &userv1.GetPushKeyRequest{})
		respond(s, w, r, http.StatusOK, res, err, func(res *userv1.GetPushKeyResponse) response {
			return response{PublicKey: res.GetPublicKey()}
		})
	}
}

// handleListPush: GET push/ → the caller's devices, newest first.
func (s *Server) handleListPush() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		res, err := s.users.ListPushSubscriptions(rpcContext(r, id), &userv1.ListPushSubscriptionsRequest{})
		respond(s, w, r, http.StatusOK, res, err, func(res *userv1.ListPushSubscriptionsResponse) []pushDeviceJSON {
			return convert(res.GetSubscriptions(), newPushDevice)
		})
	}
}

// handleSubscribePush: POST push/ {"endpoint","keys":{"p256dh","auth"}}
// (PushSubscription.toJSON(); its "expirationTime" is accepted and
// ignored) → 201 the device. Idempotent per endpoint. Field errors name
// "endpoint", "keys.p256dh" and "keys.auth".
func (s *Server) handleSubscribePush() authedHandler {
	type keys struct {
		P256dh *string `json:"p256dh"`
		Auth   *string `json:"auth"`
	}
	type request struct {
		Endpoint       *string `json:"endpoint"`
		ExpirationTime *int64  `json:"expirationTime"`
		Keys           *keys   `json:"keys"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) {
			required(errs, "endpoint", req.Endpoint)
			if req.Keys == nil {
				errs["keys"] = []string{msgRequired}
				return
			}
			required(errs, "keys.p256dh", req.Keys.P256dh)
			required(errs, "keys.auth", req.Keys.Auth)
		})
		if !ok {
			return
		}
		res, err := s.users.SubscribePush(rpcContext(r, id), &userv1.SubscribePushRequest{Subscription: &userv1.PushSubscription{
			Endpoint: *req.Endpoint, P256Dh: *req.Keys.P256dh, Auth: *req.Keys.Auth, UserAgent: r.UserAgent(),
		}})
		respond(s, w, r, http.StatusCreated, res, err, func(res *userv1.SubscribePushResponse) pushDeviceJSON {
			return newPushDevice(res.GetSubscription())
		})
	}
}

// handleUnsubscribePush: DELETE push/ {"endpoint"} → 204, also when the
// caller had no such subscription.
func (s *Server) handleUnsubscribePush() authedHandler {
	type request struct {
		Endpoint *string `json:"endpoint"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) {
			required(errs, "endpoint", req.Endpoint)
		})
		if !ok {
			return
		}
		_, err := s.users.UnsubscribePush(rpcContext(r, id), &userv1.UnsubscribePushRequest{Endpoint: *req.Endpoint})
		s.respondNoContent(w, r, err)
	}
}
