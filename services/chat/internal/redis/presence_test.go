package redis

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/chat/internal/chat"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunWithRedisCluster(m)) }

// eachRedis runs test in parallel subtests against a Presence on the
// single node and on the package's Redis Cluster.
func eachRedis(t *testing.T, test func(t *testing.T, p *Presence)) {
	t.Helper()
	for _, tg := range testenv.RedisTargets(t) {
		t.Run(tg.Name, func(t *testing.T) {
			t.Parallel()
			test(t, NewPresence(tg.Client, tg.Prefix))
		})
	}
}

func TestOneJoinAndOneLeavePerUser(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, p *Presence) {
		ctx := context.Background()
		exp := time.Now().Add(time.Minute)
		refs := []chat.ConnRef{{RoomID: 1, ConnectionID: "a"}, {RoomID: 1, ConnectionID: "b"}, {RoomID: 1, ConnectionID: "c"}}

		var firsts []bool
		for _, r := range refs {
			first, err := p.Join(ctx, r, 7, exp)
			if err != nil {
				t.Fatal(err)
			}
			firsts = append(firsts, first)
		}
		if want := []bool{true, false, false}; !slices.Equal(firsts, want) {
			t.Errorf("join firsts: got %v, want %v", firsts, want)
		}
		// Joining the same connection again changes nothing.
		if first, err := p.Join(ctx, refs[0], 7, exp); err != nil || first {
			t.Errorf("rejoin: got first=%v err=%v, want false", first, err)
		}
		// Another user and another room are independent.
		if first, _ := p.Join(ctx, chat.ConnRef{RoomID: 1, ConnectionID: "d"}, 8, exp); !first {
			t.Error("other user: got first=false, want true")
		}
		if first, _ := p.Join(ctx, chat.ConnRef{RoomID: 2, ConnectionID: "e"}, 7, exp); !first {
			t.Error("other room: got first=false, want true")
		}
		online, err := p.Online(ctx, 1)
		slices.Sort(online)
		if err != nil || !slices.Equal(online, []int64{7, 8}) {
			t.Errorf("online: got %v %v, want [7 8]", online, err)
		}
		counts, err := p.Counts(ctx, []int64{1, 2, 3})
		if err != nil || counts[1] != 2 || counts[2] != 1 || counts[3] != 0 {
			t.Errorf("counts: got %v %v, want 1:2 2:1 3:0", counts, err)
		}

		var lasts []bool
		for _, r := range refs {
			uid, last, err := p.Leave(ctx, r)
			if err != nil || uid != 7 {
				t.Fatalf("leave %s: got uid %d err %v, want 7", r.ConnectionID, uid, err)
			}
			lasts = append(lasts, last)
		}
		if want := []bool{false, false, true}; !slices.Equal(lasts, want) {
			t.Errorf("leave lasts: got %v, want %v", lasts, want)
		}
		if uid, last, err := p.Leave(ctx, refs[0]); err != nil || uid != 0 || last {
			t.Errorf("leave unknown: got %d %v %v, want 0 false nil", uid, last, err)
		}
	})
}

func TestSweepLeavesOnlyUsersWhoseLastConnectionExpired(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, p *Presence) {
		ctx := context.Background()
		now := time.Now()
		soon, later := now.Add(100*time.Millisecond), now.Add(time.Hour)
		join := func(room int64, conn string, uid int64, exp time.Time) {
			if _, err := p.Join(ctx, chat.ConnRef{RoomID: room, ConnectionID: conn}, uid, exp); err != nil {
				t.Fatal(err)
			}
		}
		join(1, "a1", 1, soon)  // user 1: only connection expires -> leaves
		join(1, "b1", 2, soon)  // user 2: one expires, one lives -> stays
		join(1, "b2", 2, later) //
		join(2, "c1", 3, soon)  // user 3 in room 2: refreshed -> stays
		join(2, "c2", 4, soon)  // user 4 in room 2: expires -> leaves

		unknown, err := p.Refresh(ctx, []chat.ConnRef{{RoomID: 2, ConnectionID: "c1"}, {RoomID: 2, ConnectionID: "zz"}}, later)
		if err != nil || len(unknown) != 1 || unknown[0].ConnectionID != "zz" {
			t.Fatalf("refresh: got unknown %v %v, want [zz]", unknown, err)
		}

		gone, err := p.Sweep(ctx, now.Add(time.Second), 100)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(gone, func(a, b chat.Departure) int { return int(a.UserID - b.UserID) })
		if want := []chat.Departure{{RoomID: 1, UserID: 1}, {RoomID: 2, UserID: 4}}; !slices.Equal(gone, want) {
			t.Errorf("sweep: got %v, want %v", gone, want)
		}
		if again, _ := p.Sweep(ctx, now.Add(time.Second), 100); len(again) != 0 {
			t.Errorf("second sweep: got %v, want nothing", again)
		}
		counts, _ := p.Counts(ctx, []int64{1, 2})
		if counts[1] != 1 || counts[2] != 1 {
			t.Errorf("counts after sweep: got %v, want 1:1 2:1", counts)
		}
		// An expired connection is unknown to heartbeats, so its gateway rejoins it.
		unknown, _ = p.Refresh(ctx, []chat.ConnRef{{RoomID: 1, ConnectionID: "a1"}, {RoomID: 1, ConnectionID: "b2"}}, later)
		if len(unknown) != 1 || unknown[0].ConnectionID != "a1" {
			t.Errorf("refresh after sweep: got %v, want [a1]", unknown)
		}
	})
}

