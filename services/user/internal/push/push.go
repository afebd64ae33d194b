// Package push delivers notifications to users' devices when no page of
// theirs is open: it keeps their push subscriptions (Registry), sends
// through a Sender (Web Push first: WebPush) and retries and prunes
// subscriptions while delivering (Dispatcher).
//
// Push is best effort on top of the stored notification: the chat service's
// notification list and per-user stream are the source of truth, and a push
// that is lost (service down, queue full, push service refusing) is not
// retried later.
package push

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/fielderr"
)

// Subscription is one device's push subscription (the browser's
// PushSubscription).
type Subscription struct {
	ID            int64
	UserID        int64
	Endpoint      string
	P256dh        []byte // the browser's uncompressed P-256 public key (65 bytes)
	Auth          []byte // the browser's authentication secret (16 bytes)
	UserAgent     string
	CreatedAt     time.Time
	LastSuccessAt time.Time // zero before the first accepted push
}

// Store keeps subscriptions (internal/postgres.PushStore).
type Store interface {
	// Save inserts or updates the subscription with s.Endpoint for s.UserID
	// and, beyond maxPerUser subscriptions of that user, deletes the least
	// recently used others, all in one transaction.
	Save(ctx context.Context, s Subscription, maxPerUser int) (Subscription, error)
	// Delete deletes userID's subscription with that endpoint, if any.
	Delete(ctx context.Context, userID int64, endpoint string) error
	// List returns userID's subscriptions, newest first.
	List(ctx context.Context, userID int64) ([]Subscription, error)
	// Remove deletes the subscription the push service said is gone,
	// unless it was renewed (new keys) since it was listed.
	Remove(ctx context.Context, s Subscription) error
	// MarkSuccess records an accepted push.
	MarkSuccess(ctx context.Context, id int64, at time.Time) error
}

// Messages of the public contract.
const (
	MsgDisabled        = "Push notifications are not enabled on this server."
	MsgRequired        = "This field is required."
	MsgEndpointInvalid = "Enter a valid https URL."
	MsgEndpointLong    = "Ensure this field has no more than 2048 characters."
	MsgKeyInvalid      = "Enter a valid base64url-encoded key."
)

// Limits of a subscription.
const (
	MaxEndpointLen  = 2048
	MaxUserAgentLen = 200
	p256dhLen       = 65
	authLen         = 16
)

// Registry is the subscribe/unsubscribe/list use case.
type Registry struct {
	store      Store
	publicKey  string // "" when push is off
	maxDevices int
	// allowLoopback lets http://127.0.0.1 endpoints through: only tests
	// set it (PUSH_ALLOW_LOOPBACK), to reach a push endpoint they run.
	allowLoopback bool
}

// NewRegistry returns a Registry; publicKey is the VAPID public key
// (base64url), or "" when push is off.
func NewRegistry(store Store, publicKey string, maxDevices int, allowLoopback bool) *Registry {
	return &Registry{store: store, publicKey: publicKey, maxDevices: maxDevices, allowLoopback: allowLoopback}
}

func (r *Registry) enabled() error {
	if r.publicKey == "" {
		return apperr.New(apperr.CodeNotFound, MsgDisabled)
	}
	return nil
}

// PublicKey returns the VAPID public key; apperr.CodeNotFound when push is off.
func (r *Registry) PublicKey() (string, error) {
	return r.publicKey, r.enabled()
}

// Subscribe validates and stores a subscription for userID (p256dh and auth
// in base64url, padded or not). apperr.CodeInvalid with fields "endpoint",
// "keys.p256dh", "keys.auth".
func (r *Registry) Subscribe(ctx context.Context, userID int64, endpoint, p256dh, auth, userAgent string) (Subscription, error) {
	if err := r.enabled(); err != nil {
		return Subscription{}, err
	}
	f := fielderr.Fields{}
	if msg := checkEndpoint(endpoint, r.allowLoopback); msg != "" {
		f.Add("endpoint", msg)
	}
	pub, msg := decodeKey(p256dh, p256dhLen)
	if msg == "" {
		// A point off the curve would only fail at every send.
		if _, err := ecdh.P256().NewPublicKey(pub); err != nil {
			msg = MsgKeyInvalid
		}
	}
	if msg != "" {
		f.Add("keys.p256dh", msg)
	}
	secret, msg := decodeKey(auth, authLen)
	if msg != "" {
		f.Add("keys.auth", msg)
	}
	if err := apperr.Invalid(f); err != nil {
		return Subscription{}, err
	}
	return r.store.Save(ctx, Subscription{
		UserID: userID, Endpoint: endpoint, P256dh: pub, Auth: secret, UserAgent: cleanUserAgent(userAgent),
	}, r.maxDevices)
}

// Unsubscribe deletes userID's subscription with endpoint (none is fine).
func (r *Registry) Unsubscribe(ctx context.Context, userID int64, endpoint string) error {
	if err := r.enabled(); err != nil {
		return err
	}
	if endpoint == "" {
		return apperr.FieldError("endpoint", MsgRequired)
	}
	if len(endpoint) > MaxEndpointLen {
		return apperr.FieldError("endpoint", MsgEndpointLong)
	}
	return r.store.Delete(ctx, userID, endpoint)
}

// List returns userID's subscriptions, newest first.
func (r *Registry) List(ctx context.Context, userID int64) ([]Subscription, error) {
	if err := r.enabled(); err != nil {
		return nil, err
	}
	return r.store.List(ctx, userID)
}

// checkEndpoint returns why endpoint is no push endpoint, or "". Only
// https to a host name: the server posts to this URL, so an IP literal or
// a bare local name would let a user point it into the private network
// (the sender's dialer also refuses non-public addresses; see WebPush).
func checkEndpoint(endpoint string, allowLoopback bool) string {
	if endpoint == "" {
		return MsgRequired
	}
	if len(endpoint) > MaxEndpointLen {
		return MsgEndpointLong
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.User != nil || u.Fragment != "" || u.Opaque != "" || u.Hostname() == "" {
		return MsgEndpointInvalid
	}
	host := u.Hostname()
	if allowLoopback && u.Scheme == "http" && host == "127.0.0.1" {
		return ""
	}
	if u.Scheme != "https" || net.ParseIP(host) != nil || !strings.Contains(host, ".") ||
		strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return MsgEndpointInvalid
	}
	return ""
}

// decodeKey decodes a base64url key (browsers send it unpadded; padding is
// tolerated) of exactly n bytes.
func decodeKey(s string, n int) ([]byte, string) {
	if s == "" {
		return nil, MsgRequired
	}
	if len(s) > 2*n+4 {
		return nil, MsgKeyInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(b) != n {
		return nil, MsgKeyInvalid
	}
	return b, ""
}

// EncodeKey is the base64url (unpadded) form of a key, as browsers give it.
func EncodeKey(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// cleanUserAgent keeps a label short and printable: it is shown back to the
// user in their device list.
func cleanUserAgent(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if utf8.RuneCountInString(s) > MaxUserAgentLen {
		s = string([]rune(s)[:MaxUserAgentLen])
	}
	return strings.TrimSpace(s)
}

// ErrGone means the push service no longer knows the subscription (404/410):
// the Dispatcher deletes it.
var ErrGone = errors.New("push: subscription gone")
