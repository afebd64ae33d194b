// Command demodata fills a running Cobra Space with demo users and posts
// through the public REST API of a gateway, so `make run` starts with
// something to look at:
//
//	demodata -gateway http://127.0.0.1:8080
//
// It is idempotent: users that exist are logged in instead of registered,
// and a post is written only when its writer has no post with its title
// yet. The demo accounts are listed in services/post/README.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Stdout)
	stop() // before os.Exit, which skips deferred calls
	if err != nil {
		fmt.Fprintln(os.Stderr, "demodata:", err)
		os.Exit(1)
	}
}

// demoUser is a demo account.
type demoUser struct {
	Email, Password, Nickname string
}

// demoUsers are the demo accounts (documented in services/post/README.md).
func demoUsers() []demoUser {
	return []demoUser{
		{"demo1@cobra.space", "cobra-demo-1234", "gopher"},
		{"demo2@cobra.space", "cobra-demo-1234", "ormi_kim"},
		{"demo3@cobra.space", "cobra-demo-1234", "est_lee"},
	}
}

// demoPost is a post of the demo data; Writer indexes users.
type demoPost struct {
	Writer   int
	Category string
	Title    string
	Tags     []string
	Content  string
	Chat     []string // messages its writer sends to the post's room
}

const fence = "```"

// demoPosts are the demo posts: two per seeded category.
func demoPosts() []demoPost {
	return []demoPost{
		{0, "Programming", "Goroutines and channels in five minutes", []string{"go", "concurrency"}, `Go makes concurrency cheap: a goroutine costs a few kilobytes.

` + fence + `go
func worker(jobs <-chan int, results chan<- int) {
	for j := range jobs {
		results <- j * j
	}
}

func main() {
	jobs, results := make(chan int, 10), make(chan int, 10)
	for w := 0; w < 3; w++ {
		go worker(jobs, results)
	}
	for i := 1; i <= 5; i++ {
		jobs <- i
	}
	close(jobs)
	for i := 0; i < 5; i++ {
		fmt.Println(<-results)
	}
}
` + fence + `

**Rule of thumb:** the goroutine that writes to a channel closes it.`,
			[]string{"Questions about channels welcome here!"}},
		{0, "Programming", "Keyset pagination in PostgreSQL", []string{"postgresql", "sql", "performance"}, `OFFSET gets slower with every page. Keyset pagination does not:

` + fence + `sql
SELECT id, title, created_at
FROM posts
WHERE (created_at, id) < ($1, $2)
ORDER BY created_at DESC, id DESC
LIMIT 20;
` + fence + `

With an index on ` + "`(created_at DESC, id DESC)`" + ` every page is an index range scan,
and pages stay stable while new rows arrive.`, nil},
		{1, "Ormi", "Ormi study group: week 1 recap", []string{"python", "study"}, `This week we reviewed list comprehensions and generators.

` + fence + `python
squares = [n * n for n in range(10) if n % 2 == 0]
total = sum(n * n for n in range(1_000_000))  # no list in memory
print(squares, total)
` + fence + `

Next week: decorators. Bring your questions to the chat on the right.`,
			[]string{"Welcome to week 1!", "Slides are in the repo."}},
		{1, "Ormi", "Setting up a Django REST project", []string{"django", "python", "rest"}, `A minimal API view:

` + fence + `python
from rest_framework.decorators import api_view
from rest_framework.response import Response

@api_view(["GET"])
def hello(request):
    return Response({"message": "Hello, World!"})
` + fence + `

Remember to add ` + "`rest_framework`" + ` to ` + "`INSTALLED_APPS`" + `.`, nil},
		{2, "ESTsoft", "Deploying with docker compose", []string{"docker", "devops"}, `Our local stack in one file:

` + fence + `yaml
services:
  db:
    image: postgres:15
    environment:
      POSTGRES_PASSWORD: example
  redis:
    image: redis:7
` + fence + `

Run ` + "`docker compose up -d`" + ` and you are done.`, nil},
		{2, "ESTsoft", "Code review checklist", []string{"review", "go"}, `Before you approve:

1. Does it handle errors, not just the happy path?
2. Are there tests that can fail?
3. Would a newcomer understand the names?

` + fence + `go
if err != nil {
	return fmt.Errorf("load config: %w", err)
}
` + fence,
			[]string{"What would you add to this list?"}},
	}
}

