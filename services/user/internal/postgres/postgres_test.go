package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cobraspace/cobraspace/platform/pgdb"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/user/internal/postgres/migrations"
	"github.com/cobraspace/cobraspace/services/user/internal/user"
)

type stores struct {
	users  *UserStore
	tokens *TokenStore
	media  *MediaStore
}

func setup(t *testing.T) stores {
	t.Helper()
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pgdb.Migrate(ctx, pool, migrations.FS, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return stores{NewUserStore(pool), NewTokenStore(pool), NewMediaStore(pool)}
}

func mustCreate(t *testing.T, s *UserStore, email string) user.Profile {
	t.Helper()
	p, err := s.CreateUser(context.Background(), user.NewUser{Email: email, PasswordHash: "hash", Nickname: "nick"})
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", email, err)
	}
	return p
}

func TestUsersAndProfiles(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := context.Background()
	p := mustCreate(t, s.users, "Alice@example.com")
	if p.UserID == 0 || p.Status != user.StatusAvailable || p.CreatedAt.IsZero() {
		t.Errorf("created profile = %+v", p)
	}

	t.Run("duplicate email in another case", func(t *testing.T) {
		_, err := s.users.CreateUser(ctx, user.NewUser{Email: "aLiCe@EXAMPLE.com", PasswordHash: "h", Nickname: "n"})
		if !errors.Is(err, user.ErrEmailTaken) {
			t.Errorf("CreateUser duplicate = %v, want ErrEmailTaken", err)
		}
	})
	t.Run("concurrent duplicates: exactly one wins", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = s.users.CreateUser(ctx, user.NewUser{Email: "RACE@example.com", PasswordHash: "h", Nickname: "n"})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, user.ErrEmailTaken):
				t.Errorf("unexpected error %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d registrations succeeded, want 1", ok)
		}
	})
	t.Run("credentials case-insensitive", func(t *testing.T) {
		c, err := s.users.Credentials(ctx, "alice@example.com")
		if err != nil || c.UserID != p.UserID || c.PasswordHash != "hash" || c.Email != "Alice@example.com" {
			t.Errorf("Credentials = %+v, %v", c, err)
		}
		if _, err := s.users.Credentials(ctx, "nobody@example.com"); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("Credentials(unknown) = %v, want ErrNotFound", err)
		}
	})
	t.Run("update profile", func(t *testing.T) {
		status := user.StatusBusy
		got, err := s.users.UpdateProfile(ctx, p.UserID, user.ProfileUpdate{
			Bio: ptr("hello"), Skills: ptr([]string{"go", "sql"}), Status: &status, IsPrivate: ptr(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.Bio != "hello" || !slices.Equal(got.Skills, []string{"go", "sql"}) || got.Status != user.StatusBusy ||
			!got.IsPrivate || got.Nickname != "nick" || len(got.Interests) != 0 {
			t.Errorf("updated = %+v", got)
		}
		if _, err := s.users.UpdateProfile(ctx, 999999, user.ProfileUpdate{Bio: ptr("x")}); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("UpdateProfile(unknown) = %v, want ErrNotFound", err)
		}
	})
	t.Run("set picture returns previous", func(t *testing.T) {
		prev, err := s.users.SetPicture(ctx, p.UserID, "avatars/1/a.png")
		if err != nil || prev != "" {
			t.Errorf("first SetPicture = %q, %v; want \"\"", prev, err)
		}
		prev, err = s.users.SetPicture(ctx, p.UserID, "avatars/1/b.png")
		if err != nil || prev != "avatars/1/a.png" {
			t.Errorf("second SetPicture = %q, %v; want avatars/1/a.png", prev, err)
		}
		if _, err := s.users.SetPicture(ctx, 999999, "k"); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("SetPicture(unknown) = %v, want ErrNotFound", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestFriends(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := context.Background()
	me := mustCreate(t, s.users, "me@example.com")
	var others []user.Profile
	for i := range 5 {
		others = append(others, mustCreate(t, s.users, fmt.Sprintf("f%d@example.com", i)))
	}
	// Add in the order 3, 1, 4, 0; 1 twice (idempotent).
	for _, i := range []int{3, 1, 4, 0, 1} {
		if err := s.users.AddFriend(ctx, me.UserID, others[i].UserID); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.users.Profile(ctx, me.UserID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"f3@example.com", "f1@example.com", "f4@example.com", "f0@example.com"}
	if !slices.Equal(p.FriendsEmails, want) {
		t.Errorf("friends emails = %q, want %q (oldest first)", p.FriendsEmails, want)
	}
	// One-directional.
	if ok, _ := s.users.HasFriend(ctx, others[3].UserID, me.UserID); ok {
		t.Error("HasFriend(f3, me) = true; friendship must be one-directional")
	}
	if ok, _ := s.users.HasFriend(ctx, me.UserID, others[3].UserID); !ok {
		t.Error("HasFriend(me, f3) = false, want true")
	}
	// Pages of 3 then 1, continuing after the cursor.
	page1, err := s.users.ListFriends(ctx, me.UserID, user.FriendCursor{}, 3)
	if err != nil || len(page1) != 3 {
		t.Fatalf("page 1 = %v, %v", page1, err)
	}
	last := page1[2]
	page2, err := s.users.ListFriends(ctx, me.UserID, user.FriendCursor{AddedAt: last.AddedAt, FriendID: last.UserID}, 3)
	if err != nil || len(page2) != 1 || page2[0].Email != "f0@example.com" {
		t.Fatalf("page 2 = %v, %v; want [f0]", page2, err)
	}
	deleted, err := s.users.DeleteFriend(ctx, me.UserID, others[4].UserID)
	if err != nil || !deleted {
		t.Errorf("DeleteFriend = %v, %v; want true", deleted, err)
	}
	deleted, err = s.users.DeleteFriend(ctx, me.UserID, others[4].UserID)
	if err != nil || deleted {
		t.Errorf("DeleteFriend again = %v, %v; want false", deleted, err)
	}
	sum, err := s.users.UserByEmail(ctx, "F2@EXAMPLE.COM")
	if err != nil || sum.UserID != others[2].UserID {
		t.Errorf("UserByEmail = %+v, %v", sum, err)
	}
	users, err := s.users.Users(ctx, []int64{others[0].UserID, 999999, others[1].UserID})
	if err != nil || len(users) != 2 {
		t.Errorf("Users = %v, %v; want 2 known", users, err)
	}
}

// TestSearchUsers: nicknames match literally (LIKE wildcards and quotes
// are text), emails only exactly, and a private user's email is shown only
// to users they added (or to whoever typed it).
func TestSearchUsers(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := context.Background()
	create := func(email, nickname string, private bool) user.Profile {
		t.Helper()
		p, err := s.users.CreateUser(ctx, user.NewUser{Email: email, PasswordHash: "hash", Nickname: nickname})
		if err != nil {
			t.Fatal(err)
		}
		if private {
			if _, err := s.users.UpdateProfile(ctx, p.UserID, user.ProfileUpdate{IsPrivate: &private}); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	viewer := create("viewer@example.com", "viewer", false)
	for _, n := range []string{"plain", "per%cent", "under_score", `back\slash`, "underXscore", "o'reilly"} {
		create(strings.NewReplacer("%", "", "_", "", `\`, "", "'", "").Replace(n)+"@example.com", n, false)
	}
	secret := create("Secret.Agent@example.com", "agent", true)
	friendly := create("friendly@example.com", "agent smith", true)
	if err := s.users.AddFriend(ctx, friendly.UserID, viewer.UserID); err != nil { // friendly added the viewer
		t.Fatal(err)
	}

	search := func(keyword string) []string {
		t.Helper()
		got, err := s.users.SearchUsers(ctx, viewer.UserID, keyword, 0, 100)
		if err != nil {
			t.Fatalf("SearchUsers(%q): %v", keyword, err)
		}
		var out []string
		for _, u := range got {
			out = append(out, u.Nickname+"|"+u.Email)
		}
		return out
	}
	tests := []struct {
		keyword string
		want    []string
	}{
		{"%", []string{"per%cent|percent@example.com"}},
		{"_", []string{"under_score|underscore@example.com"}},
		{"under_", []string{"under_score|underscore@example.com"}},
		{`\`, []string{`back\slash|backslash@example.com`}},
		{`k\s`, []string{`back\slash|backslash@example.com`}},
		{"' OR 1=1--", nil},
		{"'", []string{"o'reilly|oreilly@example.com"}},
		{"PLAIN", []string{"plain|plain@example.com"}},
		// Emails are not searched by substring...
		{"@", nil},
		{"example.com", nil},
		{"secret", nil},
		// ...only exactly, and then shown, private or not.
		{"plain@EXAMPLE.com", []string{"plain|plain@example.com"}},
		{"secret.agent@example.com", []string{"agent|Secret.Agent@example.com"}},
		// A private user's email stays blank unless they added the viewer.
		{"agent", []string{"agent|", "agent smith|friendly@example.com"}},
		{"VIEW", []string{"viewer|viewer@example.com"}},
	}
	for _, tc := range tests {
		if got := search(tc.keyword); !slices.Equal(got, tc.want) {
			t.Errorf("SearchUsers(%q) = %q, want %q", tc.keyword, got, tc.want)
		}
	}
	// Another viewer (whom nobody added) sees neither private email.
	other, err := s.users.SearchUsers(ctx, secret.UserID+1000, "agent", 0, 100)
	if err != nil || len(other) != 2 || other[0].Email != "" || other[1].Email != "" {
		t.Errorf("search by a stranger = %+v, %v; want both private emails blank", other, err)
	}
	// Pages continue after the cursor id.
	all, _ := s.users.SearchUsers(ctx, viewer.UserID, "e", 0, 100)
	page, _ := s.users.SearchUsers(ctx, viewer.UserID, "e", all[1].UserID, 2)
	if len(all) < 4 || len(page) != 2 || page[0].UserID != all[2].UserID || page[1].UserID != all[3].UserID {
		t.Errorf("page after id %d = %v; want users 3 and 4 of %v", all[1].UserID, page, all)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := context.Background()
	u := mustCreate(t, s.users, "tok@example.com")
	other := mustCreate(t, s.users, "other@example.com")
	exp := time.Now().Add(time.Hour)
	if err := s.tokens.StartFamily(ctx, "fam1", u.UserID, user.RefreshToken{JTI: "r1", ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.tokens.Rotate(ctx, "fam1", u.UserID, "r1", user.RefreshToken{JTI: "r2", ExpiresAt: exp}); err != nil {
		t.Fatalf("first rotation: %v", err)
	}
	if err := s.tokens.Rotate(ctx, "fam1", other.UserID, "r2", user.RefreshToken{JTI: "x", ExpiresAt: exp}); !errors.Is(err, user.ErrTokenRevoked) {
		t.Errorf("rotation by another user = %v, want ErrTokenRevoked", err)
	}
	if err := s.tokens.Rotate(ctx, "fam1", u.UserID, "r1", user.RefreshToken{JTI: "r3", ExpiresAt: exp}); !errors.Is(err, user.ErrTokenReused) {
		t.Fatalf("reuse of r1 = %v, want ErrTokenReused", err)
	}
	// The family is revoked: even the newest token is dead now.
	if err := s.tokens.Rotate(ctx, "fam1", u.UserID, "r2", user.RefreshToken{JTI: "r4", ExpiresAt: exp}); !errors.Is(err, user.ErrTokenRevoked) {
		t.Errorf("rotation of r2 after reuse = %v, want ErrTokenRevoked", err)
	}
	if err := s.tokens.Rotate(ctx, "nofam", u.UserID, "r1", user.RefreshToken{JTI: "r5", ExpiresAt: exp}); !errors.Is(err, user.ErrTokenRevoked) {
		t.Errorf("unknown family = %v, want ErrTokenRevoked", err)
	}

	t.Run("concurrent rotation of one token: one wins, family revoked", func(t *testing.T) {
		if err := s.tokens.StartFamily(ctx, "fam2", u.UserID, user.RefreshToken{JTI: "c1", ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				errs[i] = s.tokens.Rotate(ctx, "fam2", u.UserID, "c1", user.RefreshToken{JTI: fmt.Sprintf("c1-%d", i), ExpiresAt: exp})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			}
		}
		if ok != 1 {
			t.Errorf("%d concurrent rotations succeeded (%v), want 1", ok, errs)
		}
	})

	t.Run("revoke one and all families", func(t *testing.T) {
		for _, f := range []string{"fa", "fb", "fc"} {
			if err := s.tokens.StartFamily(ctx, f, u.UserID, user.RefreshToken{JTI: f + "1", ExpiresAt: exp}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.tokens.RevokeFamily(ctx, other.UserID, "fa", "logout"); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("RevokeFamily of another user's family = %v, want ErrNotFound", err)
		}
		if err := s.tokens.RevokeFamily(ctx, u.UserID, "fa", "logout"); err != nil {
			t.Fatal(err)
		}
		if err := s.tokens.Rotate(ctx, "fa", u.UserID, "fa1", user.RefreshToken{JTI: "fa2", ExpiresAt: exp}); !errors.Is(err, user.ErrTokenRevoked) {
			t.Errorf("rotation in revoked family = %v, want ErrTokenRevoked", err)
		}
		if err := s.tokens.Rotate(ctx, "fb", u.UserID, "fb1", user.RefreshToken{JTI: "fb2", ExpiresAt: exp}); err != nil {
			t.Errorf("rotation in live family = %v", err)
		}
		// An expired family is not revoked (nothing of it is still valid).
		if err := s.tokens.StartFamily(ctx, "fx", u.UserID, user.RefreshToken{JTI: "fx1", ExpiresAt: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		revoked, err := s.tokens.RevokeUserFamilies(ctx, u.UserID, "logout")
		if err != nil {
			t.Fatal(err)
		}
		// The sessions to denylist: the live ones, not those revoked before.
		slices.Sort(revoked)
		if !slices.Equal(revoked, []string{"fb", "fc"}) {
			t.Errorf("RevokeUserFamilies = %v, want [fb fc]", revoked)
		}
		if err := s.tokens.Rotate(ctx, "fc", u.UserID, "fc1", user.RefreshToken{JTI: "fc2", ExpiresAt: exp}); !errors.Is(err, user.ErrTokenRevoked) {
			t.Errorf("rotation after revoking all = %v, want ErrTokenRevoked", err)
		}
	})

	t.Run("expired families are pruned", func(t *testing.T) {
		old := time.Now().Add(-48 * time.Hour)
		if err := s.tokens.StartFamily(ctx, "old", u.UserID, user.RefreshToken{JTI: "o1", ExpiresAt: old}); err != nil {
			t.Fatal(err)
		}
		n, err := s.tokens.DeleteExpired(ctx, time.Now().Add(-24*time.Hour))
		if err != nil || n != 1 {
			t.Errorf("DeleteExpired = %d, %v; want 1", n, err)
		}
	})
}

func TestMedia(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := context.Background()
	m := user.Media{Key: "avatars/1/abc.png", ContentType: "image/png", Data: []byte{1, 2, 3}, ETag: `"abc"`}
	if err := s.media.Put(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := s.media.Put(ctx, m); err != nil {
		t.Errorf("second Put of the same key = %v, want nil", err)
	}
	got, err := s.media.Get(ctx, m.Key)
	if err != nil || got.ContentType != "image/png" || !slices.Equal(got.Data, m.Data) || got.ETag != `"abc"` || !got.Immutable {
		t.Errorf("Get = %+v, %v", got, err)
	}
	if err := s.media.Delete(ctx, m.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.media.Get(ctx, m.Key); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
}

func TestDatabaseDownIsUnavailable(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	_, err = NewUserStore(pool).Credentials(context.Background(), "a@example.com")
	if !errors.Is(err, user.ErrUnavailable) {
		t.Errorf("Credentials with the database down = %v, want ErrUnavailable", err)
	}
	err = NewTokenStore(pool).StartFamily(context.Background(), "f", 1, user.RefreshToken{JTI: "j", ExpiresAt: time.Now()})
	if !errors.Is(err, user.ErrUnavailable) {
		t.Errorf("StartFamily with the database down = %v, want ErrUnavailable", err)
	}
}
