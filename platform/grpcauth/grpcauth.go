// Package grpcauth carries the end user's access token across gRPC calls.
// The gateway (or a service acting for a user) puts the token in the
// outgoing "authorization" metadata; every service verifies it again, so an
// internal caller never gets more than the user it acts for.
package grpcauth

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
)

const header = "authorization"

type ctxKey struct{}

type caller struct {
	claims accesstoken.Claims
	token  string
}

// Claims returns the verified claims of the calling user, if any.
func Claims(ctx context.Context) (accesstoken.Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(caller)
	return c.claims, ok
}

// UserID returns the calling user's id, or 0 when the call is anonymous.
func UserID(ctx context.Context) int64 {
	c, _ := Claims(ctx)
	return c.UserID
}

// Token returns the raw access token the call came with, for forwarding to
// another service on the same user's behalf.
func Token(ctx context.Context) string {
	c, _ := ctx.Value(ctxKey{}).(caller)
	return c.token
}

// WithToken returns a context whose outgoing gRPC calls carry token.
func WithToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, header, "Bearer "+token)
}

// Forward returns a context whose outgoing calls carry the same token as the
// incoming call of ctx.
func Forward(ctx context.Context) context.Context {
	return WithToken(ctx, Token(ctx))
}

// UnaryServerInterceptor verifies the bearer token of every call. Methods in
// optional (full names, e.g. "/cobraspace.post.v1.PostService/ListPosts")
// accept anonymous callers but still verify a token when one is sent; every
// other method answers UNAUTHENTICATED without a valid access token, unless
// the caller proved a service identity (platform/servicetrust, whose
// interceptor runs first): then the handler decides what that service may
// do without a user.
func UnaryServerInterceptor(v *accesstoken.Verifier, optional []string) grpc.UnaryServerInterceptor {
	anon := make(map[string]bool, len(optional))
	for _, m := range optional {
		anon[m] = true
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		token := bearer(ctx)
		if token == "" {
			if anon[info.FullMethod] || servicetrust.Caller(ctx) != "" {
				return handler(ctx, req)
			}
			return nil, status.Error(codes.Unauthenticated, "Authentication credentials were not provided.")
		}
		claims, err := v.Verify(token, accesstoken.TypeAccess)
		if err != nil {
			return nil, status.Error(codes.Unauthenticated, "Given token not valid.")
		}
		return handler(context.WithValue(ctx, ctxKey{}, caller{claims: claims, token: token}), req)
	}
}

// RejectRevoked answers UNAUTHENTICATED, as for an invalid token, when the
// session of the caller's verified token was revoked (logout, refresh-token
// reuse): revoked(ctx, sessionID) is revocation.Checker.Revoked in
// production. It runs after UnaryServerInterceptor, on every call, so a
// token whose signature check was cached is still refused at once.
// Anonymous calls pass.
func RejectRevoked(revoked func(ctx context.Context, sessionID string) bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if c, ok := Claims(ctx); ok && revoked(ctx, c.SessionID()) {
			return nil, status.Error(codes.Unauthenticated, "Given token not valid.")
		}
		return handler(ctx, req)
	}
}

// bearer reads only the authorization values: FromIncomingContext would
// copy every header of the call, on every call.
func bearer(ctx context.Context) string {
	for _, v := range metadata.ValueFromIncomingContext(ctx, header) {
		if t, ok := strings.CutPrefix(v, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}
