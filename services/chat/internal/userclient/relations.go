package userclient

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/apperr"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

// Relations implements chat.Relations with a short TTL cache, so that the
// moderation and DM checks cost no call per request for users seen within
// the TTL. Block changes are announced on NATS (subjects.UserBlocks) and
// drop both users' entries at once (Forget); the staff role is set by an
// operator and has no event, so a change reaches this replica within the
// TTL. Unlike Directory, a failed call is not answered from stale data:
// a permission must not outlive its TTL.
type Relations struct {
	client  userv1.UserServiceClient
	ttl     time.Duration
	maxSize int

	mu      sync.Mutex
	cache   map[[2]int64]relEntry
	blocked map[int64]blockedEntry
}

type blockedEntry struct {
	ids     map[int64]bool
	fetched time.Time
}

type relEntry struct {
	rel     chat.Relation
	fetched time.Time
}

// NewRelations returns Relations caching up to maxSize pairs for ttl.
func NewRelations(client userv1.UserServiceClient, ttl time.Duration, maxSize int) *Relations {
	return &Relations{client: client, ttl: ttl, maxSize: maxSize, cache: map[[2]int64]relEntry{}, blocked: map[int64]blockedEntry{}}
}

var _ chat.Relations = (*Relations)(nil)

// Relation implements chat.Relations.
func (r *Relations) Relation(ctx context.Context, userID, otherID int64) (chat.Relation, error) {
	key := [2]int64{userID, otherID}
	r.mu.Lock()
	e, ok := r.cache[key]
	r.mu.Unlock()
	if ok && time.Since(e.fetched) < r.ttl {
		return e.rel, nil
	}
	return r.FreshRelation(ctx, userID, otherID)
}

// FreshRelation implements chat.Relations: it asks the user service and
// caches the answer.
func (r *Relations) FreshRelation(ctx context.Context, userID, otherID int64) (chat.Relation, error) {
	key := [2]int64{userID, otherID}
	resp, err := r.client.GetRelation(ctx, &userv1.GetRelationRequest{UserId: userID, OtherId: otherID})
	if status.Code(err) == codes.NotFound {
		return chat.Relation{}, apperr.New(apperr.CodeNotFound, "User not found.")
	}
	if err != nil {
		return chat.Relation{}, chat.Unavailable(err)
	}
	rel := chat.Relation{Blocks: resp.GetBlocks(), BlockedBy: resp.GetBlockedBy(), OtherPrivate: resp.GetOtherPrivate(),
		OtherAddedUser: resp.GetOtherAddedUser(), IsStaff: resp.GetIsStaff()}
	r.mu.Lock()
	if len(r.cache) >= r.maxSize {
		r.cache = map[[2]int64]relEntry{}
	}
	r.cache[key] = relEntry{rel: rel, fetched: time.Now()}
	r.mu.Unlock()
	return rel, nil
}

// BlockedIDs implements chat.Relations.
func (r *Relations) BlockedIDs(ctx context.Context, userID int64) (map[int64]bool, error) {
	r.mu.Lock()
	e, ok := r.blocked[userID]
	r.mu.Unlock()
	if ok && time.Since(e.fetched) < r.ttl {
		return e.ids, nil
	}
	resp, err := r.client.GetBlockedIds(ctx, &userv1.GetBlockedIdsRequest{UserId: userID})
	if err != nil {
		return nil, chat.Unavailable(err)
	}
	ids := make(map[int64]bool, len(resp.GetUserIds()))
	for _, id := range resp.GetUserIds() {
		ids[id] = true
	}
	r.mu.Lock()
	if len(r.blocked) >= r.maxSize {
		r.blocked = map[int64]blockedEntry{}
	}
	r.blocked[userID] = blockedEntry{ids: ids, fetched: time.Now()}
	r.mu.Unlock()
	return ids, nil
}

// Forget drops every cached answer involving either user (a block between
// them changed).
func (r *Relations) Forget(a, b int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.blocked, a)
	delete(r.blocked, b)
	for k := range r.cache {
		if k[0] == a || k[1] == a || k[0] == b || k[1] == b {
			delete(r.cache, k)
		}
	}
}
