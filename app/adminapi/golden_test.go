package adminapi_test

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminapi"
	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenNow is the vault's clock in the golden test, so every time in an
// answer is the same from run to run.
var goldenNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// goldenHandler is the admin API of the golden test: every option set,
// so every field of every answer appears.
func goldenHandler(v *vault.Vault, o *fakeOAuth) http.Handler {
	return adminapi.New(adminops.New(v, adminops.Options{
		OAuth: o,
		Tools: toolList,
		RedirectURL: func(tenant, provider string) string {
			return "https://plexus.example/" + tenant + "/oauth/external_callback/" + provider
		},
		System: adminops.System{
			Info: func() adminops.DaemonInfo {
				return adminops.DaemonInfo{PID: 4242, Version: "9.9.9", Addr: "127.0.0.1:8765", StartedAt: goldenNow,
					DataDir: "/data", Key: vault.KeyInfo{Source: vault.KeySourceFile, File: "/data/plexus.key"}}
			},
			Shutdown: func() {},
		},
	}), adminapi.Options{Tokens: []string{localToken}})
}

// goldenStep is one request of the golden conversation; {token_id} in
// path stands for the id of the token issued earlier.
type goldenStep struct {
	name, method, path, body string
	token                    string // "" = the local token; "-" = none
}

// goldenSteps walk every endpoint, in an order where each finds what it
// needs, and a sample of the errors.
var goldenSteps = []goldenStep{
	{name: "tenant-create", method: "POST", path: "/api/v1/tenants", body: `{"entity_id":"acme","name":"Acme"}`},
	{name: "tenant-create-default-name", method: "POST", path: "/api/v1/tenants", body: `{"entity_id":"beta"}`},
	{name: "tenant-list", method: "GET", path: "/api/v1/tenants"},
	{name: "tenant-get", method: "GET", path: "/api/v1/tenants/acme"},
	{name: "tenant-rename", method: "PATCH", path: "/api/v1/tenants/acme", body: `{"name":"Acme Inc."}`},
	{name: "tenant-rotate-secret", method: "POST", path: "/api/v1/tenants/acme/host-app-secret"},
	{name: "user-token", method: "POST", path: "/api/v1/tenants/acme/users", body: `{"user_id_from_host_app":"alice"}`},
	{name: "user-list", method: "GET", path: "/api/v1/tenants/acme/users"},
	{name: "token-list", method: "GET", path: "/api/v1/tenants/acme/tokens"},
	{name: "token-list-of-user", method: "GET", path: "/api/v1/tenants/acme/tokens?user=alice"},
	{name: "presets", method: "GET", path: "/api/v1/oauth-presets"},
	{name: "provider-create-preset", method: "POST", path: "/api/v1/tenants/acme/ext-oauth",
		body: `{"preset":"github","client_id":"gh-id","client_secret":"` + githubSecret + `"}`},
	{name: "provider-create-custom", method: "POST", path: "/api/v1/tenants/acme/ext-oauth",
		body: `{"provider_name":"idp","client_id":"idp-id","client_secret":"` + githubSecret + `",` +
			`"authorization_url":"https://idp.example.com/authorize","token_url":"https://idp.example.com/token",` +
			`"userinfo_url":"https://idp.example.com/userinfo","revocation_url":"https://idp.example.com/revoke",` +
			`"resource":"https://api.idp.example.com","scopes":"openid email","api_origins":["https://api.idp.example.com"]}`},
	{name: "provider-list", method: "GET", path: "/api/v1/tenants/acme/ext-oauth"},
	{name: "provider-get", method: "GET", path: "/api/v1/tenants/acme/ext-oauth/github"},
	{name: "provider-patch-scopes", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/github", body: `{"scopes":["repo","read:user"]}`},
	{name: "provider-patch-destination", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/idp",
		body: `{"client_secret":"` + newSecret + `","token_url":"https://idp.example.com/token2"}`},
	{name: "provider-patch-destination-without-secret", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/idp",
		body: `{"token_url":"https://idp.example.com/token3"}`},
	{name: "provider-create-unknown-preset", method: "POST", path: "/api/v1/tenants/acme/ext-oauth",
		body: `{"preset":"gitlab","client_id":"g","client_secret":"s"}`},
	{name: "provider-create-no-origins", method: "POST", path: "/api/v1/tenants/acme/ext-oauth",
		body: `{"provider_name":"x","client_id":"c","client_secret":"s","authorization_url":"https://x.example/a","token_url":"https://x.example/t"}`},
	{name: "provider-create-bad-scopes", method: "POST", path: "/api/v1/tenants/acme/ext-oauth",
		body: `{"preset":"github","client_id":"c","client_secret":"s","scopes":5}`},
	{name: "provider-delete", method: "DELETE", path: "/api/v1/tenants/acme/ext-oauth/idp"},
	{name: "tools-get", method: "GET", path: "/api/v1/tenants/acme/tools"},
	{name: "tools-put", method: "PUT", path: "/api/v1/tenants/acme/tools", body: `{"disabled_tools":["weather"],"disabled_tool_sets":[]}`},
	{name: "tool-disable", method: "POST", path: "/api/v1/tenants/acme/tools/acme_only/disable"},
	{name: "tool-set-disable", method: "POST", path: "/api/v1/tenants/acme/tool-sets/weather%20tools/disable"},
	{name: "tool-enable", method: "POST", path: "/api/v1/tenants/acme/tools/weather/enable"},
	{name: "tool-unknown", method: "POST", path: "/api/v1/tenants/acme/tools/nope/disable"},
	{name: "tool-bad-name", method: "POST", path: "/api/v1/tenants/acme/tools/a%20b/disable"},
	{name: "tools-put-bad", method: "PUT", path: "/api/v1/tenants/acme/tools", body: `{"disabled_tools":["bad name"]}`},
	{name: "api-key-put", method: "PUT", path: "/api/v1/tenants/acme/users/alice/api-keys/openweather", body: `{"api_key_value":"` + apiKeyValue + `"}`},
	{name: "api-key-put-local-owner", method: "PUT", path: "/api/v1/tenants/acme/users/local-owner/api-keys/openweather", body: `{"api_key_value":"` + apiKeyValue + `"}`},
	{name: "api-key-put-empty", method: "PUT", path: "/api/v1/tenants/acme/users/alice/api-keys/openweather", body: `{"api_key_value":" "}`},
	{name: "connections", method: "GET", path: "/api/v1/tenants/acme/users/alice/connections"},
	{name: "connections-local-owner", method: "GET", path: "/api/v1/tenants/acme/users/local-owner/connections"},
	{name: "disconnect", method: "DELETE", path: "/api/v1/tenants/acme/users/alice/connections/github"},
	{name: "disconnect-again", method: "DELETE", path: "/api/v1/tenants/acme/users/alice/connections/github"},
	{name: "api-key-delete", method: "DELETE", path: "/api/v1/tenants/acme/users/alice/api-keys/openweather"},
	{name: "token-revoke", method: "DELETE", path: "/api/v1/tenants/acme/tokens/{token_id}"},
	{name: "user-delete", method: "DELETE", path: "/api/v1/tenants/acme/users/alice"},
	{name: "user-delete-missing", method: "DELETE", path: "/api/v1/tenants/acme/users/alice"},
	{name: "status", method: "GET", path: "/api/v1/status"},
	{name: "tenant-create-no-id", method: "POST", path: "/api/v1/tenants", body: `{"name":"x"}`},
	{name: "tenant-create-reserved", method: "POST", path: "/api/v1/tenants", body: `{"entity_id":"api"}`},
	{name: "tenant-create-exists", method: "POST", path: "/api/v1/tenants", body: `{"entity_id":"acme"}`},
	{name: "tenant-create-bad-json", method: "POST", path: "/api/v1/tenants", body: `{"entity_id":`},
	{name: "tenant-create-unknown-field", method: "POST", path: "/api/v1/tenants", body: `{"entity_id":"x","tenant":"y"}`},
	{name: "tenant-rename-empty", method: "PATCH", path: "/api/v1/tenants/acme", body: `{"name":" "}`},
	{name: "tenant-get-missing", method: "GET", path: "/api/v1/tenants/nope"},
	{name: "no-token", method: "GET", path: "/api/v1/tenants", token: "-"},
	{name: "wrong-method", method: "PUT", path: "/api/v1/tenants"},
	{name: "unknown-path", method: "GET", path: "/api/v1/nothing"},
	{name: "tenant-delete", method: "DELETE", path: "/api/v1/tenants/beta"},
	{name: "shutdown", method: "POST", path: "/api/v1/shutdown"},
	// Upstream MCP servers (issue 11); this daemon runs none, so no status.
	{name: "upstream-create", method: "POST", path: "/api/v1/tenants/acme/upstreams",
		body: `{"name":"everything","command":"npx -y @modelcontextprotocol/server-everything","env":{"DEBUG":"1"},` +
			`"credentials":[{"kind":"api_key","provider_name":"openai","env":"OPENAI_API_KEY"}]}`},
	{name: "upstream-create-http", method: "POST", path: "/api/v1/tenants/acme/upstreams",
		body: `{"name":"github","url":"https://api.github.com/mcp","credentials":[{"kind":"oauth","provider_name":"github"}],"call_timeout_seconds":30}`},
	{name: "upstream-create-exists", method: "POST", path: "/api/v1/tenants/acme/upstreams", body: `{"name":"everything","command":"x"}`},
	{name: "upstream-create-shell", method: "POST", path: "/api/v1/tenants/acme/upstreams", body: `{"name":"x","command":"server | tee log"}`},
	{name: "upstream-create-oauth-elsewhere", method: "POST", path: "/api/v1/tenants/acme/upstreams",
		body: `{"name":"x","url":"https://mcp.example.com/mcp","credentials":[{"kind":"oauth","provider_name":"github"}]}`},
	{name: "upstream-list", method: "GET", path: "/api/v1/tenants/acme/upstreams"},
	{name: "upstream-get", method: "GET", path: "/api/v1/tenants/acme/upstreams/everything"},
	{name: "upstream-put", method: "PUT", path: "/api/v1/tenants/acme/upstreams/everything", body: `{"command":"node server.js","args":["--port","0"]}`},
	{name: "upstream-log", method: "GET", path: "/api/v1/tenants/acme/upstreams/everything/log"},
	{name: "upstream-restart", method: "POST", path: "/api/v1/tenants/acme/upstreams/everything/restart"},
	{name: "upstream-delete", method: "DELETE", path: "/api/v1/tenants/acme/upstreams/everything"},
	{name: "upstream-get-missing", method: "GET", path: "/api/v1/tenants/acme/upstreams/everything"},
}

// goldenScrub replaces what differs from run to run (random secrets,
// tokens and token ids, uptime) with fixed text.
var goldenScrub = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`"host_app_secret":"phs_[A-Z2-7]+"`), `"host_app_secret":"phs_<random>"`},
	{regexp.MustCompile(`"plexus_user_auth_token":"[^"]+"`), `"plexus_user_auth_token":"<random>"`},
	{regexp.MustCompile(`"token_id":"[0-9a-f]+"`), `"token_id":"<random>"`},
	{regexp.MustCompile(`"uptime_seconds":[0-9]+`), `"uptime_seconds":0`},
}

