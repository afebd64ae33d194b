// Package pushtest is a push service for tests (of the user service and the
// gateway): an HTTP endpoint that plays a browser's push subscription. It
// checks every request the way a push service and a browser would (the
// VAPID signature and claims, RFC 8292; the Web Push headers, RFC 8030) and
// decrypts the payload with the subscription's private key and auth secret
// (RFC 8291, aes128gcm of RFC 8188), independently of the sender's library,
// so a test sees exactly what a device would show.
package pushtest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Device is a browser's side of a push subscription: the P-256 key pair
// and the 16-byte auth secret it would generate.
type Device struct {
	key  *ecdh.PrivateKey
	auth []byte
}

// NewDevice generates a device's keys.
func NewDevice() *Device {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth) // never fails (crypto/rand)
	return &Device{key: key, auth: auth}
}

// P256dh is the public key as PushSubscription.toJSON() gives it.
func (d *Device) P256dh() string { return b64(d.key.PublicKey().Bytes()) }

// Auth is the auth secret as PushSubscription.toJSON() gives it.
func (d *Device) Auth() string { return b64(d.auth) }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Decrypt decrypts an aes128gcm body (RFC 8188) encrypted for this device
// (RFC 8291 section 3): one record, whose padding ends with the last-record
// delimiter 0x02.
func (d *Device) Decrypt(body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("body shorter than the aes128gcm header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if idlen != 65 || len(body) < 21+idlen {
		return nil, fmt.Errorf("key id of %d bytes; want the sender's 65-byte public key", idlen)
	}
	senderPub, ciphertext := body[21:21+idlen], body[21+idlen:]
	if rs < 18 || len(ciphertext) > int(rs) {
		return nil, fmt.Errorf("ciphertext of %d bytes in records of %d: more than one record", len(ciphertext), rs)
	}
	asKey, err := ecdh.P256().NewPublicKey(senderPub)
	if err != nil {
		return nil, fmt.Errorf("sender key: %w", err)
	}
	ecdhSecret, err := d.key.ECDH(asKey)
	if err != nil {
		return nil, err
	}
	// key_info = "WebPush: info" || 0x00 || ua_public || as_public
	info := append([]byte("WebPush: info\x00"), d.key.PublicKey().Bytes()...)
	info = append(info, senderPub...)
	prk, err := hkdf.Extract(sha256.New, ecdhSecret, d.auth)
	if err != nil {
		return nil, err
	}
	ikm, err := hkdf.Expand(sha256.New, prk, string(info), 32)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	plain = bytes.TrimRight(plain, "\x00")
	if len(plain) == 0 || plain[len(plain)-1] != 2 {
		return nil, errors.New("no last-record padding delimiter")
	}
	return plain[:len(plain)-1], nil
}

// Push is one request the server accepted and decrypted.
type Push struct {
	Payload []byte
	TTL     int
	Urgency string
	Topic   string
	Subject string // the VAPID JWT's "sub"
}

// Response is what the server answers to one request.
type Response struct {
	Status     int
	RetryAfter string
}

// Server is a push service with one subscription (Device) at URL.
type Server struct {
	*Device
	srv       *httptest.Server
	vapidKey  *ecdsa.PublicKey
	vapidText string

	mu        sync.Mutex
	responses []Response // answered in turn before 201s
	requests  int
	pushes    []Push
	errs      []error
	arrived   chan struct{}
}

// NewServer starts a push service that accepts only pushes signed with
// the VAPID public key vapidPublic (base64url). Close it when done.
func NewServer(vapidPublic string) (*Server, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(vapidPublic, "="))
	if err != nil {
		return nil, err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, fmt.Errorf("VAPID public key: %w", err)
	}
	s := &Server{
		Device: NewDevice(), vapidKey: pub,
		vapidText: b64(raw), arrived: make(chan struct{}, 1000),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s, nil
}

// URL is the subscription's endpoint.
func (s *Server) URL() string { return s.srv.URL + "/push/abc" }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Respond queues answers for the next requests (after them: 201).
func (s *Server) Respond(r ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responses = append(s.responses, r...)
}

