package vault

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestEnsureUser(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")
	u, created, err := v.EnsureUser(ctx, "acme", "alice@example.com")
	if err != nil || !created {
		t.Fatalf("first EnsureUser: %+v, %v, %v", u, created, err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(u.ID) {
		t.Fatalf("persistent id %q is not a UUIDv4", u.ID)
	}
	again, created, err := v.EnsureUser(ctx, "acme", "alice@example.com")
	if err != nil || created || again.ID != u.ID {
		t.Fatalf("second EnsureUser: %+v, %v, %v", again, created, err)
	}
	other, _, err := v.EnsureUser(ctx, "beta", "alice@example.com")
	if err != nil || other.ID == u.ID {
		t.Fatalf("same host user in another tenant: %+v, %v", other, err)
	}
	if _, err := v.GetUser(ctx, "beta", u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("user of acme read through beta: %v", err)
	}
	if got, err := v.GetUser(ctx, "acme", u.ID); err != nil || got != u {
		t.Fatalf("GetUser: %+v, %v", got, err)
	}
	if _, _, err := v.EnsureUser(ctx, "acme", "bob"); err != nil {
		t.Fatal(err)
	}
	us, err := v.ListUsers(ctx, "acme")
	if err != nil || len(us) != 2 || us[0].HostUserID != "alice@example.com" || us[1].HostUserID != "bob" {
		t.Fatalf("ListUsers: %+v, %v", us, err)
	}

	for _, tc := range []struct {
		name, tenant, host string
		want               error
	}{
		{"empty host id", "acme", "", ErrInvalid},
		{"long host id", "acme", strings.Repeat("x", 257), ErrInvalid},
		{"NUL in host id", "acme", "a\x00b", ErrInvalid},
		{"bad tenant", "Acme", "x", ErrInvalid},
		{"unknown tenant", "nope", "x", ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := v.EnsureUser(ctx, tc.tenant, tc.host); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, _, err := v.EnsureUser(ctx, "acme", strings.Repeat("x", 256)); err != nil {
		t.Fatalf("256-char host id: %v", err)
	}
}

func TestTokens(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")
	alice, _, _ := v.EnsureUser(ctx, "acme", "alice")
	bob, _, _ := v.EnsureUser(ctx, "acme", "bob")

	tok, info, err := v.IssueToken(ctx, "acme", alice.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, TokenPrefix) || len(tok) != len(TokenPrefix)+43 {
		t.Fatalf("token shape: %d chars", len(tok))
	}
	if len(info.ID) != 12 || sha256Hex(tok)[:12] != info.ID || !info.ExpiresAt.IsZero() {
		t.Fatalf("info = %+v", info)
	}
	short, _, err := v.IssueToken(ctx, "acme", bob.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.ResolveToken(ctx, tok)
	if err != nil || got.TenantID != "acme" || got.UserID != alice.ID {
		t.Fatalf("ResolveToken: %+v, %v", got, err)
	}

	for _, tc := range []struct{ name, tok string }{
		{"unknown", TokenPrefix + "nope"}, {"empty", ""}, {"huge", strings.Repeat("x", 10000)},
	} {
		if _, err := v.ResolveToken(ctx, tc.tok); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", tc.name, err)
		}
	}

	list, err := v.ListTokens(ctx, "acme", "")
	if err != nil || len(list) != 2 {
		t.Fatalf("ListTokens all: %+v, %v", list, err)
	}
	if list, _ := v.ListTokens(ctx, "acme", bob.ID); len(list) != 1 || list[0].UserID != bob.ID {
		t.Fatalf("ListTokens bob: %+v", list)
	}
	if list, _ := v.ListTokens(ctx, "beta", ""); len(list) != 0 {
		t.Fatalf("beta sees acme tokens: %+v", list)
	}

	clk.Add(time.Hour)
	if _, err := v.ResolveToken(ctx, short); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired token: %v", err)
	}
	if err := v.RevokeToken(ctx, "beta", info.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke via another tenant: %v", err)
	}
	if err := v.RevokeToken(ctx, "acme", info.ID); err != nil {
		t.Fatal(err)
	}
	if err := v.RevokeToken(ctx, "acme", info.ID); err != nil {
		t.Fatalf("revoke twice: %v", err)
	}
	if _, err := v.ResolveToken(ctx, tok); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("revoked token: %v", err)
	}
	if list, _ := v.ListTokens(ctx, "acme", alice.ID); len(list) != 1 || !list[0].Revoked {
		t.Fatalf("revoked not listed: %+v", list)
	}

	for _, tc := range []struct {
		name, tenant, user string
		ttl                time.Duration
		want               error
	}{
		{"unknown user", "acme", "nobody", 0, ErrNotFound},
		{"user of another tenant", "beta", alice.ID, 0, ErrNotFound},
		{"negative ttl", "acme", alice.ID, -time.Second, ErrInvalid},
		{"empty user", "acme", "", 0, ErrInvalid},
		{"unknown tenant", "gamma", alice.ID, 0, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := v.IssueToken(ctx, tc.tenant, tc.user, tc.ttl); !errors.Is(err, tc.want) {
				t.Fatalf("IssueToken: %v, want %v", err, tc.want)
			}
		})
	}
	if err := v.RevokeToken(ctx, "acme", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("revoke empty id: %v", err)
	}
}
