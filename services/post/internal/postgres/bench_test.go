package postgres_test

import (
	"context"
	"testing"

	"github.com/cobraspace/cobraspace/services/post/internal/post"
)

// BenchmarkList100k measures the list, search and detail queries on 100,000
// posts (about 1 KB of content each, 3 tags each from a pool of 200):
//
//	go test -run '^$' -bench List100k -benchtime 200x ./internal/postgres/
//
// Seeding takes about half a minute; it runs only with -bench.
func BenchmarkList100k(b *testing.B) {
	s, pool := newStore(b)
	ctx := context.Background()
	seed := []string{
		`INSERT INTO tags (name) SELECT 'tag' || g FROM generate_series(1, 200) g`,
		`INSERT INTO posts (id, title, content, category_id, writer_id, room_id, search_meta, created_at, updated_at)
		 SELECT nextval('posts_id_seq'),
		        'Post ' || g || ' about ' || (ARRAY['go', 'rust', 'python', 'sql', 'docker'])[g % 5 + 1],
		        repeat('lorem ipsum dolor sit amet, consectetur adipiscing elit. ', 18) || md5(g::text),
		        g % 3 + 1, g % 1000 + 1, g,
		        (ARRAY['Programming', 'Ormi', 'ESTsoft'])[g % 3 + 1] || E'\ntag' || (g % 200 + 1) || E'\ntag' || ((g + 7) % 200 + 1) || E'\ntag' || ((g + 42) % 200 + 1),
		        now() - g * interval '1 second', now()
		 FROM generate_series(1, 100000) g`,
		`INSERT INTO post_hits (post_id, hit) SELECT id, (id * 7919) % 5000 FROM posts`,
		`INSERT INTO post_tags (post_id, tag_id)
		 SELECT p.id, t.id FROM posts p JOIN tags t ON t.name IN
		   ('tag' || (p.room_id % 200 + 1), 'tag' || ((p.room_id + 7) % 200 + 1), 'tag' || ((p.room_id + 42) % 200 + 1))`,
		`UPDATE tags t SET post_count = (SELECT count(*) FROM post_tags pt WHERE pt.tag_id = t.id)`,
		`ANALYZE`,
	}
	for _, q := range seed {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatalf("seed: %v\n%s", err, q)
		}
	}
	var mid post.Post
	page, next, err := s.ListPosts(ctx, post.Query{Ordering: post.OrderNewest, Limit: 100})
	if err != nil || next == nil {
		b.Fatal(err)
	}
	mid = page[99]
	deep := &post.Position{Ordering: post.OrderNewest, CreatedAt: mid.CreatedAt.Add(-50000 * 1e9), ID: mid.ID - 50000}

	for _, bc := range []struct {
		name string
		q    post.Query
	}{
		{"newest", post.Query{Ordering: post.OrderNewest}},
		{"newest deep page", post.Query{Ordering: post.OrderNewest, After: deep}},
		{"category", post.Query{Ordering: post.OrderNewest, CategoryID: 2}},
		{"writer", post.Query{Ordering: post.OrderNewest, WriterID: 77}},
		{"tag", post.Query{Ordering: post.OrderNewest, Tag: "tag17"}},
		{"most hits", post.Query{Ordering: post.OrderMostHits}},
		{"search common word", post.Query{Ordering: post.OrderRelevance, Terms: []string{"lorem"}}},
		{"search title word", post.Query{Ordering: post.OrderRelevance, Terms: []string{"rust"}}},
		{"search rare", post.Query{Ordering: post.OrderRelevance, Terms: []string{"c4ca4238a0b9"}}},
		{"search no match", post.Query{Ordering: post.OrderRelevance, Terms: []string{"zebra"}}},
		{"search short", post.Query{Ordering: post.OrderRelevance, Terms: []string{"go"}}},
		{"search two terms", post.Query{Ordering: post.OrderRelevance, Terms: []string{"python", "tag17"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.q.Limit = 20
			for b.Loop() {
				if _, _, err := s.ListPosts(ctx, bc.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("detail with hit", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Post(ctx, mid.ID, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}
