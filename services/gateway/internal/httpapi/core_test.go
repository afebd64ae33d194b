package httpapi

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/fielderr"
)

func TestHTTPStatus(t *testing.T) {
	cases := []struct {
		code codes.Code
		want int
	}{
		{codes.InvalidArgument, 400},
		{codes.FailedPrecondition, 400},
		{codes.OutOfRange, 400},
		{codes.Unauthenticated, 401},
		{codes.PermissionDenied, 403},
		{codes.NotFound, 404},
		{codes.AlreadyExists, 409},
		{codes.Aborted, 409},
		{codes.ResourceExhausted, 429},
		{codes.Unavailable, 503},
		{codes.DeadlineExceeded, 503},
		{codes.Internal, 500},
		{codes.Unknown, 500},
		{codes.Unimplemented, 500},
		{codes.DataLoss, 500},
	}
	for _, tc := range cases {
		if got := HTTPStatus(tc.code); got != tc.want {
			t.Errorf("HTTPStatus(%v): got %d, want %d", tc.code, got, tc.want)
		}
	}
}

func TestRPCError(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		wantStatus int
		wantBody   string
		wantLogged bool
	}{
		{"field errors", fielderr.Fields{"email": {"Enter a valid email address."}, "password": {"a", "b"}}.Err(),
			400, `{"email":["Enter a valid email address."],"password":["a","b"]}`, false},
		{"invalid without fields", status.Error(codes.InvalidArgument, "Bad input."), 400, `{"detail":"Bad input."}`, false},
		{"unauthenticated", status.Error(codes.Unauthenticated, "Unable to log in with provided credentials."),
			401, `{"detail":"Unable to log in with provided credentials."}`, false},
		{"permission", status.Error(codes.PermissionDenied, "Nope."), 403, `{"detail":"Nope."}`, false},
		{"not found", status.Error(codes.NotFound, "User with this email does not exist."),
			404, `{"detail":"User with this email does not exist."}`, false},
		{"already exists", status.Error(codes.AlreadyExists, "Exists."), 409, `{"detail":"Exists."}`, false},
		{"rate limited", status.Error(codes.ResourceExhausted, "Too many login attempts. Try again later."),
			429, `{"detail":"Too many login attempts. Try again later."}`, false},
		{"transport unavailable", status.Error(codes.Unavailable, "connection error: desc = dial tcp 10.0.0.7:9001: connect: connection refused"),
			503, `{"detail":"The service is temporarily unavailable. Try again later."}`, false},
		{"deadline", status.Error(codes.DeadlineExceeded, "context deadline exceeded"),
			503, `{"detail":"The service is temporarily unavailable. Try again later."}`, false},
		{"internal", status.Error(codes.Internal, "pq: relation users does not exist"), 500, `{"detail":"A server error occurred."}`, true},
		{"unknown code", status.Error(codes.Unimplemented, "method not implemented"), 500, `{"detail":"A server error occurred."}`, true},
		{"plain error", errors.New("secret internal detail"), 500, `{"detail":"A server error occurred."}`, true},
		{"request error", fieldError("limit", "bad"), 400, `{"limit":["bad"]}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/api/x/", nil)
			rpcError(w, r, log, tc.err)
			if w.Code != tc.wantStatus {
				t.Errorf("status: got %d, want %d", w.Code, tc.wantStatus)
			}
			if got := strings.TrimSpace(w.Body.String()); got != tc.wantBody {
				t.Errorf("body: got %s, want %s", got, tc.wantBody)
			}
			if logged := strings.Contains(logs.String(), `"level":"ERROR"`); logged != tc.wantLogged {
				t.Errorf("logged as error: got %v, want %v (%s)", logged, tc.wantLogged, logs.String())
			}
		})
	}
}

func TestDecode(t *testing.T) {
	type body struct {
		Email *string   `json:"email"`
		Tags  *[]string `json:"tags"`
		Count *int      `json:"count"`
		OK    *bool     `json:"ok"`
	}
	cases := []struct {
		name        string
		body        string
		contentType string
		wantStatus  int // 0: no error
		wantBody    string
	}{
		{"valid", `{"email":"a@b.c","tags":["x"],"count":3,"ok":true}`, "application/json", 0, ""},
		{"charset param", `{"email":"a"}`, "application/json; charset=utf-8", 0, ""},
		{"empty body", ``, "", 0, ""},
		{"whitespace body", "  \n", "application/json", 0, ""},
		{"text/plain", `{"email":"a"}`, "text/plain", 415, `{"detail":"Unsupported media type \"text/plain\" in request."}`},
		{"no content type", `{"email":"a"}`, "", 415, `{"detail":"Unsupported media type \"\" in request."}`},
		{"unknown field", `{"email":"a","role":"admin"}`, "application/json", 400, `{"role":["Unknown field."]}`},
		{"syntax", `{"email":}`, "application/json", 400, `{"detail":"JSON parse error - invalid syntax at byte 10."}`},
		{"truncated", `{"email":"a"`, "application/json", 400, `{"detail":"JSON parse error - unexpected end of input."}`},
		{"list", `[1,2]`, "application/json", 400, `{"detail":"Invalid data. Expected a dictionary, but got list."}`},
		{"string", `"x"`, "application/json", 400, `{"detail":"Invalid data. Expected a dictionary, but got string."}`},
		{"wrong string type", `{"email":1}`, "application/json", 400, `{"email":["Not a valid string."]}`},
		{"wrong list type", `{"tags":"go"}`, "application/json", 400, `{"tags":["Expected a list of items."]}`},
		{"wrong int type", `{"count":"3"}`, "application/json", 400, `{"count":["A valid integer is required."]}`},
		{"wrong bool type", `{"ok":"yes"}`, "application/json", 400, `{"ok":["Must be a valid boolean."]}`},
		{"two values", `{"email":"a"}{"email":"b"}`, "application/json", 400, `{"detail":"JSON parse error - extra data after the JSON value."}`},
		{"invalid utf-8", "{\"email\":\"\xc3\x28\"}", "application/json", 400, `{"detail":"JSON parse error - request body is not valid UTF-8."}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			if tc.body == "" {
				r = httptest.NewRequest("POST", "/", nil)
			}
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			var v body
			err := decode(r, &v)
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				return
			}
			w := httptest.NewRecorder()
			if !writeRequestError(w, err) {
				t.Fatalf("decode: got %v, want a request error", err)
			}
			if w.Code != tc.wantStatus || strings.TrimSpace(w.Body.String()) != tc.wantBody {
				t.Errorf("got %d %s, want %d %s", w.Code, strings.TrimSpace(w.Body.String()), tc.wantStatus, tc.wantBody)
			}
		})
	}
}

