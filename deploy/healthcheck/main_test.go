package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			_, _ = w.Write([]byte("ready\n"))
			return
		}
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"ready", []string{srv.URL + "/readyz"}, false},
		{"not ready", []string{srv.URL + "/other"}, true},
		{"nothing listening", []string{"http://127.0.0.1:1/readyz"}, true},
		{"no url", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := check(tt.args)
			if got := err != nil; got != tt.wantErr {
				t.Errorf("check(%v) error = %v, want error %v", tt.args, err, tt.wantErr)
			}
		})
	}
}
