package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/bench/internal/api"
	"github.com/cobraspace/cobraspace/bench/internal/latency"
	"github.com/cobraspace/cobraspace/bench/internal/procstat"
	"github.com/cobraspace/cobraspace/bench/internal/report"
	"github.com/cobraspace/cobraspace/platform/grpcauth"
	"github.com/cobraspace/cobraspace/platform/grpcclient"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
)

// M5 calls the chat service directly and reports persisted messages per
// second, acknowledged after commit, in two ways: SendMessage from many
// concurrent senders (closed loop: each waits for its ack), one call per
// message; and SendMessages as the gateways call it, m5Gateways callers
// each with a batch of m5Batch messages of many users in flight (the same
// number of messages in flight as senders in the first way).
func M5(ctx context.Context, e *Env) report.Scenario {
	z := e.Sizes
	sc := report.Scenario{ID: "M5", Title: "chat service alone: persisted messages/s (ack after commit)",
		Params: map[string]any{"concurrency": z.M5Concurrency, "rooms": z.M5Rooms, "window_s": z.M5Window.Seconds(), "runs": z.Reps}}
	cmd := fmt.Sprintf("%s (gRPC SendMessage, %d concurrent senders over %d rooms, %v)", e.command(), z.M5Concurrency, z.M5Rooms, z.M5Window)
	if sc2, err := syncCommit(ctx, e.Stack.Databases["chat"]); err == nil {
		sc.Notes = append(sc.Notes, "synchronous_commit = "+sc2+" (PostgreSQL's setting for the chat database during the run)")
	}
	conn, err := grpcclient.Dial(e.Stack.Chat.Addr, servicetrust.Config{}) // acts only for users
	if err != nil {
		sc.Error = err.Error()
		return sc
	}
	defer conn.Close()
	chat := chatv1.NewChatServiceClient(conn)
	rooms := make([]int64, z.M5Rooms)
	for i := range rooms {
		a := e.Accounts[i%len(e.Accounts)]
		r, err := chat.CreateRoom(grpcauth.WithToken(ctx, a.Token), &chatv1.CreateRoomRequest{Name: fmt.Sprintf("m5 %s %d", e.RunID, i)})
		if err != nil {
			sc.Error = "CreateRoom: " + err.Error()
			return sc
		}
		rooms[i] = r.GetId()
	}
	asGateway, err := servicetrust.FromKeyFile("gateway", e.Stack.ServiceKeyFile())
	if err != nil {
		sc.Error = err.Error()
		return sc
	}
	gwConn, err := grpcclient.Dial(e.Stack.Chat.Addr, asGateway)
	if err != nil {
		sc.Error = err.Error()
		return sc
	}
	defer gwConn.Close()
	gwChat := chatv1.NewChatServiceClient(gwConn)
	var rates, p50s, p99s, chatCPU []float64
	var bRates, bP50s, bP99s, bChatCPU []float64
	var totalOK int64
	for rep := range z.Reps {
		// One message per call: each sender waits for its ack.
		r := e.m5Window(ctx, "send", z.M5Concurrency, func(w int, end time.Time, t *m5Tally) {
			a := e.Accounts[w%len(e.Accounts)]
			cctx := grpcauth.WithToken(ctx, a.Token)
			for i := 0; time.Now().Before(end) && ctx.Err() == nil; i++ {
				t0 := time.Now()
				_, err := chat.SendMessage(cctx, &chatv1.SendMessageRequest{
					RoomId: rooms[(w+i)%len(rooms)], Text: "m5 message " + strconv.Itoa(i),
					ClientMsgId: fmt.Sprintf("%sm5r%dw%di%d", e.RunID, rep, w, i),
				})
				if err != nil {
					t.fail(status.Code(err), 1)
					continue
				}
				t.hist.Record(w, time.Since(t0))
				t.ok.Add(1)
			}
		})
		totalOK += r.ok
		e.Logf("M5 run %d: %.0f persisted msgs/s, p50 %.2f ms p99 %.2f ms, %d errors %v", rep+1, r.rate, r.lat.P50Ms, r.lat.P99Ms, r.failed, r.errs)
		sc.Runs = append(sc.Runs, map[string]any{"ok": r.ok, "failed": r.failed, "errors": r.errs, "latency": r.lat, "processes": r.usage, "window_s": r.window})
		rates, p50s, p99s = append(rates, r.rate), append(p50s, r.lat.P50Ms), append(p99s, r.lat.P99Ms)
		chatCPU = append(chatCPU, r.chatCores)
		if r.failed > 0 {
			sc.Notes = append(sc.Notes, fmt.Sprintf("run %d: %d SendMessage errors %v", rep+1, r.failed, r.errs))
		}
		if rep == z.Reps/2 {
			sc.Processes, sc.WindowS = r.usage, r.window
		}

		b := e.m5Batched(ctx, gwChat, rooms, rep)
		totalOK += b.ok
		e.Logf("M5 run %d, SendMessages: %.0f persisted msgs/s, batch of %d p50 %.2f ms p99 %.2f ms, chat %.2f cores, %d errors %v",
			rep+1, b.rate, m5Batch, b.lat.P50Ms, b.lat.P99Ms, b.chatCores, b.failed, b.errs)
		sc.Runs = append(sc.Runs, map[string]any{"rpc": "SendMessages", "batch": m5Batch, "callers": m5Gateways, "ok": b.ok,
			"failed": b.failed, "errors": b.errs, "latency": b.lat, "processes": b.usage, "window_s": b.window})
		bRates, bP50s, bP99s = append(bRates, b.rate), append(bP50s, b.lat.P50Ms), append(bP99s, b.lat.P99Ms)
		bChatCPU = append(bChatCPU, b.chatCores)
		if b.failed > 0 {
			sc.Notes = append(sc.Notes, fmt.Sprintf("run %d: %d SendMessages entries failed %v", rep+1, b.failed, b.errs))
		}
	}
	// Every acknowledged message must be stored: the rooms' last seqs add
	// up to the acknowledgements (the rooms are new and only M5 wrote).
	var stored int64
	for _, id := range rooms {
		r, err := chat.GetRoom(grpcauth.WithToken(ctx, e.Accounts[0].Token), &chatv1.GetRoomRequest{Id: id})
		if err != nil {
			sc.Notes = append(sc.Notes, "GetRoom after the run: "+err.Error())
			stored = -1
			break
		}
		stored += r.GetLastSeq()
	}
	if stored >= 0 {
		sc.Notes = append(sc.Notes, fmt.Sprintf("acknowledged %d, rooms' last seq sum %d (must be equal)", totalOK, stored))
	}
	bCmd := fmt.Sprintf("%s (gRPC SendMessages as a gateway, %d callers with a batch of %d in flight each, over %d rooms, %v)", e.command(), m5Gateways, m5Batch, z.M5Rooms, z.M5Window)
	sc.Figures = []report.Figure{
		report.NewFigure("M5", "persisted messages/s, one SendMessage per message", "msg/s", rates, nil, cmd),
		report.NewFigure("M5", "SendMessage latency p50", "ms", p50s, nil, cmd),
		report.NewFigure("M5", "SendMessage latency p99", "ms", p99s, nil, cmd),
		report.NewFigure("M5", "chat service CPU, SendMessage", "cores", chatCPU, nil, cmd),
		// The gateways' path: the bar applies here.
		report.NewFigure("M5", "persisted messages/s, SendMessages batches (the gateways' path)", "msg/s", bRates, report.AtLeast(20000), bCmd),
		report.NewFigure("M5", "SendMessages batch latency p50", "ms", bP50s, nil, bCmd),
		report.NewFigure("M5", "SendMessages batch latency p99", "ms", bP99s, nil, bCmd),
		report.NewFigure("M5", "chat service CPU, SendMessages", "cores", bChatCPU, nil, bCmd),
	}
	sc.Notes = append(sc.Notes, sharedNote)
	return sc
}