func TestDecodeBodyLimit(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"email":"`+strings.Repeat("a", 100)+`"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Body = http.MaxBytesReader(w, r.Body, 50)
	var v struct {
		Email string `json:"email"`
	}
	err := decode(r, &v)
	var re *requestError
	if !errors.As(err, &re) || re.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("decode over the limit: got %v, want 413", err)
	}
}

func TestReadPage(t *testing.T) {
	cases := []struct {
		query     string
		wantLimit int32
		wantErr   bool
	}{
		{"", 20, false},
		{"limit=5", 5, false},
		{"limit=100", 100, false},
		{"limit=1000", 100, false},
		{"limit=0", 0, true},
		{"limit=-3", 0, true},
		{"limit=abc", 0, true},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/api/user/friends/?"+tc.query, nil)
		p, err := readPage(r)
		if (err != nil) != tc.wantErr || p.Limit != tc.wantLimit {
			t.Errorf("readPage(%q): got %+v, %v; want limit %d, error %v", tc.query, p, err, tc.wantLimit, tc.wantErr)
		}
	}
	w := httptest.NewRecorder()
	setNextLink(w, httptest.NewRequest("GET", "/api/user/search-friends/?keyword=a%26b&limit=5&cursor=old", nil), "n/x+y")
	if got, want := w.Header().Get("Link"), `</api/user/search-friends/?cursor=n%2Fx%2By&keyword=a%26b&limit=5>; rel="next"`; got != want {
		t.Errorf("Link: got %s, want %s", got, want)
	}
	w = httptest.NewRecorder()
	setNextLink(w, httptest.NewRequest("GET", "/x/", nil), "")
	if got := w.Header().Get("Link"); got != "" {
		t.Errorf("Link on the last page: got %q, want none", got)
	}
}

