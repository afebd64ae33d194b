package httpapi_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// TestUsersAPI runs the Users routes end to end: real user service,
// PostgreSQL, Redis and NATS, and two gateway replicas. Replica 0 trusts
// X-Forwarded-For from loopback (so tests can act from distinct client
// IPs); replica 1 trusts no proxy; replica 2 cannot reach Redis.
func TestUsersAPI(t *testing.T) {
	s := stack.Start(t, stack.Options{
		Gateways: 3,
		Services: []string{stack.User},
		Env: map[string]map[string]string{
			stack.User: {"LOGIN_MAX_FAILURES_PER_ACCOUNT_IP": "5", "LOGIN_MAX_FAILURES_PER_ACCOUNT": "10", "LOGIN_MAX_FAILURES_PER_IP": "20", "LOGIN_BACKOFF_BASE": "3s"},
		},
		GatewayEnv: map[int]map[string]string{
			0: {"TRUSTED_PROXY_CIDRS": "127.0.0.0/8"},
			2: {"REDIS_URL": "redis://127.0.0.1:1/0"},
		},
	})
	gw0, gw1, noRedis := s.Gateways[0], s.Gateways[1], s.Gateways[2]

	t.Run("registration", func(t *testing.T) {
		t.Parallel()
		testRegistration(t, gw0)
	})
	t.Run("request validation", func(t *testing.T) {
		t.Parallel()
		testRequestValidation(t, gw1)
	})
	t.Run("login", func(t *testing.T) {
		t.Parallel()
		testLogin(t, gw0)
	})
	t.Run("login rate limit", func(t *testing.T) {
		t.Parallel()
		testLoginRateLimit(t, gw0, gw1)
	})
	t.Run("refresh", func(t *testing.T) {
		t.Parallel()
		testRefresh(t, gw0, gw1)
	})
	t.Run("token tampering", func(t *testing.T) {
		t.Parallel()
		testTokenTampering(t, gw1, s.Env.PrivateKeyFile)
	})
	t.Run("logout", func(t *testing.T) {
		t.Parallel()
		testLogout(t, gw0, gw1)
	})
	t.Run("redis down", func(t *testing.T) {
		t.Parallel()
		testRedisDown(t, gw0, noRedis)
	})
	t.Run("csrf", func(t *testing.T) {
		t.Parallel()
		testCSRF(t, gw0)
	})
	t.Run("profile and media", func(t *testing.T) {
		t.Parallel()
		testProfileAndMedia(t, gw0, gw1)
	})
	t.Run("friends", func(t *testing.T) {
		t.Parallel()
		testFriends(t, gw0, gw1)
	})
	t.Run("search", func(t *testing.T) {
		t.Parallel()
		testSearch(t, gw1)
	})
	t.Run("openapi document", func(t *testing.T) {
		t.Parallel()
		r := do(t, gw0, req{method: "GET", path: "/api/openapi.yaml"})
		wantStatus(t, "GET /api/openapi.yaml", r, http.StatusOK)
		if !bytes.Contains(r.body, []byte("/api/user/registration/")) {
			t.Errorf("openapi.yaml does not describe registration")
		}
	})
}

func testRegistration(t *testing.T, gw string) {
	reg := func(body any) *resp {
		return do(t, gw, req{method: "POST", path: "/api/user/registration/", json: body})
	}

	email := uniqueEmail("Reg")
	r := reg(map[string]string{"email": email, "password": goodPassword})
	wantStatus(t, "register {email,password}", r, http.StatusCreated)
	var body struct {
		Email   string
		Message string
		Profile map[string]any
	}
	r.decode(t, &body)
	if body.Message != "회원가입이 완료되었습니다." {
		t.Errorf("message: got %q", body.Message)
	}
	if !strings.EqualFold(body.Email, email) || !strings.EqualFold(fmt.Sprint(body.Profile["email"]), email) {
		t.Errorf("email: got %q / profile %v, want %q", body.Email, body.Profile["email"], email)
	}
	if body.Profile["id"] != body.Profile["user"] || body.Profile["id"] == nil {
		t.Errorf("profile id %v and user %v must both be the user id", body.Profile["id"], body.Profile["user"])
	}
	if body.Profile["profile_picture"] != nil {
		t.Errorf("profile_picture: got %v, want null", body.Profile["profile_picture"])
	}
	if u, _ := body.Profile["profile_picture_url"].(string); !strings.HasPrefix(u, "/media/") {
		t.Errorf("profile_picture_url: got %q, want a /media/ default avatar", u)
	}

	r = reg(map[string]string{"email": uniqueEmail("reg2"), "password1": goodPassword, "password2": goodPassword, "nickname": "코브라"})
	wantStatus(t, "register {email,password1,password2}", r, http.StatusCreated)
	if got := r.object(t)["profile"].(map[string]any)["nickname"]; got != "코브라" {
		t.Errorf("nickname: got %v, want 코브라", got)
	}

	// Duplicate, differing only in case.
	r = reg(map[string]string{"email": strings.ToUpper(email), "password": goodPassword})
	wantJSON(t, "duplicate email", r, http.StatusBadRequest, `{"email":["A user is already registered with this e-mail address."]}`)

	r = reg(map[string]string{"email": uniqueEmail("mm"), "password1": goodPassword, "password2": goodPassword + "x"})
	wantJSON(t, "password mismatch", r, http.StatusBadRequest, `{"password":["The two password fields didn't match."]}`)

	r = reg(map[string]string{"password": goodPassword})
	wantJSON(t, "missing email", r, http.StatusBadRequest, `{"email":["This field is required."]}`)
	r = reg(map[string]string{"email": uniqueEmail("nopw")})
	wantJSON(t, "missing password", r, http.StatusBadRequest, `{"password":["This field is required."]}`)
	r = reg(map[string]string{"email": uniqueEmail("nopw2"), "password1": goodPassword})
	wantJSON(t, "missing password2", r, http.StatusBadRequest, `{"password2":["This field is required."]}`)

	weak := []struct{ name, email, password string }{
		{"short", uniqueEmail("weak"), "Ab3$x"},
		{"numeric", uniqueEmail("weak"), "8273645190"},
		{"common", uniqueEmail("weak"), "password123"},
		{"similar to email", "cobrasnake" + strconv.Itoa(int(time.Now().UnixNano()%1e6)) + "@example.com", ""},
	}
	weak[3].password = strings.Split(weak[3].email, "@")[0]
	for _, tc := range weak {
		r := reg(map[string]string{"email": tc.email, "password": tc.password})
		if r.status != http.StatusBadRequest || len(r.object(t)["password"].([]any)) == 0 {
			t.Errorf("weak password (%s): got %s, want 400 with password errors", tc.name, r)
		}
	}
}

