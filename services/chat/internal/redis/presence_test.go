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
		refs := []chat.ConnRef{{RoomID: 1, ConnectionID: "a", Lease: "g"}, {RoomID: 1, ConnectionID: "b", Lease: "g"}, {RoomID: 1, ConnectionID: "c", Lease: "g"}}

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
		if first, _ := p.Join(ctx, chat.ConnRef{RoomID: 1, ConnectionID: "d", Lease: "g"}, 8, exp); !first {
			t.Error("other user: got first=false, want true")
		}
		if first, _ := p.Join(ctx, chat.ConnRef{RoomID: 2, ConnectionID: "e", Lease: "g"}, 7, exp); !first {
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
		join := func(room int64, conn, lease string, uid int64, exp time.Time) {
			if _, err := p.Join(ctx, chat.ConnRef{RoomID: room, ConnectionID: conn, Lease: lease}, uid, exp); err != nil {
				t.Fatal(err)
			}
		}
		join(1, "a1", "g1", 1, soon)  // user 1: only connection's lease expires -> leaves
		join(1, "b1", "g1", 2, soon)  // user 2: one expires, one lives -> stays
		join(1, "b2", "g2", 2, later) //
		join(2, "c1", "g3", 3, soon)  // user 3 in room 2: lease renewed -> stays
		join(2, "c2", "g4", 4, soon)  // user 4 in room 2: expires -> leaves

		recount, asOf, err := p.Renew(ctx, "g3", map[int64]int{2: 1}, later)
		if err != nil || len(recount) != 0 || asOf < now.UnixMilli()-time.Minute.Milliseconds() {
			t.Fatalf("renew: got recount %v, as of %d, %v; want none, about now", recount, asOf, err)
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
		// A swept lease renewed again holds no connections: its gateway
		// is told to recount the room, and reconciles (its sockets join
		// again).
		if recount, _, _ := p.Renew(ctx, "g1", map[int64]int{1: 2}, later); !slices.Equal(recount, []int64{1}) {
			t.Errorf("renew after sweep: got recount %v, want [1]", recount)
		}
	})
}

// A lease whose connections in a room differ from its gateway's (a Join or
// Leave lost) is recounted and reconciled: the connections the gateway
// lacks that joined before the count leave, those the store lacks are
// returned to join again, and one that joined after the count stays.
func TestReconcile(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, p *Presence) {
		ctx := context.Background()
		exp := time.Now().Add(time.Minute)
		join := func(conn, lease string, uid int64) {
			t.Helper()
			if _, err := p.Join(ctx, chat.ConnRef{RoomID: 5, ConnectionID: conn, Lease: lease}, uid, exp); err != nil {
				t.Fatal(err)
			}
		}
		join("a", "gw", 1)
		join("b", "gw", 2)    // its Leave is lost
		join("o", "other", 3) // another gateway's, untouched
		// Join times and the count's time are in ms, and a connection
		// that joined in the count's millisecond is kept (it may have
		// joined after the count): let the count come a tick later.
		time.Sleep(2 * time.Millisecond)

		// The gateway has a, and n, whose Join was lost.
		if recount, _, err := p.Renew(ctx, "gw", map[int64]int{5: 2}, exp); err != nil || len(recount) != 0 {
			t.Fatalf("renew with the same count: got recount %v, %v; want none", recount, err)
		}
		recount, asOf, err := p.Renew(ctx, "gw", map[int64]int{5: 3}, exp)
		if err != nil || !slices.Equal(recount, []int64{5}) {
			t.Fatalf("renew with another count: got recount %v, %v; want [5]", recount, err)
		}
		time.Sleep(5 * time.Millisecond)
		join("late", "gw", 4) // joined after the count: not in the gateway's list yet

		refs := []chat.ConnRef{{RoomID: 5, ConnectionID: "a"}, {RoomID: 5, ConnectionID: "n"}}
		unknown, gone, err := p.Reconcile(ctx, "gw", asOf, []int64{5}, refs)
		if err != nil {
			t.Fatal(err)
		}
		if len(unknown) != 1 || unknown[0].ConnectionID != "n" {
			t.Errorf("unknown: got %v, want [n]", unknown)
		}
		if want := []chat.Departure{{RoomID: 5, UserID: 2}}; !slices.Equal(gone, want) {
			t.Errorf("gone: got %v, want %v", gone, want)
		}
		online, _ := p.Online(ctx, 5)
		slices.Sort(online)
		if want := []int64{1, 3, 4}; !slices.Equal(online, want) {
			t.Errorf("online: got %v, want %v", online, want)
		}
	})
}