// The batched half of M5: as many messages in flight as M5's senders,
// carried by two callers as two gateway replicas would carry them.
const (
	m5Gateways = 2
	m5Batch    = 128
)

// m5Result is one M5 window.
type m5Result struct {
	ok, failed int64
	errs       map[string]int
	lat        latency.Summary
	rate       float64
	chatCores  float64
	usage      []procstat.Usage
	window     float64
}

// m5Tally is what one M5 window's workers count.
type m5Tally struct {
	ok, failed atomic.Int64
	hist       *latency.Sharded
	mu         sync.Mutex
	errs       map[string]int
}

// fail counts n messages that failed with code.
func (t *m5Tally) fail(code codes.Code, n int) {
	t.failed.Add(int64(n))
	t.mu.Lock()
	t.errs[code.String()] += n
	t.mu.Unlock()
}

// m5Window runs work on workers goroutines (each records into the tally's
// histogram under its own index) until the window ends, sampling every
// process and profiling them over it.
func (e *Env) m5Window(ctx context.Context, what string, workers int, work func(w int, end time.Time, t *m5Tally)) m5Result {
	t := &m5Tally{hist: latency.NewSharded(workers), errs: map[string]int{}}
	groups := e.Stack.Groups()
	waitProfiles := e.profileWindow(ctx, what, e.Sizes.M5Window)
	before := procstat.Take("/proc", groups)
	start := time.Now()
	end := start.Add(e.Sizes.M5Window)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { work(w, end, t) })
	}
	wg.Wait()
	win := time.Since(start).Seconds()
	after := procstat.Take("/proc", groups)
	waitProfiles()
	us := procstat.Diff(groups, before, after)
	return m5Result{ok: t.ok.Load(), failed: t.failed.Load(), errs: t.errs, lat: t.hist.Snapshot().Summary(),
		rate: float64(t.ok.Load()) / win, chatCores: ratio(cpuOf(us, "chat"), win), usage: us, window: win}
}

