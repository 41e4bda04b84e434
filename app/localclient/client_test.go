package localclient_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/adminapi"
	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

const testToken = "client-test-token"

// newAPI serves the real admin API over a fresh vault on 127.0.0.1 and
// returns a client for it.
func newAPI(t *testing.T) (*localclient.Client, *vault.Vault) {
	t.Helper()
	return newAPIWith(t, adminops.Options{})
}

// newAPIWith is newAPI with the operations configured by o.
func newAPIWith(t *testing.T, o adminops.Options) (*localclient.Client, *vault.Vault) {
	t.Helper()
	v := vaulttest.New(t)
	srv := httptest.NewServer(adminapi.New(adminops.New(v, o), adminapi.Options{Tokens: []string{testToken}}))
	t.Cleanup(srv.Close)
	return &localclient.Client{BaseURL: srv.URL + "/", Token: testToken}, v
}

func TestClientTenantLifecycle(t *testing.T) {
	t.Parallel()
	c, v := newAPI(t)
	ctx := t.Context()

	tn, secret, err := c.CreateTenant(ctx, "acme", "Acme Inc.")
	if err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	if tn.ID != "acme" || tn.Name != "Acme Inc." || !tn.HasHostAppSecret || tn.CreatedAt.IsZero() {
		t.Errorf("CreateTenant returned %+v", tn)
	}
	if ok, err := v.CheckHostAppSecret(ctx, "acme", secret); err != nil || !ok {
		t.Errorf("returned secret does not match the vault: ok=%v err=%v", ok, err)
	}

	ts, err := c.ListTenants(ctx)
	if err != nil || len(ts) != 1 || ts[0].ID != "acme" {
		t.Fatalf("ListTenants = %+v, %v", ts, err)
	}
	got, err := c.GetTenant(ctx, "acme")
	if err != nil || got.Name != "Acme Inc." {
		t.Fatalf("GetTenant = %+v, %v", got, err)
	}
	upd, err := c.UpdateTenant(ctx, "acme", "Acme Corp")
	if err != nil || upd.Name != "Acme Corp" {
		t.Fatalf("UpdateTenant = %+v, %v", upd, err)
	}

	secret2, err := c.RotateHostAppSecret(ctx, "acme")
	if err != nil || secret2 == "" || secret2 == secret {
		t.Fatalf("RotateHostAppSecret: new secret empty or unchanged (err %v)", err)
	}
	if ok, _ := v.CheckHostAppSecret(ctx, "acme", secret); ok {
		t.Error("old secret still matches after rotation")
	}

	token, uid, err := c.CreateUserToken(ctx, "acme", "alice")
	if err != nil || token == "" || uid == "" {
		t.Fatalf("CreateUserToken: token or id empty (err %v)", err)
	}
	us, err := c.ListUsers(ctx, "acme")
	if err != nil || len(us) != 1 || us[0].ID != uid || us[0].HostUserID != "alice" {
		t.Fatalf("ListUsers = %+v, %v", us, err)
	}
	toks, err := c.ListTokens(ctx, "acme", uid)
	if err != nil || len(toks) != 1 || toks[0].UserID != uid || toks[0].Revoked {
		t.Fatalf("ListTokens = %+v, %v", toks, err)
	}
	if err := c.RevokeToken(ctx, "acme", toks[0].ID); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if _, err := v.ResolveToken(ctx, token); !errors.Is(err, vault.ErrTokenRevoked) {
		t.Errorf("revoked token resolves with %v", err)
	}
	toks, err = c.ListTokens(ctx, "acme", "")
	if err != nil || len(toks) != 1 || !toks[0].Revoked {
		t.Fatalf("ListTokens after revoke = %+v, %v", toks, err)
	}

	if err := c.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatalf("DeleteTenant: %v", err)
	}
	_, err = c.GetTenant(ctx, "acme")
	var ae *localclient.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("GetTenant after delete: %v, want a 404 APIError matching vault.ErrNotFound", err)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	c, _ := newAPI(t)
	if _, _, err := c.CreateTenant(t.Context(), "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		call       func(c *localclient.Client) error
		token      string
		wantStatus int
		wantIs     error
		wantMsg    string
	}{
		{"wrong token", func(c *localclient.Client) error { _, err := c.ListTenants(t.Context()); return err },
			"nope", 401, nil, "admin token"},
		{"duplicate", func(c *localclient.Client) error { _, _, err := c.CreateTenant(t.Context(), "acme", "x"); return err },
			testToken, 409, vault.ErrExists, "exists"},
		{"reserved", func(c *localclient.Client) error { _, _, err := c.CreateTenant(t.Context(), "ui", "x"); return err },
			testToken, 400, vault.ErrInvalid, "reserved"},
		{"missing tenant", func(c *localclient.Client) error { return c.DeleteTenant(t.Context(), "nope") },
			testToken, 404, vault.ErrNotFound, "not found"},
		{"missing token", func(c *localclient.Client) error { return c.RevokeToken(t.Context(), "acme", "zz/../x") },
			testToken, 404, vault.ErrNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc := *c
			cc.Token = tc.token
			err := tc.call(&cc)
			var ae *localclient.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if ae.Status != tc.wantStatus {
				t.Errorf("status = %d, want %d (%v)", ae.Status, tc.wantStatus, err)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.wantIs)
			}
			if !strings.Contains(ae.Message, tc.wantMsg) {
				t.Errorf("message %q lacks %q", ae.Message, tc.wantMsg)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Error("error contains the token")
			}
		})
	}
}

func TestClientDaemonDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &localclient.Client{BaseURL: "http://" + addr, Token: testToken}
	_, err = c.ListTenants(t.Context())
	if err == nil || !strings.Contains(err.Error(), "cannot reach the plexus daemon at http://"+addr) {
		t.Fatalf("err = %v, want it to say the daemon at %s cannot be reached", err, addr)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("cause lost: %v", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Error("error contains the token")
	}
}

func TestClientCanceled(t *testing.T) {
	t.Parallel()
	c, _ := newAPI(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.ListTenants(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestClientNonJSONError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream broke", http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	c := &localclient.Client{BaseURL: srv.URL, Token: testToken, HTTP: srv.Client()}
	_, err := c.GetTenant(t.Context(), "acme")
	var ae *localclient.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadGateway || ae.Message != "bad gateway" {
		t.Fatalf("err = %#v, want APIError 502 \"bad gateway\"", err)
	}
}
