package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// TestBlocksModerationSearchDM runs blocks, moderation, message search and
// direct messages end to end: real user, chat and post services on
// PostgreSQL, Redis and NATS, behind two gateway replicas (each subtest
// writes through one replica and reads through the other).
func TestBlocksModerationSearchDM(t *testing.T) {
	s := stack.Start(t, stack.Options{Gateways: 2})
	gw0, gw1 := s.Gateways[0], s.Gateways[1]
	setStaff := func(t *testing.T, a *account) {
		t.Helper()
		conn, err := pgx.Connect(context.Background(), s.Env.DatabaseURLs[stack.User])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		// What `go run ./services/user/cmd/staff -email ... -on` does.
		if _, err := conn.Exec(context.Background(), `UPDATE users SET is_staff = true WHERE id = $1`, a.id); err != nil {
			t.Fatal(err)
		}
	}
	_ = setStaff

	t.Run("blocks", func(t *testing.T) {
		t.Parallel()
		testBlocks(t, gw0, gw1)
	})
}

func testBlocks(t *testing.T, gw0, gw1 string) {
	a, b, c := register(t, gw0, "blka"), register(t, gw0, "blkb"), register(t, gw1, "blkc")

	// Bad input: nothing changes.
	wantJSON(t, "block self", do(t, gw0, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{"user": a.id}}),
		http.StatusBadRequest, `{"user":["You cannot block yourself."]}`)
	wantJSON(t, "block unknown", do(t, gw0, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{"user": 1 << 50}}),
		http.StatusNotFound, `{"detail":"User not found."}`)
	wantJSON(t, "block missing", do(t, gw0, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{}}),
		http.StatusBadRequest, `{"user":["This field is required."]}`)
	wantStatus(t, "block string", do(t, gw0, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{"user": "x"}}), http.StatusBadRequest)
	wantStatus(t, "block anonymous", do(t, gw0, req{method: "POST", path: "/api/user/block/", json: map[string]any{"user": b.id}}), http.StatusUnauthorized)
	wantStatus(t, "unblock unknown", do(t, gw0, req{method: "DELETE", path: fmt.Sprintf("/api/user/block/%d/", int64(1)<<50), token: a.access}), http.StatusNotFound)

	// b's profile is private and b has not added a: its email stays hidden.
	wantStatus(t, "b private", do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: b.access, json: map[string]any{"is_private": true}}), http.StatusOK)
	r := do(t, gw0, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{"user": b.id}})
	wantStatus(t, "block b", r, http.StatusCreated)
	if got := r.object(t); got["id"] != float64(b.id) || got["email"] != "" || got["nickname"] != b.nickname {
		t.Fatalf("block b answered %v, want id %d, blank email", got, b.id)
	}
	wantStatus(t, "block b again", do(t, gw1, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{"user": b.id}}), http.StatusCreated)
	wantStatus(t, "block c", do(t, gw1, req{method: "POST", path: "/api/user/block/", token: a.access, json: map[string]any{"user": c.id}}), http.StatusCreated)

	var list []map[string]any
	r = do(t, gw1, req{method: "GET", path: "/api/user/blocks/?limit=1", token: a.access})
	wantStatus(t, "blocks page 1", r, http.StatusOK)
	r.decode(t, &list)
	if len(list) != 1 || list[0]["id"] != float64(c.id) || list[0]["email"] != c.email {
		t.Fatalf("blocks page 1 = %v, want c (latest first)", list)
	}
	next := r.header.Get("Link")
	if !strings.Contains(next, `rel="next"`) {
		t.Fatalf("blocks page 1 Link = %q", next)
	}
	path := next[strings.Index(next, "/api/"):strings.Index(next, ">")]
	r = do(t, gw0, req{method: "GET", path: path, token: a.access})
	wantStatus(t, "blocks page 2", r, http.StatusOK)
	r.decode(t, &list)
	if len(list) != 1 || list[0]["id"] != float64(b.id) {
		t.Fatalf("blocks page 2 = %v, want b", list)
	}
	wantStatus(t, "blocks bad cursor", do(t, gw0, req{method: "GET", path: "/api/user/blocks/?cursor=zz", token: a.access}), http.StatusBadRequest)

	wantStatus(t, "unblock c", do(t, gw0, req{method: "DELETE", path: fmt.Sprintf("/api/user/block/%d/", c.id), token: a.access}), http.StatusNoContent)
	wantStatus(t, "unblock c again", do(t, gw1, req{method: "DELETE", path: fmt.Sprintf("/api/user/block/%d", c.id), token: a.access}), http.StatusNoContent)
	r = do(t, gw1, req{method: "GET", path: "/api/user/blocks/", token: a.access})
	r.decode(t, &list)
	if len(list) != 1 || list[0]["id"] != float64(b.id) {
		t.Fatalf("blocks after unblock = %v, want only b", list)
	}
	// Blocks are one-directional: b blocks nobody.
	r = do(t, gw1, req{method: "GET", path: "/api/user/blocks/", token: b.access})
	wantJSON(t, "b's blocks", r, http.StatusOK, `[]`)
}
