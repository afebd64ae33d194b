// Package nats announces session revocations on NATS, so that every gateway
// replica rejects the sessions' tokens and closes their sockets. nats.go types never leave this package.
package nats

import (
	"context"
	"encoding/json"
	"fmt"

	natsgo "github.com/nats-io/nats.go"

	"github.com/cobraspace/cobraspace/platform/subjects"
)

// Announcer implements user.Announcer.
type Announcer struct {
	nc       *natsgo.Conn
	subjects subjects.Subjects
}

// NewAnnouncer publishes on nc under the subjects of subj.
func NewAnnouncer(nc *natsgo.Conn, subj subjects.Subjects) *Announcer {
	return &Announcer{nc: nc, subjects: subj}
}

type revokedEvent struct {
	Sessions []string `json:"sessions"`
	JTI      string   `json:"jti,omitempty"`
	Reason   string   `json:"reason"`
}

// UserRevoked implements user.Announcer: it publishes
// {"sessions","jti","reason"} on subjects.UserRevoked(userID) and flushes,
// so an error means NATS did not take the message.
func (a *Announcer) UserRevoked(ctx context.Context, userID int64, sessionIDs []string, jti, reason string) error {
	data, err := json.Marshal(revokedEvent{Sessions: sessionIDs, JTI: jti, Reason: reason})
	if err != nil {
		return fmt.Errorf("encode revocation of user %d: %w", userID, err)
	}
	if !a.nc.IsConnected() {
		// nats.go would buffer the message until it reconnects; we say so,
		// since a late close of sockets is still worth having.
		_ = a.nc.Publish(a.subjects.UserRevoked(userID), data)
		return fmt.Errorf("nats not connected (%s); announcement buffered", a.nc.Status())
	}
	if err := a.nc.Publish(a.subjects.UserRevoked(userID), data); err != nil {
		return fmt.Errorf("publish revocation of user %d: %w", userID, err)
	}
	if err := a.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flush revocation of user %d: %w", userID, err)
	}
	return nil
}
