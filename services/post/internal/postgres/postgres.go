// Package postgres stores posts, categories, tags and hit counters in
// PostgreSQL. Search uses trigram (pg_trgm) GIN indexes; pagination is
// keyset-based; a page's tags are loaded with one query for the whole page.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/services/post/internal/post"
)

// DefaultSearchWindow is how many posts, in list order, a search first
// checks one by one (see list).
const DefaultSearchWindow = 1000

// postColumns are the columns scanPost reads, in order.
const postColumns = `p.id, p.title, p.content, p.category_id, c.name, p.writer_id, h.hit, p.room_id, p.created_at, p.updated_at`

// postFrom joins what a Post needs besides its tags.
const postFrom = `posts p JOIN categories c ON c.id = p.category_id JOIN post_hits h ON h.post_id = p.id`

// Store is a post.Store on a pgx pool.
type Store struct {
	pool         *pgxpool.Pool
	searchWindow int
}

var _ post.Store = (*Store)(nil)

// NewStore returns a Store on pool (migrated with the migrations package).
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, searchWindow: DefaultSearchWindow}
}

// WithSearchWindow returns a copy of s that checks n posts one by one
// before a search falls back to the trigram index (tests use a tiny window
// to exercise both plans).
func (s *Store) WithSearchWindow(n int) *Store {
	cp := *s
	cp.searchWindow = max(n, 1)
	return &cp
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func scanPost(row pgx.Row) (post.Post, error) {
	var p post.Post
	err := row.Scan(&p.ID, &p.Title, &p.Content, &p.CategoryID, &p.CategoryName, &p.WriterID, &p.Hit,
		&p.RoomID, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

// ---- reading ----

// Post implements post.Store.
func (s *Store) Post(ctx context.Context, id int64, countHit bool) (post.Post, error) {
	sql := `SELECT ` + postColumns + ` FROM ` + postFrom + ` WHERE p.id = $1`
	if countHit {
		// One statement: the increment is atomic under concurrent views
		// (the row lock serialises them) and returns the new value.
		sql = `WITH h AS (UPDATE post_hits SET hit = hit + 1 WHERE post_id = $1 RETURNING post_id, hit)
			SELECT ` + postColumns + ` FROM h JOIN posts p ON p.id = h.post_id JOIN categories c ON c.id = p.category_id`
	}
	// The post and its tags in one round trip.
	b := &pgx.Batch{}
	b.Queue(sql, id)
	b.Queue(tagsSQL, []int64{id})
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	p, err := scanPost(br.QueryRow())
	if errors.Is(err, pgx.ErrNoRows) {
		return post.Post{}, post.ErrNotFound
	}
	if err != nil {
		return post.Post{}, fmt.Errorf("post %d: %w", id, err)
	}
	rows, err := br.Query()
	if err != nil {
		return post.Post{}, fmt.Errorf("tags of post %d: %w", id, err)
	}
	tags, err := collectTags(rows)
	if err != nil {
		return post.Post{}, err
	}
	p.Tags = tags[id]
	return p, br.Close()
}

// tagsSQL loads the tags of a page of posts at once.
const tagsSQL = `SELECT pt.post_id, t.id, t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
	WHERE pt.post_id = ANY($1) ORDER BY pt.post_id, lower(t.name), t.id`

func collectTags(rows pgx.Rows) (map[int64][]post.Tag, error) {
	defer rows.Close()
	out := map[int64][]post.Tag{}
	for rows.Next() {
		var postID int64
		var t post.Tag
		if err := rows.Scan(&postID, &t.ID, &t.Name); err != nil {
			return nil, fmt.Errorf("tags: %w", err)
		}
		out[postID] = append(out[postID], t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	return out, nil
}

// withTags fills the tags of posts with one query.
func withTags(ctx context.Context, q querier, posts []post.Post) error {
	if len(posts) == 0 {
		return nil
	}
	ids := make([]int64, len(posts))
	for i, p := range posts {
		ids[i] = p.ID
	}
	rows, err := q.Query(ctx, tagsSQL, ids)
	if err != nil {
		return fmt.Errorf("tags: %w", err)
	}
	tags, err := collectTags(rows)
	if err != nil {
		return err
	}
	for i := range posts {
		posts[i].Tags = tags[posts[i].ID]
	}
	return nil
}

// listSQL builds one post-list query with positional arguments.
type listSQL struct {
	args []any
}

func (l *listSQL) arg(v any) string {
	l.args = append(l.args, v)
	return "$" + strconv.Itoa(len(l.args))
}

// likePattern is a case-insensitive "contains" pattern for ILIKE in which
// every character of term is literal (\ is ILIKE's default escape).
func likePattern(term string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(term) + "%"
}

// ListPosts implements post.Store.
func (s *Store) ListPosts(ctx context.Context, q post.Query) ([]post.Post, *post.Position, error) {
	var posts []post.Post
	var tiers []int
	if q.Ordering == post.OrderRelevance {
		// Title matches first: query tier 0, then fill the page from tier 1.
		startTier := 0
		if q.After != nil {
			startTier = q.After.Tier
		}
		for tier := startTier; tier <= 1 && len(posts) <= q.Limit; tier++ {
			after := q.After
			if tier != startTier {
				after = nil
			}
			got, err := s.list(ctx, q, tier, after, q.Limit+1-len(posts))
			if err != nil {
				return nil, nil, err
			}
			posts = append(posts, got...)
			for range got {
				tiers = append(tiers, tier)
			}
		}
	} else {
		got, err := s.list(ctx, q, -1, q.After, q.Limit+1)
		if err != nil {
			return nil, nil, err
		}
		posts = got
	}
	var next *post.Position
	if len(posts) > q.Limit {
		posts = posts[:q.Limit]
		last := posts[len(posts)-1]
		next = &post.Position{Ordering: q.Ordering, CreatedAt: last.CreatedAt, Hit: last.Hit, ID: last.ID}
		if tiers != nil {
			next.Tier = tiers[len(posts)-1]
		}
	}
	if err := withTags(ctx, s.pool, posts); err != nil {
		return nil, nil, err
	}
	return posts, next, nil
}

// list returns up to limit posts of q (tier 0 or 1 for relevance, else
// -1) after the position after.
//
// A search term can match almost every post ("lorem") or almost none, and
// PostgreSQL cannot tell which from the pattern: it estimates every
// substring pattern as rare and picks the trigram index, which for a
// common term means checking every match and sorting them all (seconds
// at 100k posts). So a search first walks the list in order through its
// B-tree index and checks at most s.searchWindow posts; a common term fills
// the page within the first few. Only when the window holds too few
// matches (a rare term) does the plain query run, where the trigram index
// is the right plan.
func (s *Store) list(ctx context.Context, q post.Query, tier int, after *post.Position, limit int) ([]post.Post, error) {
	if len(q.Terms) > 0 {
		posts, windowFull, err := s.query(ctx, q, tier, after, limit, true)
		if err != nil || len(posts) >= limit || !windowFull {
			return posts, err
		}
	}
	posts, _, err := s.query(ctx, q, tier, after, limit, false)
	return posts, err
}

// query runs one list query; windowed checks the search terms only on the
// next s.searchWindow posts in order and reports whether the window was full
// (so that more matches may follow it).
func (s *Store) query(ctx context.Context, q post.Query, tier int, after *post.Position, limit int, windowed bool) ([]post.Post, bool, error) {
	l := &listSQL{}
	var filters, search []string
	if q.CategoryID != 0 {
		filters = append(filters, "p.category_id = "+l.arg(q.CategoryID))
	}
	if q.WriterID != 0 {
		filters = append(filters, "p.writer_id = "+l.arg(q.WriterID))
	}
	if q.Tag != "" {
		filters = append(filters, `EXISTS (SELECT 1 FROM post_tags pt WHERE pt.post_id = p.id
			AND pt.tag_id = (SELECT t.id FROM tags t WHERE lower(t.name) = lower(`+l.arg(q.Tag)+`)))`)
	}
	var inTitle []string
	for _, term := range q.Terms {
		pat := l.arg(likePattern(term))
		// search_doc is lower-cased (migration 00002), so LIKE with the
		// pattern lower-cased the same way is a case-insensitive match.
		search = append(search, "p.search_doc LIKE lower("+pat+")")
		inTitle = append(inTitle, "p.title ILIKE "+pat)
	}
	switch tier {
	case 0:
		// The title is part of search_doc: a title match is a match.
		search = inTitle
	case 1:
		search = append(search, "NOT ("+strings.Join(inTitle, " AND ")+")")
	}
	order, keyset := "p.created_at DESC, p.id DESC", ""
	if q.Ordering == post.OrderMostHits {
		order = "h.hit DESC, h.post_id DESC"
	}
	if after != nil {
		switch q.Ordering {
		case post.OrderMostHits:
			keyset = "(h.hit, h.post_id) < (" + l.arg(after.Hit) + ", " + l.arg(after.ID) + ")"
		default:
			keyset = "(p.created_at, p.id) < (" + l.arg(after.CreatedAt) + ", " + l.arg(after.ID) + ")"
		}
		filters = append(filters, keyset)
	}
	where := func(conds []string) string {
		if len(conds) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(conds, " AND ")
	}

	// Limits are written into the text, not bound: with LIMIT $n
	// PostgreSQL never adopts a prepared statement's generic plan (it
	// costs an unknown limit as 10% of the table) and plans every execution
	// again, which took ~0.5 ms against 0.1 ms of execution for a
	// newest-first page at 100k posts, and ~1 ms for a windowed search.
	// Only the fallback search keeps its limit bound, on purpose: that
	// keeps it on custom plans, chosen for the actual pattern (the trigram
	// index for a rare term), where one generic plan could walk every post.
	var sql string
	if windowed {
		// The inner query streams posts in list order through the B-tree
		// index; the match is computed per row in its select list, where
		// the trigram index cannot be used. The window's last row is
		// always let through, as a marker that the window was full. Only
		// the most-hits order needs post_hits in here (its order and
		// keyset); joining it anyway cost one index probe per post walked,
		// ~40% of a windowed search.
		hitCol, from := "", "posts p"
		if q.Ordering == post.OrderMostHits {
			hitCol, from = ", h.hit", "posts p JOIN post_hits h ON h.post_id = p.id"
		}
		inner := "SELECT p.id, p.created_at" + hitCol + ", row_number() OVER (ORDER BY " + order + ") AS rn, (" +
			strings.Join(search, " AND ") + ") AS m FROM " + from +
			where(filters) + " ORDER BY " + order + " LIMIT " + strconv.Itoa(s.searchWindow)
		outerOrder := strings.NewReplacer("p.", "w.", "h.hit", "w.hit", "h.post_id", "w.id").Replace(order)
		sql = "SELECT " + postColumns + ", w.m, w.rn = " + strconv.Itoa(s.searchWindow) +
			" FROM (SELECT * FROM (" + inner + ") i WHERE i.m OR i.rn = " + strconv.Itoa(s.searchWindow) +
			" ORDER BY " + strings.NewReplacer("p.", "i.", "h.hit", "i.hit", "h.post_id", "i.id").Replace(order) +
			" LIMIT " + strconv.Itoa(limit+1) + ") w JOIN " + postFrom + " ON p.id = w.id ORDER BY " + outerOrder
	} else {
		lim := strconv.Itoa(limit)
		if len(search) > 0 {
			lim = l.arg(limit)
		}
		sql = "SELECT " + postColumns + ", true, false FROM " + postFrom + where(append(filters, search...)) +
			" ORDER BY " + order + " LIMIT " + lim
	}
	rows, err := s.pool.Query(ctx, sql, l.args...)
	if err != nil {
		return nil, false, fmt.Errorf("list posts: %w", err)
	}
	defer rows.Close()
	var posts []post.Post
	windowFull := false
	for rows.Next() {
		var p post.Post
		var match, last bool
		err := rows.Scan(&p.ID, &p.Title, &p.Content, &p.CategoryID, &p.CategoryName, &p.WriterID, &p.Hit,
			&p.RoomID, &p.CreatedAt, &p.UpdatedAt, &match, &last)
		if err != nil {
			return nil, false, fmt.Errorf("list posts: %w", err)
		}
		windowFull = windowFull || last
		if match && len(posts) < limit {
			posts = append(posts, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list posts: %w", err)
	}
	return posts, windowFull, nil
}

// ---- writing ----

// NextPostID implements post.Store.
func (s *Store) NextPostID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, `SELECT nextval('posts_id_seq')`).Scan(&id); err != nil {
		return 0, fmt.Errorf("reserve post id: %w", err)
	}
	return id, nil
}

// InsertPost implements post.Store.
func (s *Store) InsertPost(ctx context.Context, np post.NewPost) (post.Post, error) {
	var p post.Post
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		catName, err := categoryName(ctx, tx, np.CategoryID)
		if err != nil {
			return err
		}
		tags, err := ensureTags(ctx, tx, np.Tags)
		if err != nil {
			return err
		}
		var created, updated time.Time
		err = tx.QueryRow(ctx, `INSERT INTO posts (id, title, content, category_id, writer_id, room_id, search_meta)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at, updated_at`,
			np.ID, np.Title, np.Content, np.CategoryID, np.WriterID, np.RoomID, searchMeta(catName, tags),
		).Scan(&created, &updated)
		if err != nil {
			return fmt.Errorf("insert post: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO post_hits (post_id) VALUES ($1)`, np.ID); err != nil {
			return fmt.Errorf("insert post hits: %w", err)
		}
		if err := linkTags(ctx, tx, np.ID, tagIDs(tags), nil); err != nil {
			return err
		}
		p = post.Post{
			ID: np.ID, Title: np.Title, Content: np.Content, CategoryID: np.CategoryID, CategoryName: catName,
			Tags: tags, WriterID: np.WriterID, RoomID: np.RoomID, CreatedAt: created, UpdatedAt: updated,
		}
		return nil
	})
	return p, err
}

// UpdatePost implements post.Store.
func (s *Store) UpdatePost(ctx context.Context, id int64, c post.Changes) (post.Post, error) {
	var p post.Post
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Lock the post so concurrent updates of its tags apply one by one.
		var catID int64
		err := tx.QueryRow(ctx, `SELECT category_id FROM posts WHERE id = $1 FOR UPDATE`, id).Scan(&catID)
		if errors.Is(err, pgx.ErrNoRows) {
			return post.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("lock post %d: %w", id, err)
		}
		if c.CategoryID != nil {
			catID = *c.CategoryID
		}
		catName, err := categoryName(ctx, tx, catID)
		if err != nil {
			return err
		}
		var tags []post.Tag
		if c.Tags != nil {
			if tags, err = ensureTags(ctx, tx, *c.Tags); err != nil {
				return err
			}
			var old []int64
			err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(tag_id), '{}') FROM post_tags WHERE post_id = $1`, id).Scan(&old)
			if err != nil {
				return fmt.Errorf("tags of post %d: %w", id, err)
			}
			if err := linkTags(ctx, tx, id, tagIDs(tags), old); err != nil {
				return err
			}
		} else {
			current, err := withTagsOf(ctx, tx, id)
			if err != nil {
				return err
			}
			tags = current
		}
		_, err = tx.Exec(ctx, `UPDATE posts SET title = coalesce($2, title), content = coalesce($3, content),
			category_id = $4, search_meta = $5, updated_at = greatest(now(), updated_at + interval '1 microsecond')
			WHERE id = $1`, id, c.Title, c.Content, catID, searchMeta(catName, tags))
		if err != nil {
			return fmt.Errorf("update post %d: %w", id, err)
		}
		p, err = scanPost(tx.QueryRow(ctx, `SELECT `+postColumns+` FROM `+postFrom+` WHERE p.id = $1`, id))
		if err != nil {
			return fmt.Errorf("read post %d: %w", id, err)
		}
		p.Tags = tags
		return nil
	})
	return p, err
}

func withTagsOf(ctx context.Context, q querier, id int64) ([]post.Tag, error) {
	rows, err := q.Query(ctx, tagsSQL, []int64{id})
	if err != nil {
		return nil, fmt.Errorf("tags of post %d: %w", id, err)
	}
	tags, err := collectTags(rows)
	return tags[id], err
}

// DeletePost implements post.Store.
func (s *Store) DeletePost(ctx context.Context, id int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var old []int64
		err := tx.QueryRow(ctx, `WITH d AS (DELETE FROM post_tags WHERE post_id = $1 RETURNING tag_id)
			SELECT coalesce(array_agg(tag_id), '{}') FROM d`, id).Scan(&old)
		if err != nil {
			return fmt.Errorf("delete tags of post %d: %w", id, err)
		}
		if err := addPostCounts(ctx, tx, old, -1); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM posts WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete post %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return post.ErrNotFound
		}
		return nil
	})
}

func categoryName(ctx context.Context, q querier, id int64) (string, error) {
	var name string
	err := q.QueryRow(ctx, `SELECT name FROM categories WHERE id = $1`, id).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", apperr.FieldError("category", post.InvalidCategoryMessage(id))
	}
	if err != nil {
		return "", fmt.Errorf("category %d: %w", id, err)
	}
	return name, nil
}

// ensureTags finds or creates tags by name (case-insensitively) and
// returns them ordered like tagsSQL orders a post's tags. Names are
// inserted in a fixed order so that concurrent posts with the same new
// tags wait for each other instead of deadlocking.
func ensureTags(ctx context.Context, q querier, names []string) ([]post.Tag, error) {
	if len(names) == 0 {
		return nil, nil
	}
	sorted := slices.Clone(names)
	slices.SortFunc(sorted, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	lower := make([]string, len(sorted))
	for i, n := range sorted {
		lower[i] = strings.ToLower(n)
	}
	_, err := q.Exec(ctx, `INSERT INTO tags (name) SELECT n FROM unnest($1::text[]) WITH ORDINALITY AS u(n, i)
		ORDER BY i ON CONFLICT ((lower(name))) DO NOTHING`, sorted)
	if err != nil {
		return nil, fmt.Errorf("insert tags: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT id, name FROM tags WHERE lower(name) = ANY($1) ORDER BY lower(name), id`, lower)
	if err != nil {
		return nil, fmt.Errorf("find tags: %w", err)
	}
	tags, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (post.Tag, error) {
		var t post.Tag
		err := r.Scan(&t.ID, &t.Name)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("find tags: %w", err)
	}
	return tags, nil
}

func tagIDs(tags []post.Tag) []int64 {
	ids := make([]int64, len(tags))
	for i, t := range tags {
		ids[i] = t.ID
	}
	return ids
}

// linkTags makes post id's tags exactly want (it had old) and keeps the
// tags' post counts in step.
func linkTags(ctx context.Context, tx pgx.Tx, id int64, want, old []int64) error {
	var added, removed []int64
	for _, t := range want {
		if !slices.Contains(old, t) {
			added = append(added, t)
		}
	}
	for _, t := range old {
		if !slices.Contains(want, t) {
			removed = append(removed, t)
		}
	}
	if len(removed) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM post_tags WHERE post_id = $1 AND tag_id = ANY($2)`, id, removed); err != nil {
			return fmt.Errorf("unlink tags: %w", err)
		}
	}
	if len(added) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO post_tags (post_id, tag_id) SELECT $1, unnest($2::bigint[])`, id, added); err != nil {
			return fmt.Errorf("link tags: %w", err)
		}
	}
	if err := addPostCounts(ctx, tx, removed, -1); err != nil {
		return err
	}
	return addPostCounts(ctx, tx, added, 1)
}

// addPostCounts adds delta to the post counts of tags ids, locking the rows
// in id order so that concurrent writers never deadlock on them. The lock
// is FOR NO KEY UPDATE: post_tags' foreign key takes FOR KEY SHARE on the
// same rows, which FOR UPDATE would conflict with (two writers linking the
// same tag then deadlocked on each other's key-share lock).
func addPostCounts(ctx context.Context, tx pgx.Tx, ids []int64, delta int) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE tags SET post_count = post_count + $2
		WHERE id IN (SELECT id FROM tags WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE)`, ids, delta)
	if err != nil {
		return fmt.Errorf("tag counts: %w", err)
	}
	return nil
}

// searchMeta is what search matches besides title and content.
func searchMeta(category string, tags []post.Tag) string {
	parts := make([]string, 0, len(tags)+1)
	parts = append(parts, category)
	for _, t := range tags {
		parts = append(parts, t.Name)
	}
	return strings.Join(parts, "\n")
}

// ---- categories and tags ----

// SetRoomID implements post.Store.
func (s *Store) SetRoomID(ctx context.Context, id, roomID int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE posts SET room_id = $2 WHERE id = $1`, id, roomID)
	if err != nil {
		return fmt.Errorf("set room of post %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return post.ErrNotFound
	}
	return nil
}