func testRequestValidation(t *testing.T, gw string) {
	email := uniqueEmail("val")
	valid := fmt.Sprintf(`{"email":%q,"password":%q}`, email, goodPassword)
	cases := []struct {
		name        string
		path        string
		body        []byte
		contentType string
		status      int
		want        string // exact JSON, or "" to check only that "detail" exists
	}{
		{"unknown field", "/api/user/registration/", []byte(`{"email":"a@example.com","password":"x","admin":true}`), "application/json",
			400, `{"admin":["Unknown field."]}`},
		{"wrong content type", "/api/user/registration/", []byte(valid), "text/plain",
			415, `{"detail":"Unsupported media type \"text/plain\" in request."}`},
		{"form content type", "/api/user/login/", []byte("email=a&password=b"), "application/x-www-form-urlencoded",
			415, `{"detail":"Unsupported media type \"application/x-www-form-urlencoded\" in request."}`},
		{"invalid JSON", "/api/user/registration/", []byte(`{"email":`), "application/json", 400, ""},
		{"not an object", "/api/user/registration/", []byte(`["a"]`), "application/json", 400, ""},
		{"trailing garbage", "/api/user/login/", []byte(`{"email":"a@b.c","password":"x"} {}`), "application/json", 400, ""},
		{"invalid UTF-8", "/api/user/registration/", []byte("{\"email\":\"a\xff@example.com\",\"password\":\"x\"}"), "application/json",
			400, `{"detail":"JSON parse error - request body is not valid UTF-8."}`},
		{"wrong type", "/api/user/login/", []byte(`{"email":5,"password":"x"}`), "application/json",
			400, `{"email":["Not a valid string."]}`},
		{"oversized body", "/api/user/registration/", append(append([]byte(`{"email":"`), bytes.Repeat([]byte("a"), 2<<20)...), `"}`...), "application/json",
			413, `{"detail":"Request body is too large."}`},
	}
	for _, tc := range cases {
		r := do(t, gw, req{method: "POST", path: tc.path, raw: tc.body, contentType: tc.contentType})
		if tc.want != "" {
			wantJSON(t, tc.name, r, tc.status, tc.want)
			continue
		}
		if r.status != tc.status || r.object(t)["detail"] == nil {
			t.Errorf("%s: got %s, want %d with a detail", tc.name, r, tc.status)
		}
		if strings.Contains(string(r.body), "json:") || strings.Contains(string(r.body), "Go") {
			t.Errorf("%s: internal error text leaked: %s", tc.name, r.body)
		}
	}

	// Without the trailing slash, the same route.
	r := do(t, gw, req{method: "POST", path: "/api/user/registration", raw: []byte(valid), contentType: "application/json; charset=utf-8"})
	wantStatus(t, "registration without trailing slash", r, http.StatusCreated)

	r = do(t, gw, req{method: "GET", path: "/api/user/no-such-route/"})
	wantJSON(t, "unknown API route", r, http.StatusNotFound, `{"detail":"Not found."}`)
	r = do(t, gw, req{method: "GET", path: "/api/user/login/", noValidate: true})
	wantJSON(t, "wrong method", r, http.StatusMethodNotAllowed, `{"detail":"Method \"GET\" not allowed."}`)
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "POST") {
		t.Errorf("405 Allow: got %q, want POST", allow)
	}
	r = do(t, gw, req{method: "GET", path: "/api/user/profile/"})
	wantJSON(t, "no credentials", r, http.StatusUnauthorized, `{"detail":"Authentication credentials were not provided."}`)
	if r.header.Get("X-Request-Id") == "" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("missing request id or security headers: %v", r.header)
	}
}

func testLogin(t *testing.T, gw string) {
	a := register(t, gw, "login")
	r := do(t, gw, req{method: "POST", path: "/api/user/login/", json: map[string]string{"email": a.email, "password": a.password}})
	wantStatus(t, "login", r, http.StatusOK)
	body := r.object(t)
	if want := a.nickname + "님 환영합니다."; body["message"] != want {
		t.Errorf("message: got %v, want %q", body["message"], want)
	}
	for _, k := range []string{"access", "refresh", "profile"} {
		if body[k] == nil || body[k] == "" {
			t.Errorf("login body has no %q", k)
		}
	}
	for _, tc := range []struct{ name, path string }{{"access_token", "/"}, {"refresh_token", "/api/user/"}} {
		c := r.cookie(tc.name)
		switch {
		case c == nil:
			t.Errorf("no %s cookie", tc.name)
		case !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != tc.path || c.Secure:
			t.Errorf("%s cookie: HttpOnly=%v SameSite=%v Path=%q Secure=%v, want HttpOnly, Lax, %q, not Secure (COOKIE_SECURE=false)",
				tc.name, c.HttpOnly, c.SameSite, c.Path, c.Secure, tc.path)
		case c.MaxAge <= 0:
			t.Errorf("%s cookie: MaxAge %d, want the token's lifetime", tc.name, c.MaxAge)
		}
	}
	// The cookie alone authenticates a read.
	r = do(t, gw, req{method: "GET", path: "/api/user/profile/", cookies: a.cookies[:1]})
	wantStatus(t, "profile with the access cookie", r, http.StatusOK)

	// Wrong password and unknown email: one answer.
	bad := do(t, gw, req{method: "POST", path: "/api/user/login/", json: map[string]string{"email": a.email, "password": "wrong-password-1"}})
	unknown := do(t, gw, req{method: "POST", path: "/api/user/login/", json: map[string]string{"email": uniqueEmail("nobody"), "password": "wrong-password-1"}})
	if bad.status != http.StatusUnauthorized || bad.String() != unknown.String() {
		t.Errorf("bad credentials: wrong password %s vs unknown email %s, want the same 401", bad, unknown)
	}
	r = do(t, gw, req{method: "POST", path: "/api/user/login/", json: map[string]string{"email": a.email}})
	wantJSON(t, "login without password", r, http.StatusBadRequest, `{"password":["This field is required."]}`)

	// Similar timing (B12): an unknown email must cost a password hash
	// too. The fastest of a few tries is compared, which load on a shared
	// machine can only slow down, never speed up.
	timed := func(email string) time.Duration {
		start := time.Now()
		r := do(t, gw, req{method: "POST", path: "/api/user/login/", header: map[string]string{"X-Forwarded-For": "192.0.2.50"},
			json: map[string]string{"email": email, "password": "wrong-password-2"}})
		wantStatus(t, "timed failed login", r, http.StatusUnauthorized)
		return time.Since(start)
	}
	b := register(t, gw, "timing")
	fastWrong, fastUnknown := time.Hour, time.Hour
	for range 3 {
		fastWrong = min(fastWrong, timed(b.email))
		fastUnknown = min(fastUnknown, timed(uniqueEmail("ghost")))
	}
	if ratio := float64(fastWrong) / float64(fastUnknown); ratio > 3 || ratio < 1.0/3 {
		t.Errorf("login timing: wrong password %v, unknown email %v; want them similar", fastWrong, fastUnknown)
	}
}

