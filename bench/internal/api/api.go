// Package api is the small REST client of the public gateway API (docs/api.md)
// that the benchmarks need: accounts, tokens, rooms and posts.
package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
)

// Client calls one gateway.
type Client struct {
	Base string // e.g. http://127.0.0.1:18080
	HTTP *http.Client
}

// New returns a Client for base with a connection pool sized for parallel
// setup calls.
func New(base string) *Client {
	return &Client{Base: base, HTTP: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 256},
	}}
}

// Error is a non-2xx answer.
type Error struct {
	Method, Path string
	Status       int
	Body         string
}

// Error implements error with the method, path, status and the start of
// the body.
func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %.300s", e.Method, e.Path, e.Status, e.Body)
}

// Do sends body (JSON-encoded unless nil) and decodes a 2xx answer into out
// (unless nil).
func (c *Client) Do(ctx context.Context, method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &Error{Method: method, Path: path, Status: resp.StatusCode, Body: string(b)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decoding %.200s: %w", method, path, b, err)
	}
	return nil
}

// Account is a registered user with a valid access token.
type Account struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Token string `json:"-"`
}

type profile struct {
	User  int64  `json:"user"`
	Email string `json:"email"`
}

// Register creates a user and returns it without a token.
func (c *Client) Register(ctx context.Context, email, password, nickname string) (Account, error) {
	var out struct {
		Email   string  `json:"email"`
		Profile profile `json:"profile"`
	}
	err := c.Do(ctx, http.MethodPost, "/api/user/registration/", "",
		map[string]string{"email": email, "password": password, "nickname": nickname}, &out)
	if err != nil {
		return Account{}, err
	}
	return Account{ID: out.Profile.User, Email: email}, nil
}

// Login returns the access token of email.
func (c *Client) Login(ctx context.Context, email, password string) (Account, error) {
	var out struct {
		Access  string  `json:"access"`
		Profile profile `json:"profile"`
	}
	err := c.Do(ctx, http.MethodPost, "/api/user/login/", "",
		map[string]string{"email": email, "password": password}, &out)
	if err != nil {
		return Account{}, err
	}
	return Account{ID: out.Profile.User, Email: email, Token: out.Access}, nil
}

// Room is the part of a room object the benchmarks use.
type Room struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	ChatURL string `json:"chat_url"`
}

// CreateRoom creates a room owned by the token's user.
func (c *Client) CreateRoom(ctx context.Context, token, name string) (Room, error) {
	var r Room
	err := c.Do(ctx, http.MethodPost, "/api/chat/room/", token, map[string]string{"name": name}, &r)
	return r, err
}

// RunID returns a short random id that keeps the emails, rooms and
// client_msg_ids of one benchmark run apart from every other run.
func RunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Password is the password of every benchmark account of run: long enough,
// not common, not similar to the email.
func Password(run string) string { return "Kq7!wide-Lantern-" + run }

// Accounts registers n users named after run, in parallel, and gives each an
// access token: minted with signer when it is non-nil (the benchmark stack's
// own key, which avoids an argon2 login per user), else by logging in.
func Accounts(ctx context.Context, c *Client, run string, n, parallel int, signer *accesstoken.Signer) ([]Account, error) {
	out := make([]Account, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	pw := Password(run)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			email := "bench-" + run + "-" + strconv.Itoa(i) + "@bench.example"
			a, err := c.Register(ctx, email, pw, "b"+run+"n"+strconv.Itoa(i))
			if err != nil {
				errs <- err
				return
			}
			if signer != nil {
				a.Token, err = Mint(signer, a.ID, a.Email, 2*time.Hour)
			} else {
				a, err = c.Login(ctx, email, pw)
			}
			if err != nil {
				errs <- err
				return
			}
			out[i] = a
		}(i)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return out, nil
}

// Mint signs an access token for a user, as the user service would at login.
func Mint(s *accesstoken.Signer, userID int64, email string, ttl time.Duration) (string, error) {
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	now := time.Now()
	return s.Sign(accesstoken.Claims{
		UserID: userID, Email: email, Type: accesstoken.TypeAccess,
		ID: hex.EncodeToString(jti[:]), Family: hex.EncodeToString(jti[:8]),
		IssuedAt: now, ExpiresAt: now.Add(ttl),
	})
}
