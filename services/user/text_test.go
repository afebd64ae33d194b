package main

import (
	"testing"

	"google.golang.org/grpc/codes"

	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
)

// TestUnstorableTextOverRPC: the user service refuses NUL and other
// control characters from any gRPC caller (not only through the gateway)
// with INVALID_ARGUMENT naming the field, including text that is only
// looked up (PostgreSQL refuses a NUL in any query: that was a 500).
func TestUnstorableTextOverRPC(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c, bg := s.client, s.authed("")
	if _, err := c.Register(bg, &userv1.RegisterRequest{Email: "text@example.com", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Login(bg, &userv1.LoginRequest{Email: "text@example.com", Password: "correct horse battery", ClientIp: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	me := s.authed(res.GetTokens().GetAccess())
	for _, bad := range []struct{ text, msg string }{
		{"\x00", "Null characters are not allowed."},
		{"\x1b", "Control characters are not allowed."},
	} {
		_, err := c.Register(bg, &userv1.RegisterRequest{Email: "new@example.com", Password: "correct horse" + bad.text + "battery"})
		wantFields(t, "Register password", err, "password", bad.msg)
		_, err = c.Register(bg, &userv1.RegisterRequest{Email: "new@example.com", Password: "correct horse battery", Nickname: "n" + bad.text})
		wantFields(t, "Register nickname", err, "nickname", bad.msg)
		_, err = c.Login(bg, &userv1.LoginRequest{Email: "text@example.com" + bad.text, Password: "x", ClientIp: "192.0.2.1"})
		wantFields(t, "Login email", err, "email", bad.msg)
		_, err = c.Login(bg, &userv1.LoginRequest{Email: "text@example.com", Password: "x" + bad.text, ClientIp: "192.0.2.1"})
		wantFields(t, "Login password", err, "password", bad.msg)
		bio := "b" + bad.text
		_, err = c.UpdateProfile(me, &userv1.UpdateProfileRequest{Bio: bio, UpdateMask: []string{"bio"}})
		wantFields(t, "UpdateProfile bio", err, "bio", bad.msg)
		_, err = c.AddFriend(me, &userv1.AddFriendRequest{Email: "text@example.com" + bad.text})
		wantFields(t, "AddFriend email", err, "email", bad.msg)
		_, err = c.DeleteFriend(me, &userv1.DeleteFriendRequest{Email: "text@example.com" + bad.text})
		wantFields(t, "DeleteFriend email", err, "email", bad.msg)
		_, err = c.SearchUsers(me, &userv1.SearchUsersRequest{Keyword: "text" + bad.text})
		wantFields(t, "SearchUsers keyword", err, "keyword", bad.msg)
		_, err = c.GetMedia(bg, &userv1.GetMediaRequest{Key: "avatars/x" + bad.text + ".webp"})
		wantCode(t, "GetMedia", err, codes.NotFound, "")
	}
	// The refused logins were not counted as failures: the account works.
	if _, err := c.Login(bg, &userv1.LoginRequest{Email: "text@example.com", Password: "correct horse battery", ClientIp: "192.0.2.1"}); err != nil {
		t.Errorf("login after refused attempts: %v", err)
	}
}