// m5Batched runs one M5 window through SendMessages: each caller sends a
// batch of m5Batch messages from rotating users over the rooms, waits for
// the outcomes (after commit) and sends the next.
func (e *Env) m5Batched(ctx context.Context, chat chatv1.ChatServiceClient, rooms []int64, rep int) m5Result {
	return e.m5Window(ctx, "send-batched", m5Gateways, func(g int, end time.Time, t *m5Tally) {
		msgs := make([]*chatv1.SenderMessage, m5Batch)
		for i := 0; time.Now().Before(end) && ctx.Err() == nil; i++ {
			for j := range msgs {
				n := i*m5Batch + j
				a := e.Accounts[(g*m5Batch+j)%len(e.Accounts)]
				msgs[j] = &chatv1.SenderMessage{SenderId: a.ID, SenderEmail: a.Email, Message: &chatv1.SendMessageRequest{
					RoomId: rooms[(g+n)%len(rooms)], Text: "m5 batched message " + strconv.Itoa(n),
					ClientMsgId: fmt.Sprintf("%sm5br%dg%dn%d", e.RunID, rep, g, n),
				}}
			}
			t0 := time.Now()
			resp, err := chat.SendMessages(ctx, &chatv1.SendMessagesRequest{Messages: msgs})
			if err != nil {
				t.fail(status.Code(err), len(msgs))
				continue
			}
			t.hist.Record(g, time.Since(t0))
			for _, o := range resp.GetOutcomes() {
				if se := o.GetError(); se != nil {
					t.fail(codes.Code(se.GetCode()), 1) //nolint:gosec // G115: gRPC codes are 0..16
					continue
				}
				t.ok.Add(1)
			}
		}
	})
}