// CategoryExists implements post.Store.
func (s *Store) CategoryExists(ctx context.Context, id int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM categories WHERE id = $1)`, id).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("category %d: %w", id, err)
	}
	return ok, nil
}

// Categories implements post.Store.
func (s *Store) Categories(ctx context.Context) ([]post.Category, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name FROM categories ORDER BY lower(name), id`)
	if err != nil {
		return nil, fmt.Errorf("categories: %w", err)
	}
	cats, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (post.Category, error) {
		var c post.Category
		err := r.Scan(&c.ID, &c.Name)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("categories: %w", err)
	}
	return cats, nil
}

// CreateCategory implements post.Store.
func (s *Store) CreateCategory(ctx context.Context, name string) (post.Category, error) {
	c := post.Category{Name: name}
	err := s.pool.QueryRow(ctx, `INSERT INTO categories (name) VALUES ($1) RETURNING id`, name).Scan(&c.ID)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		return post.Category{}, post.ErrCategoryExists
	}
	if err != nil {
		return post.Category{}, fmt.Errorf("create category: %w", err)
	}
	return c, nil
}

// Tags implements post.Store.
func (s *Store) Tags(ctx context.Context, limit int) ([]post.Tag, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, post_count FROM tags
		ORDER BY post_count DESC, lower(name) LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	tags, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (post.Tag, error) {
		var t post.Tag
		err := r.Scan(&t.ID, &t.Name, &t.PostCount)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	return tags, nil
}
