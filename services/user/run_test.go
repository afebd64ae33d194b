package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/envconfig"
	"github.com/cobraspace/cobraspace/platform/fielderr"
	"github.com/cobraspace/cobraspace/platform/grpcauth"
	"github.com/cobraspace/cobraspace/platform/grpcclient"
	"github.com/cobraspace/cobraspace/platform/revocation"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/platform/testenv"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
)

// service is a user service started in-process by run, on port 0.
type service struct {
	client userv1.UserServiceClient
	// gateway calls with the gateway's service identity (the service key).
	gateway  userv1.UserServiceClient
	grpc     string // gRPC address
	ctx      context.Context
	admin    string
	verifier *accesstoken.Verifier
	prefix   string
}

// start runs the service with env (on top of a fresh database, key pair
// and prefix) until the test ends, and checks that it stops cleanly.
func start(t *testing.T, env map[string]string) *service {
	t.Helper()
	priv, pub := testenv.KeyPair(t)
	prefix := testenv.Prefix(t)
	keyFile := testenv.ServiceKey(t)
	full := map[string]string{
		"SERVICE_KEY_FILE":     keyFile,
		"GRPC_ADDR":            "127.0.0.1:0",
		"ADMIN_ADDR":           "127.0.0.1:0",
		"DATABASE_URL":         testenv.Database(t),
		"REDIS_URL":            testenv.RedisURL(),
		"REDIS_PREFIX":         prefix,
		"NATS_URL":             testenv.NATSURL(),
		"NATS_PREFIX":          prefix,
		"JWT_PRIVATE_KEY_FILE": priv,
		"JWT_PUBLIC_KEY_FILE":  pub,
		"LOG_LEVEL":            "warn",
	}
	for k, v := range env {
		full[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, nil, func(k string) string { return full[k] }, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	var addrs struct{ Msg, GRPC, Admin string }
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			if !sent && strings.Contains(sc.Text(), `"msg":"listening"`) {
				lines <- sc.Text()
				sent = true
			}
		}
		if !sent {
			close(lines)
		}
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			cancel()
			t.Fatalf("run exited before listening: %v", <-done)
		}
		if err := json.Unmarshal([]byte(line), &addrs); err != nil {
			t.Fatalf("listening line %q: %v", line, err)
		}
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("no listening line within 20 s")
	}
	conn, err := grpc.NewClient(addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	gwConn, err := grpcclient.Dial(addrs.GRPC, serviceKey(t, "gateway", keyFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		gwConn.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v, want nil after cancel", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("run did not stop within 15 s of cancel")
		}
	})
	pubKey, err := accesstoken.LoadPublicKeyFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	callCtx, callCancel := context.WithTimeout(context.Background(), 50*time.Second)
	t.Cleanup(callCancel)
	return &service{
		ctx:      callCtx,
		client:   userv1.NewUserServiceClient(conn),
		gateway:  userv1.NewUserServiceClient(gwConn),
		grpc:     addrs.GRPC,
		admin:    addrs.Admin,
		verifier: accesstoken.NewVerifier(pubKey),
		prefix:   prefix,
	}
}

