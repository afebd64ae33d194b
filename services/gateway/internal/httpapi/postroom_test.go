package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// TestPostRooms: a room bound to a post is made only by writing the post,
// or by its writer when the post has lost its room; nobody can take the id
// of a post not written yet (which made that post's write fail with 503),
// a post that does not exist, or someone else's post.
func TestPostRooms(t *testing.T) {
	s := stack.Start(t, stack.Options{LogLevel: "warn"})
	anon := api{t: t, base: s.Gateways[0]}
	aliceAcc, bobAcc := register(t, s.Gateways[0], "alice"), register(t, s.Gateways[0], "bob")
	alice, bob := anon.as(aliceAcc.access), anon.as(bobAcc.access)
	var cats []struct {
		ID int64 `json:"id"`
	}
	anon.want(http.StatusOK, "GET", "/api/post/categories/", nil, &cats)
	write := func(title string) postObj {
		t.Helper()
		var p postObj
		alice.want(http.StatusCreated, "POST", "/api/post/write/",
			map[string]any{"title": title, "content": "body", "category": cats[0].ID}, &p)
		return p
	}
	type room struct {
		ID    int64 `json:"id"`
		Owner int64 `json:"owner"`
		Post  int64 `json:"post"`
	}
	createRoom := func(as api, postID int64) *resp {
		t.Helper()
		return as.do("POST", "/api/chat/room/", map[string]any{"name": "mine now", "post": postID})
	}
	first := write("first")

	// The next post's id (the private database hands out ids in order),
	// a huge id and someone else's post are all refused.
	next := first.ID + 1
	wantJSON(t, "room for the next post id", createRoom(bob, next), http.StatusBadRequest,
		fmt.Sprintf(`{"post":["Invalid pk \"%d\" - object does not exist."]}`, next))
	wantJSON(t, "room for post 900000000", createRoom(bob, 900000000), http.StatusBadRequest,
		`{"post":["Invalid pk \"900000000\" - object does not exist."]}`)
	wantJSON(t, "room for alice's post, as bob", createRoom(bob, first.ID), http.StatusForbidden,
		`{"detail":"You do not have permission to perform this action."}`)
	wantJSON(t, "second room for a post that has one", createRoom(alice, first.ID), http.StatusBadRequest,
		`{"post":["This post already has a chat room."]}`)

	// The post that gets the id bob tried is written normally.
	second := write("second")
	if second.ID != next {
		t.Fatalf("second post got id %d, want %d (the id bob tried)", second.ID, next)
	}
	var r room
	alice.want(http.StatusOK, "GET", fmt.Sprintf("/api/chat/room/%d/", second.RoomID), nil, &r)
	if r.Owner != aliceAcc.id || r.Post != second.ID {
		t.Errorf("room of the second post: %+v, want owner %d, post %d", r, aliceAcc.id, second.ID)
	}

	// After alice deletes the post's room, bob cannot bind one to it; alice
	// can, and the post points at the new room.
	alice.want(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/chat/room/%d/", second.RoomID), nil, nil)
	wantStatus(t, "bob binds a room to alice's roomless post", createRoom(bob, second.ID), http.StatusForbidden)
	again := createRoom(alice, second.ID)
	wantStatus(t, "alice binds a new room to her post", again, http.StatusCreated)
	again.decode(t, &r)
	if r.Owner != aliceAcc.id || r.Post != second.ID || r.ID == second.RoomID {
		t.Errorf("new room: %+v, want a new room of post %d owned by %d", r, second.ID, aliceAcc.id)
	}
	var detail struct {
		RoomID int64 `json:"room_id"`
	}
	alice.want(http.StatusOK, "GET", fmt.Sprintf("/api/post/detail/%d/", second.ID), nil, &detail)
	if detail.RoomID != r.ID {
		t.Errorf("post's room_id %d, want the new room %d", detail.RoomID, r.ID)
	}
}
