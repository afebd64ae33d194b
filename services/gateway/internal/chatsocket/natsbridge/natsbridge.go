// Package natsbridge is the hub's NATS adapter: room event subscriptions
// (one per room per replica, held only while a local socket needs it, as in
// centrifugo's natsbroker) and the user revocation subject.
package natsbridge

import (
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/cobraspace/cobraspace/platform/subjects"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket"
)

// Bridge subscribes to chat subjects on one NATS connection.
type Bridge struct {
	nc   *nats.Conn
	subj subjects.Subjects
}

// New returns a Bridge on nc with subjects under prefix (NATS_PREFIX).
func New(nc *nats.Conn, prefix string) *Bridge {
	return &Bridge{nc: nc, subj: subjects.New(prefix)}
}

// SubscribeRoom delivers the room's events to fn, in order, from one
// goroutine. It returns after the server has registered the subscription
// (a flush), so every event published afterwards arrives. A lost event
// (slow consumer, reconnect) shows up as a seq gap that the hub repairs
// from history.
func (b *Bridge) SubscribeRoom(roomID int64, fn func(chatsocket.Event)) (func(), error) {
	sub, err := b.nc.Subscribe(b.subj.Room(roomID), func(m *nats.Msg) {
		ev := chatsocket.Event{Kind: m.Header.Get(subjects.HeaderEvent), Data: m.Data}
		if s := m.Header.Get(subjects.HeaderSeq); s != "" {
			ev.Seq, _ = strconv.ParseInt(s, 10, 64)
		}
		fn(ev)
	})
	if err != nil {
		return nil, err
	}
	if err := b.nc.Flush(); err != nil && b.nc.Status() != nats.RECONNECTING {
		_ = sub.Unsubscribe()
		return nil, err
	}
	// While NATS reconnects the subscription is kept and re-sent on
	// reconnect; what was published meanwhile is a gap filled from history.
	return func() { _ = sub.Unsubscribe() }, nil
}

// SubscribeRevoked calls fn with the user id of every revocation (logout)
// announced on any replica. Callers: main, wiring it to Hub.CloseUser.
func (b *Bridge) SubscribeRevoked(fn func(userID int64)) (func(), error) {
	prefix := strings.TrimSuffix(b.subj.AllUsersRevoked(), "*")
	sub, err := b.nc.Subscribe(b.subj.AllUsersRevoked(), func(m *nats.Msg) {
		id, err := strconv.ParseInt(strings.TrimPrefix(m.Subject, prefix), 10, 64)
		if err == nil {
			fn(id)
		}
	})
	if err != nil {
		return nil, err
	}
	if err := b.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
