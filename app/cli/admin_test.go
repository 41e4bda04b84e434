package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/plexus-mcp/plexus/app/adminapi"
	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

const adminTestKey = "cli-admin-test-key"

// adminServer serves the real admin API over a fresh vault and returns its URL.
func adminServer(t *testing.T) string {
	t.Helper()
	url, _ := adminServerWith(t, adminops.Options{})
	return url
}

// adminServerWith is adminServer with the operations configured by o; it
// also returns the vault.
func adminServerWith(t *testing.T, o adminops.Options) (string, *vault.Vault) {
	t.Helper()
	v := vaulttest.New(t)
	srv := httptest.NewServer(adminapi.New(adminops.New(v, o), adminapi.Options{Tokens: []string{adminTestKey}}))
	t.Cleanup(srv.Close)
	return srv.URL, v
}

// runAdmin runs `plexus admin --url URL args...` with ADMIN_API_KEY set to key.
func runAdmin(t *testing.T, url, key string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runAdminIO(t, url, "", map[string]string{"ADMIN_API_KEY": key}, args...)
}

// runAdminIO runs `plexus admin --url URL args...` with the given stdin and
// environment.
func runAdminIO(t *testing.T, url, stdin string, vars map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{
		Getenv: func(k string) string { return vars[k] },
		Stdin:  strings.NewReader(stdin),
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
		stdout, stderr, err := runAdmin(t, "", "", args...)
		if err != nil {
			t.Errorf("%v: %v", args, err)
		}
		if !strings.Contains(stdout, "entity-id") || !strings.Contains(stdout, "Usage") || stderr != "" {
			t.Errorf("%v: want usage on stdout and nothing on stderr: %q, %q", args, stdout, stderr)
		}
	}
}

// Secrets the credentials tests plant; no output may ever show them.
const (
	cliSecret1 = "cli-client-secret-DO-NOT-PRINT-1"
	cliSecret2 = "cli-client-secret-DO-NOT-PRINT-2"
	cliSecret3 = "cli-client-secret-DO-NOT-PRINT-3"
)

func assertNoCLISecret(t *testing.T, outputs ...string) {
	t.Helper()
	for _, o := range outputs {
		for _, s := range []string{cliSecret1, cliSecret2, cliSecret3} {
			if strings.Contains(o, s) {
				t.Errorf("a client secret was printed: %s", o)
			}
		}
	}
}