// testLoginRateLimit: failures make the failing address wait, longer after
// each failure (429 with Retry-After), but never lock the owner out from
// another address; an unknown email gets the very same answers; an
// address failing across many accounts waits for all of them, others do
// not. Client addresses come from X-Forwarded-For (replica gw0 trusts
// loopback), each test address its own.
func testLoginRateLimit(t *testing.T, gw0, gw1 string) {
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	loginFrom := func(ip, email, password string) *resp {
		return do(t, gw0, req{method: "POST", path: "/api/user/login/", header: from(ip),
			json: map[string]string{"email": email, "password": password}})
	}
	// answers is what an address sees for a sequence of wrong passwords.
	answers := func(ip, email string, n int) []string {
		var out []string
		for range n {
			r := loginFrom(ip, email, "wrong-password-1")
			out = append(out, fmt.Sprintf("%d %s Retry-After=%q", r.status, bytes.TrimSpace(r.body), r.header.Get("Retry-After")))
		}
		return out
	}

	// The first wait is LOGIN_BACKOFF_BASE=3s: long enough that a loaded
	// machine answers every request below within it (with 1 s the wait
	// sometimes ended before the right-password attempt).
	victim := register(t, gw1, "victim")
	known := answers("198.51.100.7", victim.email, 7)
	// The attacker's address waits even with the right password...
	r := loginFrom("198.51.100.7", victim.email, victim.password)
	wantStatus(t, "right password from the guessing address", r, http.StatusTooManyRequests)
	unknown := answers("198.51.100.8", uniqueEmail("nobody"), 7)
	if strings.Join(known, "\n") != strings.Join(unknown, "\n") {
		t.Errorf("known account:\n%s\nunknown email:\n%s\nwant the same answers", strings.Join(known, "\n"), strings.Join(unknown, "\n"))
	}
	wantTail := `429 {"detail":"Too many login attempts. Try again later."} Retry-After="3"`
	if !strings.HasPrefix(known[4], "401 ") || known[5] != wantTail || known[6] != wantTail {
		t.Errorf("7 wrong passwords from one address:\n%s\nwant 5 × 401, then %s", strings.Join(known, "\n"), wantTail)
	}
	// ...the owner elsewhere logs in.
	r = loginFrom("203.0.113.44", victim.email, victim.password)
	wantStatus(t, "owner from another address after 7 failures elsewhere", r, http.StatusOK)

	// Each failure after the free ones doubles the wait (3 s, then 6 s).
	for _, step := range []struct {
		wait time.Duration
		want string
	}{{3 * time.Second, "6"}} {
		time.Sleep(step.wait + 100*time.Millisecond)
		r = loginFrom("198.51.100.7", victim.email, "wrong-password-2")
		wantStatus(t, "a failure after the wait", r, http.StatusUnauthorized)
		r = loginFrom("198.51.100.7", victim.email, "wrong-password-3")
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != step.want {
			t.Errorf("after another failure: %s Retry-After=%q, want 429 Retry-After=%s", r, r.header.Get("Retry-After"), step.want)
		}
	}

	// Per address (20 failures over any accounts): many unknown emails
	// from one address; then even a right password from it waits, while
	// another address is not limited.
	spray := "203.0.113.9, 127.0.0.1"
	for i := range 20 {
		r = do(t, gw0, req{method: "POST", path: "/api/user/login/", header: map[string]string{"X-Forwarded-For": spray},
			json: map[string]string{"email": uniqueEmail("ipspray"), "password": "wrong-password-1"}})
		wantStatus(t, fmt.Sprintf("spray failure %d", i+1), r, http.StatusUnauthorized)
	}
	b := register(t, gw1, "limitb")
	r = do(t, gw0, req{method: "POST", path: "/api/user/login/", header: map[string]string{"X-Forwarded-For": spray},
		json: map[string]string{"email": b.email, "password": b.password}})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("right password from an address with 20 failures: %s Retry-After=%q, want 429 with Retry-After", r, r.header.Get("Retry-After"))
	}
	r = loginFrom("203.0.113.10", b.email, b.password)
	wantStatus(t, "login from another address", r, http.StatusOK)
}

