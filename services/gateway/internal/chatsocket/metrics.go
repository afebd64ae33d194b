package chatsocket

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the hub's Prometheus series.
type Metrics struct {
	socketsOpen       prometheus.Gauge
	framesSent        prometheus.Counter
	slowCloses        prometheus.Counter
	natsSubscriptions prometheus.Gauge
	deliveryErrors    prometheus.Counter
	gapRepairs        prometheus.Counter
	ackReleases       prometheus.Counter
	handoffs          prometheus.Counter
	sendBatch         prometheus.Histogram
	handshakes        *prometheus.CounterVec
	userStreams       prometheus.Gauge
}

// NewMetrics registers the chat socket metrics on reg (nil: unregistered,
// e.g. in tests). It fails when the names are already registered.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		socketsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cobra_gateway_chat_sockets_open", Help: "Chat WebSocket connections open on this replica."}),
		framesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cobra_gateway_chat_frames_sent_total", Help: "Frames written to chat sockets."}),
		slowCloses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cobra_gateway_chat_slow_consumer_closes_total", Help: "Sockets closed with 4008 because their send queue was full."}),
		natsSubscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cobra_gateway_chat_nats_subscriptions", Help: "Room subscriptions held on NATS (one per room with a local socket)."}),
		deliveryErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cobra_gateway_chat_delivery_errors_total", Help: "Socket writes that failed (the socket is then closed)."}),
		gapRepairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cobra_gateway_chat_gap_repairs_total", Help: "History reads made to fill a seq gap in the live stream."}),
		ackReleases: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cobra_gateway_chat_ack_releases_total", Help: "Messages a room's stream took from a local sender's ack because NATS had not delivered them yet."}),
		handoffs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cobra_gateway_chat_write_handoffs_total", Help: "Direct writes the kernel took only in part, finished by a writer goroutine (peers reading slowly)."}),
		sendBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cobra_gateway_chat_send_batch_size", Help: "Messages per SendMessages call to the chat service.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 9)}), // 1 .. 256
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobra_gateway_chat_handshakes_total", Help: "Chat socket handshakes by HTTP outcome."}, []string{"status"}),
		userStreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cobra_gateway_user_streams", Help: "Users with a /ws/user/ socket on this replica (one NATS subscription each)."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.socketsOpen, m.framesSent, m.slowCloses,
			m.natsSubscriptions, m.deliveryErrors, m.gapRepairs, m.ackReleases, m.handoffs, m.sendBatch, m.handshakes, m.userStreams} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// observeSendBatch records the size of one SendMessages call.
func (m *Metrics) observeSendBatch(size int, _ time.Duration, _ error) {
	m.sendBatch.Observe(float64(size))
}