func TestAdminExtOAuthCommands(t *testing.T) {
	t.Parallel()
	url, v := adminServerWith(t, adminops.Options{})
	ctx := t.Context()
	key := map[string]string{"ADMIN_API_KEY": adminTestKey}
	mustAdmin(t, url, "tenant", "create", "--entity-id", "acme", "--name", "Acme")

	out := mustAdmin(t, url, "ext-oauth", "presets")
	for _, want := range []string{"PRESET", "github", "google", "slack", "microsoft", "read:user"} {
		if !strings.Contains(out, want) {
			t.Errorf("presets output lacks %q:\n%s", want, out)
		}
	}

	// The seed's flags, with the secret read from stdin.
	out, stderr, err := runAdminIO(t, url, cliSecret1+"\n", key, "ext-oauth", "create", "--entity-id", "acme",
		"--provider-name", "github", "--client-id", "gh-id", "--client-secret", "-",
		"--authorization-url", "https://github.com/login/oauth/authorize",
		"--token-url", "https://github.com/login/oauth/access_token",
		"--scopes", "read:user repo", "--userinfo-url", "https://api.github.com/user")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, stderr)
	}
	for _, want := range []string{"Provider:", "github", "Client secret set:  yes", "read:user repo",
		"/acme/oauth/external_callback/github"} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}
	assertNoCLISecret(t, out, stderr)
	if p, err := v.GetOAuthProvider(ctx, "acme", "github"); err != nil || p.ClientSecret != cliSecret1 || !slices.Equal(p.Scopes, []string{"read:user", "repo"}) {
		t.Fatalf("stored provider: %+v (secret from stdin stored: %v), %v", p.Scopes, p.ClientSecret == cliSecret1, err)
	}

	// A preset, with the secret from the environment.
	out, stderr, err = runAdminIO(t, url, "", map[string]string{"ADMIN_API_KEY": adminTestKey, "PLEXUS_CLIENT_SECRET": cliSecret2},
		"ext-oauth", "create", "--entity-id", "acme", "--preset", "google", "--client-id", "g-id", "--json")
	if err != nil {
		t.Fatalf("create --preset: %v\n%s", err, stderr)
	}
	var created struct {
		Provider apiv1.Provider `json:"provider"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Provider.Name != "google" ||
		created.Provider.TokenURL != "https://oauth2.googleapis.com/token" || !created.Provider.ClientSecretSet {
		t.Errorf("create --preset --json: %v: %s", err, out)
	}
	assertNoCLISecret(t, out, stderr)
	if p, err := v.GetOAuthProvider(ctx, "acme", "google"); err != nil || p.ClientSecret != cliSecret2 {
		t.Errorf("secret from PLEXUS_CLIENT_SECRET not stored (err %v)", err)
	}

	out = mustAdmin(t, url, "ext-oauth", "list", "--entity-id", "acme")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "PROVIDER") || !strings.HasPrefix(lines[1], "github") || !strings.HasPrefix(lines[2], "google") {
		t.Errorf("list:\n%s", out)
	}
	assertNoCLISecret(t, out)

	// update: only the given flags change; the secret stays.
	out = mustAdmin(t, url, "ext-oauth", "update", "--entity-id", "acme", "--provider-name", "github", "--scopes", "repo")
	if !strings.Contains(out, "gh-id") || !strings.Contains(out, "Client secret set:  yes") || !strings.Contains(out, "API origins:        https://api.github.com") {
		t.Errorf("update:\n%s", out)
	}
	p, err := v.GetOAuthProvider(ctx, "acme", "github")
	if err != nil || p.ClientSecret != cliSecret1 || p.UserinfoURL != "https://api.github.com/user" || !slices.Equal(p.Scopes, []string{"repo"}) {
		t.Errorf("after update: scopes %v userinfo %q secret kept %v (err %v)", p.Scopes, p.UserinfoURL, p.ClientSecret == cliSecret1, err)
	}
	// Where a secret goes is part of the secret: a new client id, token
	// URL or API origins needs the secret again, and drops connections.
	for _, args := range [][]string{{"--client-id", "gh-id-2"}, {"--token-url", "https://elsewhere.example/token"}, {"--api-origins", "https://api.github.com https://evil.example"}} {
		_, stderr, err := runAdminIO(t, url, "", key, append([]string{"ext-oauth", "update", "--entity-id", "acme", "--provider-name", "github"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "client_secret is required when") || !strings.Contains(err.Error(), "--client-secret -") {
			t.Errorf("update %v without the secret: %v\n%s", args, err, stderr)
		}
	}
	out, stderr, err = runAdminIO(t, url, cliSecret1+"\n", key, "ext-oauth", "update", "acme", "--provider-name", "github", "--client-id", "gh-id-2", "--client-secret", "-")
	if err != nil || !strings.Contains(out, "gh-id-2") || !strings.Contains(out, "connection(s) to github were dropped") {
		t.Fatalf("update --client-id with the secret: %v\n%s%s", err, out, stderr)
	}
	assertNoCLISecret(t, out, stderr)
	out, stderr, err = runAdminIO(t, url, cliSecret3+"\r\n", key, "ext-oauth", "update", "acme", "--provider-name", "github", "--client-secret", "-")
	if err != nil {
		t.Fatalf("update --client-secret -: %v\n%s", err, stderr)
	}
	assertNoCLISecret(t, out, stderr)
	if p, _ := v.GetOAuthProvider(ctx, "acme", "github"); p.ClientSecret != cliSecret3 {
		t.Error("update --client-secret - did not store the secret read from stdin")
	}

	out = mustAdmin(t, url, "ext-oauth", "show", "--entity-id", "acme", "--provider-name", "github")
	if !strings.Contains(out, "https://github.com/login/oauth/access_token") {
		t.Errorf("show:\n%s", out)
	}
	assertNoCLISecret(t, out)
	if out := mustAdmin(t, url, "ext-oauth", "delete", "--entity-id", "acme", "--provider-name", "google"); !strings.Contains(out, "Deleted OAuth provider google") {
		t.Errorf("delete:\n%s", out)
	}
	if _, err := v.GetOAuthProvider(ctx, "acme", "google"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("google still stored after delete: %v", err)
	}
}

func TestAdminExtOAuthErrors(t *testing.T) {
	t.Parallel()
	url := adminServer(t)
	mustAdmin(t, url, "tenant", "create", "--entity-id", "acme", "--name", "Acme")
	mustAdmin(t, url, "ext-oauth", "create", "--entity-id", "acme", "--preset", "github", "--client-id", "c", "--client-secret", "s")
	key := map[string]string{"ADMIN_API_KEY": adminTestKey}
	base := []string{"ext-oauth", "create", "--entity-id", "acme", "--provider-name", "idp", "--client-id", "c",
		"--authorization-url", "https://idp.example.com/a", "--token-url", "https://idp.example.com/t"}
	tests := []struct {
		name      string
		stdin     string
		args      []string
		wantUsage bool
		wantIn    []string
	}{
		{"no secret", "", base, true, []string{"--client-secret is required", "-", "PLEXUS_CLIENT_SECRET"}},
		{"secret from empty stdin", "", append(slices.Clone(base), "--client-secret", "-"), true, []string{"stdin is empty"}},
		{"secret from blank line", "  \n", append(slices.Clone(base), "--client-secret", "-"), true, []string{"empty"}},
		{"no name or preset", "", []string{"ext-oauth", "create", "--entity-id", "acme", "--client-id", "c", "--client-secret", cliSecret1}, true,
			[]string{"--provider-name is required"}},
		{"no client id", "", []string{"ext-oauth", "create", "--entity-id", "acme", "--preset", "github"}, true, []string{"--client-id is required"}},
		{"http non-loopback", "", []string{"ext-oauth", "create", "--entity-id", "acme", "--provider-name", "idp", "--client-id", "c",
			"--client-secret", cliSecret1, "--authorization-url", "http://idp.example.com/a", "--token-url", "https://idp.example.com/t"}, false, []string{"400"}},
		{"custom without api origins", "", append(slices.Clone(base), "--client-secret", cliSecret1), false,
			[]string{"api_origins is required", "--api-origins", "https://api.example.com"}},
		{"http api origin", "", append(slices.Clone(base), "--client-secret", cliSecret1, "--api-origins", "https://api.idp.example.com,http://192.0.2.10"), false,
			[]string{"api_origins", "origin 2", "must use https"}},
		{"unknown preset", "", []string{"ext-oauth", "create", "--entity-id", "acme", "--preset", "gitlab", "--client-id", "c", "--client-secret", cliSecret1},
			false, []string{"unknown preset"}},
		{"duplicate", "", []string{"ext-oauth", "create", "--entity-id", "acme", "--preset", "github", "--client-id", "c", "--client-secret", cliSecret1},
			false, []string{"409"}},
		{"update nothing", "", []string{"ext-oauth", "update", "--entity-id", "acme", "--provider-name", "github"}, true, []string{"nothing to change"}},
		{"update empty secret", "", []string{"ext-oauth", "update", "--entity-id", "acme", "--provider-name", "github", "--client-secret", ""}, true,
			[]string{"must not be empty"}},
		{"show missing", "", []string{"ext-oauth", "show", "--entity-id", "acme", "--provider-name", "nope"}, false, []string{"not found"}},
		{"unknown verb", "", []string{"ext-oauth", "remove"}, true, []string{"create, list, show, update, delete, presets"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, stderr, err := runAdminIO(t, url, tc.stdin, key, tc.args...)
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			if got := errors.Is(err, ErrUsage); got != tc.wantUsage {
				t.Errorf("errors.Is(err, ErrUsage) = %v, want %v (%v)", got, tc.wantUsage, err)
			}
			for _, s := range tc.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			assertNoCLISecret(t, out, stderr, err.Error())
		})
	}
}

func TestAdminToolsCommands(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var changed []string
	url, v := adminServerWith(t, adminops.Options{
		Tools: func(string) []apiv1.ToolInfo {
			return []apiv1.ToolInfo{
				{Name: "github_whoami", Description: "Who am I", ToolSets: []string{"github"}, Requires: "oauth:github", Enabled: true},
				{Name: "weather", Description: "Weather", ToolSets: []string{"weather"}, Requires: "api_key:openweather", Enabled: true},
			}
		},
	})
	v.Subscribe(func(c vault.Change) {
		if c.Kind == vault.ToolSettingsChanged {
			mu.Lock()
			defer mu.Unlock()
			changed = append(changed, c.TenantID)
		}
	})
	mustAdmin(t, url, "tenant", "create", "--entity-id", "acme", "--name", "Acme")

	out := mustAdmin(t, url, "tools", "list", "--entity-id", "acme")
	if !strings.HasPrefix(out, "TOOL") || !strings.Contains(out, "oauth:github") || strings.Count(out, "yes") != 2 || !strings.Contains(out, "Disabled tools: none") {
		t.Errorf("tools list:\n%s", out)
	}
	if out := mustAdmin(t, url, "tools", "disable", "--entity-id", "acme", "--tool", "weather"); !strings.Contains(out, "Disabled tool weather in acme") {
		t.Errorf("disable:\n%s", out)
	}
	if out := mustAdmin(t, url, "tools", "disable", "acme", "--tool-set", "github"); !strings.Contains(out, "Disabled tool set github in acme") {
		t.Errorf("disable tool set:\n%s", out)
	}
	st, err := v.GetToolSettings(t.Context(), "acme")
	if err != nil || !slices.Equal(st.DisabledTools, []string{"weather"}) || !slices.Equal(st.DisabledToolSets, []string{"github"}) {
		t.Errorf("stored settings = %+v, %v", st, err)
	}
	out = mustAdmin(t, url, "tools", "list", "--entity-id", "acme")
	if strings.Count(out, "no") != 2 || !strings.Contains(out, "Disabled tools: weather") || !strings.Contains(out, "Disabled tool sets: github") {
		t.Errorf("tools list after disable:\n%s", out)
	}
	mustAdmin(t, url, "tools", "enable", "--entity-id", "acme", "--tool-set", "github")
	out = mustAdmin(t, url, "tools", "list", "--entity-id", "acme", "--json")
	var got apiv1.ToolSettingsResponse
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.DisabledToolSets) != 0 || len(got.Tools) != 2 || !got.Tools[0].Enabled {
		t.Errorf("tools list --json: %v: %s", err, out)
	}
	mu.Lock()
	if len(changed) != 3 {
		t.Errorf("ToolSettingsChanged announcements = %v, want 3", changed)
	}
	mu.Unlock()

	for _, args := range [][]string{
		{"tools", "enable", "--entity-id", "acme"},
		{"tools", "enable", "--entity-id", "acme", "--tool", "a", "--tool-set", "b"},
	} {
		if _, _, err := runAdmin(t, url, adminTestKey, args...); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "exactly one") {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
	if _, _, err := runAdmin(t, url, adminTestKey, "tools", "disable", "--entity-id", "acme", "--tool", "nope"); err == nil || !strings.Contains(err.Error(), "has no tool") {
		t.Errorf("disable unknown tool: %v", err)
	}
}

// cliFakeOAuth is an OAuthConnections with one GitHub connection per user.
type cliFakeOAuth struct {
	mu    sync.Mutex
	gone  bool
	calls []oauth.Owner
}

func (o *cliFakeOAuth) Connections(context.Context, string, string) ([]oauth.Connection, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.gone {
		return nil, nil
	}
	return []oauth.Connection{{Provider: "github", Status: "expired", Scopes: []string{"read:user"}}}, nil
}

func (o *cliFakeOAuth) Disconnect(_ context.Context, owner oauth.Owner, provider string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if provider != "github" || o.gone {
		return fmt.Errorf("no connection to %q: %w", provider, vault.ErrNotFound)
	}
	o.gone = true
	o.calls = append(o.calls, owner)
	return nil
}

func TestAdminConnectionsCommands(t *testing.T) {
	t.Parallel()
	fo := &cliFakeOAuth{}
	url, v := adminServerWith(t, adminops.Options{OAuth: fo})
	ctx := t.Context()
	mustAdmin(t, url, "tenant", "create", "--entity-id", "acme", "--name", "Acme")
	out := mustAdmin(t, url, "user", "token", "--entity-id", "acme", "--user-id-from-host-app", "alice", "--json")
	var tok struct {
		UserID string `json:"persistent_user_id"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil {
		t.Fatal(err)
	}
	uid := tok.UserID
	if err := v.PutCredential(ctx, "acme", uid, vault.CredentialAPIKey, "openweather", []byte(cliSecret1)); err != nil {
		t.Fatal(err)
	}

	out = mustAdmin(t, url, "connections", "list", "--entity-id", "acme", "--user", uid)
	if !strings.HasPrefix(out, "KIND") || !strings.Contains(out, "github") || !strings.Contains(out, "expired") ||
		!strings.Contains(out, "api key") || !strings.Contains(out, "openweather") {
		t.Errorf("connections list:\n%s", out)
	}
	assertNoCLISecret(t, out)
	out = mustAdmin(t, url, "connections", "disconnect", "--entity-id", "acme", "--user", uid, "--provider-name", "github")
	if !strings.Contains(out, "Disconnected user "+uid+" of acme from github") {
		t.Errorf("disconnect:\n%s", out)
	}
	fo.mu.Lock()
	if len(fo.calls) != 1 || fo.calls[0] != (oauth.Owner{TenantID: "acme", UserID: uid}) {
		t.Errorf("Disconnect calls = %+v", fo.calls)
	}
	fo.mu.Unlock()
	if _, _, err := runAdmin(t, url, adminTestKey, "connections", "disconnect", "--entity-id", "acme", "--user", uid, "--provider-name", "github"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("second disconnect: %v", err)
	}
	out = mustAdmin(t, url, "connections", "delete-api-key", "--entity-id", "acme", "--user", uid, "--provider-name", "openweather")
	if !strings.Contains(out, "Deleted the openweather API key") {
		t.Errorf("delete-api-key:\n%s", out)
	}
	out = mustAdmin(t, url, "connections", "list", "--entity-id", "acme", "--user", uid, "--json")
	var cs apiv1.ConnectionsResponse
	if err := json.Unmarshal([]byte(out), &cs); err != nil || len(cs.Connections) != 0 || len(cs.APIKeys) != 0 {
		t.Errorf("connections list --json after removal: %v: %s", err, out)
	}
	// Registered users' keys: --user names them, --api-key - reads stdin.
	key := map[string]string{"ADMIN_API_KEY": adminTestKey}
	if out, stderr, err := runAdminIO(t, url, cliSecret2+"\n", key, "connections", "set-api-key", "--entity-id", "acme",
		"--user", uid, "--provider-name", "openweather", "--api-key", "-"); err != nil || !strings.Contains(out, "Stored the openweather API key of user "+uid) {
		t.Errorf("set-api-key --user: %v\n%s%s", err, out, stderr)
	} else {
		assertNoCLISecret(t, out+stderr)
	}
	if b, err := v.GetCredential(ctx, "acme", uid, vault.CredentialAPIKey, "openweather"); err != nil || string(b) != cliSecret2 {
		t.Errorf("stored key of %s: err %v, right value %v", uid, err, string(b) == cliSecret2)
	}
}

