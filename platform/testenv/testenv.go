// Package testenv gives tests isolated resources on the machine's real
// PostgreSQL, Redis and NATS: a fresh database per test, and a unique
// key/subject prefix, all removed when the test ends, so tests can run in
// parallel. Addresses come from TEST_POSTGRES_URL, TEST_REDIS_URL and
// TEST_NATS_URL, defaulting to the local services on their usual ports.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// PostgresAdminURL is the server tests create their databases on.
func PostgresAdminURL() string {
	return env("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
}

// RedisURL is the Redis server tests use (with a Prefix each).
func RedisURL() string { return env("TEST_REDIS_URL", "redis://127.0.0.1:6379/0") }

// NATSURL is the NATS server tests use (with a Prefix each).
func NATSURL() string { return env("TEST_NATS_URL", "nats://127.0.0.1:4222") }

// ID returns a short random identifier usable in names.
func ID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Prefix returns a unique Redis key / NATS subject prefix ("t<id>.") and
// deletes the test's Redis keys under it at cleanup.
func Prefix(t testing.TB) string {
	t.Helper()
	p := "t" + ID() + "."
	t.Cleanup(func() {
		opt, err := redis.ParseURL(RedisURL())
		if err != nil {
			return
		}
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return p
}

// Database creates an empty database for the test and returns its URL; it
// is dropped (with any open connections) at cleanup.
func Database(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := PostgresAdminURL()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: PostgreSQL at %s: %v (is it running? see README)", admin, err)
	}
	defer conn.Close(ctx)
	name := "test_" + strings.ToLower(ID())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testenv: TEST_POSTGRES_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// KeyPair writes a fresh Ed25519 key pair into the test's temp dir and
// returns the private and public key file paths.
func KeyPair(t testing.TB) (privPath, pubPath string) {
	t.Helper()
	dir := t.TempDir()
	privPath, pubPath = filepath.Join(dir, "jwt.key"), filepath.Join(dir, "jwt.pub")
	if err := accesstoken.WriteKeyFiles(privPath, pubPath); err != nil {
		t.Fatalf("testenv: key pair: %v", err)
	}
	return privPath, pubPath
}