// client talks to one gateway.
type client struct {
	base  string
	http  *http.Client
	token string
}

// apiError is a non-2xx answer.
type apiError struct {
	Status int
	Body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

func (c *client) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &apiError{Status: resp.StatusCode, Body: strings.TrimSpace(string(raw))}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (c *client) as(token string) *client {
	cp := *c
	cp.token = token
	return &cp
}

// run loads the demo data into the gateway named by -gateway.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	gateway := fs.String("gateway", "http://127.0.0.1:8080", "base URL of a Cobra Space gateway")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for the gateway to answer")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c := &client{base: strings.TrimSuffix(*gateway, "/"), http: &http.Client{Timeout: 15 * time.Second}}

	var cats []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	deadline := time.Now().Add(*wait)
	for {
		err := c.call(ctx, "GET", "/api/post/categories/", nil, &cats)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway %s not answering: %w", c.base, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	catID := map[string]int64{}
	for _, cat := range cats {
		catID[cat.Name] = cat.ID
	}

	type session struct {
		c  *client
		id int64
	}
	users, posts := demoUsers(), demoPosts()
	sessions := make([]session, len(users))
	for i, u := range users {
		token, id, created, err := signIn(ctx, c, u)
		if err != nil {
			return fmt.Errorf("user %s: %w", u.Email, err)
		}
		sessions[i] = session{c: c.as(token), id: id}
		if created {
			fmt.Fprintf(stdout, "registered %s\n", u.Email)
		}
	}

	written := 0
	for _, p := range posts {
		s := sessions[p.Writer]
		exists, err := hasPost(ctx, s.c, s.id, p.Title)
		if err != nil {
			return err
		}
		if exists {
			continue
		}
		cat, ok := catID[p.Category]
		if !ok {
			return fmt.Errorf("category %q does not exist", p.Category)
		}
		var out struct {
			ID     int64 `json:"id"`
			RoomID int64 `json:"room_id"`
		}
		body := map[string]any{"title": p.Title, "content": p.Content, "category": cat, "tags": p.Tags}
		if err := s.c.call(ctx, "POST", "/api/post/write/", body, &out); err != nil {
			return fmt.Errorf("post %q: %w", p.Title, err)
		}
		for _, m := range p.Chat {
			if err := s.c.call(ctx, "POST", "/api/chat/message/", map[string]any{"room": out.RoomID, "message": m}, nil); err != nil {
				return fmt.Errorf("chat message in %q: %w", p.Title, err)
			}
		}
		written++
	}
	fmt.Fprintf(stdout, "demo data ready: %d users, %d posts written now (%d already there)\n",
		len(users), written, len(posts)-written)
	return nil
}

// signIn registers u when needed and logs it in; it returns the access
// token, the user id and whether the account was created now.
func signIn(ctx context.Context, c *client, u demoUser) (token string, id int64, created bool, err error) {
	err = c.call(ctx, "POST", "/api/user/registration/",
		map[string]string{"email": u.Email, "password": u.Password, "nickname": u.Nickname}, nil)
	var ae *apiError
	switch {
	case err == nil:
		created = true
	case errors.As(err, &ae) && ae.Status == http.StatusBadRequest && strings.Contains(ae.Body, "already registered"):
	default:
		return "", 0, false, fmt.Errorf("register: %w", err)
	}
	var login struct {
		Access  string `json:"access"`
		Profile struct {
			User int64 `json:"user"`
		} `json:"profile"`
	}
	if err := c.call(ctx, "POST", "/api/user/login/", map[string]string{"email": u.Email, "password": u.Password}, &login); err != nil {
		return "", 0, false, fmt.Errorf("login (password changed?): %w", err)
	}
	return login.Access, login.Profile.User, created, nil
}

// hasPost reports whether user id already wrote a post titled title.
func hasPost(ctx context.Context, c *client, id int64, title string) (bool, error) {
	q := url.Values{"writer": {strconv.FormatInt(id, 10)}, "limit": {"100"}}
	var list []struct {
		Title string `json:"title"`
	}
	if err := c.call(ctx, "GET", "/api/post/?"+q.Encode(), nil, &list); err != nil {
		return false, fmt.Errorf("list posts of user %d: %w", id, err)
	}
	for _, p := range list {
		if p.Title == title {
			return true, nil
		}
	}
	return false, nil
}
