package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/adminapi"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

const adminTestKey = "cli-admin-test-key"

// adminServer serves the real admin API over a fresh vault and returns its URL.
func adminServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(adminapi.New(vaulttest.New(t), adminapi.Options{Tokens: []string{adminTestKey}}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// runAdmin runs `plexus admin --url URL args...` with ADMIN_API_KEY set to key.
func runAdmin(t *testing.T, url, key string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{
		Getenv: func(k string) string {
			if k == "ADMIN_API_KEY" {
				return key
			}
			return ""
		},
		Stdin:  strings.NewReader(""),
		Stdout: &out,
		Stderr: &errb,
		Exe:    "/nonexistent/plexus",
	}
	if url != "" {
		args = append([]string{"--url", url}, args...)
	}
	err = Admin(t.Context(), args, env)
	return out.String(), errb.String(), err
}

func mustAdmin(t *testing.T, url string, args ...string) string {
	t.Helper()
	out, stderr, err := runAdmin(t, url, adminTestKey, args...)
	if err != nil {
		t.Fatalf("plexus admin %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr)
	}
	return out
}

func TestAdminTenantCommands(t *testing.T) {
	t.Parallel()
	url := adminServer(t)

	out := mustAdmin(t, url, "tenant", "create", "--entity-id", "acme", "--name", "Acme Inc.")
	for _, want := range []string{"Entity ID:", "acme", "Acme Inc.", "Host-app secret: phs_", "shown once", "store it now"} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}
	secret1 := regexp.MustCompile(`phs_\S+`).FindString(out)

	out = mustAdmin(t, url, "tenant", "create", "--entity-id", "beta", "--name", "Beta", "--json")
	var created struct {
		Tenant struct {
			ID string `json:"entity_id"`
		} `json:"tenant"`
		Secret string `json:"host_app_secret"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Tenant.ID != "beta" || created.Secret == "" {
		t.Errorf("create --json: %v: %s", err, out)
	}

	out = mustAdmin(t, url, "tenant", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ENTITY ID") {
		t.Fatalf("list output:\n%s", out)
	}
	// The table is aligned: NAME starts in the same column on every line.
	col := strings.Index(lines[0], "NAME")
	if strings.Index(lines[1], "Acme Inc.") != col || strings.Index(lines[2], "Beta") != col {
		t.Errorf("list not aligned:\n%s", out)
	}

	// Global flags may follow the command.
	out, _, err := runAdmin(t, "", adminTestKey, "tenant", "list", "--json", "--url", url)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Tenants []struct {
			ID string `json:"entity_id"`
		} `json:"tenants"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Tenants) != 2 {
		t.Errorf("list --json: %v: %s", err, out)
	}

	if out := mustAdmin(t, url, "tenant", "show", "--entity-id", "acme"); !strings.Contains(out, "Acme Inc.") {
		t.Errorf("show:\n%s", out)
	}
	if out := mustAdmin(t, url, "tenant", "show", "acme"); !strings.Contains(out, "Acme Inc.") {
		t.Errorf("show with a plain id:\n%s", out)
	}
	if out := mustAdmin(t, url, "tenant", "update", "acme", "--name", "Acme Corp"); !strings.Contains(out, "Acme Corp") {
		t.Errorf("update:\n%s", out)
	}
	out = mustAdmin(t, url, "tenant", "rotate-secret", "--entity-id", "acme")
	secret2 := regexp.MustCompile(`phs_\S+`).FindString(out)
	if secret2 == "" || secret2 == secret1 || !strings.Contains(out, "shown once") {
		t.Errorf("rotate-secret did not print a new secret:\n%s", out)
	}
	if out := mustAdmin(t, url, "tenant", "delete", "--entity-id", "beta", "--yes"); !strings.Contains(out, "Deleted tenant beta") {
		t.Errorf("delete:\n%s", out)
	}
	if out := mustAdmin(t, url, "tenant", "list"); strings.Contains(out, "beta") {
		t.Errorf("beta still listed after delete:\n%s", out)
	}
}

func TestAdminUserAndTokenCommands(t *testing.T) {
	t.Parallel()
	url := adminServer(t)
	mustAdmin(t, url, "tenant", "create", "--entity-id", "acme", "--name", "Acme")

	out := mustAdmin(t, url, "user", "token", "--entity-id", "acme", "--user-id-from-host-app", "alice", "--json")
	var tok struct {
		Token  string `json:"plexus_user_auth_token"`
		UserID string `json:"persistent_user_id"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Token == "" || tok.UserID == "" {
		t.Fatalf("user token --json: %v: %s", err, out)
	}
	out = mustAdmin(t, url, "user", "token", "--entity-id", "acme", "--user-id-from-host-app", "alice")
	if !strings.Contains(out, tok.UserID) || !strings.Contains(out, "shown once") {
		t.Errorf("user token:\n%s", out)
	}

	out = mustAdmin(t, url, "user", "list", "--entity-id", "acme")
	if !strings.HasPrefix(out, "PERSISTENT USER ID") || !strings.Contains(out, "alice") || !strings.Contains(out, tok.UserID) {
		t.Errorf("user list:\n%s", out)
	}

	out = mustAdmin(t, url, "token", "list", "--entity-id", "acme", "--user", tok.UserID, "--json")
	var toks struct {
		Tokens []struct {
			ID      string `json:"token_id"`
			Revoked bool   `json:"revoked"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(out), &toks); err != nil || len(toks.Tokens) != 2 {
		t.Fatalf("token list --json: %v: %s", err, out)
	}
	tid := toks.Tokens[0].ID
	if out := mustAdmin(t, url, "token", "revoke", "--entity-id", "acme", "--token-id", tid); !strings.Contains(out, "Revoked token "+tid) {
		t.Errorf("revoke:\n%s", out)
	}
	out = mustAdmin(t, url, "token", "list", "--entity-id", "acme")
	if !strings.HasPrefix(out, "TOKEN ID") || strings.Count(out, "revoked") != 1 || strings.Count(out, "active") != 1 {
		t.Errorf("token list after revoke:\n%s", out)
	}
}

func TestAdminErrors(t *testing.T) {
	t.Parallel()
	url := adminServer(t)
	mustAdmin(t, url, "tenant", "create", "--entity-id", "acme", "--name", "Acme")
	tests := []struct {
		name      string
		url, key  string
		args      []string
		wantUsage bool
		wantIn    []string
	}{
		{"no command", url, adminTestKey, nil, true, []string{"tenant, user, token"}},
		{"unknown group", url, adminTestKey, []string{"tenants"}, true, []string{`"tenants"`, "tenant, user, token"}},
		{"unknown verb", url, adminTestKey, []string{"tenant", "remove"}, true, []string{`"remove"`, "create, list, show, update, delete, rotate-secret"}},
		{"missing verb", url, adminTestKey, []string{"token"}, true, []string{"list, revoke"}},
		{"missing entity id", url, adminTestKey, []string{"tenant", "show"}, true, []string{"--entity-id is required"}},
		{"missing name", url, adminTestKey, []string{"tenant", "create", "--entity-id", "x"}, true, []string{"--name is required"}},
		{"unknown flag", url, adminTestKey, []string{"tenant", "list", "--bogus"}, true, []string{"bogus"}},
		{"extra argument", url, adminTestKey, []string{"tenant", "show", "acme", "beta"}, true, []string{`unexpected argument "beta"`}},
		{"url without key", url, "", []string{"tenant", "list"}, true, []string{"ADMIN_API_KEY"}},
		{"wrong key", url, "wrong", []string{"tenant", "list"}, false, []string{"401", "check ADMIN_API_KEY"}},
		{"reserved id", url, adminTestKey, []string{"tenant", "create", "--entity-id", "api", "--name", "x"}, false, []string{"reserved"}},
		{"duplicate", url, adminTestKey, []string{"tenant", "create", "--entity-id", "acme", "--name", "x"}, false, []string{"exists"}},
		{"missing tenant", url, adminTestKey, []string{"tenant", "show", "nope"}, false, []string{"not found"}},
		{"daemon down", "http://127.0.0.1:1", adminTestKey, []string{"tenant", "list"}, false, []string{"cannot reach the plexus daemon"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := runAdmin(t, tc.url, tc.key, tc.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ErrUsage); got != tc.wantUsage {
				t.Errorf("errors.Is(err, ErrUsage) = %v, want %v (%v)", got, tc.wantUsage, err)
			}
			for _, s := range tc.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if strings.Contains(err.Error(), adminTestKey) {
				t.Error("error contains the admin key")
			}
		})
	}
}

func TestAdminHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-h"}, {"tenant", "create", "-h"}} {
		_, stderr, err := runAdmin(t, "", "", args...)
		if err != nil {
			t.Errorf("%v: %v", args, err)
		}
		if !strings.Contains(stderr, "entity-id") && !strings.Contains(stderr, "Usage") {
			t.Errorf("%v: no usage on stderr: %s", args, stderr)
		}
	}
}
