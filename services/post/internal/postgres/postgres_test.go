package postgres_test

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

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/pgdb"
	"github.com/cobraspace/cobraspace/platform/testenv"
	"github.com/cobraspace/cobraspace/services/post/internal/post"
	"github.com/cobraspace/cobraspace/services/post/internal/postgres"
	"github.com/cobraspace/cobraspace/services/post/internal/postgres/migrations"
)

// newStore returns a Store on a fresh, migrated database.
func newStore(t testing.TB) (*postgres.Store, *pgxpool.Pool) {
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
	return postgres.NewStore(pool), pool
}

// categoryID returns the id of a seeded category.
func categoryID(t *testing.T, s *postgres.Store, name string) int64 {
	t.Helper()
	cats, err := s.Categories(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cats {
		if c.Name == name {
			return c.ID
		}
	}
	t.Fatalf("category %q not seeded; got %v", name, cats)
	return 0
}

// insert stores a post the way the service does (reserved id, then insert).
func insert(t *testing.T, s *postgres.Store, np post.NewPost) post.Post {
	t.Helper()
	ctx := context.Background()
	id, err := s.NextPostID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	np.ID = id
	if np.RoomID == 0 {
		np.RoomID = 1000 + id
	}
	if np.WriterID == 0 {
		np.WriterID = 1
	}
	if np.Content == "" {
		np.Content = "content"
	}
	p, err := s.InsertPost(ctx, np)
	if err != nil {
		t.Fatalf("insert %q: %v", np.Title, err)
	}
	return p
}

func ids(posts []post.Post) []int64 {
	out := make([]int64, len(posts))
	for i, p := range posts {
		out[i] = p.ID
	}
	return out
}

func tagNames(p post.Post) []string {
	var out []string
	for _, t := range p.Tags {
		out = append(out, t.Name)
	}
	return out
}

func TestSeededCategoriesAndCreate(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	cats, err := s.Categories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cats {
		names = append(names, c.Name)
	}
	if want := []string{"ESTsoft", "Ormi", "Programming"}; !slices.Equal(names, want) {
		t.Fatalf("got categories %v, want %v", names, want)
	}
	c, err := s.CreateCategory(ctx, "Go")
	if err != nil || c.ID == 0 || c.Name != "Go" {
		t.Fatalf("CreateCategory(Go) = %+v, %v", c, err)
	}
	for _, dup := range []string{"Go", "go", "PROGRAMMING"} {
		if _, err := s.CreateCategory(ctx, dup); apperr.ErrorCode(err) != apperr.CodeAlreadyExists {
			t.Errorf("CreateCategory(%q): got %v, want already_exists", dup, err)
		}
	}
	ok, err := s.CategoryExists(ctx, c.ID)
	if err != nil || !ok {
		t.Errorf("CategoryExists(%d) = %v, %v; want true", c.ID, ok, err)
	}
	ok, err = s.CategoryExists(ctx, 999999)
	if err != nil || ok {
		t.Errorf("CategoryExists(999999) = %v, %v; want false", ok, err)
	}
}

func TestInsertGetAndTags(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	prog := categoryID(t, s, "Programming")
	a := insert(t, s, post.NewPost{Title: "A", CategoryID: prog, Tags: []string{"go", "gRPC"}, WriterID: 7, RoomID: 70})
	b := insert(t, s, post.NewPost{Title: "B", CategoryID: prog, Tags: []string{"Go", "redis"}})

	if got, want := tagNames(a), []string{"go", "gRPC"}; !slices.Equal(got, want) {
		t.Errorf("tags of a: got %v, want %v", got, want)
	}
	// "Go" is the existing tag "go": names are unique case-insensitively.
	if got, want := tagNames(b), []string{"go", "redis"}; !slices.Equal(got, want) {
		t.Errorf("tags of b: got %v, want %v", got, want)
	}
	got, err := s.Post(ctx, a.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "A" || got.WriterID != 7 || got.RoomID != 70 || got.CategoryName != "Programming" ||
		got.Hit != 0 || !slices.Equal(tagNames(got), []string{"go", "gRPC"}) || got.CreatedAt.IsZero() {
		t.Errorf("Post(a) = %+v", got)
	}
	if _, err := s.Post(ctx, 424242, false); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Errorf("Post(unknown): got %v, want not_found", err)
	}
	if _, err := s.Post(ctx, 424242, true); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Errorf("Post(unknown, countHit): got %v, want not_found", err)
	}

	tags, err := s.Tags(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, tg := range tags {
		counts[tg.Name] = tg.PostCount
	}
	if tags[0].Name != "go" || counts["go"] != 2 || counts["gRPC"] != 1 || counts["redis"] != 1 {
		t.Errorf("Tags = %+v, want go first with 2, gRPC 1, redis 1", tags)
	}

	// An unknown category is a field error, and nothing is stored.
	id, _ := s.NextPostID(ctx)
	_, err = s.InsertPost(ctx, post.NewPost{ID: id, Title: "x", Content: "x", CategoryID: 999, WriterID: 1, RoomID: 1, Tags: []string{"orphan"}})
	var e *apperr.Error
	if apperr.ErrorCode(err) != apperr.CodeInvalid || !errors.As(err, &e) || len(e.Fields["category"]) == 0 {
		t.Errorf("insert with unknown category: got %v, want a category field error", err)
	}
	if _, err := s.Post(ctx, id, false); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Errorf("post of the failed insert: got %v, want not_found", err)
	}
}