// A dead gateway's lease takes all of its connections with it, over
// several rounds when they are more than one sweep's limit.
func TestExpiredLeaseDropsItsConnections(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, p *Presence) {
		ctx := context.Background()
		now := time.Now()
		for i := range 7 {
			ref := chat.ConnRef{RoomID: 9, ConnectionID: fmt.Sprint("d", i), Lease: "dead"}
			if _, err := p.Join(ctx, ref, int64(i%3+1), now.Add(100*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := p.Join(ctx, chat.ConnRef{RoomID: 9, ConnectionID: "live", Lease: "alive"}, 1, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		gone, err := p.Sweep(ctx, now.Add(time.Second), 2)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(gone, func(a, b chat.Departure) int { return int(a.UserID - b.UserID) })
		if want := []chat.Departure{{RoomID: 9, UserID: 2}, {RoomID: 9, UserID: 3}}; !slices.Equal(gone, want) {
			t.Errorf("sweep: got %v, want users 2 and 3 (user 1 has a live connection)", gone)
		}
		if leases, _ := p.rdb.ZRange(ctx, p.roomKeys(9)[0], 0, -1).Result(); !slices.Equal(leases, []string{"alive"}) {
			t.Errorf("leases after the sweep: got %v, want [alive]", leases)
		}
		if online, _ := p.Online(ctx, 9); !slices.Equal(online, []int64{1}) {
			t.Errorf("online: got %v, want [1]", online)
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
				ref := chat.ConnRef{RoomID: int64(u%5 + 1), ConnectionID: fmt.Sprintf("u%d-c%d", u, c), Lease: "g"}
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
			if _, err := p.Join(ctx, chat.ConnRef{RoomID: room, ConnectionID: fmt.Sprint(i), Lease: "g"}, int64(i+1), exp); err != nil {
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
		refs := []chat.ConnRef{{RoomID: 3, ConnectionID: "a", Lease: "g3"}, {RoomID: 19, ConnectionID: "b", Lease: "g19"}, {RoomID: 4, ConnectionID: "c", Lease: "g4"}}
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
		for _, r := range refs[:2] {
			if _, _, err := p.Renew(ctx, r.Lease, map[int64]int{r.RoomID: 1}, now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
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
						ref := chat.ConnRef{RoomID: int64(r), ConnectionID: fmt.Sprint("c", u), Lease: "g"}
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

// The pipelined scripts (renew, sweep) reload themselves on a node
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
			refs[i] = chat.ConnRef{RoomID: int64(i), ConnectionID: "c", Lease: "g"}
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
		sockets := map[int64]int{}
		for _, r := range refs {
			sockets[r.RoomID] = 1
		}
		if recount, _, err := p.Renew(ctx, "g", sockets, now.Add(time.Minute)); err != nil || len(recount) != 0 {
			t.Fatalf("renew after SCRIPT FLUSH: got recount %v %v, want none", recount, err)
		}
		flush()
		if gone, err := p.Sweep(ctx, now.Add(2*time.Minute), 100); err != nil || len(gone) != len(refs) {
			t.Fatalf("sweep after SCRIPT FLUSH: got %d departures, %v; want %d", len(gone), err, len(refs))
		}
	}
}