func testRefresh(t *testing.T, gw0, gw1 string) {
	a := register(t, gw0, "refresh")
	r := do(t, gw0, req{method: "POST", path: "/api/user/token/refresh/", json: map[string]string{"refresh": a.refresh}})
	wantStatus(t, "refresh", r, http.StatusOK)
	var pair struct{ Access, Refresh string }
	r.decode(t, &pair)
	if pair.Refresh == "" || pair.Refresh == a.refresh || pair.Access == "" {
		t.Fatalf("refresh did not rotate: %s", r)
	}
	if r.cookie("access_token") == nil || r.cookie("refresh_token") == nil {
		t.Errorf("refresh did not set the cookies")
	}
	r = do(t, gw1, req{method: "GET", path: "/api/user/profile/", token: pair.Access})
	wantStatus(t, "new access token on the other replica", r, http.StatusOK)

	// Reusing the rotated token: 401, and the whole family is revoked, so
	// the newest refresh token stops working too.
	r = do(t, gw1, req{method: "POST", path: "/api/user/token/refresh/", json: map[string]string{"refresh": a.refresh}})
	wantStatus(t, "reuse of a rotated refresh token", r, http.StatusUnauthorized)
	r = do(t, gw0, req{method: "POST", path: "/api/user/token/refresh/", json: map[string]string{"refresh": pair.Refresh}})
	wantStatus(t, "refresh after the family was revoked", r, http.StatusUnauthorized)

	// From the cookie (the web client sends {} and the cookie).
	b := register(t, gw0, "refreshc")
	origin := map[string]string{"Origin": gw0}
	r = do(t, gw0, req{method: "POST", path: "/api/user/token/refresh/", raw: []byte(`{}`), contentType: "application/json", cookies: b.cookies[1:], header: origin})
	wantStatus(t, "refresh from the cookie", r, http.StatusOK)
	next := r.cookie("refresh_token")
	if next == nil || next.Value == b.refresh {
		t.Fatalf("cookie refresh did not rotate the cookie")
	}
	r = do(t, gw0, req{method: "POST", path: "/api/user/token/refresh/", cookies: []*http.Cookie{{Name: "refresh_token", Value: next.Value}},
		header: map[string]string{"Origin": "https://evil.example"}})
	wantJSON(t, "cookie refresh from a foreign origin", r, http.StatusForbidden, `{"detail":"CSRF Failed: Origin checking failed."}`)
	r = do(t, gw0, req{method: "POST", path: "/api/user/token/refresh/"})
	wantJSON(t, "refresh without a token", r, http.StatusBadRequest, `{"refresh":["This field is required."]}`)
	r = do(t, gw0, req{method: "POST", path: "/api/user/token/refresh/", json: map[string]string{"refresh": b.access}})
	wantStatus(t, "access token used as refresh", r, http.StatusUnauthorized)
}

