package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cobraspace/cobraspace/platform/safetext"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	postv1 "github.com/cobraspace/cobraspace/proto/cobraspace/post/v1"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
)

// fuzzRoutes are the REST routes that decode a request body (RELIABILITY.md
// B1/B8 for REST): registration, login, refresh, profile, friends, post
// write/edit, categories, rooms and messages.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/api/user/registration/"},
	{"POST", "/api/user/login/"},
	{"POST", "/api/user/token/refresh/"},
	{"PATCH", "/api/user/profile/"},
	{"POST", "/api/user/add-friend/"},
	{"POST", "/api/user/delete-friend/"},
	{"POST", "/api/post/write/"},
	{"PATCH", "/api/post/detail/3/edit/"},
	{"PUT", "/api/post/detail/3/edit/"},
	{"POST", "/api/post/categories/"},
	{"POST", "/api/chat/room/"},
	{"PATCH", "/api/chat/room/3/"},
	{"POST", "/api/chat/message/"},
	{"PATCH", "/api/chat/message/3/"},
	{"POST", "/api/chat/room/3/read/"},
	{"POST", "/api/notifications/read/"},
}

// fuzzConn answers every RPC of every service: with INVALID_ARGUMENT
// (reject) or with an empty reply (accept), so each body is followed
// through the handler's error or success path without a back end. It
// records in forwarded the first text of a request that safetext refuses:
// the gateway must never pass such text on (PostgreSQL cannot store a NUL).
type fuzzConn struct {
	accept    *bool
	forwarded *string
}

func (c fuzzConn) Invoke(_ context.Context, method string, args, _ any, _ ...grpc.CallOption) error {
	if m, ok := args.(proto.Message); ok && *c.forwarded == "" {
		if s, bad := refusedText(m.ProtoReflect()); bad {
			*c.forwarded = fmt.Sprintf("%s got %q", method, s)
		}
	}
	if *c.accept {
		return nil
	}
	return status.Error(codes.InvalidArgument, "rejected")
}

// refusedText returns the first string within m that safetext refuses.
func refusedText(m protoreflect.Message) (bad string, found bool) {
	check := func(v protoreflect.Value, fd protoreflect.FieldDescriptor) {
		switch fd.Kind() {
		case protoreflect.StringKind:
			if !found && safetext.Check(v.String()) != nil {
				bad, found = v.String(), true
			}
		case protoreflect.MessageKind, protoreflect.GroupKind:
			if s, ok := refusedText(v.Message()); ok && !found {
				bad, found = s, true
			}
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			for i := range v.List().Len() {
				check(v.List().Get(i), fd)
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				check(k.Value(), fd.MapKey())
				check(mv, fd.MapValue())
				return true
			})
		default:
			check(v, fd)
		}
		return !found
	})
	return bad, found
}

func (fuzzConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "no streams")
}

// FuzzRESTBodies sends arbitrary bodies with arbitrary content types to
// every route that decodes one. Whatever the input: no panic and no 5xx,
// no text with NUL, control characters or invalid UTF-8 forwarded to a
// service,
// the answer is JSON (or empty for 204), client errors are 400/413/415,
// and no Go or decoder internals leak into it. The seed corpus in
// testdata/fuzz runs in every `go test`; fuzz further with
// `go test -run '^$' -fuzz '^FuzzRESTBodies$' -fuzztime 1m ./internal/httpapi/`.
func FuzzRESTBodies(f *testing.F) {
	log, authn, token := testAuth(f, 7)
	accept, forwarded := new(bool), new(string)
	conn := fuzzConn{accept: accept, forwarded: forwarded}
	api, err := NewServer(Config{
		Logger:  log,
		Auth:    authn,
		Origins: auth.NewOrigins(nil, false),
		Users:   userv1.NewUserServiceClient(conn),
		Posts:   postv1.NewPostServiceClient(conn),
		Chat:    chatv1.NewChatServiceClient(conn),
	})
	if err != nil {
		f.Fatal(err)
	}

	f.Add(uint8(0), false, "application/json", []byte(`{"email":"a@example.com","password":"Quiet-Lantern-1"}`))
	f.Add(uint8(6), true, "application/json", []byte(`{"title":"t","content":"c","category":"1","tags":["go",{"name":"grpc"}]}`))
	f.Add(uint8(3), false, "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"bio\"\r\n\r\nhi\r\n--x--\r\n"))

	f.Fuzz(func(t *testing.T, route uint8, ok bool, contentType string, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		*accept, *forwarded = ok, ""
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)

		res := w.Result()
		got := w.Body.Bytes()
		if *forwarded != "" {
			t.Fatalf("%s %s (%q, %q): forwarded refused text: %s", rt.method, rt.path, contentType, body, *forwarded)
		}
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s (%q, %q): got %d %s", rt.method, rt.path, contentType, body, res.StatusCode, got)
		}
		if res.StatusCode >= 400 {
			switch res.StatusCode {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			case http.StatusForbidden, http.StatusNotFound:
				// Accepted mode: the empty replies name owner 0, not the caller.
			case http.StatusTooManyRequests:
				// Fuzzing sends far more than the per-user REST chat send
				// limit allows (B7); no other route is limited.
				if rt.path != "/api/chat/message/" {
					t.Fatalf("%s %s (%q, %q): got 429 %s", rt.method, rt.path, contentType, body, got)
				}
			default:
				t.Fatalf("%s %s (%q, %q): got %d %s, want 400/403/404/413/415", rt.method, rt.path, contentType, body, res.StatusCode, got)
			}
		}
		if res.StatusCode == http.StatusNoContent {
			return
		}
		var v any
		if err := json.Unmarshal(got, &v); err != nil {
			t.Fatalf("%s %s (%q, %q): answer is not JSON: %d %q", rt.method, rt.path, contentType, body, res.StatusCode, got)
		}
		if res.StatusCode >= 400 {
			for _, leak := range []string{"json:", "*string", "int64", "rpc error", "reflect", "goroutine"} {
				if strings.Contains(string(got), leak) {
					t.Fatalf("%s %s (%q, %q): answer leaks %q: %s", rt.method, rt.path, contentType, body, leak, got)
				}
			}
		}
	})
}
