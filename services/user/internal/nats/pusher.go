package nats

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	natsgo "github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/cobraspace/cobraspace/platform/subjects"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/user/internal/push"
)

// PushQueue is the NATS queue group of every user-service replica's
// pusher: NATS hands each user event to one member, so a notification is
// pushed once however many replicas run.
const PushQueue = "cobraspace-user-push"

// Enqueuer takes messages to push to a user's devices (push.Dispatcher).
type Enqueuer interface {
	Enqueue(userID int64, msg push.Message) bool
}

// SubscribePush queue-subscribes to every user's events and hands each new
// notification to q. Events arriving while this replica is disconnected
// from NATS, or while no replica runs, go to nobody: push is best effort,
// the stored notification stays the source of truth.
func SubscribePush(nc *natsgo.Conn, subj subjects.Subjects, q Enqueuer, logger *slog.Logger) (*natsgo.Subscription, error) {
	prefix := strings.TrimSuffix(subj.AllUserEvents(), "*")
	sub, err := nc.QueueSubscribe(subj.AllUserEvents(), PushQueue, func(m *natsgo.Msg) {
		userID, err := strconv.ParseInt(strings.TrimPrefix(m.Subject, prefix), 10, 64)
		if err != nil || userID <= 0 {
			return
		}
		var ev chatv1.UserEvent
		if err := proto.Unmarshal(m.Data, &ev); err != nil {
			logger.Warn("push: undecodable user event", "subject", m.Subject, "err", err)
			return
		}
		n := ev.GetNotification()
		if n == nil {
			return // read markers and memberships are for open pages only
		}
		q.Enqueue(userID, NotificationMessage(n))
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", subj.AllUserEvents(), err)
	}
	// When connected, make sure the server has the subscription before the
	// replica reports ready; when not, it is sent on (re)connecting.
	if nc.IsConnected() {
		_ = nc.FlushTimeout(2 * time.Second)
	}
	return sub, nil
}

// notificationPayload is the JSON a device receives (decrypted by the
// browser, read by the web client's service worker, static/sw.js).
type notificationPayload struct {
	ID      int64  `json:"id"`
	Kind    string `json:"kind"`
	Room    int64  `json:"room,omitempty"`
	Seq     int64  `json:"seq,omitempty"`
	Actor   string `json:"actor"`
	Excerpt string `json:"excerpt,omitempty"`
	// URL is the page to open on a click.
	URL string `json:"url"`
}

// maxExcerpt bounds the excerpt pushed (the chat service already cuts it to
// 100 characters): the payload must fit push.MaxPayload.
const maxExcerpt = 200

// NotificationMessage is the push message of notification n: a day to
// reach an offline device, and per room one waiting message at most (the
// push service keeps only the newest of a topic), so a device that was
// off for a busy day wakes to one notification per room, not hundreds.
func NotificationMessage(n *chatv1.Notification) push.Message {
	p := notificationPayload{
		ID: n.GetId(), Kind: n.GetKind(), Room: n.GetRoomId(), Seq: n.GetSeq(),
		Actor: truncate(n.GetActor().GetNickname(), 40), Excerpt: truncate(n.GetExcerpt(), maxExcerpt),
	}
	msg := push.Message{TTL: 24 * time.Hour, Urgency: push.UrgencyNormal}
	switch {
	case p.Room > 0:
		p.URL = fmt.Sprintf("/rooms/%d/?seq=%d", p.Room, p.Seq)
		msg.Topic = "room-" + strconv.FormatInt(p.Room, 10)
	case n.GetActor().GetId() > 0:
		p.URL = fmt.Sprintf("/users/%d/", n.GetActor().GetId())
	default:
		p.URL = "/"
	}
	if p.Kind == "dm" || p.Kind == "mention" {
		msg.Urgency = push.UrgencyHigh
	}
	msg.Payload, _ = json.Marshal(p) //nolint:errchkjson // plain strings and numbers
	return msg
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