// serviceKey is the client side of the service called name with the key
// in keyFile.
func serviceKey(t *testing.T, name, keyFile string) servicetrust.Config {
	t.Helper()
	trust, err := servicetrust.FromKeyFile(name, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return trust
}

// envReader reads configuration from env.
func envReader(env map[string]string) *envconfig.Reader {
	return envconfig.New(func(k string) string { return env[k] })
}

// authed returns a context (bounded by the test's deadline) whose calls
// carry token.
func (s *service) authed(token string) context.Context {
	return grpcauth.WithToken(s.ctx, token)
}

// wantCode fails unless err is a status with code (and msg, when not "").
func wantCode(t *testing.T, what string, err error, code codes.Code, msg string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code || (msg != "" && st.Message() != msg) {
		t.Errorf("%s: got %v %q, want %v %q", what, st.Code(), st.Message(), code, msg)
	}
}

// wantFields fails unless err carries exactly these messages for field.
func wantFields(t *testing.T, what string, err error, field string, msgs ...string) {
	t.Helper()
	got := fielderr.FromError(err)[field]
	if !slices.Equal(got, msgs) {
		t.Errorf("%s: field %q messages = %q (err %v), want %q", what, field, got, err, msgs)
	}
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{R: uint8(x * 3), G: uint8(y * 5), B: 200, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestService(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client
	authed := s.authed
	bg := authed("")

	// Anonymous calls of authenticated RPCs are refused.
	_, err := c.GetProfile(bg, &userv1.GetProfileRequest{})
	wantCode(t, "GetProfile without token", err, codes.Unauthenticated, "")
	_, err = c.Logout(bg, &userv1.LogoutRequest{})
	wantCode(t, "Logout without token", err, codes.Unauthenticated, "")
	_, err = c.GetProfile(authed("not.a.jwt"), &userv1.GetProfileRequest{})
	wantCode(t, "GetProfile with garbage token", err, codes.Unauthenticated, "")

	// Registration.
	_, err = c.Register(bg, &userv1.RegisterRequest{Email: "alice@example.com", Password: "1234"})
	wantFields(t, "weak password", err, "password",
		"This password is too short. It must contain at least 8 characters.",
		"This password is too common.", "This password is entirely numeric.")
	_, err = c.Register(bg, &userv1.RegisterRequest{Email: "not-an-email", Password: "good pass phrase"})
	wantFields(t, "bad email", err, "email", "Enter a valid email address.")
	reg, err := c.Register(bg, &userv1.RegisterRequest{Email: "alice.wonder@example.com", Password: "correct horse battery"})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	alice := reg.GetProfile()
	if alice.GetNickname() != "alice.wonder" || alice.GetProfilePictureUrl() != fmt.Sprintf("/media/avatars/default/%d.svg", alice.GetUserId()) ||
		alice.GetStatus() != userv1.Status_STATUS_AVAILABLE {
		t.Errorf("registered profile = %v", alice)
	}
	_, err = c.Register(bg, &userv1.RegisterRequest{Email: "ALICE.Wonder@Example.com", Password: "another good one"})
	wantFields(t, "duplicate email", err, "email", "A user is already registered with this e-mail address.")

	// Login.
	_, err = c.Login(bg, &userv1.LoginRequest{Email: "alice.wonder@example.com", Password: "wrong password!", ClientIp: "192.0.2.1"})
	wantCode(t, "wrong password", err, codes.Unauthenticated, "Unable to log in with provided credentials.")
	_, err = c.Login(bg, &userv1.LoginRequest{Email: "nobody@example.com", Password: "wrong password!", ClientIp: "192.0.2.1"})
	wantCode(t, "unknown email", err, codes.Unauthenticated, "Unable to log in with provided credentials.")
	login := func(email, password string) *userv1.TokenPair {
		t.Helper()
		res, err := c.Login(bg, &userv1.LoginRequest{Email: email, Password: password, ClientIp: "192.0.2.1"})
		if err != nil {
			t.Fatalf("Login(%s): %v", email, err)
		}
		return res.GetTokens()
	}
	pair := login("Alice.Wonder@example.com", "correct horse battery")
	ac, err := s.verifier.Verify(pair.GetAccess(), accesstoken.TypeAccess)
	if err != nil || ac.UserID != alice.GetUserId() || ac.Family == "" || len(ac.ID) != 32 {
		t.Fatalf("access claims = %+v, %v", ac, err)
	}
	if ttl := ac.ExpiresAt.Sub(ac.IssuedAt); ttl != 15*time.Minute {
		t.Errorf("access TTL = %v, want 15m", ttl)
	}
	rc, err := s.verifier.Verify(pair.GetRefresh(), accesstoken.TypeRefresh)
	if err != nil || rc.Family != ac.Family || rc.ExpiresAt.Sub(rc.IssuedAt) != 14*24*time.Hour {
		t.Fatalf("refresh claims = %+v, %v (family %q)", rc, err, ac.Family)
	}
	if _, err := s.verifier.Verify(pair.GetRefresh(), accesstoken.TypeAccess); err == nil {
		t.Error("refresh token accepted as an access token")
	}
	_, err = c.GetProfile(authed(pair.GetRefresh()), &userv1.GetProfileRequest{})
	wantCode(t, "GetProfile with a refresh token", err, codes.Unauthenticated, "")

	// Refresh rotation and reuse detection.
	pair2, err := c.RefreshToken(bg, &userv1.RefreshTokenRequest{Refresh: pair.GetRefresh()})
	if err != nil {
		t.Fatalf("RefreshToken: %v", err)
	}
	if c2, _ := s.verifier.Verify(pair2.GetAccess(), accesstoken.TypeAccess); c2.Family != ac.Family {
		t.Errorf("rotated access family = %q, want %q", c2.Family, ac.Family)
	}
	_, err = c.RefreshToken(bg, &userv1.RefreshTokenRequest{Refresh: pair.GetRefresh()})
	wantCode(t, "reuse of a rotated refresh token", err, codes.Unauthenticated, "Token is invalid or expired.")
	_, err = c.RefreshToken(bg, &userv1.RefreshTokenRequest{Refresh: pair2.GetRefresh()})
	wantCode(t, "newest refresh token after reuse", err, codes.Unauthenticated, "Token is invalid or expired.")
	_, err = c.RefreshToken(bg, &userv1.RefreshTokenRequest{Refresh: pair2.GetAccess()})
	wantCode(t, "access token as refresh", err, codes.Unauthenticated, "")

	// Logout: family revoked, access token denylisted, NATS announcement.
	pair = login("alice.wonder@example.com", "correct horse battery")
	ac, _ = s.verifier.Verify(pair.GetAccess(), accesstoken.TypeAccess)
	nc, err := natsgo.Connect(testenv.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync(subjects.New(s.prefix).UserRevoked(alice.GetUserId()))
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logout(authed(pair.GetAccess()), &userv1.LogoutRequest{Refresh: pair.GetRefresh()}); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no revocation announced: %v", err)
	}
	var ev struct {
		Sessions    []string
		JTI, Reason string
	}
	if err := json.Unmarshal(msg.Data, &ev); err != nil || !slices.Equal(ev.Sessions, []string{ac.Family}) || ev.JTI != ac.ID || ev.Reason != "logout" {
		t.Errorf("announcement = %s (%v), want sessions [%s] jti %s reason logout", msg.Data, err, ac.Family, ac.ID)
	}
	opt, _ := goredis.ParseURL(testenv.RedisURL())
	rdb := goredis.NewClient(opt)
	defer rdb.Close()
	if revoked, err := revocation.New(rdb, s.prefix).IsRevoked(context.Background(), ac.Family); !revoked || err != nil {
		t.Errorf("denylist IsRevoked(session) = %v, %v; want true", revoked, err)
	}
	_, err = c.GetProfile(authed(pair.GetAccess()), &userv1.GetProfileRequest{})
	wantCode(t, "GetProfile after logout", err, codes.Unauthenticated, "")
	_, err = c.RefreshToken(bg, &userv1.RefreshTokenRequest{Refresh: pair.GetRefresh()})
	wantCode(t, "refresh after logout", err, codes.Unauthenticated, "")

	// Profiles.
	tok := login("alice.wonder@example.com", "correct horse battery").GetAccess()
	up, err := c.UpdateProfile(authed(tok), &userv1.UpdateProfileRequest{
		UpdateMask: []string{"nickname", "bio", "skills", "status", "is_private"},
		Nickname:   "Ali <b>", Bio: "Gopher", Skills: []string{"go", "Go", "sql"}, Status: userv1.Status_STATUS_BUSY,
		IsPrivate: true, ContactNumber: "ignored: not in mask",
	})
	if err != nil {
		t.Fatalf("UpdateProfile: %v", err)
	}
	if up.GetNickname() != "Ali <b>" || up.GetBio() != "Gopher" || !slices.Equal(up.GetSkills(), []string{"go", "sql"}) ||
		up.GetStatus() != userv1.Status_STATUS_BUSY || !up.GetIsPrivate() || up.GetContactNumber() != "" {
		t.Errorf("updated profile = %v", up)
	}
	_, err = c.UpdateProfile(authed(tok), &userv1.UpdateProfileRequest{UpdateMask: []string{"nickname"}, Nickname: strings.Repeat("n", 21)})
	wantFields(t, "long nickname", err, "nickname", "Ensure this field has no more than 20 characters.")
	_, err = c.UpdateProfile(authed(tok), &userv1.UpdateProfileRequest{UpdateMask: []string{"email"}})
	wantCode(t, "mask naming email", err, codes.InvalidArgument, "")

	// Pictures and media.
	def, err := c.GetMedia(bg, &userv1.GetMediaRequest{Key: fmt.Sprintf("avatars/default/%d.svg", alice.GetUserId())})
	if err != nil || def.GetContentType() != "image/svg+xml" || def.GetImmutable() || !bytes.Contains(def.GetData(), []byte(">A</text>")) || def.GetEtag() == "" {
		t.Errorf("default avatar = %q %v %s (%v)", def.GetContentType(), def.GetImmutable(), def.GetData(), err)
	}
	_, err = c.SetProfilePicture(authed(tok), &userv1.SetProfilePictureRequest{Image: []byte("just some text, not an image")})
	wantFields(t, "bad picture", err, "profile_picture",
		"Upload a valid image. The file you uploaded was either not an image or a corrupted image.")
	pp, err := c.SetProfilePicture(authed(tok), &userv1.SetProfilePictureRequest{Image: pngBytes(t, 320, 200), ContentType: "image/png"})
	if err != nil {
		t.Fatalf("SetProfilePicture: %v", err)
	}
	key := pp.GetProfilePicture()
	if !strings.HasPrefix(key, fmt.Sprintf("avatars/%d/", alice.GetUserId())) || pp.GetProfilePictureUrl() != "/media/"+key {
		t.Errorf("picture key %q url %q", key, pp.GetProfilePictureUrl())
	}
	m, err := c.GetMedia(bg, &userv1.GetMediaRequest{Key: key})
	if err != nil {
		t.Fatalf("GetMedia: %v", err)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(m.GetData()))
	if err != nil || format != "png" || cfg.Width != 256 || cfg.Height != 256 || m.GetContentType() != "image/png" || !m.GetImmutable() {
		t.Errorf("stored picture: %s %dx%d %q immutable=%v (%v)", format, cfg.Width, cfg.Height, m.GetContentType(), m.GetImmutable(), err)
	}
	// A new picture replaces (and deletes) the old one.
	pp2, err := c.SetProfilePicture(authed(tok), &userv1.SetProfilePictureRequest{Image: pngBytes(t, 100, 100)})
	if err != nil || pp2.GetProfilePicture() == key {
		t.Fatalf("second picture: %v, %v", pp2.GetProfilePicture(), err)
	}
	_, err = c.GetMedia(bg, &userv1.GetMediaRequest{Key: key})
	wantCode(t, "old picture", err, codes.NotFound, "")
	_, err = c.GetMedia(bg, &userv1.GetMediaRequest{Key: "avatars/default/999999.svg"})
	wantCode(t, "default avatar of unknown user", err, codes.NotFound, "")
	_, err = c.GetMedia(bg, &userv1.GetMediaRequest{Key: "../../etc/passwd"})
	wantCode(t, "unknown media", err, codes.NotFound, "")

	// Friends.
	register := func(email, nickname string) *userv1.Profile {
		t.Helper()
		r, err := c.Register(bg, &userv1.RegisterRequest{Email: email, Password: "a fine passphrase", Nickname: nickname})
		if err != nil {
			t.Fatalf("Register(%s): %v", email, err)
		}
		return r.GetProfile()
	}
	bob := register("bob@example.com", "bob coder")
	carol := register("carol@example.org", "carol coder")
	bobTok := login("bob@example.com", "a fine passphrase").GetAccess()

	_, err = c.AddFriend(authed(tok), &userv1.AddFriendRequest{Email: "alice.wonder@example.com"})
	wantFields(t, "add self", err, "email", "You cannot add yourself as a friend.")
	_, err = c.AddFriend(authed(tok), &userv1.AddFriendRequest{Email: "ghost@example.com"})
	wantCode(t, "add unknown", err, codes.NotFound, "User with this email does not exist.")
	for _, e := range []string{"BOB@example.com", "carol@example.org"} {
		res, err := c.AddFriend(authed(tok), &userv1.AddFriendRequest{Email: e})
		if err != nil || !strings.EqualFold(res.GetFriend().GetEmail(), e) {
			t.Fatalf("AddFriend(%s) = %v, %v", e, res, err)
		}
	}
	page1, err := c.ListFriends(authed(tok), &userv1.ListFriendsRequest{Limit: 1})
	if err != nil || len(page1.GetFriends()) != 1 || page1.GetFriends()[0].GetUserId() != bob.GetUserId() || page1.GetNextCursor() == "" {
		t.Fatalf("friends page 1 = %v, %v", page1, err)
	}
	page2, err := c.ListFriends(authed(tok), &userv1.ListFriendsRequest{Limit: 1, Cursor: page1.GetNextCursor()})
	if err != nil || len(page2.GetFriends()) != 1 || page2.GetFriends()[0].GetUserId() != carol.GetUserId() || page2.GetNextCursor() != "" {
		t.Fatalf("friends page 2 = %v, %v", page2, err)
	}
	_, err = c.ListFriends(authed(tok), &userv1.ListFriendsRequest{Cursor: "garbage!"})
	wantFields(t, "bad cursor", err, "cursor", "Invalid cursor.")
	if p, _ := c.GetProfile(authed(tok), &userv1.GetProfileRequest{}); !slices.Equal(p.GetFriendsEmails(), []string{"bob@example.com", "carol@example.org"}) {
		t.Errorf("friends_emails = %q", p.GetFriendsEmails())
	}

	// Alice is private: bob may not see her profile until she added him.
	_, err = c.GetFriendProfile(authed(bobTok), &userv1.GetFriendProfileRequest{UserId: 999999})
	wantCode(t, "unknown friend profile", err, codes.NotFound, "")
	fp, err := c.GetFriendProfile(authed(bobTok), &userv1.GetFriendProfileRequest{UserId: alice.GetUserId()})
	if err != nil || fp.GetBio() != "Gopher" {
		t.Errorf("bob views alice (he is on her list) = %v, %v", fp, err)
	}
	if _, err := c.DeleteFriend(authed(tok), &userv1.DeleteFriendRequest{Email: "bob@example.com"}); err != nil {
		t.Fatalf("DeleteFriend: %v", err)
	}
	_, err = c.DeleteFriend(authed(tok), &userv1.DeleteFriendRequest{Email: "bob@example.com"})
	wantCode(t, "delete non-friend", err, codes.NotFound, "bob@example.com님은 친구 목록에 없습니다.")
	_, err = c.GetFriendProfile(authed(bobTok), &userv1.GetFriendProfileRequest{UserId: alice.GetUserId()})
	wantCode(t, "bob views private alice", err, codes.PermissionDenied, "This account is private.")
	if _, err := c.GetFriendProfile(authed(tok), &userv1.GetFriendProfileRequest{UserId: bob.GetUserId()}); err != nil {
		t.Errorf("alice views public bob: %v", err)
	}

	// Search: nicknames by substring, emails only exactly; private alice's
	// email only for carol (on her list) or whoever typed it.
	search := func(token, keyword string) []string {
		t.Helper()
		res, err := c.SearchUsers(authed(token), &userv1.SearchUsersRequest{Keyword: keyword})
		if err != nil {
			t.Fatalf("SearchUsers(%q): %v", keyword, err)
		}
		var found []string
		for _, u := range res.GetUsers() {
			found = append(found, u.GetNickname()+"|"+u.GetEmail())
		}
		return found
	}
	carolTok := login("carol@example.org", "a fine passphrase").GetAccess()
	for _, tc := range []struct {
		token, keyword string
		want           []string
	}{
		{bobTok, "ALI", []string{"Ali <b>|"}},
		{carolTok, "ali", []string{"Ali <b>|alice.wonder@example.com"}},
		{bobTok, " alice.wonder@EXAMPLE.com ", []string{"Ali <b>|alice.wonder@example.com"}},
		{bobTok, "bob@example.com", []string{"bob coder|bob@example.com"}},
		{bobTok, "example.com", nil},
		{bobTok, "@", nil},
		{bobTok, "", nil},
		{bobTok, "b", nil}, // shorter than 2 characters
		{bobTok, "%", nil},
		{bobTok, "<b", []string{"Ali <b>|"}},
		{bobTok, "' OR 1=1--", nil},
	} {
		if got := search(tc.token, tc.keyword); !slices.Equal(got, tc.want) {
			t.Errorf("search %q = %q, want %q", tc.keyword, got, tc.want)
		}
	}
	sp, err := c.SearchUsers(authed(bobTok), &userv1.SearchUsersRequest{Keyword: "coder", Limit: 1})
	if err != nil || len(sp.GetUsers()) != 1 || sp.GetNextCursor() == "" {
		t.Fatalf("search page 1 = %v, %v", sp, err)
	}
	sp2, err := c.SearchUsers(authed(bobTok), &userv1.SearchUsersRequest{Keyword: "coder", Limit: 1, Cursor: sp.GetNextCursor()})
	if err != nil || len(sp2.GetUsers()) != 1 || sp2.GetUsers()[0].GetUserId() != carol.GetUserId() || sp2.GetNextCursor() != "" {
		t.Errorf("search page 2 = %v, %v", sp2, err)
	}

	// GetUsers (for services) is batch, in request order, unknown ids left out.
	gu, err := s.gateway.GetUsers(bg, &userv1.GetUsersRequest{UserIds: []int64{carol.GetUserId(), 999999, alice.GetUserId(), carol.GetUserId()}})
	if err != nil || len(gu.GetUsers()) != 2 || gu.GetUsers()[0].GetUserId() != carol.GetUserId() ||
		gu.GetUsers()[1].GetNickname() != "Ali <b>" || gu.GetUsers()[1].GetProfilePictureUrl() != pp2.GetProfilePictureUrl() {
		t.Errorf("GetUsers = %v, %v", gu, err)
	}
	_, err = s.gateway.GetUsers(bg, &userv1.GetUsersRequest{UserIds: make([]int64, 501)})
	wantCode(t, "GetUsers of 501", err, codes.InvalidArgument, "")

	// Logout with another user's refresh token is refused and changes nothing.
	aliceSession := login("alice.wonder@example.com", "correct horse battery")
	_, err = c.Logout(authed(bobTok), &userv1.LogoutRequest{Refresh: aliceSession.GetRefresh()})
	wantCode(t, "logout with another user's refresh", err, codes.PermissionDenied, "")
	aliceSession, err = c.RefreshToken(bg, &userv1.RefreshTokenRequest{Refresh: aliceSession.GetRefresh()})
	if err != nil {
		t.Fatalf("alice's refresh after bob's failed logout: %v", err)
	}
	// Logout without a refresh token revokes every family of the caller.
	other := login("alice.wonder@example.com", "correct horse battery")
	if _, err := c.Logout(authed(other.GetAccess()), &userv1.LogoutRequest{}); err != nil {
		t.Fatalf("Logout all: %v", err)
	}
	_, err = c.RefreshToken(bg, &userv1.RefreshTokenRequest{Refresh: aliceSession.GetRefresh()})
	wantCode(t, "refresh of another session after logout-all", err, codes.Unauthenticated, "")

	// Admin endpoints.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		res, err := http.Get("http://" + s.admin + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, res.StatusCode)
		}
		if path == "/metrics" {
			if !bytes.Contains(body, []byte("cobra_db_pool_max_conns")) || !bytes.Contains(body, []byte(`grpc_method="Login"`)) {
				t.Errorf("/metrics lacks the pool or gRPC metrics")
			}
		}
	}
}

// TestLoginRateLimit: failures make the failing address wait (RESOURCE_EXHAUSTED
// with a RetryInfo), never the owner at another address; unknown emails
// are limited exactly like real accounts.
func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	s := start(t, map[string]string{"LOGIN_BACKOFF_BASE": "20s"})
	c := s.client
	bg := s.authed("")
	if _, err := c.Register(bg, &userv1.RegisterRequest{Email: "dave@example.com", Password: "a fine passphrase"}); err != nil {
		t.Fatal(err)
	}
	// Logins come through the gateway, the only caller whose client_ip
	// the service believes (TestLoginClientIPOnlyFromGateway).
	login := func(email, password, ip string) error {
		_, err := s.gateway.Login(bg, &userv1.LoginRequest{Email: email, Password: password, ClientIp: ip})
		return err
	}
	for _, email := range []string{"dave@example.com", "ghost@example.com"} {
		for i := range 5 {
			err := login(email, fmt.Sprintf("guess %d!", i), "198.51.100.7")
			wantCode(t, fmt.Sprintf("%s: failure %d", email, i+1), err, codes.Unauthenticated, "Unable to log in with provided credentials.")
		}
		// The guessing address waits, even with the right password...
		err := login(strings.ToUpper(email), "a fine passphrase", "198.51.100.7")
		wantCode(t, email+": 6th attempt from the same address", err, codes.ResourceExhausted, "Too many login attempts. Try again later.")
		var wait time.Duration
		for _, d := range status.Convert(err).Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				wait = ri.GetRetryDelay().AsDuration()
			}
		}
		if wait <= 19*time.Second || wait > 20*time.Second {
			t.Errorf("%s: RetryInfo delay %v, want ~LOGIN_BACKOFF_BASE (20s)", email, wait)
		}
	}
	// ...but the owner at another address is not locked out.
	if err := login("dave@example.com", "a fine passphrase", "198.51.100.8"); err != nil {
		t.Errorf("owner from another address after 5 failures elsewhere: %v, want a login", err)
	}
}