func testTokenTampering(t *testing.T, gw, privateKeyFile string) {
	a := register(t, gw, "tamper")
	priv, err := accesstoken.LoadPrivateKeyFile(privateKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{
			"iss": accesstoken.Issuer, "aud": []string{accesstoken.Audience}, "sub": strconv.FormatInt(a.id, 10),
			"exp": now.Add(10 * time.Minute).Unix(), "iat": now.Unix(), "jti": "t" + strconv.FormatInt(now.UnixNano(), 36),
			"typ": "access", "email": a.email,
		}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(key ed25519.PrivateKey, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The control: a token we mint with the real key works, so every 401
	// below is about the one thing changed.
	control := sign(priv, claims(nil))
	r := do(t, gw, req{method: "GET", path: "/api/user/profile/", token: control})
	wantStatus(t, "control token", r, http.StatusOK)

	b64 := base64.RawURLEncoding
	parts := strings.Split(a.access, ".")
	payload, _ := b64.DecodeString(parts[1])
	var pm map[string]any
	_ = json.Unmarshal(payload, &pm)
	pm["sub"] = strconv.FormatInt(a.id+1, 10)
	edited, _ := json.Marshal(pm)
	noneHeader := b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	hsToken, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil)).SignedString([]byte("secret"))

	cases := map[string]string{
		"alg none":      noneHeader + "." + parts[1] + ".",
		"alg HS256":     hsToken,
		"wrong key":     sign(otherKey, claims(nil)),
		"edited claims": parts[0] + "." + b64.EncodeToString(edited) + "." + parts[2],
		"expired": sign(priv, claims(func(c jwt.MapClaims) {
			c["exp"] = now.Add(-time.Hour).Unix()
			c["iat"] = now.Add(-2 * time.Hour).Unix()
		})),
		"wrong audience":     sign(priv, claims(func(c jwt.MapClaims) { c["aud"] = []string{"someone-else"} })),
		"wrong issuer":       sign(priv, claims(func(c jwt.MapClaims) { c["iss"] = "evil" })),
		"no expiry":          sign(priv, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"refresh as access":  a.refresh,
		"typ refresh minted": sign(priv, claims(func(c jwt.MapClaims) { c["typ"] = "refresh" })),
		"garbage":            "not.a.jwt",
	}
	for name, tok := range cases {
		r := do(t, gw, req{method: "GET", path: "/api/user/profile/", token: tok})
		wantJSON(t, name, r, http.StatusUnauthorized, `{"detail":"Given token not valid."}`)
		// The same through the cookie.
		r = do(t, gw, req{method: "GET", path: "/api/user/profile/", cookies: []*http.Cookie{{Name: "access_token", Value: tok}}})
		wantStatus(t, name+" (cookie)", r, http.StatusUnauthorized)
	}
}

func testLogout(t *testing.T, gw0, gw1 string) {
	a := register(t, gw0, "logout")
	r := do(t, gw1, req{method: "GET", path: "/api/user/profile/", token: a.access})
	wantStatus(t, "before logout", r, http.StatusOK)

	r = do(t, gw0, req{method: "POST", path: "/api/user/logout/", token: a.access, json: map[string]string{"refresh": a.refresh}})
	wantJSON(t, "logout", r, http.StatusOK, `{"message":"로그아웃이 완료되었습니다."}`)
	for _, name := range []string{"access_token", "refresh_token"} {
		if c := r.cookie(name); c == nil || c.MaxAge >= 0 || c.Value != "" {
			t.Errorf("logout: %s cookie not cleared: %v", name, c)
		}
	}
	// At once, on the other replica.
	r = do(t, gw1, req{method: "GET", path: "/api/user/profile/", token: a.access})
	wantJSON(t, "access token after logout (other replica)", r, http.StatusUnauthorized, `{"detail":"Given token not valid."}`)
	r = do(t, gw0, req{method: "GET", path: "/api/user/profile/", token: a.access})
	wantStatus(t, "access token after logout (same replica)", r, http.StatusUnauthorized)
	r = do(t, gw1, req{method: "POST", path: "/api/user/token/refresh/", json: map[string]string{"refresh": a.refresh}})
	wantStatus(t, "refresh token after logout", r, http.StatusUnauthorized)

	// A web session: cookies only, refresh token from the cookie.
	b := register(t, gw1, "logoutc")
	r = do(t, gw1, req{method: "POST", path: "/api/user/logout/", cookies: b.cookies, header: map[string]string{"Origin": gw1}})
	wantStatus(t, "cookie logout", r, http.StatusOK)
	r = do(t, gw0, req{method: "POST", path: "/api/user/token/refresh/", json: map[string]string{"refresh": b.refresh}})
	wantStatus(t, "cookie session's refresh token after logout", r, http.StatusUnauthorized)
	r = do(t, gw0, req{method: "GET", path: "/api/user/profile/", cookies: b.cookies[:1]})
	wantStatus(t, "cookie session's access token after logout", r, http.StatusUnauthorized)

	r = do(t, gw0, req{method: "POST", path: "/api/user/logout/"})
	wantStatus(t, "logout without credentials", r, http.StatusUnauthorized)
}

// testRedisDown: a replica without Redis still authenticates (the
// denylist fails open), and a logout elsewhere still reaches it through
// the NATS announcement, for every token of the session: also the access
// token issued before the one logged out with.
func testRedisDown(t *testing.T, gw0, noRedis string) {
	a := register(t, gw0, "noredis")
	older := a.access
	r := do(t, noRedis, req{method: "GET", path: "/api/user/profile/", token: older})
	wantStatus(t, "profile via the replica without Redis", r, http.StatusOK)
	r = do(t, gw0, req{method: "POST", path: "/api/user/token/refresh/", json: map[string]string{"refresh": a.refresh}})
	wantStatus(t, "refresh", r, http.StatusOK)
	var pair struct{ Access, Refresh string }
	r.decode(t, &pair)
	r = do(t, gw0, req{method: "POST", path: "/api/user/logout/", token: pair.Access, json: map[string]string{"refresh": pair.Refresh}})
	wantStatus(t, "logout", r, http.StatusOK)
	for _, tc := range []struct{ name, token string }{{"logged-out token", pair.Access}, {"older token of the session", older}} {
		deadline := time.Now().Add(3 * time.Second)
		for {
			r = do(t, noRedis, req{method: "GET", path: "/api/user/profile/", token: tc.token})
			if r.status == http.StatusUnauthorized {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica without Redis still accepts the %s after 3 s: %s", tc.name, r)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func testCSRF(t *testing.T, gw string) {
	a := register(t, gw, "csrf")
	patch := func(what string, rq req, status int) *resp {
		t.Helper()
		rq.method, rq.path, rq.json = "PATCH", "/api/user/profile/", map[string]string{"bio": what}
		r := do(t, gw, rq)
		wantStatus(t, what, r, status)
		return r
	}
	foreign := map[string]string{"Origin": "https://evil.example"}
	r := patch("cookie + foreign Origin", req{cookies: a.cookies, header: foreign}, http.StatusForbidden)
	wantJSON(t, "CSRF body", r, http.StatusForbidden, `{"detail":"CSRF Failed: Origin checking failed."}`)
	patch("cookie + Origin null", req{cookies: a.cookies, header: map[string]string{"Origin": "null"}}, http.StatusForbidden)
	patch("cookie + no Origin or Referer", req{cookies: a.cookies}, http.StatusForbidden)
	patch("cookie + foreign Referer", req{cookies: a.cookies, header: map[string]string{"Referer": "https://evil.example/page"}}, http.StatusForbidden)
	patch("cookie + allowlisted Origin", req{cookies: a.cookies, header: map[string]string{"Origin": "http://localhost:8080"}}, http.StatusOK)
	patch("cookie + same-host Origin", req{cookies: a.cookies, header: map[string]string{"Origin": gw}}, http.StatusOK)
	patch("cookie + same-host Referer", req{cookies: a.cookies, header: map[string]string{"Referer": gw + "/profile/edit"}}, http.StatusOK)
	patch("bearer + foreign Origin", req{token: a.access, header: foreign}, http.StatusOK)
	// Reads are not writes.
	r = do(t, gw, req{method: "GET", path: "/api/user/profile/", cookies: a.cookies, header: foreign})
	wantStatus(t, "cookie read from a foreign origin", r, http.StatusOK)
	// The check protected the data: the foreign writes changed nothing.
	if bio := r.object(t)["bio"]; bio != "bearer + foreign Origin" {
		t.Errorf("bio: got %v, want the last allowed write", bio)
	}
}

// pngImage returns a small PNG.
func pngImage(t *testing.T, c color.Color) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// multipartBody builds a multipart form with fields and an optional file.
func multipartBody(t *testing.T, fields map[string]string, fileField string, file []byte) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	if fileField != "" {
		fw, err := mw.CreateFormFile(fileField, "avatar.png")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(file)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

func testProfileAndMedia(t *testing.T, gw0, gw1 string) {
	a := register(t, gw0, "profile")
	r := do(t, gw0, req{method: "GET", path: "/api/user/profile/", token: a.access})
	wantStatus(t, "get profile", r, http.StatusOK)
	p := r.object(t)
	wantKeys := []string{"id", "user", "email", "nickname", "profile_picture", "profile_picture_url", "bio", "skills", "interests", "status", "is_private", "contact_number", "friends_emails"}
	for _, k := range wantKeys {
		if _, ok := p[k]; !ok {
			t.Errorf("profile has no %q: %s", k, r.body)
		}
	}
	if p["status"] != "available" {
		t.Errorf("status: got %v, want available", p["status"])
	}
	defaultAvatar := p["profile_picture_url"].(string)

	// The default avatar: an SVG that can never run script.
	r = do(t, gw1, req{method: "GET", path: defaultAvatar})
	wantStatus(t, "default avatar", r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "image/") {
		t.Errorf("default avatar Content-Type %q", ct)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("default avatar CSP %q, want default-src 'none'", csp)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("ETag") == "" {
		t.Errorf("default avatar headers: %v", r.header)
	}
	// Generated from the nickname, so it may change: cached briefly only.
	if cc := r.header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("default avatar Cache-Control %q, want public, max-age=300", cc)
	}
	r = do(t, gw0, req{method: "GET", path: defaultAvatar, header: map[string]string{"If-None-Match": r.header.Get("ETag")}})
	wantStatus(t, "default avatar revalidation", r, http.StatusNotModified)

	// PATCH: partial JSON update.
	r = do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: a.access, json: map[string]any{
		"nickname": "뱀", "bio": "Go & gRPC", "skills": []string{"go", "sql"}, "status": "busy", "is_private": true, "contact_number": "010-1234-5678",
	}})
	wantStatus(t, "patch profile", r, http.StatusOK)
	p = r.object(t)
	if p["nickname"] != "뱀" || p["bio"] != "Go & gRPC" || p["status"] != "busy" || p["is_private"] != any(true) || fmt.Sprint(p["skills"]) != "[go sql]" {
		t.Errorf("patched profile: %s", r.body)
	}
	// PUT with some fields: the others are unchanged.
	r = do(t, gw0, req{method: "PUT", path: "/api/user/profile", token: a.access, json: map[string]any{"interests": []string{"chat"}, "status": "away"}})
	wantStatus(t, "put profile", r, http.StatusOK)
	p = r.object(t)
	if p["nickname"] != "뱀" || p["status"] != "away" || fmt.Sprint(p["interests"]) != "[chat]" {
		t.Errorf("put profile: %s", r.body)
	}
	r = do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: a.access, json: map[string]any{"status": "sleeping"}})
	wantJSON(t, "invalid status", r, http.StatusBadRequest, `{"status":["\"sleeping\" is not a valid choice."]}`)
	r = do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: a.access, json: map[string]any{"password": "x"}})
	wantJSON(t, "unknown profile field", r, http.StatusBadRequest, `{"password":["Unknown field."]}`)
	r = do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: a.access, raw: []byte(`bio=x`), contentType: "text/plain"})
	wantStatus(t, "profile as text/plain", r, http.StatusUnsupportedMediaType)

	// Multipart upload of a PNG, with a text field alongside.
	body, ct := multipartBody(t, map[string]string{"bio": "with picture"}, "profile_picture", pngImage(t, color.RGBA{200, 30, 30, 255}))
	r = do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: a.access, raw: body, contentType: ct})
	wantStatus(t, "upload picture", r, http.StatusOK)
	p = r.object(t)
	pic, _ := p["profile_picture"].(string)
	picURL, _ := p["profile_picture_url"].(string)
	if pic == "" || !strings.HasPrefix(picURL, "/media/") || picURL == defaultAvatar || p["bio"] != "with picture" {
		t.Fatalf("after upload: profile_picture %q, profile_picture_url %q (default %q), bio %v", pic, picURL, defaultAvatar, p["bio"])
	}
	r = do(t, gw1, req{method: "GET", path: picURL})
	wantStatus(t, "uploaded picture", r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "image/") || len(r.body) == 0 {
		t.Errorf("picture: Content-Type %q, %d bytes", ct, len(r.body))
	}
	etag := r.header.Get("ETag")
	if etag == "" || !strings.Contains(r.header.Get("Cache-Control"), "max-age") {
		t.Errorf("picture caching headers: ETag %q Cache-Control %q", etag, r.header.Get("Cache-Control"))
	}
	if cc, want := r.header.Get("Cache-Control"), "public, max-age=31536000, immutable"; cc != want {
		t.Errorf("uploaded picture (an immutable key): Cache-Control %q, want %q", cc, want)
	}
	r = do(t, gw0, req{method: "GET", path: picURL, header: map[string]string{"If-None-Match": etag}})
	if r.status != http.StatusNotModified || len(r.body) != 0 {
		t.Errorf("If-None-Match: got %d with %d bytes, want 304 and no body", r.status, len(r.body))
	}
	r = do(t, gw0, req{method: "GET", path: "/media/no/such/key.png"})
	wantJSON(t, "unknown media", r, http.StatusNotFound, `{"detail":"Not found."}`)
	r = do(t, gw0, req{method: "GET", path: "/media/../etc/passwd", noValidate: true})
	if r.status == http.StatusOK {
		t.Errorf("path traversal in /media/: got 200")
	}

	// Not an image; too large.
	body, ct = multipartBody(t, nil, "profile_picture", []byte("<svg onload=alert(1)></svg>"))
	r = do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: a.access, raw: body, contentType: ct})
	if r.status != http.StatusBadRequest || r.object(t)["profile_picture"] == nil {
		t.Errorf("non-image upload: got %s, want 400 {profile_picture: [...]}", r)
	}
	// A refused picture leaves the text sent with it unsaved.
	body, ct = multipartBody(t, map[string]string{"bio": "not saved"}, "profile_picture", []byte("\x89PNG\r\n\x1a\nnot really a png"))
	r = do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: a.access, raw: body, contentType: ct})
	wantStatus(t, "fake PNG with a bio", r, http.StatusBadRequest)
	r = do(t, gw0, req{method: "GET", path: "/api/user/profile/", token: a.access})
	if bio := r.object(t)["bio"]; bio != "with picture" {
		t.Errorf("bio after a refused picture: %v, want the earlier %q", bio, "with picture")
	}
	// A 5000×5000 picture is refused from its header (it would cost the
	// user service too much memory to decode); a 12-megapixel photo
	// (4000×3000, a phone's) is still fine.
	grayJPEG := func(w, h int) []byte {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	body, ct = multipartBody(t, nil, "profile_picture", grayJPEG(5000, 5000))
	r = do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: a.access, raw: body, contentType: ct})
	wantJSON(t, "5000x5000 picture", r, http.StatusBadRequest,
		`{"profile_picture":["The image is too large. Use a smaller picture (at most 4096×4096 pixels)."]}`)
	body, ct = multipartBody(t, nil, "profile_picture", grayJPEG(4000, 3000))
	r = do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: a.access, raw: body, contentType: ct})
	wantStatus(t, "4000x3000 photo", r, http.StatusOK)

	// Post images: stored like pictures, re-encoded and scaled to fit 1600×1600.
	wide := image.NewRGBA(image.Rect(0, 0, 2000, 1000))
	var wideBuf bytes.Buffer
	if err := png.Encode(&wideBuf, wide); err != nil {
		t.Fatal(err)
	}
	body, ct = multipartBody(t, nil, "image", append(wideBuf.Bytes(), "trailing bytes are not kept"...))
	r = do(t, gw1, req{method: "POST", path: "/api/post/images/", token: a.access, raw: body, contentType: ct})
	wantStatus(t, "upload a post image", r, http.StatusCreated)
	img := r.object(t)
	imgURL, _ := img["url"].(string)
	if !strings.HasPrefix(imgURL, "/media/images/") || img["width"] != 1600.0 || img["height"] != 800.0 {
		t.Fatalf("post image: %s, want a /media/images/ url at 1600×800", r.body)
	}
	r = do(t, gw0, req{method: "GET", path: imgURL})
	wantStatus(t, "stored post image", r, http.StatusOK)
	if cfg, err := png.DecodeConfig(bytes.NewReader(r.body)); err != nil || cfg.Width != 1600 || cfg.Height != 800 || bytes.Contains(r.body, []byte("trailing")) {
		t.Errorf("stored post image: %v %+v, want a re-encoded 1600×800 PNG", err, cfg)
	}
	body, ct = multipartBody(t, nil, "image", []byte("\x89PNG\r\n\x1a\nnot really a png"))
	r = do(t, gw0, req{method: "POST", path: "/api/post/images/", token: a.access, raw: body, contentType: ct})
	if r.status != http.StatusBadRequest || r.object(t)["image"] == nil {
		t.Errorf("fake PNG as a post image: got %s, want 400 {image: [...]}", r)
	}
	body, ct = multipartBody(t, map[string]string{"title": "x"}, "image", wideBuf.Bytes())
	r = do(t, gw0, req{method: "POST", path: "/api/post/images/", token: a.access, raw: body, contentType: ct})
	wantJSON(t, "post image with another field", r, http.StatusBadRequest, `{"title":["Unknown field."]}`)
	r = do(t, gw0, req{method: "POST", path: "/api/post/images/", token: a.access, json: map[string]string{"image": "x"}})
	wantStatus(t, "post image as JSON", r, http.StatusUnsupportedMediaType)
	r = do(t, gw0, req{method: "POST", path: "/api/post/images/", raw: body, contentType: ct})
	wantStatus(t, "post image without a session", r, http.StatusUnauthorized)

	big := make([]byte, 6<<20)
	copy(big, pngImage(t, color.White))
	body, ct = multipartBody(t, nil, "profile_picture", big)
	r = do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: a.access, raw: body, contentType: ct})
	wantJSON(t, "6 MiB picture", r, http.StatusRequestEntityTooLarge, `{"detail":"Request body is too large."}`)
	// A JSON body on the profile route keeps the 1 MiB limit.
	r = do(t, gw0, req{method: "PATCH", path: "/api/user/profile/", token: a.access, json: map[string]string{"bio": strings.Repeat("b", 2<<20)}})
	wantStatus(t, "2 MiB JSON profile", r, http.StatusRequestEntityTooLarge)
}

