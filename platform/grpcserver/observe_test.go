package grpcserver

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestObserver(t *testing.T) {
	const method = "/cobraspace.chat.v1.ChatService/SendMessage"
	tests := []struct {
		name      string
		handler   grpc.UnaryHandler
		wantCode  codes.Code
		wantLevel string // "" = not logged at info
		wantSent  float64
	}{
		{"ok is not logged at info", func(context.Context, any) (any, error) { return "resp", nil }, codes.OK, "", 1},
		{"client mistake at info", func(context.Context, any) (any, error) {
			return nil, status.Error(codes.InvalidArgument, "bad text")
		}, codes.InvalidArgument, "INFO", 0},
		{"dependency down at warn", func(context.Context, any) (any, error) {
			return nil, status.Error(codes.Unavailable, "db down")
		}, codes.Unavailable, "WARN", 0},
		{"panic becomes internal at error", func(context.Context, any) (any, error) { panic("boom") }, codes.Internal, "ERROR", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			reg := prometheus.NewRegistry()
			o := &observer{logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
				metrics: newServerMetrics(reg)}
			for range 2 {
				_, err := o.unary(context.Background(), "req", &grpc.UnaryServerInfo{FullMethod: method}, tt.handler)
				if got := status.Code(err); got != tt.wantCode {
					t.Fatalf("got code %v, want %v", got, tt.wantCode)
				}
			}
			labels := []string{"unary", "cobraspace.chat.v1.ChatService", "SendMessage"}
			for name, c := range map[string]*prometheus.CounterVec{"started": o.metrics.started, "received": o.metrics.received} {
				if got := testutil.ToFloat64(c.WithLabelValues(labels...)); got != 2 {
					t.Errorf("%s: got %v, want 2", name, got)
				}
			}
			if got := testutil.ToFloat64(o.metrics.sent.WithLabelValues(labels...)); got != 2*tt.wantSent {
				t.Errorf("sent: got %v, want %v", got, 2*tt.wantSent)
			}
			if got := testutil.ToFloat64(o.metrics.handledTotal.WithLabelValues(append(labels, tt.wantCode.String())...)); got != 2 {
				t.Errorf("handled{grpc_code=%s}: got %v, want 2", tt.wantCode, got)
			}
			if got := testutil.CollectAndCount(o.metrics.seconds); got != 1 {
				t.Errorf("handling_seconds series: got %d, want 1", got)
			}

			var finished []map[string]any
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				if line == "" {
					continue
				}
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("log line %q: %v", line, err)
				}
				if rec["msg"] == "finished call" {
					finished = append(finished, rec)
				}
			}
			if tt.wantLevel == "" {
				if len(finished) != 0 {
					t.Fatalf("got %d finished-call lines at info, want none: %s", len(finished), logs.String())
				}
				return
			}
			if len(finished) != 2 {
				t.Fatalf("got %d finished-call lines, want 2: %s", len(finished), logs.String())
			}
			rec := finished[0]
			for k, want := range map[string]any{"level": tt.wantLevel, "grpc.code": tt.wantCode.String(),
				"grpc.service": "cobraspace.chat.v1.ChatService", "grpc.method": "SendMessage"} {
				if rec[k] != want {
					t.Errorf("%s: got %v, want %v", k, rec[k], want)
				}
			}
			if _, ok := rec["grpc.error"]; !ok {
				t.Errorf("no grpc.error in %v", rec)
			}
		})
	}
}

// TestObserverDebugLogsOK: at debug level successful calls are logged too.
func TestObserverDebugLogsOK(t *testing.T) {
	var logs bytes.Buffer
	o := &observer{logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		metrics: newServerMetrics(prometheus.NewRegistry())}
	_, err := o.unary(context.Background(), "req", &grpc.UnaryServerInfo{FullMethod: "/a.B/C"},
		func(context.Context, any) (any, error) { return "resp", nil })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"grpc.code":"OK"`) || !strings.Contains(logs.String(), `"level":"DEBUG"`) {
		t.Errorf("got %q, want a DEBUG finished-call line with grpc.code OK", logs.String())
	}
}

// BenchmarkObserver: the per-call cost of the interceptor on a successful
// call below the log level (the SendMessage hot path).
func BenchmarkObserver(b *testing.B) {
	o := &observer{logger: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), metrics: newServerMetrics(prometheus.NewRegistry())}
	info := &grpc.UnaryServerInfo{FullMethod: "/cobraspace.chat.v1.ChatService/SendMessage"}
	handler := func(context.Context, any) (any, error) { return "resp", nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.unary(ctx, "req", info, handler); err != nil {
			b.Fatal(err)
		}
	}
}