func syncCommit(ctx context.Context, url string) (string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var v string
	err = conn.QueryRow(ctx, "SHOW synchronous_commit").Scan(&v)
	return v, err
}

// words make seeded posts searchable: each post mentions a few.
var words = []string{"goroutine", "channel", "kubernetes", "postgres", "redis", "websocket", "grpc", "protobuf",
	"latency", "mutex", "generics", "interface", "benchmark", "profiling", "docker", "compiler", "pointer", "slice",
	"closure", "context", "deadlock", "scheduler", "allocation", "garbage", "network", "socket", "index", "query"}

// M6 seeds posts through the public API and measures list, search and
// detail (with hit counting) over the gateways with vegeta: the maximum
// rate with a fixed set of workers, then p99 at half of that rate.
func M6(ctx context.Context, e *Env) report.Scenario {
	z := e.Sizes
	sc := report.Scenario{ID: "M6", Title: "REST reads: post list, search, detail (hit counting)",
		Params: map[string]any{"posts_target": z.M6Posts, "window_s": z.M6Window.Seconds(), "runs": z.Reps, "workers_at_max": 32}}
	gws := e.Stack.GatewayURLs()
	apiIDs, seedRate, err := seedPosts(ctx, e, z.M6APIPosts, z.M6SeedTimeout)
	sc.Params["posts_via_api"] = len(apiIDs)
	if err != nil && len(apiIDs) == 0 {
		sc.Error = "seeding posts: " + err.Error()
		return sc
	}
	if err != nil {
		sc.Notes = append(sc.Notes, fmt.Sprintf("writing %d posts through the API: %d succeeded; first error: %v", z.M6APIPosts, len(apiIDs), err))
	}
	sc.Figures = append(sc.Figures, report.NewFigure("M6", "POST /api/post/write/ with 16 concurrent writers (seeding)", "posts/s", []float64{seedRate}, nil,
		e.command()+" (seeding)"))
	t0 := time.Now()
	bulkIDs, err := bulkPosts(ctx, e, z.M6Posts-len(apiIDs))
	if err != nil {
		sc.Error = "bulk-loading posts: " + err.Error()
		return sc
	}
	ids := slices.Concat(apiIDs, bulkIDs)
	sc.Params["posts_seeded"] = len(ids)
	sc.Notes = append(sc.Notes, fmt.Sprintf("%d posts: %d written through POST /api/post/write/ (each with its own chat room), %d bulk-loaded with COPY into the post database in %.1f s "+
		"(same columns, search_meta, tags, post_tags, post_hits and tag counts as the service writes; their room_id points at the API posts' rooms, so detail composes a real room); then ANALYZE.",
		len(ids), len(apiIDs), len(bulkIDs), time.Since(t0).Seconds()))
	cmdFor := func(ep string) string {
		return fmt.Sprintf("%s (vegeta: %s over both gateways; 32 workers for max, then half of max for p99, %v each)", e.command(), ep, z.M6Window)
	}
	endpoints := []struct {
		name, desc string
		target     func(r *rand.Rand, gw string) string
		minMax     float64
	}{
		{"list", "GET /api/post/posts/?limit=20", func(_ *rand.Rand, gw string) string { return gw + "/api/post/posts/?limit=20" }, 5000},
		{"search", "GET /api/post/posts/?search=<word>", func(r *rand.Rand, gw string) string {
			return gw + "/api/post/posts/?limit=20&search=" + words[r.IntN(len(words))]
		}, 0},
		{"detail", "GET /api/post/detail/<id>/", func(r *rand.Rand, gw string) string {
			return gw + "/api/post/detail/" + strconv.FormatInt(ids[r.IntN(len(ids))], 10) + "/"
		}, 0},
	}
	groups := e.Stack.Groups()
	for _, ep := range endpoints {
		var maxes, p99s, p50s []float64
		for rep := range z.Reps {
			waitProfiles := e.profileWindow(ctx, ep.name+"-max", z.M6Window)
			mMax, _, _ := attack(ep.target, gws, vegeta.Rate{}, z.M6Window, groups)
			waitProfiles()
			half := mMax.Throughput / 2
			if half < 1 {
				sc.Notes = append(sc.Notes, fmt.Sprintf("%s: no successful requests at max rate (status codes %v, errors %v)", ep.name, mMax.StatusCodes, firstN(mMax.Errors, 3)))
				break
			}
			mHalf, us, win := attack(ep.target, gws, vegeta.Rate{Freq: int(half), Per: time.Second}, z.M6Window, groups)
			e.Logf("M6 %s run %d: max %.0f req/s (success %.3f), at %.0f req/s p50 %v p99 %v (success %.3f)",
				ep.name, rep+1, mMax.Throughput, mMax.Success, half, mHalf.Latencies.P50, mHalf.Latencies.P99, mHalf.Success)
			sc.Runs = append(sc.Runs, map[string]any{"endpoint": ep.name, "max": mMax, "half": mHalf, "processes_at_half": us, "window_s": win})
			maxes = append(maxes, mMax.Throughput)
			p99s = append(p99s, float64(mHalf.Latencies.P99)/1e6)
			p50s = append(p50s, float64(mHalf.Latencies.P50)/1e6)
			if mMax.Success < 1 || mHalf.Success < 1 {
				sc.Notes = append(sc.Notes, fmt.Sprintf("%s run %d: success ratio max %.4f, half %.4f; status codes %v; errors %v",
					ep.name, rep+1, mMax.Success, mHalf.Success, mMax.StatusCodes, firstN(mMax.Errors, 3)))
			}
			if ep.name == "list" && rep == z.Reps/2 {
				sc.Processes, sc.WindowS = us, win
			}
		}
		var minMax *report.Target
		if ep.minMax > 0 {
			minMax = report.AtLeast(ep.minMax)
		}
		sc.Figures = append(sc.Figures,
			report.NewFigure("M6", ep.name+": max successful req/s (32 workers)", "req/s", maxes, minMax, cmdFor(ep.desc)),
			report.NewFigure("M6", ep.name+": p50 at half of max", "ms", p50s, nil, cmdFor(ep.desc)),
			report.NewFigure("M6", ep.name+": p99 at half of max", "ms", p99s, report.AtMost(20), cmdFor(ep.desc)),
		)
	}
	sc.Notes = append(sc.Notes, "The process table is the list endpoint at half of max. vegeta runs in the generator process on the same two cores.", sharedNote)
	return sc
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// attack runs vegeta for d against target, alternating gateways; rate zero
// means as fast as 32 workers go.
func attack(target func(*rand.Rand, string) string, gws []string, rate vegeta.Rate, d time.Duration, groups []procstat.Group) (vegeta.Metrics, []procstat.Usage, float64) {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var n int
	tr := func(t *vegeta.Target) error {
		mu.Lock()
		defer mu.Unlock()
		n++
		t.Method = http.MethodGet
		t.URL = target(r, gws[n%len(gws)])
		return nil
	}
	opts := []func(*vegeta.Attacker){vegeta.KeepAlive(true), vegeta.Timeout(10 * time.Second), vegeta.Connections(256)}
	if rate.Freq == 0 {
		opts = append(opts, vegeta.Workers(32), vegeta.MaxWorkers(32))
	} else {
		opts = append(opts, vegeta.Workers(32), vegeta.MaxWorkers(512))
	}
	a := vegeta.NewAttacker(opts...)
	before := procstat.Take("/proc", groups)
	t0 := time.Now()
	var m vegeta.Metrics
	for res := range a.Attack(tr, rate, d, "m6") {
		m.Add(res)
	}
	m.Close()
	win := time.Since(t0).Seconds()
	return m, procstat.Diff(groups, before, procstat.Take("/proc", groups)), win
}

// seedPosts writes n posts through the gateways with 16 concurrent writers
// (the API path every real post takes: post row, tags, and its chat room)
// and returns their ids and the write rate.
func seedPosts(ctx context.Context, e *Env, n int, timeout time.Duration) ([]int64, float64, error) {
	gws := e.Stack.GatewayURLs()
	clients := make([]*api.Client, len(gws))
	for i, g := range gws {
		clients[i] = api.New(g)
	}
	var cats []struct {
		ID int64 `json:"id"`
	}
	if err := clients[0].Do(ctx, http.MethodGet, "/api/post/categories/", "", nil, &cats); err != nil {
		return nil, 0, err
	}
	if len(cats) == 0 {
		return nil, 0, fmt.Errorf("no categories")
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	ids := make([]int64, 0, n)
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for w := range uint64(16) {
		wg.Add(1)
		go func(w uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(w, 7))
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || sctx.Err() != nil {
					return
				}
				a := e.Accounts[int(i)%len(e.Accounts)]
				title, content, tags := postText(r, i)
				body := map[string]any{"title": title, "content": content, "category": cats[int(i)%len(cats)].ID, "tags": tags}
				var out struct {
					ID int64 `json:"id"`
				}
				if err := clients[int(i)%len(clients)].Do(sctx, http.MethodPost, "/api/post/write/", a.Token, body, &out); err != nil {
					mu.Lock()
					if firstErr == nil && sctx.Err() == nil {
						firstErr = err
					}
					mu.Unlock()
					if sctx.Err() != nil {
						return
					}
					continue
				}
				mu.Lock()
				ids = append(ids, out.ID)
				if len(ids)%10000 == 0 {
					e.Logf("M6: seeded %d posts", len(ids))
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	rate := float64(len(ids)) / time.Since(start).Seconds()
	if sctx.Err() != nil && firstErr == nil && len(ids) < n {
		firstErr = fmt.Errorf("seeding stopped after %v", timeout)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, rate, firstErr
}

// postText is the title, content and tags of seeded post i.
func postText(r *rand.Rand, i int64) (title, content string, tags []string) {
	w1, w2, w3 := words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))]
	for w3 == w2 {
		w3 = words[r.IntN(len(words))]
	}
	title = fmt.Sprintf("%s and %s, note %d", w1, w2, i)
	content = fmt.Sprintf("# %s\n\nNotes on %s, %s and %s in Go. Post %d of the benchmark seed; %s", w1, w1, w2, w3, i, strings.Repeat("lorem ipsum ", 20))
	return title, content, []string{w2, w3}
}

// bulkPosts inserts n posts straight into the post service's database with
// COPY, exactly as its store writes them, because writing 100,000 posts
// through the API (each creating a chat room) would take longer than the
// whole benchmark. The rooms of the posts already there are reused.
func bulkPosts(ctx context.Context, e *Env, n int) ([]int64, error) {
	if n <= 0 {
		return nil, nil
	}
	conn, err := pgx.Connect(ctx, e.Stack.Databases["post"])
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }() // after Commit a no-op

	type named struct {
		id   int64
		name string
	}
	collect := func(sql string, args ...any) ([]named, error) {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) (named, error) {
			var x named
			return x, r.Scan(&x.id, &x.name)
		})
	}
	cats, err := collect(`SELECT id, name FROM categories ORDER BY id`)
	if err != nil || len(cats) == 0 {
		return nil, fmt.Errorf("categories: %w (%d)", err, len(cats))
	}
	if _, err := tx.Exec(ctx, `INSERT INTO tags (name) SELECT unnest($1::text[]) ON CONFLICT ((lower(name))) DO NOTHING`, words); err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	tagList, err := collect(`SELECT id, lower(name) FROM tags WHERE lower(name) = ANY($1)`, words)
	if err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	tagID := map[string]int64{}
	for _, t := range tagList {
		tagID[t.name] = t.id
	}
	var rooms []int64
	rows, err := tx.Query(ctx, `SELECT room_id FROM posts ORDER BY id`)
	if err != nil {
		return nil, err
	}
	if rooms, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return nil, err
	}
	if len(rooms) == 0 {
		return nil, fmt.Errorf("no API-written posts whose rooms could be reused")
	}
	var first int64
	if err := tx.QueryRow(ctx, `SELECT nextval('posts_id_seq')`).Scan(&first); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `SELECT setval('posts_id_seq', $1)`, first+int64(n)-1); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(42, 42))
	now := time.Now()
	ids := make([]int64, n)
	postRows := make([][]any, n)
	var tagRows, hitRows [][]any
	for k := range n {
		id := first + int64(k)
		ids[k] = id
		title, content, tags := postText(r, id)
		cat := cats[k%len(cats)]
		meta := cat.name + "\n" + strings.Join(tags, "\n")
		at := now.Add(-time.Duration(n-k) * time.Second)
		writer := e.Accounts[k%len(e.Accounts)].ID
		postRows[k] = []any{id, title, content, cat.id, writer, rooms[k%len(rooms)], meta, at, at}
		hitRows = append(hitRows, []any{id})
		for _, t := range tags {
			tagRows = append(tagRows, []any{id, tagID[t]})
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"posts"},
		[]string{"id", "title", "content", "category_id", "writer_id", "room_id", "search_meta", "created_at", "updated_at"},
		pgx.CopyFromRows(postRows)); err != nil {
		return nil, fmt.Errorf("copy posts: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"post_hits"}, []string{"post_id"}, pgx.CopyFromRows(hitRows)); err != nil {
		return nil, fmt.Errorf("copy post_hits: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"post_tags"}, []string{"post_id", "tag_id"}, pgx.CopyFromRows(tagRows)); err != nil {
		return nil, fmt.Errorf("copy post_tags: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE tags t SET post_count = (SELECT count(*) FROM post_tags pt WHERE pt.tag_id = t.id)`); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	_, err = conn.Exec(ctx, `ANALYZE posts, post_tags, post_hits, tags`)
	return ids, err
}

// M8 restarts each service (SIGTERM, then exec) and measures exec → ready;
// the first start of the stack (fresh databases, so migrations included) is
// reported separately.
func M8(ctx context.Context, e *Env, firstStart map[string]time.Duration) report.Scenario {
	z := e.Sizes
	sc := report.Scenario{ID: "M8", Title: "cold start: exec → ready (/readyz), dependencies already up",
		Params: map[string]any{"restarts": z.M8Restarts}}
	cmd := e.command() + " (restart each process; poll its /readyz every 5 ms)"
	for _, p := range e.Stack.All() {
		if strings.HasPrefix(p.Name, "gateway-") && p.Name != "gateway-a" {
			continue
		}
		var vs []float64
		for range z.M8Restarts {
			p.Stop()
			if err := p.Start(ctx); err != nil {
				sc.Notes = append(sc.Notes, p.Name+": restart failed: "+err.Error())
				break
			}
			vs = append(vs, p.ReadyIn.Seconds()*1000)
		}
		e.Logf("M8 %s: restarts ready in %v ms", p.Name, vs)
		sc.Figures = append(sc.Figures, report.NewFigure("M8", p.Name+": restart, exec → ready", "ms", vs, report.AtMost(1000), cmd))
		if d, ok := firstStart[p.Name]; ok {
			what := ": first start on an empty database (migrations)"
			if strings.HasPrefix(p.Name, "gateway-") {
				what = ": first start (no database of its own)"
			}
			sc.Figures = append(sc.Figures, report.NewFigure("M8", p.Name+what, "ms", []float64{d.Seconds() * 1000}, report.AtMost(1000), e.command()+" (stack start)"))
		}
	}
	return sc
}
