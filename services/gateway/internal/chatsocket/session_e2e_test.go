package chatsocket_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/grpcauth"
	"github.com/cobraspace/cobraspace/platform/grpcclient"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/testenv"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	postv1 "github.com/cobraspace/cobraspace/proto/cobraspace/post/v1"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// TestSessionRevocationE2E: revoking a session (refresh-token reuse,
// logout) rejects EVERY access token of that session, not only the one
// presented, at once on every gateway replica and in every service, and
// closes the session's sockets on every replica; other sessions of the
// same user keep working.
func TestSessionRevocationE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	s := stack.Start(t, stack.Options{Gateways: 2})
	gws := s.Gateways
	a, b := gws[0], gws[1]
	room := e2eRoom(t, a, e2eSignup(t, a))

	// profile asserts the answer to GET profile with token on every replica.
	profile := func(t *testing.T, what, token string, want int) {
		t.Helper()
		for _, gw := range gws {
			if code, body := e2eRequest(t, "GET", gw+"/api/user/profile/", token, nil); code != want {
				t.Errorf("%s via %s: got %d %s, want %d", what, gw, code, body, want)
			}
		}
	}
	refresh := func(t *testing.T, gw, token string) (code int, access, next string) {
		t.Helper()
		code, body := e2eRequest(t, "POST", gw+"/api/user/token/refresh/", "", map[string]string{"refresh": token})
		var pair struct{ Access, Refresh string }
		_ = json.Unmarshal(body, &pair)
		return code, pair.Access, pair.Refresh
	}
	// socket opens a chat socket with token on gw and waits until it joined.
	socket := func(t *testing.T, gw, token string) *testConn {
		t.Helper()
		c := mustE2E(t, gw, room, e2eUser{token: token}, "")
		c.nextOf("chat.presence")
		return c
	}
	wantClosed := func(t *testing.T, what string, c *testConn, since time.Time) {
		t.Helper()
		if got := c.closeCode(2 * time.Second); got != websocket.ClosePolicyViolation {
			t.Errorf("%s: got close %d, want 1008", what, got)
		}
		if d := time.Since(since); d > 2*time.Second {
			t.Errorf("%s: closed after %v, want within 2 s", what, d)
		}
	}

	t.Run("refresh token reuse revokes the whole session", func(t *testing.T) {
		email, pw := e2eRegister(t, a)
		a1, r1 := e2eLogin(t, a, email, pw)
		sock := socket(t, b, a1)
		code, a2, _ := refresh(t, a, r1)
		if code != http.StatusOK {
			t.Fatalf("refresh: got %d", code)
		}
		profile(t, "A1 before the reuse", a1, http.StatusOK)
		profile(t, "A2 before the reuse", a2, http.StatusOK)

		start := time.Now()
		if code, _, _ := refresh(t, a, r1); code != http.StatusUnauthorized {
			t.Fatalf("reuse of R1: got %d, want 401", code)
		}
		profile(t, "A1 after the reuse", a1, http.StatusUnauthorized)
		profile(t, "A2 after the reuse", a2, http.StatusUnauthorized)
		wantClosed(t, "socket opened with A1 on the other replica", sock, start)
	})

	t.Run("logout rejects older tokens of the session only", func(t *testing.T) {
		email, pw := e2eRegister(t, a)
		a1, r1 := e2eLogin(t, a, email, pw)
		_, a2, r2 := refresh(t, b, r1)
		// The same user on another device: a second session.
		other, _ := e2eLogin(t, b, email, pw)
		sockA := socket(t, a, a1)
		sockB := socket(t, b, a1)
		otherSock := socket(t, a, other)

		// Direct gRPC calls, as another service (or an attacker inside
		// the network) would make them. The first calls with A1 succeed,
		// so the chat service has the token's verification cached.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		users := userv1.NewUserServiceClient(dialGRPC(t, s.UserAddr))
		posts := postv1.NewPostServiceClient(dialGRPC(t, s.PostAddr))
		chats := chatv1.NewChatServiceClient(dialGRPC(t, s.ChatAddr))
		rpcs := map[string]func(token string) error{
			"user GetProfile": func(token string) error {
				_, err := users.GetProfile(grpcauth.WithToken(ctx, token), &userv1.GetProfileRequest{})
				return err
			},
			"post CreateCategory": func(token string) error {
				_, err := posts.CreateCategory(grpcauth.WithToken(ctx, token), &postv1.CreateCategoryRequest{Name: "c" + testenv.ID()})
				return err
			},
			"chat GetRoom": func(token string) error {
				_, err := chats.GetRoom(grpcauth.WithToken(ctx, token), &chatv1.GetRoomRequest{Id: room})
				return err
			},
		}
		for name, call := range rpcs {
			if err := call(a1); err != nil {
				t.Fatalf("%s with A1 before logout: %v", name, err)
			}
		}

		start := time.Now()
		if code, body := e2eRequest(t, "POST", b+"/api/user/logout/", a2, map[string]string{"refresh": r2}); code != http.StatusOK {
			t.Fatalf("logout with A2: got %d %s", code, body)
		}
		profile(t, "A1 after logout with A2", a1, http.StatusUnauthorized)
		if code, body := e2eRequest(t, "POST", a+"/api/chat/room/", a1, map[string]string{"name": "after logout"}); code != http.StatusUnauthorized {
			t.Errorf("write with A1 after logout: got %d %s, want 401", code, body)
		}
		for _, gw := range gws {
			_, resp, err := e2eDial(t, gw, room, e2eUser{token: a1}, "")
			if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("socket handshake with A1 via %s: got %v, want 401", gw, err)
			}
		}
		wantClosed(t, "socket with A1 on the logout's replica", sockB, start)
		wantClosed(t, "socket with A1 on the other replica", sockA, start)
		for name, call := range rpcs {
			if err := call(a1); status.Code(err) != codes.Unauthenticated {
				t.Errorf("%s with A1 after logout: got %v, want Unauthenticated", name, err)
			}
		}

		// The other session is untouched: REST, its socket, direct calls.
		profile(t, "the other session after logout", other, http.StatusOK)
		otherSock.send(map[string]any{"type": "chat.message", "message": "still here"})
		if f := otherSock.nextOf("chat.message"); !strings.Contains(f.Message, "still here") {
			t.Errorf("other session's socket: got %+v", f)
		}
		for name, call := range rpcs {
			if err := call(other); err != nil {
				t.Errorf("%s with the other session after logout: %v", name, err)
			}
		}
	})
}

// dialGRPC connects as an outside caller with no service identity: only
// the user token each call carries vouches for it.
func dialGRPC(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcclient.Dial(addr, servicetrust.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
