package userclient

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
)

// fakeClient answers GetUsers from a map and counts calls; the embedded
// interface panics if the directory ever calls anything else.
type fakeClient struct {
	userv1.UserServiceClient
	users map[int64]string
	calls int
	down  bool
}

func (f *fakeClient) GetUsers(_ context.Context, req *userv1.GetUsersRequest, _ ...grpc.CallOption) (*userv1.GetUsersResponse, error) {
	f.calls++
	if f.down {
		return nil, errors.New("connection refused")
	}
	resp := &userv1.GetUsersResponse{}
	for _, id := range req.GetUserIds() {
		if nick, ok := f.users[id]; ok {
			resp.Users = append(resp.Users, &userv1.UserSummary{UserId: id, Nickname: nick, Email: nick + "@example.com"})
		}
	}
	return resp, nil
}

func TestDirectoryCachesAndServesStaleWhenDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fc := &fakeClient{users: map[int64]string{1: "alice", 2: "bob"}}
	d := New(fc, 30*time.Second, 100)
	now := time.Unix(1000, 0)
	d.now = func() time.Time { return now }

	got, err := d.Users(ctx, []int64{1, 2, 3})
	if err != nil || got[1].Nickname != "alice" || got[2].Email != "bob@example.com" || len(got) != 2 {
		t.Fatalf("first lookup: got %v %v", got, err)
	}
	if _, err := d.Users(ctx, []int64{1, 2, 3}); err != nil || fc.calls != 1 {
		t.Errorf("cached lookup: got %d calls (%v), want 1 (unknown ids are cached too)", fc.calls, err)
	}

	now = now.Add(time.Minute) // expired
	fc.down = true
	got, err = d.Users(ctx, []int64{1})
	if err != nil || got[1].Nickname != "alice" {
		t.Errorf("stale while down: got %v %v, want alice", got, err)
	}
	if _, err := d.Users(ctx, []int64{4}); err == nil {
		t.Error("uncached while down: got nil error, want failure")
	}

	fc.down = false
	fc.users[1] = "alice2"
	got, err = d.Users(ctx, []int64{1})
	if err != nil || got[1].Nickname != "alice2" {
		t.Errorf("refreshed: got %v %v, want alice2", got, err)
	}
}

func TestDirectoryIsBounded(t *testing.T) {
	t.Parallel()
	fc := &fakeClient{users: map[int64]string{}}
	for i := range int64(50) {
		fc.users[i] = "u"
	}
	d := New(fc, time.Hour, 10)
	for i := range int64(50) {
		if _, err := d.Users(context.Background(), []int64{i}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(d.cache); n > 10 {
		t.Errorf("got %d cached entries, want at most 10", n)
	}
}

// nickClient answers FindByNicknames and counts calls.
type nickClient struct {
	userv1.UserServiceClient
	nicks map[int64]string
	calls int
	down  bool
}

func (f *nickClient) FindByNicknames(_ context.Context, req *userv1.FindByNicknamesRequest, _ ...grpc.CallOption) (*userv1.FindByNicknamesResponse, error) {
	f.calls++
	if f.down {
		return nil, errors.New("connection refused")
	}
	resp := &userv1.FindByNicknamesResponse{}
	for id, nick := range f.nicks {
		for _, n := range req.GetNicknames() {
			if strings.EqualFold(nick, n) {
				resp.Users = append(resp.Users, &userv1.UserSummary{UserId: id, Nickname: nick})
			}
		}
	}
	return resp, nil
}

// Nickname lookups are cached for NicknameTTL (found or not), then asked
// again; a failed call fails the lookup (no stale mentions).
func TestNicknamesCachedBriefly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fc := &nickClient{nicks: map[int64]string{1: "Kim", 2: "kim", 3: "lee"}}
	d := New(fc, 30*time.Second, 100)
	now := time.Unix(1000, 0)
	d.now = func() time.Time { return now }
	got, err := d.FindByNicknames(ctx, []string{"kim", "nobody"}, 10)
	if err != nil || len(got["kim"]) != 2 || len(got) != 1 || fc.calls != 1 {
		t.Fatalf("first lookup: %v, %v (%d calls)", got, err, fc.calls)
	}
	got, err = d.FindByNicknames(ctx, []string{"kim", "nobody", "lee"}, 10)
	if err != nil || len(got["kim"]) != 2 || len(got["lee"]) != 1 || fc.calls != 2 {
		t.Fatalf("second lookup: %v, %v (%d calls; only lee is new)", got, err, fc.calls)
	}
	now = now.Add(NicknameTTL)
	fc.nicks[4] = "nobody"
	fc.down = true
	if _, err := d.FindByNicknames(ctx, []string{"kim"}, 10); err == nil {
		t.Fatal("expired entry with the user service down: no error")
	}
	fc.down = false
	if got, err := d.FindByNicknames(ctx, []string{"nobody"}, 10); err != nil || len(got["nobody"]) != 1 {
		t.Fatalf("after the TTL a nickname just taken is found: %v, %v", got, err)
	}
}
