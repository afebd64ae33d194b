package userclient

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/apperr"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
)

// relClient answers GetRelation and GetBlockedIds from blocks (blocker →
// blocked) and counts calls.
type relClient struct {
	userv1.UserServiceClient
	blocks      map[[2]int64]bool
	calls, ids  int
	down        bool
	unknownUser int64
}

func (f *relClient) GetRelation(_ context.Context, req *userv1.GetRelationRequest, _ ...grpc.CallOption) (*userv1.GetRelationResponse, error) {
	f.calls++
	switch {
	case f.down:
		return nil, errors.New("connection refused")
	case req.GetOtherId() == f.unknownUser:
		return nil, status.Error(codes.NotFound, "User not found.")
	}
	u, o := req.GetUserId(), req.GetOtherId()
	return &userv1.GetRelationResponse{Blocks: f.blocks[[2]int64{u, o}], BlockedBy: f.blocks[[2]int64{o, u}]}, nil
}

//nolint:revive // var-naming: the name is the proto RPC's (GetBlockedIds)
func (f *relClient) GetBlockedIds(_ context.Context, req *userv1.GetBlockedIdsRequest, _ ...grpc.CallOption) (*userv1.GetBlockedIdsResponse, error) {
	f.ids++
	if f.down {
		return nil, errors.New("connection refused")
	}
	resp := &userv1.GetBlockedIdsResponse{}
	for k, on := range f.blocks {
		if on && k[0] == req.GetUserId() {
			resp.UserIds = append(resp.UserIds, k[1])
		}
	}
	return resp, nil
}

// Answers are cached for the TTL, Forget (a block event) drops both users'
// entries at once, FreshRelation always asks, a failure is never answered
// from the cache once stale, and an unknown user is NOT_FOUND.
func TestRelationsCacheAndForget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fc := &relClient{blocks: map[[2]int64]bool{}, unknownUser: 99}
	r := NewRelations(fc, time.Hour, 100)

	rel, err := r.Relation(ctx, 1, 2)
	if err != nil || rel.Blocks || rel.BlockedBy {
		t.Fatalf("first: %+v %v", rel, err)
	}
	ids, _ := r.BlockedIDs(ctx, 1)
	fc.blocks[[2]int64{1, 2}] = true // 1 blocks 2; not announced yet
	if rel, _ := r.Relation(ctx, 1, 2); rel.Blocks || fc.calls != 1 {
		t.Fatalf("cached answer: %+v after %d calls", rel, fc.calls)
	}
	if ids2, _ := r.BlockedIDs(ctx, 1); len(ids2) != len(ids) || fc.ids != 1 {
		t.Fatalf("cached blocked ids: %v after %d calls", ids2, fc.ids)
	}
	r.Forget(2, 1) // the event names the blocker and the other, any order
	if rel, _ := r.Relation(ctx, 1, 2); !rel.Blocks {
		t.Fatalf("after Forget: %+v", rel)
	}
	if rel, _ := r.Relation(ctx, 2, 1); !rel.BlockedBy {
		t.Fatalf("the other side after Forget: %+v", rel)
	}
	if ids, _ := r.BlockedIDs(ctx, 1); !ids[2] {
		t.Fatalf("blocked ids after Forget: %v", ids)
	}
	calls := fc.calls
	if _, err := r.FreshRelation(ctx, 1, 2); err != nil || fc.calls != calls+1 {
		t.Fatalf("FreshRelation did not ask: %v, %d calls", err, fc.calls)
	}
	if _, err := r.Relation(ctx, 1, 99); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Fatalf("unknown user: %v", err)
	}

	stale := NewRelations(fc, time.Nanosecond, 100)
	if _, err := stale.Relation(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	fc.down = true
	time.Sleep(time.Millisecond)
	if _, err := stale.Relation(ctx, 1, 2); apperr.ErrorCode(err) != apperr.CodeUnavailable {
		t.Fatalf("stale entry with the user service down: %v, want UNAVAILABLE", err)
	}
	if _, err := stale.BlockedIDs(ctx, 1); apperr.ErrorCode(err) != apperr.CodeUnavailable {
		t.Fatalf("blocked ids with the user service down: %v, want UNAVAILABLE", err)
	}
}
