package stack

import "testing"

func TestDBURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ admin, db, want string }{
		{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "b1", "postgres://postgres@127.0.0.1:5432/b1?sslmode=disable"},
		{"postgres://u:p@h:1/x", "b2", "postgres://u:p@h:1/b2"},
		{"postgres://h:1", "b3", "postgres://h:1/b3"},
	}
	for _, tt := range tests {
		if got := dbURL(tt.admin, tt.db); got != tt.want {
			t.Errorf("dbURL(%q, %q): got %q, want %q", tt.admin, tt.db, got, tt.want)
		}
	}
}

func TestFreePortsAreDistinct(t *testing.T) {
	t.Parallel()
	ports, err := freePorts(10)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("got ports %v, want 10 distinct positive ports", ports)
		}
		seen[p] = true
	}
}