func TestClientIP(t *testing.T) {
	s := &Server{trustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	cases := []struct {
		remote, xff, want string
	}{
		{"203.0.113.5:1234", "", "203.0.113.5"},
		{"203.0.113.5:1234", "1.2.3.4", "203.0.113.5"},             // untrusted peer: header ignored
		{"10.0.0.2:1234", "198.51.100.1", "198.51.100.1"},          // one trusted proxy
		{"10.0.0.2:1234", "6.6.6.6, 198.51.100.1", "198.51.100.1"}, // client-forged left part ignored
		{"10.0.0.2:1234", "198.51.100.1, 10.0.0.9", "198.51.100.1"},
		{"10.0.0.2:1234", "", "10.0.0.2"},
		{"10.0.0.2:1234", "garbage", "10.0.0.2"},
		{"[::ffff:203.0.113.5]:1", "", "203.0.113.5"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := s.clientIP(r); got != tc.want {
			t.Errorf("clientIP(%s, XFF %q): got %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestPathID(t *testing.T) {
	cases := map[string]bool{"1": true, "42": true, "9223372036854775807": true, "0": false, "-1": false, "+1": false,
		"abc": false, "1e3": false, "1.0": false, "": false, "99999999999999999999": false, " 1": false} //nolint:gocritic // mapKey: " 1" tests a leading space
	for v, want := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.SetPathValue("id", v)
		if _, ok := pathID(r, "id"); ok != want {
			t.Errorf("pathID(%q): got %v, want %v", v, ok, want)
		}
	}
}

func TestMediaETag(t *testing.T) {
	if got := quoteETag("abc"); got != `"abc"` {
		t.Errorf("quoteETag: got %s", got)
	}
	cases := []struct {
		header string
		want   bool
	}{
		{`"abc"`, true}, {`W/"abc"`, true}, {`"x", "abc"`, true}, {`*`, true}, {`"abd"`, false}, {``, false},
	}
	for _, tc := range cases {
		if got := etagMatch(tc.header, `"abc"`); got != tc.want {
			t.Errorf("etagMatch(%q): got %v, want %v", tc.header, got, tc.want)
		}
	}
	for key, want := range map[string]bool{"avatars/1/a.png": true, "../x": false, "a//b": false, "a/./b": false, "/abs": false, "a\\b": false} {
		if got := validMediaKey(key); got != want {
			t.Errorf("validMediaKey(%q): got %v, want %v", key, got, want)
		}
	}
}

// TestOpenAPIDocument checks that openapi.yaml is a valid OpenAPI 3
// document (the end-to-end tests check real answers against it).
func TestOpenAPIDocument(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	for _, p := range []string{"/api/user/registration/", "/api/user/login/", "/api/user/token/refresh/", "/api/user/logout/",
		"/api/user/profile/", "/api/user/add-friend/", "/api/user/friends/", "/api/user/friend-profile/{user_id}/",
		"/api/user/search-friends/", "/api/user/delete-friend/", "/media/{key}", "/api/post/images/"} {
		if doc.Paths.Value(p) == nil {
			t.Errorf("openapi.yaml does not describe %s", p)
		}
	}
	for _, name := range []string{"Error", "FieldErrors", "Profile", "UserSummary"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("openapi.yaml has no %s schema", name)
		}
	}
	// Client generators name their functions after operationId, and readers
	// rely on the description: every operation has both, and the ids are
	// camelCase and unique (renaming one breaks generated clients).
	camel := regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			switch {
			case op.OperationID == "":
				t.Errorf("%s has no operationId", where)
			case !camel.MatchString(op.OperationID):
				t.Errorf("%s: operationId %q is not camelCase", where, op.OperationID)
			case ids[op.OperationID] != "":
				t.Errorf("%s: operationId %q is also used by %s", where, op.OperationID, ids[op.OperationID])
			default:
				ids[op.OperationID] = where
			}
			if strings.TrimSpace(op.Description) == "" {
				t.Errorf("%s has no description", where)
			}
		}
	}
}
