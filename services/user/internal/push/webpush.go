package push

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
)

// VAPID is the application server's identity (RFC 8292): a P-256 key pair,
// base64url without padding as webpush-go and browsers use them, and a
// contact the push services may write to ("mailto:..." or "https://...").
type VAPID struct {
	PublicKey  string
	PrivateKey string
	Subject    string
}

// Validate checks that the keys are a P-256 pair and the subject a contact.
func (v VAPID) Validate() error {
	priv, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v.PrivateKey, "="))
	if err != nil {
		return errors.New("VAPID_PRIVATE_KEY is not base64url")
	}
	key, err := ecdh.P256().NewPrivateKey(priv)
	if err != nil {
		return fmt.Errorf("VAPID_PRIVATE_KEY: %w", err)
	}
	if EncodeKey(key.PublicKey().Bytes()) != strings.TrimRight(v.PublicKey, "=") {
		return errors.New("VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY")
	}
	if !strings.HasPrefix(v.Subject, "mailto:") && !strings.HasPrefix(v.Subject, "https://") {
		return errors.New(`VAPID_SUBJECT must be a "mailto:" or "https://" URL`)
	}
	return nil
}

// GenerateVAPID returns a fresh key pair with subject (tests and `make run`).
func GenerateVAPID(subject string) (VAPID, error) {
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		return VAPID{}, err
	}
	return VAPID{PublicKey: pub, PrivateKey: priv, Subject: subject}, nil
}

// WebPush sends with the Web Push protocol (RFC 8030), the payload
// encrypted for the browser (RFC 8291, aes128gcm) and signed for the push
// service with VAPID (RFC 8292), through github.com/SherClockHolmes/webpush-go.
type WebPush struct {
	vapid  VAPID
	client *http.Client
}

// sendTimeout bounds one request to a push service.
const sendTimeout = 10 * time.Second

// NewWebPush returns a WebPush sender. Endpoints are user input, so its
// client connects only to public addresses and follows no redirects; with
// allowLoopback (tests only) it may also reach 127.0.0.1.
func NewWebPush(v VAPID, allowLoopback bool) *WebPush {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: publicOnly(allowLoopback)}
	return &WebPush{vapid: v, client: &http.Client{
		Timeout: sendTimeout,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			TLSHandshakeTimeout: 5 * time.Second,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// errBlockedAddress is the dialer refusing a non-public address.
var errBlockedAddress = errors.New("push endpoint resolves to a non-public address")

// cgnat is the shared address space (RFC 6598), private in all but name.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// publicOnly refuses to connect to loopback, private, link-local and other
// non-public addresses, checked on the resolved address (a public name may
// resolve to a private one).
func publicOnly(allowLoopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return errBlockedAddress
		}
		ip := ap.Addr().Unmap()
		if allowLoopback && ip.IsLoopback() {
			return nil
		}
		if !ip.IsGlobalUnicast() || ip.IsPrivate() || cgnat.Contains(ip) {
			return errBlockedAddress
		}
		return nil
	}
}

// Send implements Sender.
func (w *WebPush) Send(ctx context.Context, sub Subscription, msg Message) error {
	if len(msg.Payload) > MaxPayload {
		return fmt.Errorf("push payload of %d bytes is over %d", len(msg.Payload), MaxPayload)
	}
	resp, err := webpush.SendNotificationWithContext(ctx, msg.Payload, &webpush.Subscription{
		Endpoint: sub.Endpoint,
		Keys:     webpush.Keys{P256dh: EncodeKey(sub.P256dh), Auth: EncodeKey(sub.Auth)},
	}, &webpush.Options{
		HTTPClient: w.client,
		// webpush-go prefixes "mailto:" to anything not https.
		Subscriber:      strings.TrimPrefix(w.vapid.Subject, "mailto:"),
		VAPIDPublicKey:  w.vapid.PublicKey,
		VAPIDPrivateKey: w.vapid.PrivateKey,
		TTL:             int(msg.TTL / time.Second),
		Urgency:         webpush.Urgency(msg.Urgency),
		Topic:           msg.Topic,
	})
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, errBlockedAddress) {
			return err
		}
		var netErr net.Error
		var opErr *net.OpError
		if errors.As(err, &netErr) || errors.As(err, &opErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return &RetryError{Err: err}
		}
		return err // encryption or signing: retrying would fail alike
	}
	defer resp.Body.Close()
	// The body is a diagnostic at most; read a little so the connection
	// can be reused.
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusNotFound || code == http.StatusGone:
		return ErrGone
	case code == http.StatusTooManyRequests || code >= 500:
		return &RetryError{Status: code, After: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	default:
		return fmt.Errorf("push service answered %d: %.200q", code, detail)
	}
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); 0 when
// absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(min(s, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