func TestConcurrentSweepersEmitEachLeaveOnce(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, p *Presence) {
		ctx := context.Background()
		exp := time.Now().Add(50 * time.Millisecond)
		const users = 300
		for u := range users {
			for c := range 2 { // two connections each: still one leave per user
				ref := chat.ConnRef{RoomID: int64(u%5 + 1), ConnectionID: fmt.Sprintf("u%d-c%d", u, c)}
				if _, err := p.Join(ctx, ref, int64(u+1), exp); err != nil {
					t.Fatal(err)
				}
			}
		}
		var mu sync.Mutex
		seen := map[chat.Departure]int{}
		var wg sync.WaitGroup
		deadline := time.Now().Add(10 * time.Second)
		for range 4 { // four replicas sweeping at once, in small steps
			wg.Go(func() {
				for time.Now().Before(deadline) {
					gone, err := p.Sweep(ctx, time.Now().Add(time.Second), 25)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, d := range gone {
						seen[d]++
					}
					done := len(seen) == users
					mu.Unlock()
					if done {
						return
					}
				}
			})
		}
		wg.Wait()
		for d, n := range seen {
			if n != 1 {
				t.Errorf("departure %v emitted %d times, want once", d, n)
			}
		}
		if len(seen) != users {
			t.Errorf("got %d departures, want %d", len(seen), users)
		}
	})
}

func TestClearRoom(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, p *Presence) {
		ctx := context.Background()
		exp := time.Now().Add(50 * time.Millisecond)
		for i, room := range []int64{1, 1, 2} {
			if _, err := p.Join(ctx, chat.ConnRef{RoomID: room, ConnectionID: fmt.Sprint(i)}, int64(i+1), exp); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.ClearRoom(ctx, 1); err != nil {
			t.Fatal(err)
		}
		counts, _ := p.Counts(ctx, []int64{1, 2})
		if counts[1] != 0 || counts[2] != 1 {
			t.Errorf("counts: got %v, want 1:0 2:1", counts)
		}
		// The cleared room's connections no longer expire into leaves.
		gone, err := p.Sweep(ctx, time.Now().Add(time.Second), 100)
		if err != nil || len(gone) != 1 || gone[0].RoomID != 2 {
			t.Errorf("sweep: got %v %v, want only room 2", gone, err)
		}
	})
}

