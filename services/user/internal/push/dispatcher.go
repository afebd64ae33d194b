package push

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DispatcherConfig configures a Dispatcher; zero values take the defaults.
type DispatcherConfig struct {
	Store  Store
	Sender Sender
	Logger *slog.Logger
	// Workers is how many users' deliveries run at once (default 16): it
	// bounds the requests in flight to push services.
	Workers int
	// Queue is how many deliveries may wait for a worker (default 1024);
	// beyond that new ones are dropped (push is best effort).
	Queue int
	// MaxAttempts bounds the sends of one message to one subscription
	// (default 4).
	MaxAttempts int
	// BaseDelay is the wait before the first retry, doubled for each next
	// one, with jitter (default 1s).
	BaseDelay time.Duration
	// MaxDelay caps one wait (default 1m). A push service asking, with
	// Retry-After, for a longer wait gets none: the message is dropped,
	// since a worker must not sit idle that long.
	MaxDelay time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Outcomes counts sends by outcome (NewOutcomes); nil counts nothing.
	Outcomes *prometheus.CounterVec
}

// Send outcomes, the label of cobra_user_push_sends_total.
const (
	OutcomeAccepted = "accepted" // the push service took it
	OutcomeRetried  = "retried"  // failed, and will be sent again
	OutcomeGone     = "gone"     // 404/410: the subscription was deleted
	OutcomeFailed   = "failed"   // given up (final error, attempts used up, wait too long)
	OutcomeDropped  = "dropped"  // never sent: the queue was full
)

// NewOutcomes registers cobra_user_push_sends_total on reg (nil: unregistered).
func NewOutcomes(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cobra_user_push_sends_total",
		Help: "Push sends to devices by outcome (accepted, retried, gone, failed; dropped: a user's delivery never started, queue full).",
	}, []string{"outcome"})
	for _, o := range []string{OutcomeAccepted, OutcomeRetried, OutcomeGone, OutcomeFailed, OutcomeDropped} {
		c.WithLabelValues(o) // present from the start, so rates work before the first of each
	}
	if reg != nil {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (d *Dispatcher) count(outcome string) {
	if d.cfg.Outcomes != nil {
		d.cfg.Outcomes.WithLabelValues(outcome).Inc()
	}
}

// Dispatcher delivers messages to every subscription of a user, on a
// bounded pool of workers: retried with backoff on 5xx, 429 and network
// errors, subscriptions the push service says are gone deleted.
type Dispatcher struct {
	cfg   DispatcherConfig
	queue chan job
}

type job struct {
	userID int64
	msg    Message
}

// NewDispatcher returns a Dispatcher; start its workers with Run.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = time.Second
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{cfg: cfg, queue: make(chan job, cfg.Queue)}
}

// Enqueue schedules delivery of msg to userID's devices without waiting;
// false when the queue is full and the message was dropped.
func (d *Dispatcher) Enqueue(userID int64, msg Message) bool {
	select {
	case d.queue <- job{userID, msg}:
		return true
	default:
		d.count(OutcomeDropped)
		d.cfg.Logger.Warn("push queue full: message dropped", "user_id", userID)
		return false
	}
}

// Run runs the workers until ctx ends; what is still queued then is dropped.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range d.cfg.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-d.queue:
					d.Deliver(ctx, j.userID, j.msg)
				}
			}
		})
	}
	wg.Wait()
}

// Deliver sends msg to each of userID's subscriptions in turn and returns
// how many accepted it.
func (d *Dispatcher) Deliver(ctx context.Context, userID int64, msg Message) int {
	subs, err := d.cfg.Store.List(ctx, userID)
	if err != nil {
		d.cfg.Logger.Warn("push: listing subscriptions failed", "user_id", userID, "err", err)
		return 0
	}
	n := 0
	for _, sub := range subs {
		if d.deliverOne(ctx, sub, msg) {
			n++
		}
	}
	return n
}

func (d *Dispatcher) deliverOne(ctx context.Context, sub Subscription, msg Message) bool {
	log := d.cfg.Logger.With("user_id", sub.UserID, "subscription_id", sub.ID)
	for attempt := 1; ; attempt++ {
		err := d.cfg.Sender.Send(ctx, sub, msg)
		if err == nil {
			d.count(OutcomeAccepted)
			if err := d.cfg.Store.MarkSuccess(ctx, sub.ID, d.cfg.Now()); err != nil {
				log.Warn("push: recording success failed", "err", err)
			}
			return true
		}
		if errors.Is(err, ErrGone) {
			d.count(OutcomeGone)
			log.Info("push: subscription gone, deleting it")
			if err := d.cfg.Store.Remove(ctx, sub); err != nil {
				log.Warn("push: deleting a gone subscription failed", "err", err)
			}
			return false
		}
		var retry *RetryError
		if !errors.As(err, &retry) || attempt >= d.cfg.MaxAttempts || ctx.Err() != nil {
			d.count(OutcomeFailed)
			log.Warn("push: delivery failed", "attempt", attempt, "err", err)
			return false
		}
		wait := d.backoff(attempt)
		if retry.After > 0 {
			wait = retry.After
		}
		if wait > d.cfg.MaxDelay {
			d.count(OutcomeFailed)
			log.Warn("push: push service asks to wait too long; dropped", "retry_after", retry.After)
			return false
		}
		d.count(OutcomeRetried)
		log.Debug("push: retrying", "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// backoff is the wait after the attempt-th failure: BaseDelay doubled per
// attempt, capped at MaxDelay, with the upper half randomised so devices
// of many users do not retry in step.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	w := d.cfg.BaseDelay << min(attempt-1, 20)
	if w <= 0 || w > d.cfg.MaxDelay {
		w = d.cfg.MaxDelay
	}
	return w/2 + rand.N(w/2+1) //nolint:gosec // G404: jitter, not a secret
}
