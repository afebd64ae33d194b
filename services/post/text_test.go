package main

import (
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/cobraspace/cobraspace/platform/fielderr"
	postv1 "github.com/cobraspace/cobraspace/proto/cobraspace/post/v1"
)

// TestUnstorableTextOverRPC: the post service refuses NUL and other
// control characters from any gRPC caller with INVALID_ARGUMENT naming
// the field, in stored text and in list filters (a NUL tag filter reached
// PostgreSQL: a 500).
func TestUnstorableTextOverRPC(t *testing.T) {
	t.Parallel()
	e := start(t)
	alice := e.as(t, 1)
	prog := e.categoryID(t, "Programming")
	p, err := e.client.CreatePost(alice, &postv1.CreatePostRequest{Title: "t", Content: "c", CategoryId: prog})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ text, msg string }{
		{"\x00", "Null characters are not allowed."},
		{"\x1b", "Control characters are not allowed."},
	} {
		calls := []struct {
			field string
			call  func() error
		}{
			{"title", func() error {
				_, err := e.client.CreatePost(alice, &postv1.CreatePostRequest{Title: "t" + bad.text, Content: "c", CategoryId: prog})
				return err
			}},
			{"content", func() error {
				_, err := e.client.UpdatePost(alice, &postv1.UpdatePostRequest{Id: p.GetId(), Content: "c" + bad.text, UpdateMask: []string{"content"}})
				return err
			}},
			{"tags", func() error {
				_, err := e.client.CreatePost(alice, &postv1.CreatePostRequest{Title: "t", Content: "c", CategoryId: prog, Tags: []string{"go" + bad.text}})
				return err
			}},
			{"name", func() error {
				_, err := e.client.CreateCategory(alice, &postv1.CreateCategoryRequest{Name: "cat" + bad.text})
				return err
			}},
			{"search", func() error {
				_, err := e.client.ListPosts(e.ctx, &postv1.ListPostsRequest{Search: "go" + bad.text})
				return err
			}},
			{"tag", func() error {
				_, err := e.client.ListPosts(e.ctx, &postv1.ListPostsRequest{Tag: "go" + bad.text})
				return err
			}},
		}
		for _, c := range calls {
			err := c.call()
			wantCode(t, c.field, err, codes.InvalidArgument, bad.msg)
			if f := fielderr.FromError(err); len(f[c.field]) != 1 || f[c.field][0] != bad.msg {
				t.Errorf("%s %q: got fields %v, want %s", c.field, bad.text, f, bad.msg)
			}
		}
	}
	// Tabs and line breaks are text (Markdown needs them).
	if _, err := e.client.UpdatePost(alice, &postv1.UpdatePostRequest{Id: p.GetId(), Content: "a\tb\r\nc", UpdateMask: []string{"content"}}); err != nil {
		t.Errorf("content with tabs and line breaks: %v", err)
	}
}
