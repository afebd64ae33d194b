// Package httpapi is the gateway's public REST API (docs/api.md): it
// authenticates requests, validates JSON, calls the user, post and chat
// services over gRPC and writes the contract's JSON. Every route is in
// routes.go; handlers live next to their area (users.go, posts.go,
// chat.go); shared helpers are decode/encode (respond.go), rpcError
// (grpcerr.go, the one gRPC → HTTP table) and pagination (page.go).
package httpapi

import (
	"log/slog"
	"net/http"
	"net/netip"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	postv1 "github.com/cobraspace/cobraspace/proto/cobraspace/post/v1"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
	"github.com/cobraspace/cobraspace/services/gateway/internal/ratelimit"
)

// Config holds the dependencies of the REST API.
type Config struct {
	Logger *slog.Logger
	// Auth verifies access tokens; Origins is the CSRF/WebSocket origin
	// allowlist (ALLOWED_ORIGINS).
	Auth    *auth.Authenticator
	Origins *auth.Origins
	// Service clients.
	Users userv1.UserServiceClient
	Posts postv1.PostServiceClient
	Chat  chatv1.ChatServiceClient
	// CookieSecure marks the token cookies Secure (COOKIE_SECURE; true
	// behind HTTPS).
	CookieSecure bool
	// TrustedProxies are the peers whose X-Forwarded-For is believed
	// (TRUSTED_PROXY_CIDRS).
	TrustedProxies []netip.Prefix
	// ChatSocket serves GET /ws/chat/{room_id}/chat/ (the chatsocket
	// handler); nil answers 404.
	ChatSocket http.Handler
	// UserSocket serves GET /ws/user/ (the caller's live stream of
	// notifications and unread counts); nil answers 404.
	UserSocket http.Handler
	// Web serves every path outside /api/, /ws/ and /media/ (the browser
	// client); nil answers a JSON 404.
	Web http.Handler
	// Metrics registers the HTTP metrics (nil: not registered).
	Metrics prometheus.Registerer
	// SendLimit is the per-user chat send limit shared with the sockets
	// (nil: one of this server's own, without Redis).
	SendLimit *ratelimit.Users
}

// Server is the REST API. Its fields are what handlers use; it is built
// once by NewServer and is safe for concurrent use.
type Server struct {
	log     *slog.Logger
	auth    *auth.Authenticator
	origins *auth.Origins
	users   userv1.UserServiceClient
	posts   postv1.PostServiceClient
	chat    chatv1.ChatServiceClient

	cookieSecure   bool
	trustedProxies []netip.Prefix
	chatSocket     http.Handler
	userSocket     http.Handler
	web            http.Handler
	metrics        *httpMetrics
	// sendLimit bounds chat sends per user, across replicas, with the
	// same numbers as a socket.
	sendLimit *ratelimit.Users
	// listCache holds anonymous post-list answers (listcache.go).
	listCache *pageCache
	// postRefs are the writers and rooms of posts seen; summaries and
	// rooms what anonymous post details may reuse (postrefs.go).
	postRefs  *lru.Cache[int64, postRef]
	summaries recent[*userv1.UserSummary]
	rooms     recent[*chatv1.Room]

	mux     *http.ServeMux
	handler http.Handler
}

// NewServer returns the REST API handler with every route and the
// middleware (request id, access log, panic recovery, security headers).
// It fails only when the metrics cannot be registered.
func NewServer(cfg Config) (*Server, error) {
	m, err := newHTTPMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	s := &Server{
		log:            cfg.Logger,
		auth:           cfg.Auth,
		origins:        cfg.Origins,
		users:          cfg.Users,
		posts:          cfg.Posts,
		chat:           cfg.Chat,
		cookieSecure:   cfg.CookieSecure,
		trustedProxies: cfg.TrustedProxies,
		chatSocket:     cfg.ChatSocket,
		userSocket:     cfg.UserSocket,
		web:            cfg.Web,
		metrics:        m,
		sendLimit:      cfg.SendLimit,
		listCache:      newPageCache(listCacheTTL, listCacheMaxAge),
		postRefs:       newPostRefs(),
		summaries:      newRecent[*userv1.UserSummary](),
		rooms:          newRecent[*chatv1.Room](),
		mux:            http.NewServeMux(),
	}
	if s.sendLimit == nil {
		s.sendLimit = ratelimit.NewUsers(nil, "", cfg.Logger)
	}
	s.routes(s.mux)
	s.handler = s.withRequestLog(s.withRecover(s.withSecurityHeaders(s.mux)))
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// WriteError writes {"detail": msg} with status; the chat socket handshake
// uses it so its refusals look like every other API error.
func WriteError(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	errorJSON(w, status, msg)
}
