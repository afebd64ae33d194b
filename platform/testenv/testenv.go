// Package testenv gives tests isolated resources on the machine's real
// PostgreSQL, Redis and NATS: a fresh database per test, and a unique
// key/subject prefix, all removed when the test ends, so tests can run in
// parallel. Addresses come from TEST_POSTGRES_URL, TEST_REDIS_URL and
// TEST_NATS_URL, defaulting to the local services on their usual ports.
//
// Code that must also work on a Redis Cluster is tested against both the
// single node and a private 3-master cluster that the test package starts
// from redis-server (RunWithRedisCluster in its TestMain, RedisTargets in
// each test).
package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/cobraspace/cobraspace/platform/accesstoken"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
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
		deleteKeys(ctx, rdb, p)
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

// ServiceKey writes a fresh pre-shared service key (SERVICE_KEY_FILE) into
// the test's temp dir and returns its path.
func ServiceKey(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "service.key")
	if err := servicetrust.WriteKeyFile(path); err != nil {
		t.Fatalf("testenv: service key: %v", err)
	}
	return path
}

// TLSFiles are the GRPC_TLS_* files of one service.
type TLSFiles struct{ Cert, Key, CA string }

// Env returns the files as the GRPC_TLS_* variables.
func (f TLSFiles) Env() map[string]string {
	return map[string]string{"GRPC_TLS_CERT_FILE": f.Cert, "GRPC_TLS_KEY_FILE": f.Key, "GRPC_TLS_CA_FILE": f.CA}
}

// MutualTLS creates a fresh CA and, for each name, a certificate with that
// Common Name, valid for 127.0.0.1 and localhost as server and as client,
// and returns each name's files (in the test's temp dir).
func MutualTLS(t testing.TB, names ...string) map[string]TLSFiles {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "testenv CA " + ID()},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	caPath := filepath.Join(dir, "ca.pem")
	writePEM(t, caPath, "CERTIFICATE", caDER)
	out := make(map[string]TLSFiles, len(names))
	for i, name := range names {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i) + 2), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			DNSNames:    []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		f := TLSFiles{Cert: filepath.Join(dir, name+".pem"), Key: filepath.Join(dir, name+".key"), CA: caPath}
		writePEM(t, f.Cert, "CERTIFICATE", der)
		writePEM(t, f.Key, "PRIVATE KEY", keyDER)
		out[name] = f
	}
	return out
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