func TestUpdateAndDelete(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	prog, ormi := categoryID(t, s, "Programming"), categoryID(t, s, "Ormi")
	p := insert(t, s, post.NewPost{Title: "old", Content: "body", CategoryID: prog, Tags: []string{"keep", "drop"}, WriterID: 5})
	other := insert(t, s, post.NewPost{Title: "other", CategoryID: prog, Tags: []string{"keep"}})

	title, tags := "new title", []string{"keep", "added"}
	u, err := s.UpdatePost(ctx, p.ID, post.Changes{Title: &title, CategoryID: &ormi, Tags: &tags})
	if err != nil {
		t.Fatal(err)
	}
	if u.Title != "new title" || u.Content != "body" || u.CategoryID != ormi || u.CategoryName != "Ormi" ||
		u.WriterID != 5 || !slices.Equal(tagNames(u), []string{"added", "keep"}) {
		t.Errorf("UpdatePost = %+v", u)
	}
	if !u.UpdatedAt.After(p.UpdatedAt) || !u.CreatedAt.Equal(p.CreatedAt) {
		t.Errorf("updated_at %v (was %v), created_at %v (was %v): want updated_at bumped only",
			u.UpdatedAt, p.UpdatedAt, u.CreatedAt, p.CreatedAt)
	}
	// Search sees the new category and tags, not the old ones.
	for _, tc := range []struct {
		term string
		want []int64
	}{
		{"added", []int64{p.ID}},
		{"drop", nil},
		{"ormi", []int64{p.ID}},
		{"keep", []int64{other.ID, p.ID}},
	} {
		got, _, err := s.ListPosts(ctx, post.Query{Terms: []string{tc.term}, Ordering: post.OrderNewest, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("search %q after update: got %v, want %v", tc.term, ids(got), tc.want)
		}
	}
	content := "new body"
	u2, err := s.UpdatePost(ctx, p.ID, post.Changes{Content: &content})
	if err != nil || u2.Content != "new body" || u2.Title != "new title" || !slices.Equal(tagNames(u2), []string{"added", "keep"}) {
		t.Errorf("content-only update = %+v, %v", u2, err)
	}
	if _, err := s.UpdatePost(ctx, 999999, post.Changes{Content: &content}); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Errorf("update unknown: got %v, want not_found", err)
	}

	if err := s.DeletePost(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePost(ctx, p.ID); apperr.ErrorCode(err) != apperr.CodeNotFound {
		t.Errorf("second delete: got %v, want not_found", err)
	}
	all, err := s.Tags(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, tg := range all {
		counts[tg.Name] = tg.PostCount
	}
	if want := map[string]int64{"keep": 1, "drop": 0, "added": 0}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("tag counts after update and delete: got %v, want %v", counts, want)
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	prog, ormi, est := categoryID(t, s, "Programming"), categoryID(t, s, "Ormi"), categoryID(t, s, "ESTsoft")
	p := map[string]post.Post{}
	add := func(key, title, content string, cat int64, tags ...string) {
		p[key] = insert(t, s, post.NewPost{Title: title, Content: content, CategoryID: cat, Tags: tags})
	}
	add("percent", "Discount", "100% sure", ormi)
	add("underscore", "snake_case names", "body", ormi)
	add("backslash", `C:\path`, "windows", ormi)
	add("quote", "It's here", "' OR 1=1-- in text", ormi)
	add("plain", "Plain", "nothing special 100 percent", ormi)
	add("gotitle", "Learning GoLang", "goroutines everywhere, go go go", est, "go", "golang")
	add("gotag", "Concurrency", "channels", est, "Go")
	add("gocontent", "Channels", "we write go daily", est)
	add("category", "Anything", "text", prog)
	add("korean", "한글 제목", "안녕하세요 코브라", est)

	for _, tc := range []struct {
		name   string
		search []string
		want   []string // in result order
	}{
		{"percent is literal", []string{"%"}, []string{"percent"}},
		{"underscore is literal", []string{"_"}, []string{"underscore"}},
		{"backslash is literal", []string{`\`}, []string{"backslash"}},
		{"quote is literal", []string{"'"}, []string{"quote"}},
		{"injection is literal", []string{"' OR 1=1--"}, []string{"quote"}},
		{"injection terms", []string{"'", "OR", "1=1--"}, []string{"quote"}},
		{"case-insensitive title", []string{"DISCOUNT"}, []string{"percent"}},
		{"category name", []string{"programming"}, []string{"category"}},
		{"tag name", []string{"golang"}, []string{"gotitle"}},
		// Title matches first, then the rest, each group newest first;
		// gotitle matches in title, content and tags but comes once.
		{"ranking and each post once", []string{"go"}, []string{"gotitle", "gocontent", "gotag"}},
		{"every term must match", []string{"go", "channels"}, []string{"gocontent", "gotag"}},
		{"korean", []string{"코브라"}, []string{"korean"}},
		{"no match", []string{"zzzz"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []int64
			for _, k := range tc.want {
				want = append(want, p[k].ID)
			}
			// Both plans: the window walk and the trigram-index query.
			for _, st := range []*postgres.Store{s, s.WithSearchWindow(2)} {
				got, next, err := st.ListPosts(ctx, post.Query{Terms: tc.search, Ordering: post.OrderRelevance, Limit: 20})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got), want) || next != nil {
					t.Errorf("search %q: got %v (next %v), want %v", tc.search, ids(got), next, want)
				}
			}
		})
	}

	// Filters combine with search and with each other.
	for _, tc := range []struct {
		name string
		q    post.Query
		want []string
	}{
		{"category filter", post.Query{CategoryID: prog}, []string{"category"}},
		{"tag filter, case-insensitive", post.Query{Tag: "GO"}, []string{"gotag", "gotitle"}},
		{"tag filter and search", post.Query{Tag: "go", Terms: []string{"golang"}}, []string{"gotitle"}},
		{"unknown tag", post.Query{Tag: "nope"}, nil},
		{"category and search", post.Query{CategoryID: est, Terms: []string{"channels"}}, []string{"gocontent", "gotag"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Ordering, tc.q.Limit = post.OrderNewest, 20
			var want []int64
			for _, k := range tc.want {
				want = append(want, p[k].ID)
			}
			for _, st := range []*postgres.Store{s, s.WithSearchWindow(1)} {
				got, _, err := st.ListPosts(ctx, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got), want) {
					t.Errorf("got %v, want %v", ids(got), want)
				}
			}
		})
	}
}

func TestWriterFilterAndHitOrdering(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	prog := categoryID(t, s, "Programming")
	a := insert(t, s, post.NewPost{Title: "a", CategoryID: prog, WriterID: 1})
	b := insert(t, s, post.NewPost{Title: "b", CategoryID: prog, WriterID: 2})
	c := insert(t, s, post.NewPost{Title: "c", CategoryID: prog, WriterID: 1})
	for range 3 {
		if _, err := s.Post(ctx, b.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Post(ctx, a.ID, true); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.ListPosts(ctx, post.Query{WriterID: 1, Ordering: post.OrderNewest, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{c.ID, a.ID}; !slices.Equal(ids(got), want) {
		t.Errorf("writer 1: got %v, want %v", ids(got), want)
	}
	got, _, err = s.ListPosts(ctx, post.Query{Ordering: post.OrderMostHits, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{b.ID, a.ID, c.ID}; !slices.Equal(ids(got), want) || got[0].Hit != 3 {
		t.Errorf("most hits: got %v (first hit %d), want %v with 3 hits first", ids(got), got[0].Hit, want)
	}
}

func TestConcurrentHits(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	p := insert(t, s, post.NewPost{Title: "popular", CategoryID: categoryID(t, s, "Programming")})
	const views = 50
	var wg sync.WaitGroup
	seen := make(chan int64, views)
	for range views {
		wg.Go(func() {
			got, err := s.Post(ctx, p.ID, true)
			if err != nil {
				t.Error(err)
				return
			}
			seen <- got.Hit
		})
	}
	wg.Wait()
	close(seen)
	var values []int64
	for h := range seen {
		values = append(values, h)
	}
	slices.Sort(values)
	// Each view saw its own increment: the values are exactly 1..50.
	for i, h := range values {
		if h != int64(i+1) {
			t.Fatalf("hit values seen by views: got %v, want 1..%d each once", values, views)
		}
	}
	got, err := s.Post(ctx, p.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hit != views {
		t.Errorf("hit after %d concurrent views: got %d, want %d", views, got.Hit, views)
	}
}

// TestPaginationStable pages through each ordering while new posts are
// added between pages: every post that existed at the start is seen
// exactly once, in order, and none of the new ones slips in mid-list.
func TestPaginationStable(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	prog := categoryID(t, s, "Programming")
	var initial []post.Post
	for i := range 25 {
		title := fmt.Sprintf("post %02d", i)
		if i%2 == 0 {
			title = fmt.Sprintf("findme %02d", i) // title matches rank first
		}
		initial = append(initial, insert(t, s, post.NewPost{Title: title, Content: "findme in content", CategoryID: prog}))
	}
	for i, p := range initial {
		for range i % 4 {
			if _, err := s.Post(ctx, p.ID, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		q    post.Query
	}{
		{"newest", post.Query{Ordering: post.OrderNewest}},
		{"most hits", post.Query{Ordering: post.OrderMostHits}},
		{"relevance", post.Query{Ordering: post.OrderRelevance, Terms: []string{"findme"}}},
		{"newest search", post.Query{Ordering: post.OrderNewest, Terms: []string{"content"}}},
		{"most hits search", post.Query{Ordering: post.OrderMostHits, Terms: []string{"findme"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The full list in one page is the reference order.
			q := tc.q
			q.Limit = 100
			want, _, err := s.ListPosts(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			q.Limit = 7
			var got []int64
			// A window of 5 makes searches switch between both plans.
			small := s.WithSearchWindow(5)
			for page := 0; ; page++ {
				posts, next, err := small.ListPosts(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids(posts)...)
				insert(t, s, post.NewPost{Title: fmt.Sprintf("findme new %s %d", tc.name, page), Content: "findme", CategoryID: prog})
				if next == nil {
					break
				}
				if page > 10 {
					t.Fatal("too many pages")
				}
				q.After = next
			}
			if strings.HasPrefix(tc.name, "most hits") {
				// New posts have no hits, so they can still show up on a later
				// page (among the zero-hit posts), but nothing repeats and no
				// post that existed before is skipped.
				seen := map[int64]int{}
				for _, id := range got {
					if seen[id]++; seen[id] > 1 {
						t.Errorf("post %d seen twice while paging by hits", id)
					}
				}
				for _, p := range want {
					if seen[p.ID] != 1 {
						t.Errorf("post %d seen %d times while paging by hits, want once", p.ID, seen[p.ID])
					}
				}
				return
			}
			// New posts are newest (and, searching, title matches): they sort
			// before every position already handed out, so paging sees
			// exactly the list as it was at the start.
			if !slices.Equal(got, ids(want)) {
				t.Errorf("paged ids %v, want %v", got, ids(want))
			}
		})
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.UnixMicro(time.Now().UnixMicro()).UTC()
	for _, p := range []post.Position{
		{Ordering: post.OrderNewest, CreatedAt: now, ID: 12},
		{Ordering: post.OrderMostHits, Hit: 99, ID: 3},
		{Ordering: post.OrderRelevance, Tier: 1, CreatedAt: now, ID: 7},
	} {
		got, err := post.DecodeCursor(post.EncodeCursor(p), p.Ordering)
		if err != nil || *got != p {
			t.Errorf("round trip of %+v: got %+v, %v", p, got, err)
		}
		other := post.OrderNewest
		if p.Ordering == post.OrderNewest {
			other = post.OrderMostHits
		}
		if _, err := post.DecodeCursor(post.EncodeCursor(p), other); apperr.ErrorCode(err) != apperr.CodeInvalid {
			t.Errorf("cursor of %v used for %v: got %v, want invalid", p.Ordering, other, err)
		}
	}
	for _, bad := range []string{"!!", "bjox", "eDox"} {
		if _, err := post.DecodeCursor(bad, post.OrderNewest); apperr.ErrorCode(err) != apperr.CodeInvalid {
			t.Errorf("DecodeCursor(%q): got %v, want invalid", bad, err)
		}
	}
}

// TestConcurrentWritersSharingTags: many writers linking and counting the
// same tags at once (with FOR UPDATE on the tag rows they deadlocked on
// post_tags' key-share locks). Every write must succeed and every tag count
// must be exact.
func TestConcurrentWritersSharingTags(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	prog := categoryID(t, s, "Programming")
	names := []string{"go", "rust", "sql", "grpc", "nats", "redis"}
	const writers = 32
	var wg sync.WaitGroup
	want := map[string]int64{}
	tagsOf := make([][]string, writers)
	for i := range writers {
		// Each writer takes three names, rotated so that writers overlap
		// in different orders, plus one tag of its own.
		tags := []string{names[i%6], names[(i+2)%6], names[(i+5)%6], fmt.Sprintf("own-%d", i)}
		tagsOf[i] = tags
		for _, n := range tags {
			want[n]++
		}
	}
	for i := range writers {
		wg.Go(func() {
			id, err := s.NextPostID(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			_, err = s.InsertPost(ctx, post.NewPost{ID: id, Title: "t", Content: "c", CategoryID: prog,
				Tags: tagsOf[i], WriterID: 1, RoomID: 1000 + id})
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	tags, err := s.Tags(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		if tag.PostCount != want[tag.Name] {
			t.Errorf("tag %q: post_count %d, want %d", tag.Name, tag.PostCount, want[tag.Name])
		}
	}
	if len(tags) != len(want) {
		t.Errorf("got %d tags, want %d", len(tags), len(want))
	}
}

// TestListQueriesUseGenericPlans checks that the list and windowed search
// queries, once prepared on a connection, stop being planned again on
// every execution (their limit is no bound parameter): PostgreSQL reports
// generic plans for them in pg_prepared_statements.
func TestListQueriesUseGenericPlans(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1 // one session, so that its prepared statements are the ones read
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pgdb.Migrate(ctx, pool, migrations.FS, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	s := postgres.NewStore(pool)
	cat := categoryID(t, s, "Programming")
	for i := range 30 {
		insert(t, s, post.NewPost{Title: fmt.Sprintf("post %d about go", i), CategoryID: cat})
	}
	for range 10 {
		if _, _, err := s.ListPosts(ctx, post.Query{Ordering: post.OrderNewest, Limit: 20}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ListPosts(ctx, post.Query{Ordering: post.OrderRelevance, Terms: []string{"go"}, Limit: 20}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ name, pattern string }{
		{"newest page", `SELECT % true, false FROM % ORDER BY p.created_at DESC, p.id DESC LIMIT %`},
		{"windowed search", `%row_number() OVER%`},
	} {
		var generic, custom int64
		err := pool.QueryRow(ctx, `SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)
			FROM pg_prepared_statements WHERE statement LIKE $1`, tc.pattern).Scan(&generic, &custom)
		if err != nil {
			t.Fatal(err)
		}
		if generic+custom < 10 || generic == 0 {
			t.Errorf("%s: %d generic and %d custom plans after 10 executions; want generic plans", tc.name, generic, custom)
		}
	}
}
