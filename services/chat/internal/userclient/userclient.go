// Package userclient looks up users' public details in the user service
// (GetUsers), behind a small cache so the message hot path does not call
// the user service for every message.
package userclient

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// maxIDsPerCall is GetUsers' limit.
const maxIDsPerCall = 500

// Directory implements chat.UserDirectory with a TTL cache. Entries older
// than the TTL are refreshed; if the user service is down they are still
// served (stale) rather than failing the call.
type Directory struct {
	client  userv1.UserServiceClient
	ttl     time.Duration
	maxSize int
	now     func() time.Time

	mu    sync.Mutex
	cache map[int64]entry
	// nicks caches FindByNicknames by lower-cased nickname (NicknameTTL).
	nicks map[string]nickEntry
}

type entry struct {
	user    chat.User
	found   bool // false: the user service does not know the id
	fetched time.Time
}

// New returns a Directory that keeps up to maxSize users for ttl.
func New(client userv1.UserServiceClient, ttl time.Duration, maxSize int) *Directory {
	return &Directory{client: client, ttl: ttl, maxSize: maxSize, now: time.Now, cache: map[int64]entry{},
		nicks: map[string]nickEntry{}}
}

var _ chat.UserDirectory = (*Directory)(nil)

// Users implements chat.UserDirectory. It fails only when some id is
// neither cached (fresh or stale) nor fetchable.
func (d *Directory) Users(ctx context.Context, ids []int64) (map[int64]chat.User, error) {
	out := make(map[int64]chat.User, len(ids))
	now := d.now()
	var missing []int64
	var stale map[int64]entry // made only when needed: most calls hit fresh entries
	d.mu.Lock()
	for _, id := range ids {
		e, ok := d.cache[id]
		switch {
		case ok && now.Sub(e.fetched) < d.ttl:
			if e.found {
				out[id] = e.user
			}
		case ok:
			if stale == nil {
				stale = map[int64]entry{}
			}
			stale[id] = e
			missing = append(missing, id)
		default:
			missing = append(missing, id)
		}
	}
	d.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}

	fetched, err := d.fetch(ctx, missing)
	if err != nil {
		for _, id := range missing {
			e, ok := stale[id]
			if !ok {
				return nil, err
			}
			if e.found {
				out[id] = e.user
			}
		}
		return out, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.cache)+len(missing) > d.maxSize {
		d.evict(now, len(missing))
	}
	for _, id := range missing {
		u, ok := fetched[id]
		d.cache[id] = entry{user: u, found: ok, fetched: now}
		if ok {
			out[id] = u
		}
	}
	return out, nil
}

// evict makes room for n entries: expired ones go first, then arbitrary
// ones (Go's map order), which is good enough for a cache this short-lived.
func (d *Directory) evict(now time.Time, n int) {
	for id, e := range d.cache {
		if now.Sub(e.fetched) >= d.ttl {
			delete(d.cache, id)
		}
	}
	for id := range d.cache {
		if len(d.cache)+n <= d.maxSize {
			return
		}
		delete(d.cache, id)
	}
}

func (d *Directory) fetch(ctx context.Context, ids []int64) (map[int64]chat.User, error) {
	out := make(map[int64]chat.User, len(ids))
	for start := 0; start < len(ids); start += maxIDsPerCall {
		chunk := ids[start:min(start+maxIDsPerCall, len(ids))]
		resp, err := d.client.GetUsers(ctx, &userv1.GetUsersRequest{UserIds: chunk})
		if err != nil {
			return nil, fmt.Errorf("user service GetUsers: %w", err)
		}
		for _, u := range resp.GetUsers() {
			out[u.GetUserId()] = chat.User{
				ID: u.GetUserId(), Email: u.GetEmail(), Nickname: u.GetNickname(),
				ProfilePictureURL: u.GetProfilePictureUrl(),
			}
		}
	}
	return out, nil
}

var _ chat.NicknameDirectory = (*Directory)(nil)

// NicknameTTL is how long a nickname's users are remembered: long enough
// that a busy room's repeated mentions of the same people do not each cost
// a user-service call, short enough that a nickname just taken (or
// dropped) is mentionable (or not) within seconds.
const NicknameTTL = 3 * time.Second

// nickEntry is the users of one nickname as last fetched.
type nickEntry struct {
	ids     []int64
	fetched time.Time
}

// FindByNicknames implements chat.NicknameDirectory: names fetched within
// NicknameTTL come from the cache, the others from one FindByNicknames
// call (only messages with "@" ask). A failed call fails the lookup.
func (d *Directory) FindByNicknames(ctx context.Context, names []string, perName int) (map[string][]int64, error) {
	out := make(map[string][]int64, len(names))
	now := d.now()
	var missing []string
	d.mu.Lock()
	for _, n := range names {
		if e, ok := d.nicks[n]; ok && now.Sub(e.fetched) < NicknameTTL && len(e.ids) <= perName {
			if len(e.ids) > 0 {
				out[n] = e.ids
			}
			continue
		}
		missing = append(missing, n)
	}
	d.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	resp, err := d.client.FindByNicknames(ctx, &userv1.FindByNicknamesRequest{
		Nicknames: missing, MaxPerNickname: int32(perName), //nolint:gosec // G115: at most 20
	})
	if err != nil {
		return nil, fmt.Errorf("user service FindByNicknames: %w", err)
	}
	for _, u := range resp.GetUsers() {
		n := strings.ToLower(u.GetNickname())
		out[n] = append(out[n], u.GetUserId())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.nicks)+len(missing) > d.maxSize {
		for n, e := range d.nicks { // expired first, then arbitrary ones
			if now.Sub(e.fetched) >= NicknameTTL || len(d.nicks)+len(missing) > d.maxSize {
				delete(d.nicks, n)
			}
		}
	}
	for _, n := range missing {
		d.nicks[n] = nickEntry{ids: out[n], fetched: now} // none found is remembered too
	}
	return out, nil
}
