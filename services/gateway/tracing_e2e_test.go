package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// TestTracingEndToEnd runs the real processes with tracing on and follows
// one REST chat message: the caller's trace continues in the gateway's HTTP
// span, the SendMessage gRPC client and server spans, and — through the
// group commit and the NATS traceparent header — the gateway's
// chat.room.deliver span, all exported to an OTLP/gRPC collector.
func TestTracingEndToEnd(t *testing.T) {
	t.Parallel()
	col := startCollector(t)
	otel := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + col.addr,
		"OTEL_BSP_SCHEDULE_DELAY":     "100", // export within 0.1 s (ms; read by the SDK)
	}
	st := stack.Start(t, stack.Options{Env: map[string]map[string]string{
		stack.User: otel, stack.Chat: otel, stack.Post: otel, stack.Gateway: otel,
	}})
	base := st.Gateways[0]

	token := traceLogin(t, base, "tracer-"+strings.ToLower(strings.TrimSuffix(st.Env.Prefix, "."))+"@example.com")
	var room struct {
		ID int64 `json:"id"`
	}
	traceCall(t, "POST", base+"/api/chat/room/", token, "", `{"name":"traced"}`, 201, &room)

	hdr := http.Header{"Authorization": {"Bearer " + token}}
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+fmt.Sprintf("/ws/chat/%d/chat/", room.ID), hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	traceReadFrame(t, ws, "chat.presence") // the room is subscribed on NATS

	// The caller's sampled trace: every span below must belong to it.
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceparent := "00-" + traceID + "-00f067aa0ba902b7-01"
	traceCall(t, "POST", base+"/api/chat/message/", token, traceparent,
		fmt.Sprintf(`{"room":%d,"message":"traced hello"}`, room.ID), 201, nil)
	traceReadFrame(t, ws, "chat.message")

	want := []string{"POST /api/chat/message/", "cobraspace.chat.v1.ChatService/SendMessage", "chat.room.deliver"}
	var got map[string][]tracepb.Span_SpanKind
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got = col.spans(traceID)
		if len(got["chat.room.deliver"]) > 0 && len(got["cobraspace.chat.v1.ChatService/SendMessage"]) >= 2 &&
			len(got["POST /api/chat/message/"]) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("spans of trace %s: %v", traceID, got)
	for _, name := range want {
		if len(got[name]) == 0 {
			t.Errorf("trace %s has no %q span; got %v", traceID, name, got)
		}
	}
	if kinds := got["cobraspace.chat.v1.ChatService/SendMessage"]; len(kinds) < 2 {
		t.Errorf("SendMessage spans %v, want a client (gateway) and a server (chat) span", kinds)
	}
}

// otlpCollector is a minimal OTLP/gRPC trace collector.
type otlpCollector struct {
	collectortrace.UnimplementedTraceServiceServer
	addr string
	mu   sync.Mutex
	got  []*tracepb.ResourceSpans
}

func startCollector(t *testing.T) *otlpCollector {
	t.Helper()
	c := &otlpCollector{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.addr = lis.Addr().String()
	gs := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(gs, c)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return c
}

// Export implements the OTLP trace service.
func (c *otlpCollector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	c.got = append(c.got, req.GetResourceSpans()...)
	c.mu.Unlock()
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// spans returns the kinds of the received spans of one trace, by name.
func (c *otlpCollector) spans(traceID string) map[string][]tracepb.Span_SpanKind {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]tracepb.Span_SpanKind{}
	for _, rs := range c.got {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				if fmt.Sprintf("%x", s.GetTraceId()) == traceID {
					out[s.GetName()] = append(out[s.GetName()], s.GetKind())
				}
			}
		}
	}
	return out
}

func traceLogin(t *testing.T, base, email string) string {
	t.Helper()
	body := fmt.Sprintf(`{"email":%q,"password":"Tr4ce-the-m3ssage!"}`, email)
	traceCall(t, "POST", base+"/api/user/registration/", "", "", body, 201, nil)
	var login struct {
		Access string `json:"access"`
	}
	traceCall(t, "POST", base+"/api/user/login/", "", "", body, 200, &login)
	return login.Access
}

func traceCall(t *testing.T, method, url, token, traceparent, body string, wantStatus int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: got %d %s, want %d", method, url, resp.StatusCode, raw, wantStatus)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

func traceReadFrame(t *testing.T, ws *websocket.Conn, frameType string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var f struct {
			Type string `json:"type"`
		}
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for %s: %v", frameType, err)
		}
		if f.Type == frameType {
			return
		}
	}
}
