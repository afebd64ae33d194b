package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/grpcclient"
	"github.com/cobraspace/cobraspace/platform/servicetrust"
	"github.com/cobraspace/cobraspace/platform/testenv"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
)

// TestGetUsersNeedsUserOrService: user summaries (with emails) go to
// services composing responses; a user token shows only its own user; no
// credentials, or a wrong service key, get nothing.
func TestGetUsersNeedsUserOrService(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	var ids []int64
	var aliceTok string
	for _, email := range []string{"alice@example.com", "bob@example.com"} {
		reg, err := s.client.Register(s.ctx, &userv1.RegisterRequest{Email: email, Password: "a fine passphrase"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, reg.GetProfile().GetUserId())
	}
	res, err := s.client.Login(s.ctx, &userv1.LoginRequest{Email: "alice@example.com", Password: "a fine passphrase"})
	if err != nil {
		t.Fatal(err)
	}
	aliceTok = res.GetTokens().GetAccess()
	req := &userv1.GetUsersRequest{UserIds: ids}

	_, err = s.client.GetUsers(s.ctx, req)
	wantCode(t, "no credentials", err, codes.Unauthenticated, "Authentication credentials were not provided.")

	got, err := s.client.GetUsers(s.authed(aliceTok), req)
	if err != nil || len(got.GetUsers()) != 1 || got.GetUsers()[0].GetUserId() != ids[0] {
		t.Errorf("alice's token: got %v, %v; want alice's summary only", got, err)
	}

	got, err = s.gateway.GetUsers(s.ctx, req)
	if err != nil || len(got.GetUsers()) != 2 || got.GetUsers()[1].GetEmail() != "bob@example.com" {
		t.Errorf("service identity: got %v, %v; want both users", got, err)
	}

	rogue, err := grpcclient.Dial(s.grpc, serviceKey(t, "gateway", testenv.ServiceKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	_, err = userv1.NewUserServiceClient(rogue).GetUsers(s.ctx, req)
	wantCode(t, "wrong service key", err, codes.Unauthenticated, "")
}

// TestFindByNicknamesNeedsService: resolving @mentions is for calling
// services only; a user token cannot probe who carries which nickname.
func TestFindByNicknamesNeedsService(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	reg, err := s.client.Register(s.ctx, &userv1.RegisterRequest{Email: "Kim.Lee@example.com", Password: "a fine passphrase"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.client.Login(s.ctx, &userv1.LoginRequest{Email: "Kim.Lee@example.com", Password: "a fine passphrase"})
	if err != nil {
		t.Fatal(err)
	}
	req := &userv1.FindByNicknamesRequest{Nicknames: []string{"KIM.LEE"}}
	_, err = s.client.FindByNicknames(s.ctx, req)
	wantCode(t, "no credentials", err, codes.Unauthenticated, "")
	_, err = s.client.FindByNicknames(s.authed(res.GetTokens().GetAccess()), req)
	wantCode(t, "a user token", err, codes.PermissionDenied, "")
	got, err := s.gateway.FindByNicknames(s.ctx, req)
	if err != nil || len(got.GetUsers()) != 1 || got.GetUsers()[0].GetUserId() != reg.GetProfile().GetUserId() {
		t.Errorf("service identity: got %v, %v; want the user of nickname kim.lee", got, err)
	}
	_, err = s.gateway.FindByNicknames(s.ctx, &userv1.FindByNicknamesRequest{Nicknames: make([]string, 21)})
	wantCode(t, "21 nicknames", err, codes.InvalidArgument, "")
}

// TestLoginClientIPOnlyFromGateway: the per-IP login limit counts the
// client_ip the gateway reports, but a caller without the gateway's
// identity is counted by its own address however many addresses it claims.
func TestLoginClientIPOnlyFromGateway(t *testing.T) {
	t.Parallel()
	s := start(t, map[string]string{"LOGIN_MAX_FAILURES_PER_IP": "3"})
	fail := func(c userv1.UserServiceClient, i int, ip string) error {
		// A new email each time: only the per-IP limit can trip.
		_, err := c.Login(s.ctx, &userv1.LoginRequest{Email: fmt.Sprintf("nobody%d@example.com", i), Password: "wrong password!", ClientIp: ip})
		return err
	}
	for i := range 3 {
		wantCode(t, fmt.Sprintf("direct failure %d", i+1), fail(s.client, i, fmt.Sprintf("192.0.2.%d", i+1)), codes.Unauthenticated, "")
	}
	// Claiming yet another address does not help: the peer is limited.
	wantCode(t, "direct, 4th claimed address", fail(s.client, 3, "192.0.2.99"), codes.ResourceExhausted, "")

	// Through the gateway the reported client address is what counts: one
	// client is limited, another (and the gateway itself) is not.
	for i := range 3 {
		wantCode(t, fmt.Sprintf("gateway failure %d", i+1), fail(s.gateway, 10+i, "198.51.100.7"), codes.Unauthenticated, "")
	}
	wantCode(t, "gateway, same client", fail(s.gateway, 20, "198.51.100.7"), codes.ResourceExhausted, "")
	wantCode(t, "gateway, other client", fail(s.gateway, 21, "198.51.100.8"), codes.Unauthenticated, "")
}

// TestMutualTLS: with GRPC_TLS_* set the service accepts only clients with
// a certificate of its CA, and the certificate names the calling service.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	certs := testenv.MutualTLS(t, "user", "gateway")
	env := certs["user"].Env()
	env["SERVICE_KEY_FILE"] = "" // not needed under mutual TLS
	s := start(t, env)
	req := &userv1.GetUsersRequest{UserIds: []int64{1}}
	call := func(trust servicetrust.Config) error {
		conn, err := grpcclient.Dial(s.grpc, trust)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		defer cancel()
		_, err = userv1.NewUserServiceClient(conn).GetUsers(ctx, req)
		return err
	}
	gw, err := servicetrust.Load(envReader(certs["gateway"].Env()), "gateway")
	if err != nil {
		t.Fatal(err)
	}
	if err := call(gw); err != nil {
		t.Errorf("gateway certificate: %v, want GetUsers allowed", err)
	}
	if err := call(servicetrust.Config{}); status.Code(err) != codes.Unavailable {
		t.Errorf("no certificate (plaintext): %v, want refused (Unavailable)", err)
	}
	rogueFiles := testenv.MutualTLS(t, "gateway")["gateway"]
	rogueFiles.CA = certs["gateway"].CA // trusts the server; its own cert is of another CA
	rogue, err := servicetrust.Load(envReader(rogueFiles.Env()), "gateway")
	if err != nil {
		t.Fatal(err)
	}
	if err := call(rogue); status.Code(err) != codes.Unavailable {
		t.Errorf("certificate of another CA: %v, want refused (Unavailable)", err)
	}
}

// TestDefaultAddressesLoopback: without GRPC_ADDR/ADMIN_ADDR the service
// listens on loopback only; deployments set the addresses explicitly.
func TestDefaultAddressesLoopback(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(func(k string) string {
		return map[string]string{"DATABASE_URL": "postgres://x", "JWT_PUBLIC_KEY_FILE": "/k",
			"JWT_PRIVATE_KEY_FILE": "/k", "SERVICE_KEY_FILE": testenv.ServiceKey(t)}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPCAddr != "127.0.0.1:9001" || c.AdminAddr != "127.0.0.1:9101" {
		t.Errorf("defaults: gRPC %q, admin %q; want 127.0.0.1:9001 and 127.0.0.1:9101", c.GRPCAddr, c.AdminAddr)
	}
}
