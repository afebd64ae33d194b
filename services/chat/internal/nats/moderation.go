package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/cobraspace/cobraspace/platform/subjects"
)

// MutesChanged implements chat.MutePublisher.
func (p *Publisher) MutesChanged(ctx context.Context, roomID int64) error {
	if err := p.nc.Publish(p.subjects.RoomMutes(), []byte(strconv.FormatInt(roomID, 10))); err != nil {
		return fmt.Errorf("publish mutes of room %d: %w", roomID, err)
	}
	return p.nc.FlushWithContext(ctx)
}

// SubscribeInvalidations calls forgetMutes for every room whose mutes
// changed on any replica, and forgetPair for both users of every block
// change (subjects.UserBlocks), so that cached answers end at once rather
// than at their TTL. The subscriptions end with the connection.
func SubscribeInvalidations(nc *nats.Conn, prefix string, log *slog.Logger,
	forgetMutes func(roomID int64), forgetPair func(a, b int64)) error {
	subj := subjects.New(prefix)
	if _, err := nc.Subscribe(subj.RoomMutes(), func(m *nats.Msg) {
		if id, err := strconv.ParseInt(string(m.Data), 10, 64); err == nil {
			forgetMutes(id)
		}
	}); err != nil {
		return fmt.Errorf("subscribe %s: %w", subj.RoomMutes(), err)
	}
	if _, err := nc.Subscribe(subj.AllUserBlocks(), func(m *nats.Msg) {
		var c subjects.BlockChange
		if err := json.Unmarshal(m.Data, &c); err != nil {
			log.Warn("ignoring a malformed block change", "err", err)
			return
		}
		forgetPair(c.User, c.Other)
	}); err != nil {
		return fmt.Errorf("subscribe %s: %w", subj.AllUserBlocks(), err)
	}
	return nil
}