// TestDegradedWithoutRedisAndNATS: with Redis and NATS unreachable,
// registration, login (unlimited) and logout still work.
func TestDegradedWithoutRedisAndNATS(t *testing.T) {
	t.Parallel()
	s := start(t, map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0", "NATS_URL": "nats://127.0.0.1:1"})
	c := s.client
	authed := s.authed
	bg := authed("")
	if _, err := c.Register(bg, &userv1.RegisterRequest{Email: "erin@example.com", Password: "a fine passphrase"}); err != nil {
		t.Fatal(err)
	}
	for range 6 { // more failures than the limit: nobody counts them
		_, err := c.Login(bg, &userv1.LoginRequest{Email: "erin@example.com", Password: "wrong one!", ClientIp: "203.0.113.1"})
		wantCode(t, "wrong password", err, codes.Unauthenticated, "")
	}
	res, err := c.Login(bg, &userv1.LoginRequest{Email: "erin@example.com", Password: "a fine passphrase", ClientIp: "203.0.113.1"})
	if err != nil {
		t.Fatalf("Login with Redis down: %v", err)
	}
	tok := res.GetTokens()
	if _, err := c.GetProfile(authed(tok.GetAccess()), &userv1.GetProfileRequest{}); err != nil {
		t.Errorf("GetProfile with Redis down: %v", err)
	}
	if _, err := c.Logout(authed(tok.GetAccess()), &userv1.LogoutRequest{}); err != nil {
		t.Fatalf("Logout with Redis and NATS down: %v", err)
	}
	_, err = c.RefreshToken(bg, &userv1.RefreshTokenRequest{Refresh: tok.GetRefresh()})
	wantCode(t, "refresh after degraded logout", err, codes.Unauthenticated, "")
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), nil, func(string) string { return "" }, io.Discard)
	if err == nil {
		t.Fatal("run without configuration: nil error")
	}
	for _, name := range []string{"DATABASE_URL", "JWT_PUBLIC_KEY_FILE", "JWT_PRIVATE_KEY_FILE"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	priv, _ := testenv.KeyPair(t)
	_, otherPub := testenv.KeyPair(t)
	env := map[string]string{"DATABASE_URL": "postgres://x", "JWT_PRIVATE_KEY_FILE": priv, "JWT_PUBLIC_KEY_FILE": otherPub,
		"SERVICE_KEY_FILE": testenv.ServiceKey(t)}
	err = run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not the public key") {
		t.Errorf("mismatched key pair: %v", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Error("unexpected cancel")
	}
	env["JWT_PUBLIC_KEY_FILE"] = priv
	env["LOGIN_BACKOFF_MAX"] = "1h" // longer than LOGIN_FAILURE_WINDOW (15m)
	if _, err := loadConfig(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "LOGIN_BACKOFF_MAX") {
		t.Errorf("login backoff longer than the window: %v, want an error naming LOGIN_BACKOFF_MAX", err)
	}
}