var tokenIDRE = regexp.MustCompile(`"token_id":"([0-9a-f]+)"`)

// TestGoldenAnswers pins the admin API's answers byte for byte (status,
// the headers a client reads, body): the CLI and users' scripts parse
// them, so a change here is a change of the API. Regenerate with
// go test ./app/adminapi -run TestGoldenAnswers -update and review the
// diff.
func TestGoldenAnswers(t *testing.T) {
	v := vaulttest.Open(t, vault.Config{Now: func() time.Time { return goldenNow }})
	fo := newFakeOAuth()
	fo.add("acme", "alice", oauth.Connection{Provider: "github", Status: "connected", Scopes: []string{"read:user"},
		Expiry: goldenNow.Add(time.Hour), UpdatedAt: goldenNow})
	srv := httptest.NewServer(goldenHandler(v, fo))
	t.Cleanup(srv.Close)

	tokenID := ""
	for i, st := range goldenSteps {
		path := strings.ReplaceAll(st.path, "{token_id}", tokenID)
		req, err := http.NewRequestWithContext(t.Context(), st.method, srv.URL+path, strings.NewReader(st.body))
		if err != nil {
			t.Fatal(err)
		}
		switch st.token {
		case "":
			req.Header.Set("Authorization", "Bearer "+localToken)
		case "-":
		default:
			req.Header.Set("Authorization", "Bearer "+st.token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, err = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if m := tokenIDRE.FindSubmatch(body.Bytes()); m != nil && tokenID == "" {
			tokenID = string(m[1])
		}
		var got bytes.Buffer
		fmt.Fprintf(&got, "%s %s\n%d\n", st.method, st.path, resp.StatusCode)
		for _, h := range []string{"Content-Type", "Location", "Allow", "WWW-Authenticate"} {
			if val := resp.Header.Get(h); val != "" {
				fmt.Fprintf(&got, "%s: %s\n", h, val)
			}
		}
		got.WriteString("\n")
		out := body.Bytes()
		for _, s := range goldenScrub {
			out = s.re.ReplaceAll(out, []byte(s.with))
		}
		got.Write(out)
		for _, secret := range []string{githubSecret, newSecret, apiKeyValue} {
			if bytes.Contains(got.Bytes(), []byte(secret)) {
				t.Errorf("%s: a secret appears in the answer", st.name)
			}
		}
		checkGolden(t, filepath.Join("testdata", "api", fmt.Sprintf("%02d-%s.golden", i+1, st.name)), got.Bytes())
	}
}

// checkGolden compares got with the golden file at path, or rewrites it
// with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the answer:\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}
