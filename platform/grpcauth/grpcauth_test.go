package grpcauth

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
)

func TestUnaryServerInterceptor(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	token, err := accesstoken.NewSigner(priv).Sign(accesstoken.Claims{UserID: 7, Email: "u@example.com",
		Type: accesstoken.TypeAccess, ID: "jti-1", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	const protected, anonymous = "/svc.S/Write", "/svc.S/Read"
	intercept := UnaryServerInterceptor(accesstoken.NewVerifier(pub), []string{anonymous})
	tests := []struct {
		name     string
		method   string
		md       metadata.MD // incoming metadata; nil: none at all
		wantCode codes.Code
		wantUID  int64
	}{
		{"token", protected, metadata.Pairs("authorization", "Bearer "+token), codes.OK, 7},
		// Metadata built by hand may keep the header's capitals.
		{"header name in capitals", protected, metadata.MD{"Authorization": {"Bearer " + token}}, codes.OK, 7},
		{"no metadata", protected, nil, codes.Unauthenticated, 0},
		{"no token", protected, metadata.Pairs("x-other", "1"), codes.Unauthenticated, 0},
		{"not a bearer token", protected, metadata.Pairs("authorization", "Basic "+token), codes.Unauthenticated, 0},
		{"bad token", protected, metadata.Pairs("authorization", "Bearer "+token+"x"), codes.Unauthenticated, 0},
		{"anonymous method without token", anonymous, nil, codes.OK, 0},
		{"anonymous method with token", anonymous, metadata.Pairs("authorization", "Bearer "+token), codes.OK, 7},
		{"anonymous method with bad token", anonymous, metadata.Pairs("authorization", "Bearer x"), codes.Unauthenticated, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.md != nil {
				ctx = metadata.NewIncomingContext(ctx, tt.md)
			}
			var gotUID int64 = -1
			var gotToken string
			_, err := intercept(ctx, "req", &grpc.UnaryServerInfo{FullMethod: tt.method}, func(ctx context.Context, _ any) (any, error) {
				gotUID, gotToken = UserID(ctx), Token(ctx)
				return "resp", nil
			})
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("got code %v, want %v", got, tt.wantCode)
			}
			if tt.wantCode != codes.OK {
				if gotUID != -1 {
					t.Error("handler called for a refused call")
				}
				return
			}
			if gotUID != tt.wantUID {
				t.Errorf("user id: got %d, want %d", gotUID, tt.wantUID)
			}
			wantToken := "" // anonymous calls forward no token
			if tt.wantUID != 0 {
				wantToken = token
			}
			if gotToken != wantToken {
				t.Errorf("token: got %q, want %q", gotToken, wantToken)
			}
		})
	}
}

func TestRejectRevoked(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(family string) string {
		tok, err := accesstoken.NewSigner(priv).Sign(accesstoken.Claims{UserID: 7, Type: accesstoken.TypeAccess,
			ID: "jti-" + family, Family: family, ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	const anonymous = "/svc.S/Read"
	verify := UnaryServerInterceptor(accesstoken.NewVerifier(pub), []string{anonymous})
	var asked []string
	reject := RejectRevoked(func(_ context.Context, sessionID string) bool {
		asked = append(asked, sessionID)
		return sessionID == "gone"
	})
	// The server chains them in this order (grpcserver.New).
	call := func(method string, md metadata.MD) error {
		ctx := context.Background()
		if md != nil {
			ctx = metadata.NewIncomingContext(ctx, md)
		}
		_, err := verify(ctx, "req", &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, req any) (any, error) {
			return reject(ctx, req, &grpc.UnaryServerInfo{FullMethod: method}, func(context.Context, any) (any, error) { return "resp", nil })
		})
		return err
	}
	if err := call("/svc.S/Write", metadata.Pairs("authorization", "Bearer "+sign("live"))); err != nil {
		t.Errorf("live session: got %v, want OK", err)
	}
	err = call("/svc.S/Write", metadata.Pairs("authorization", "Bearer "+sign("gone")))
	if status.Code(err) != codes.Unauthenticated || status.Convert(err).Message() != "Given token not valid." {
		t.Errorf("revoked session: got %v, want Unauthenticated \"Given token not valid.\"", err)
	}
	err = call(anonymous, metadata.Pairs("authorization", "Bearer "+sign("gone")))
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("revoked session on an anonymous method: got %v, want Unauthenticated", err)
	}
	asked = nil
	if err := call(anonymous, nil); err != nil || len(asked) != 0 {
		t.Errorf("anonymous call: got %v after asking %v, want OK without a look-up", err, asked)
	}
}
