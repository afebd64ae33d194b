package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cobraspace/cobraspace/services/user/internal/user"
)

// TestFindByNicknames: nicknames match whole and case-insensitively
// (Korean included), every user of a shared nickname up to perName
// (lowest ids first), each user once.
func TestFindByNicknames(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := context.Background()
	var ids = map[string][]int64{}
	for i, n := range []string{"Kim", "kim", "KIM", "이영희", "kimchi", "lee"} {
		p, err := s.users.CreateUser(ctx, user.NewUser{Email: fmt.Sprintf("n%d@example.com", i), PasswordHash: "hash", Nickname: n})
		if err != nil {
			t.Fatal(err)
		}
		ids[n] = append(ids[n], p.UserID)
	}
	find := func(names []string, perName int) []int64 {
		t.Helper()
		got, err := s.users.FindByNicknames(ctx, names, perName)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, u := range got {
			out = append(out, u.UserID)
		}
		return out
	}
	kims := []int64{ids["Kim"][0], ids["kim"][0], ids["KIM"][0]}
	if got := find([]string{"kim"}, 20); !slices.Equal(got, kims) {
		t.Errorf("kim: %v, want %v (not kimchi)", got, kims)
	}
	if got := find([]string{"kim"}, 2); !slices.Equal(got, kims[:2]) {
		t.Errorf("kim, 2 per name: %v, want %v", got, kims[:2])
	}
	if got := find([]string{"이영희", "lee", "nobody"}, 20); !slices.Equal(got, []int64{ids["이영희"][0], ids["lee"][0]}) && !slices.Equal(got, []int64{ids["lee"][0], ids["이영희"][0]}) {
		t.Errorf("이영희, lee: %v", got)
	}
}

// TestFindByNicknamesUsesTheIndex: with many profiles, a lookup reads the
// nickname index instead of every profile (mentions resolve on the chat
// send path).
func TestFindByNicknamesUsesTheIndex(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := context.Background()
	if _, err := s.users.pool.Exec(ctx, `
		WITH u AS (
			INSERT INTO users (email, password_hash)
			SELECT 'bulk' || i || '@example.com', 'hash' FROM generate_series(1, 20000) AS i
			RETURNING id
		)
		INSERT INTO profiles (user_id, nickname) SELECT id, 'nick' || id FROM u`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.users.pool.Exec(ctx, `ANALYZE users, profiles`); err != nil {
		t.Fatal(err)
	}
	var plan string
	rows, err := s.users.pool.Query(ctx, `EXPLAIN SELECT user_id FROM profiles WHERE lower(nickname) = ANY($1)`,
		[]string{"nick5", "nick77"})
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan += line + "\n"
	}
	if !strings.Contains(plan, "profiles_nickname_lower_idx") {
		t.Fatalf("the nickname lookup does not use the index:\n%s", plan)
	}
	if got, err := s.users.FindByNicknames(ctx, []string{"nick5"}, 20); err != nil || len(got) != 1 {
		t.Fatalf("nick5: %v, %v", got, err)
	}
}