// dueEntries counts the due index entries over every shard.
func dueEntries(t *testing.T, p *Presence) int64 {
	t.Helper()
	var n int64
	for shard := range dueShards {
		c, err := p.rdb.ZCard(context.Background(), p.dueShard(shard)).Result()
		if err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}

// The sweep finds rooms through the due index: a room whose entry is lost
// is not swept until a heartbeat re-adds it, and swept-out rooms leave the
// index (it does not grow with every room ever used).
func TestDueIndex(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, p *Presence) {
		ctx := context.Background()
		now := time.Now()
		refs := []chat.ConnRef{{RoomID: 3, ConnectionID: "a"}, {RoomID: 19, ConnectionID: "b"}, {RoomID: 4, ConnectionID: "c"}}
		for i, r := range refs {
			if _, err := p.Join(ctx, r, int64(i+1), now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		// Rooms 3 and 19 share shard 3; room 4 has its own.
		if n := dueEntries(t, p); n != 3 {
			t.Fatalf("due entries after joins: got %d, want 3", n)
		}
		if err := p.rdb.Del(ctx, p.dueShard(3)).Err(); err != nil { // an index write lost
			t.Fatal(err)
		}
		gone, err := p.Sweep(ctx, now.Add(2*time.Minute), 100)
		if err != nil || len(gone) != 1 || gone[0] != (chat.Departure{RoomID: 4, UserID: 3}) {
			t.Fatalf("sweep without rooms 3 and 19 indexed: got %v %v, want only room 4's user 3", gone, err)
		}
		if _, err := p.Refresh(ctx, refs[:2], now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		gone, err = p.Sweep(ctx, now.Add(2*time.Minute), 100)
		slices.SortFunc(gone, func(a, b chat.Departure) int { return int(a.UserID - b.UserID) })
		if want := []chat.Departure{{RoomID: 3, UserID: 1}, {RoomID: 19, UserID: 2}}; err != nil || !slices.Equal(gone, want) {
			t.Fatalf("sweep after the heartbeat re-indexed: got %v %v, want %v", gone, err, want)
		}
		if n := dueEntries(t, p); n != 0 {
			t.Errorf("due entries once every room is empty: got %d, want 0", n)
		}
	})
}

// Joins racing with sweepers (which remove empty rooms from the due index)
// never leave a connection unswept: every user joining with a short expiry
// leaves exactly once.
func TestJoinsRacingSweepersAreAllSwept(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, p *Presence) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var mu sync.Mutex
		seen := map[chat.Departure]int{}
		record := func(gone []chat.Departure) {
			mu.Lock()
			defer mu.Unlock()
			for _, d := range gone {
				seen[d]++
			}
		}
		var sweepers sync.WaitGroup
		for range 3 {
			sweepers.Go(func() {
				for ctx.Err() == nil {
					gone, err := p.Sweep(ctx, time.Now(), 10)
					if err != nil && ctx.Err() == nil {
						t.Error(err)
						return
					}
					record(gone)
				}
			})
		}
		// Each room gets two connections that expire at once, the second
		// joining while sweepers may be emptying the room of the first: a
		// sweeper removing the room from the due index just after the
		// second joined would leave it unswept for good (no later join
		// re-adds the room).
		const rooms, users = 150, 300
		var joiners sync.WaitGroup
		for j := range 5 {
			joiners.Go(func() {
				for r := j; r < rooms; r += 5 {
					for c := range 2 {
						u := 2*r + c
						ref := chat.ConnRef{RoomID: int64(r), ConnectionID: fmt.Sprint("c", u)}
						if _, err := p.Join(ctx, ref, int64(u+1), time.Now()); err != nil {
							t.Error(err)
							return
						}
						time.Sleep(time.Duration(r%3) * 300 * time.Microsecond)
					}
				}
			})
		}
		joiners.Wait()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := len(seen)
			mu.Unlock()
			if n == users || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		sweepers.Wait()
		// A sweeper that raced another may have left an entry of a room
		// that was emptied meanwhile; the next sweep removes it.
		gone, err := p.Sweep(context.Background(), time.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		record(gone)
		if len(seen) != users {
			t.Errorf("got %d departures, want %d (a room dropped from the due index with connections in it)", len(seen), users)
		}
		for d, n := range seen {
			if n != 1 {
				t.Errorf("departure %v emitted %d times, want once", d, n)
			}
		}
		if n := dueEntries(t, p); n != 0 {
			t.Errorf("due entries once every room is empty: got %d, want 0", n)
		}
	})
}

// The pipelined scripts (heartbeat, sweep) reload themselves on a node
// that lost its script cache (restart, failover). Only on the private
// cluster: the shared single node's cache belongs to every test running.
func TestPipelinedScriptsSurviveScriptFlush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tg := range testenv.RedisTargets(t) {
		c, ok := tg.Client.(*goredis.ClusterClient)
		if !ok {
			continue
		}
		p := NewPresence(c, tg.Prefix)
		now := time.Now()
		refs := make([]chat.ConnRef, 12) // rooms on every master
		for i := range refs {
			refs[i] = chat.ConnRef{RoomID: int64(i), ConnectionID: "c"}
			if _, err := p.Join(ctx, refs[i], int64(i+1), now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		flush := func() {
			err := c.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return n.ScriptFlush(ctx).Err() })
			if err != nil {
				t.Fatal(err)
			}
		}
		flush()
		if unknown, err := p.Refresh(ctx, refs, now.Add(time.Minute)); err != nil || len(unknown) != 0 {
			t.Fatalf("refresh after SCRIPT FLUSH: got %v %v, want no unknown connections", unknown, err)
		}
		flush()
		if gone, err := p.Sweep(ctx, now.Add(2*time.Minute), 100); err != nil || len(gone) != len(refs) {
			t.Fatalf("sweep after SCRIPT FLUSH: got %d departures, %v; want %d", len(gone), err, len(refs))
		}
	}
}
