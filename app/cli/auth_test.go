package cli

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/vault"
)

func TestSplitScopes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"read:user repo", []string{"read:user", "repo"}},
		{"read:user,repo", []string{"read:user", "repo"}}, // MCP Plexus's form
		{"read:user, repo", []string{"read:user", "repo"}},
		{" openid,email ,, profile\tx ", []string{"openid", "email", "profile", "x"}},
		{"https://www.googleapis.com/auth/drive.readonly", []string{"https://www.googleapis.com/auth/drive.readonly"}},
		{"", nil},
		{" , ", nil},
	} {
		if got := splitScopes(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("splitScopes(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestScopesFlagCommas: ext-oauth create and update take the seed's
// comma-separated --scopes as well as spaces.
func TestScopesFlagCommas(t *testing.T) {
	t.Parallel()
	url, v := adminServerWith(t, adminops.Options{})
	ctx := t.Context()
	mustAdmin(t, url, "tenant", "create", "--entity-id", "acme", "--name", "Acme")
	_, stderr, err := runAdminIO(t, url, "s3cret-client\n", map[string]string{"ADMIN_API_KEY": adminTestKey},
		"ext-oauth", "create", "--entity-id", "acme", "--provider-name", "github", "--client-id", "gh",
		"--client-secret", "-", "--authorization-url", "https://github.com/login/oauth/authorize",
		"--token-url", "https://github.com/login/oauth/access_token", "--scopes", "read:user,repo",
		"--api-origins", "https://api.github.com")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, stderr)
	}
	if p, err := v.GetOAuthProvider(ctx, "acme", "github"); err != nil || !slices.Equal(p.Scopes, []string{"read:user", "repo"}) {
		t.Fatalf("scopes after create = %q, %v", p.Scopes, err)
	}
	mustAdmin(t, url, "ext-oauth", "update", "--entity-id", "acme", "--provider-name", "github", "--scopes", "repo, gist")
	if p, err := v.GetOAuthProvider(ctx, "acme", "github"); err != nil || !slices.Equal(p.Scopes, []string{"repo", "gist"}) {
		t.Fatalf("scopes after update = %q, %v", p.Scopes, err)
	}
}

func TestAdminUserDelete(t *testing.T) {
	t.Parallel()
	url, v := adminServerWith(t, adminops.Options{})
	ctx := t.Context()
	mustAdmin(t, url, "tenant", "create", "--entity-id", "acme", "--name", "Acme")
	mustAdmin(t, url, "user", "token", "--entity-id", "acme", "--user-id-from-host-app", "alice@example.com")
	out := mustAdmin(t, url, "user", "delete", "--entity-id", "acme", "--user", "alice@example.com")
	if !strings.Contains(out, "Deleted user alice@example.com of acme") {
		t.Fatalf("user delete:\n%s", out)
	}
	if _, err := v.GetUser(ctx, "acme", "alice@example.com"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("user after delete: %v", err)
	}
	if _, stderr, err := runAdmin(t, url, adminTestKey, "user", "delete", "--entity-id", "acme", "--user", "alice@example.com"); err == nil || !strings.Contains(stderr+err.Error(), "not found") {
		t.Fatalf("deleting again: %v %s", err, stderr)
	}
	if _, _, err := runAdmin(t, url, adminTestKey, "user", "delete", "--entity-id", "acme"); !errors.Is(err, ErrUsage) {
		t.Fatalf("without --user: %v", err)
	}
	// The reserved ids are refused when a token is asked for.
	if _, stderr, err := runAdmin(t, url, adminTestKey, "user", "token", "--entity-id", "acme", "--user-id-from-host-app", "plexus-local-owner"); err == nil || !strings.Contains(stderr+err.Error(), "reserved") {
		t.Fatalf("token for the local owner's id: %v %s", err, stderr)
	}
}