// Requests is how many requests arrived.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Pushes returns the pushes accepted so far and every invalid request's error.
func (s *Server) Pushes() ([]Push, []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Push(nil), s.pushes...), append([]error(nil), s.errs...)
}

// Wait waits until n requests arrived or timeout passes.
func (s *Server) Wait(n int, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		if s.Requests() >= n {
			return true
		}
		select {
		case <-s.arrived:
		case <-deadline:
			return false
		}
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p, err := s.check(r)
	s.mu.Lock()
	s.requests++
	var resp Response
	switch {
	case err != nil:
		s.errs = append(s.errs, err)
		resp = Response{Status: http.StatusBadRequest}
	case len(s.responses) > 0:
		resp, s.responses = s.responses[0], s.responses[1:]
	default:
		resp = Response{Status: http.StatusCreated}
	}
	if err == nil && resp.Status == http.StatusCreated {
		s.pushes = append(s.pushes, p)
	}
	s.mu.Unlock()
	if resp.RetryAfter != "" {
		w.Header().Set("Retry-After", resp.RetryAfter)
	}
	w.WriteHeader(resp.Status)
	select {
	case s.arrived <- struct{}{}:
	default: // Wait re-reads the count anyway
	}
}

// check validates a request as a push service and the browser would and
// returns the decrypted push.
func (s *Server) check(r *http.Request) (Push, error) {
	var p Push
	if r.Method != http.MethodPost || r.URL.Path != "/push/abc" {
		return p, fmt.Errorf("%s %s", r.Method, r.URL.Path)
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		return p, fmt.Errorf("Content-Encoding %q", ce)
	}
	ttl, err := strconv.Atoi(r.Header.Get("TTL"))
	if err != nil || ttl < 0 {
		return p, fmt.Errorf("TTL %q", r.Header.Get("TTL"))
	}
	p.TTL, p.Urgency, p.Topic = ttl, r.Header.Get("Urgency"), r.Header.Get("Topic")
	if p.Subject, err = s.checkVAPID(r.Header.Get("Authorization")); err != nil {
		return p, err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8192))
	if err != nil {
		return p, err
	}
	if len(body) > 4096 {
		return p, fmt.Errorf("body of %d bytes; push services take 4096", len(body))
	}
	p.Payload, err = s.Decrypt(body)
	return p, err
}

// checkVAPID verifies `vapid t=<JWT>, k=<public key>` (RFC 8292): the key
// is the server's, the ES256 signature holds, aud is this origin, exp is
// within 24 hours, sub is a contact.
func (s *Server) checkVAPID(h string) (string, error) {
	rest, ok := strings.CutPrefix(h, "vapid ")
	if !ok {
		return "", fmt.Errorf("authorization %q is not vapid", h)
	}
	var token, key string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			token = v
		case "k":
			key = v
		}
	}
	if key != s.vapidText {
		return "", fmt.Errorf("VAPID k=%q, want %q", key, s.vapidText)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("VAPID t is not a JWT")
	}
	var hdr struct{ Alg, Typ string }
	if err := decodeSegment(parts[0], &hdr); err != nil || hdr.Alg != "ES256" {
		return "", fmt.Errorf("JWT header %+v: %w", hdr, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return "", errors.New("JWT signature is not 64 bytes of r||s")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(s.vapidKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "", errors.New("VAPID JWT signature does not verify")
	}
	var claims struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return "", err
	}
	now := time.Now().Unix()
	switch {
	case claims.Aud != s.srv.URL:
		return "", fmt.Errorf("JWT aud %q, want %q", claims.Aud, s.srv.URL)
	case claims.Exp <= now || claims.Exp > now+24*3600:
		return "", fmt.Errorf("JWT exp %d not within 24 h", claims.Exp)
	case !strings.HasPrefix(claims.Sub, "mailto:") && !strings.HasPrefix(claims.Sub, "https://"),
		strings.HasPrefix(claims.Sub, "mailto:mailto:"):
		return "", fmt.Errorf("JWT sub %q", claims.Sub)
	}
	return claims.Sub, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