func testFriends(t *testing.T, gw0, gw1 string) {
	a := register(t, gw0, "fa")
	b := register(t, gw1, "fb")
	c := register(t, gw0, "fc")

	add := func(who *account, email string) *resp {
		return do(t, gw0, req{method: "POST", path: "/api/user/add-friend/", token: who.access, json: map[string]string{"email": email}})
	}
	r := add(a, b.email)
	wantJSON(t, "add friend", r, http.StatusOK, fmt.Sprintf(`{"message":"%s님을 친구로 추가했습니다."}`, b.email))
	wantStatus(t, "add second friend", add(a, c.email), http.StatusOK)
	r = add(a, "nobody-"+a.email)
	wantJSON(t, "add unknown", r, http.StatusNotFound, `{"detail":"User with this email does not exist."}`)
	r = add(a, a.email)
	if r.status != http.StatusBadRequest {
		t.Errorf("add yourself: got %s, want 400", r)
	}
	r = do(t, gw0, req{method: "POST", path: "/api/user/add-friend/", token: a.access, json: map[string]string{}})
	wantJSON(t, "add without email", r, http.StatusBadRequest, `{"email":["This field is required."]}`)

	// List, one per page, following the Link header.
	var got []string
	next := "/api/user/friends/?limit=1"
	for page := 0; next != "" && page < 5; page++ {
		r = do(t, gw1, req{method: "GET", path: next, token: a.access})
		wantStatus(t, "friends page", r, http.StatusOK)
		var items []map[string]any
		r.decode(t, &items)
		for _, it := range items {
			got = append(got, it["email"].(string))
			if it["status"] == nil || it["id"] == nil || it["profile_picture_url"] == nil {
				t.Errorf("friend entry: %v", it)
			}
		}
		next = ""
		if l := r.header.Get("Link"); l != "" {
			if !strings.HasSuffix(l, `>; rel="next"`) || !strings.HasPrefix(l, "</api/user/friends/?") {
				t.Fatalf("Link header %q", l)
			}
			next = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{b.email, c.email}) && fmt.Sprint(got) != fmt.Sprint([]string{c.email, b.email}) {
		t.Errorf("friends over pages: got %v, want %s and %s", got, b.email, c.email)
	}
	r = do(t, gw1, req{method: "GET", path: "/api/user/friends/?limit=abc", token: a.access})
	if r.status != http.StatusBadRequest || r.object(t)["limit"] == nil {
		t.Errorf("limit=abc: got %s, want 400 {limit: [...]}", r)
	}

	// Private profiles: B goes private; A (not in B's friends) is refused,
	// until B adds A.
	r = do(t, gw1, req{method: "PATCH", path: "/api/user/profile/", token: b.access, json: map[string]any{"is_private": true}})
	wantStatus(t, "make private", r, http.StatusOK)
	path := "/api/user/friend-profile/" + strconv.FormatInt(b.id, 10) + "/"
	r = do(t, gw0, req{method: "GET", path: path, token: a.access})
	if r.status != http.StatusForbidden || r.object(t)["message"] != "This account is private." {
		t.Errorf("private profile: got %s, want 403 {message: This account is private.}", r)
	}
	if bytes.Contains(r.body, []byte(b.email)) {
		t.Errorf("private profile answer leaks data: %s", r.body)
	}
	wantStatus(t, "B adds A", add(b, a.email), http.StatusOK)
	r = do(t, gw0, req{method: "GET", path: path, token: a.access})
	wantStatus(t, "private profile, viewer in its friends", r, http.StatusOK)
	if r.object(t)["email"] != b.email {
		t.Errorf("friend profile: %s", r.body)
	}
	r = do(t, gw0, req{method: "GET", path: "/api/user/friend-profile/" + strconv.FormatInt(c.id, 10), token: a.access})
	wantStatus(t, "public profile without trailing slash", r, http.StatusOK)
	for _, bad := range []string{"abc", "1e3", "-1", "0", "99999999999999999999", strconv.FormatInt(c.id, 10) + "x"} {
		r = do(t, gw0, req{method: "GET", path: "/api/user/friend-profile/" + bad + "/", token: a.access})
		wantJSON(t, "friend-profile/"+bad, r, http.StatusNotFound, `{"detail":"Not found."}`)
	}
	r = do(t, gw0, req{method: "GET", path: "/api/user/friend-profile/987654321/", token: a.access})
	wantStatus(t, "unknown user id", r, http.StatusNotFound)

	// Delete.
	del := func(email string) *resp {
		return do(t, gw1, req{method: "POST", path: "/api/user/delete-friend/", token: a.access, json: map[string]string{"email": email}})
	}
	wantJSON(t, "delete friend", del(c.email), http.StatusOK, fmt.Sprintf(`{"message":"%s님을 친구 목록에서 삭제했습니다."}`, c.email))
	wantJSON(t, "delete again", del(c.email), http.StatusNotFound, fmt.Sprintf(`{"detail":"%s님은 친구 목록에 없습니다."}`, c.email))
	r = do(t, gw1, req{method: "GET", path: "/api/user/profile/", token: a.access})
	if fe := fmt.Sprint(r.object(t)["friends_emails"]); fe != fmt.Sprint([]string{b.email}) {
		t.Errorf("friends_emails after delete: got %v, want [%s]", fe, b.email)
	}
}

// testSearch: search-friends matches nicknames (literally) and exact
// emails only, so "@", "" or a domain cannot list accounts, and a private
// user's email is blank for users they did not add.
func testSearch(t *testing.T, gw string) {
	tag := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	me := register(t, gw, "searcher")
	signup := func(email, nickname string) *account {
		a := &account{email: email, password: goodPassword}
		r := do(t, gw, req{method: "POST", path: "/api/user/registration/",
			json: map[string]string{"email": a.email, "password": a.password, "nickname": nickname}})
		wantStatus(t, "register "+a.email, r, http.StatusCreated)
		return a
	}
	// x_y... must be found by "x_y" and "X_Y"; xay... must not ("_" is literal).
	under := signup("x_y"+tag+"@example.com", "x_y"+tag)
	signup("xay"+tag+"@example.com", "xay"+tag)
	open := signup("open"+tag+"@example.com", "open"+tag)
	hidden := signup("hidden"+tag+"@example.com", "hid"+tag)
	login(t, gw, hidden)
	r := do(t, gw, req{method: "PATCH", path: "/api/user/profile/", token: hidden.access, json: map[string]bool{"is_private": true}})
	wantStatus(t, "make a profile private", r, http.StatusOK)

	search := func(kw string) []map[string]any {
		t.Helper()
		r := do(t, gw, req{method: "GET", path: "/api/user/search-friends/?keyword=" + query(kw), token: me.access})
		wantStatus(t, "search "+kw, r, http.StatusOK)
		var out []map[string]any
		r.decode(t, &out)
		return out
	}
	emails := func(items []map[string]any) []string {
		var out []string
		for _, it := range items {
			out = append(out, it["email"].(string))
			for _, field := range []string{"id", "nickname", "profile_picture_url"} {
				if _, ok := it[field]; !ok {
					t.Errorf("search result without %q: %v", field, it)
				}
			}
			for _, secret := range []string{"password", "contact_number", "is_private", "friends_emails"} {
				if _, ok := it[secret]; ok {
					t.Errorf("search result carries %q: %v", secret, it)
				}
			}
		}
		return out
	}
	for _, tc := range []struct {
		keyword string
		want    []string
	}{
		{"X_Y" + tag, []string{under.email}},
		{"x%" + tag, nil}, // "%" is literal
		{"_" + tag + "_", nil},
		{"' OR 1=1--", nil},
		{`\`, nil},
		// Never an email directory: no substring of emails is searched,
		// and "", "@" and one character find nobody.
		{"", nil},
		{"@", nil},
		{"%", nil},
		{"x", nil},
		{"@example.com", nil},
		{"hidden" + tag, nil},
		// An exact email finds its user (typed: nothing new is revealed).
		{strings.ToUpper(open.email), []string{open.email}},
		{hidden.email, []string{hidden.email}},
		// A private user found by nickname keeps the field, blank.
		{"HID" + tag, []string{""}},
	} {
		if got := emails(search(tc.keyword)); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("search %q: got %q, want %q", tc.keyword, got, tc.want)
		}
	}
	r = do(t, gw, req{method: "GET", path: "/api/user/search-friends?keyword=" + tag + "&limit=1", token: me.access})
	wantStatus(t, "search page of one", r, http.StatusOK)
	if !strings.Contains(r.header.Get("Link"), `rel="next"`) {
		t.Errorf("search with more results than the limit: no Link header")
	}
}