// TestAdminConnectionsLocalOwner: without --user, connections commands act
// for the tenant's local owner (the user plexus stdio acts as), which need
// not exist yet; the key comes from $PLEXUS_API_KEY or stdin.
func TestAdminConnectionsLocalOwner(t *testing.T) {
	t.Parallel()
	url, v := adminServerWith(t, adminops.Options{OAuth: &cliFakeOAuth{gone: true}})
	ctx := t.Context()
	mustAdmin(t, url, "tenant", "create", "--entity-id", "acme", "--name", "Acme")

	out := mustAdmin(t, url, "connections", "list", "--entity-id", "acme")
	if !strings.Contains(out, "No OAuth connections or API keys for you (the local owner) in acme.") {
		t.Errorf("empty list:\n%s", out)
	}
	env := map[string]string{"ADMIN_API_KEY": adminTestKey, "PLEXUS_API_KEY": cliSecret1}
	out, stderr, err := runAdminIO(t, url, "", env, "connections", "set-api-key", "acme", "--provider-name", "openweathermap")
	if err != nil || !strings.Contains(out, "Stored the openweathermap API key of you (the local owner) in acme") {
		t.Fatalf("set-api-key from $PLEXUS_API_KEY: %v\n%s%s", err, out, stderr)
	}
	assertNoCLISecret(t, out+stderr)
	// Created by set-api-key; a new local owner's id is its (reserved) host id.
	owner, err := v.GetUser(ctx, "acme", vault.LocalOwnerHostUserID)
	if err != nil || owner.HostUserID != vault.LocalOwnerHostUserID {
		t.Fatalf("local owner: %+v, %v", owner, err)
	}
	if b, err := v.GetCredential(ctx, "acme", owner.ID, vault.CredentialAPIKey, "openweathermap"); err != nil || string(b) != cliSecret1 {
		t.Errorf("local owner's key: err %v, right value %v", err, string(b) == cliSecret1)
	}

	// Not a terminal: the key is one line of stdin.
	out, stderr, err = runAdminIO(t, url, cliSecret2+"\n", map[string]string{"ADMIN_API_KEY": adminTestKey},
		"connections", "set-api-key", "--entity-id", "acme", "--provider-name", "openweathermap")
	if err != nil {
		t.Fatalf("set-api-key from stdin: %v\n%s%s", err, out, stderr)
	}
	if b, _ := v.GetCredential(ctx, "acme", owner.ID, vault.CredentialAPIKey, "openweathermap"); string(b) != cliSecret2 {
		t.Errorf("key from stdin not stored")
	}
	out = mustAdmin(t, url, "connections", "list", "--entity-id", "acme")
	if !strings.Contains(out, "api key") || !strings.Contains(out, "openweathermap") {
		t.Errorf("list:\n%s", out)
	}
	assertNoCLISecret(t, out)

	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"empty stdin", "", []string{"--provider-name", "openweathermap"}, "no API key given: pipe it on stdin (one line), set PLEXUS_API_KEY"},
		{"blank line", " \n", []string{"--provider-name", "openweathermap"}, "no API key given"},
		{"--api-key - with empty stdin", "", []string{"--provider-name", "openweathermap", "--api-key", "-"}, "--api-key -: stdin is empty"},
		{"no provider", "k\n", nil, "--provider-name is required"},
		{"bad provider", "k\n", []string{"--provider-name", "Open Weather"}, "provider name"},
		{"control character", "a\tb\n", []string{"--provider-name", "openweathermap"}, "api_key_value: must not contain control characters"},
		{"unknown user", "k\n", []string{"--provider-name", "openweathermap", "--user", "nobody"}, "not found"},
	} {
		args := append([]string{"connections", "set-api-key", "--entity-id", "acme"}, tc.args...)
		_, _, err := runAdminIO(t, url, tc.stdin, map[string]string{"ADMIN_API_KEY": adminTestKey}, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}

	mustAdmin(t, url, "connections", "delete-api-key", "--entity-id", "acme", "--provider-name", "openweathermap")
	if _, err := v.GetCredential(ctx, "acme", owner.ID, vault.CredentialAPIKey, "openweathermap"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("after delete-api-key: %v", err)
	}
}

func TestAdminExtOAuthHelp(t *testing.T) {
	t.Parallel()
	stdout, _, err := runAdmin(t, "", "", "ext-oauth", "create", "-h")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-client-secret", "stdin", "PLEXUS_CLIENT_SECRET", "-preset", "-scopes"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("create -h lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, _ = runAdmin(t, "", "", "-h")
	for _, want := range []string{"ext-oauth create", "tools enable|disable", "connections disconnect", "one line of stdin"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("admin -h lacks %q", want)
		}
	}
}
