package nats

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cobraspace/cobraspace/platform/subjects"
)

// BlocksChanged implements user.BlockAnnouncer: it publishes a
// subjects.BlockChange on subjects.UserBlocks(userID) and flushes.
func (a *Announcer) BlocksChanged(ctx context.Context, userID, otherID int64, blocking bool) error {
	data, err := json.Marshal(subjects.BlockChange{User: userID, Other: otherID, Blocking: blocking})
	if err != nil {
		return fmt.Errorf("encode block change of user %d: %w", userID, err)
	}
	if err := a.nc.Publish(a.subjects.UserBlocks(userID), data); err != nil {
		return fmt.Errorf("publish block change of user %d: %w", userID, err)
	}
	if err := a.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flush block change of user %d: %w", userID, err)
	}
	return nil
}
