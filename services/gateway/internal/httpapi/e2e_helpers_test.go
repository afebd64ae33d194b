package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/cobraspace/cobraspace/services/gateway/internal/httpapi"
)

// TestMain (stack.Main) is in posts_test.go.

// openAPIRouter loads openapi.yaml once, validates the document and
// returns a router over it.
var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.yaml is invalid: %w", err)
	}
	doc.Servers = nil // match request paths as they are
	return legacy.NewRouter(doc)
})

// req describes one HTTP call.
type req struct {
	method      string
	path        string // below the gateway's base URL, may include a query
	json        any    // encoded as the JSON body
	raw         []byte // sent as is (with contentType)
	contentType string
	token       string // Authorization: Bearer
	cookies     []*http.Cookie
	header      map[string]string
	noValidate  bool // skip the OpenAPI check (answers outside the contract)
}

// resp is a finished HTTP call.
type resp struct {
	status  int
	header  http.Header
	body    []byte
	cookies []*http.Cookie
}

func (r *resp) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// decode decodes the JSON body into v.
func (r *resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response body %q: %v", r.body, err)
	}
}

// object decodes a JSON object body.
func (r *resp) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// cookie returns the named Set-Cookie of the response.
func (r *resp) cookie(name string) *http.Cookie {
	for _, c := range r.cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var httpClient = &http.Client{
	Timeout: 20 * time.Second,
	// Redirects would hide what the gateway answered.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do runs rq against base and checks the answer against openapi.yaml when
// the route is documented.
func do(t *testing.T, base string, rq req) *resp {
	t.Helper()
	var body io.Reader
	ct := rq.contentType
	switch {
	case rq.raw != nil:
		body = bytes.NewReader(rq.raw)
	case rq.json != nil:
		b, err := json.Marshal(rq.json)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
		if ct == "" {
			ct = "application/json"
		}
	}
	hr, err := http.NewRequest(rq.method, base+rq.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	if rq.token != "" {
		hr.Header.Set("Authorization", "Bearer "+rq.token)
	}
	for _, c := range rq.cookies {
		hr.AddCookie(c)
	}
	for k, v := range rq.header {
		hr.Header.Set(k, v)
	}
	hresp, err := httpClient.Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	defer hresp.Body.Close()
	b, err := io.ReadAll(hresp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", rq.method, rq.path, err)
	}
	out := &resp{status: hresp.StatusCode, header: hresp.Header, body: b, cookies: hresp.Cookies()}
	if !rq.noValidate {
		validateOpenAPI(t, hr, out)
	}
	return out
}

// validateOpenAPI checks a real answer against the documented response of
// its route (status documented, headers and body matching the schema).
// Routes the document does not describe are skipped.
func validateOpenAPI(t *testing.T, hr *http.Request, r *resp) {
	t.Helper()
	router, err := openAPIRouter()
	if err != nil {
		t.Fatalf("openapi: %v", err)
	}
	// The document lists paths with their trailing slash.
	vr := hr.Clone(context.Background())
	u := *hr.URL
	if !strings.HasSuffix(u.Path, "/") && !strings.HasSuffix(u.Path, ".yaml") {
		u.Path += "/"
	}
	vr.URL = &u
	route, params, err := router.FindRoute(vr)
	if err != nil {
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route},
		Status:                 r.status,
		Header:                 r.header,
		Body:                   io.NopCloser(bytes.NewReader(r.body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("OpenAPI: %s %s → %d %s: %v", hr.Method, hr.URL.Path, r.status, truncate(r.body), err)
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// wantStatus fails the test unless r has the status.
func wantStatus(t *testing.T, what string, r *resp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: got %s, want status %d", what, truncate([]byte(r.String())), status)
	}
}

// wantJSON fails the test unless r has the status and exactly the JSON
// body want (compared after decoding both).
func wantJSON(t *testing.T, what string, r *resp, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: got status %d (%s), want %d", what, r.status, truncate(r.body), status)
		return
	}
	var got, exp any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Errorf("%s: body %q is not JSON: %v", what, r.body, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad want JSON %q: %v", want, err)
	}
	gb, _ := json.Marshal(got)
	eb, _ := json.Marshal(exp)
	if !bytes.Equal(gb, eb) {
		t.Errorf("%s: got body %s, want %s", what, gb, eb)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
}

// account is a registered and logged-in user.
type account struct {
	id       int64
	email    string
	password string
	nickname string
	access   string
	refresh  string
	cookies  []*http.Cookie // access_token and refresh_token
}

var seq struct {
	sync.Mutex
	n int
}

// uniqueEmail returns an email no other test uses.
func uniqueEmail(tag string) string {
	seq.Lock()
	defer seq.Unlock()
	seq.n++
	return fmt.Sprintf("%s%d.%d@example.com", tag, time.Now().UnixNano()%1e9, seq.n)
}

const goodPassword = "correct-horse-battery-42"

// register creates an account (via base) and logs it in.
func register(t *testing.T, base, tag string) *account {
	t.Helper()
	a := &account{email: uniqueEmail(tag), password: goodPassword}
	r := do(t, base, req{method: "POST", path: "/api/user/registration/", json: map[string]string{"email": a.email, "password": a.password}})
	wantStatus(t, "register "+a.email, r, http.StatusCreated)
	login(t, base, a)
	return a
}

// login logs a in and stores its tokens and cookies.
func login(t *testing.T, base string, a *account) {
	t.Helper()
	r := do(t, base, req{method: "POST", path: "/api/user/login/", json: map[string]string{"email": a.email, "password": a.password}})
	wantStatus(t, "login "+a.email, r, http.StatusOK)
	var body struct {
		Access, Refresh string
		Profile         struct {
			ID       int64
			Nickname string
		}
	}
	r.decode(t, &body)
	a.id, a.nickname, a.access, a.refresh = body.Profile.ID, body.Profile.Nickname, body.Access, body.Refresh
	a.cookies = nil
	for _, name := range []string{"access_token", "refresh_token"} {
		c := r.cookie(name)
		if c == nil {
			t.Fatalf("login: no %s cookie", name)
		}
		a.cookies = append(a.cookies, &http.Cookie{Name: c.Name, Value: c.Value})
	}
}

// query escapes a query value.
func query(s string) string { return url.QueryEscape(s) }
