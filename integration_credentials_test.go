package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/oauth/oauthtest"
)

// TestCredentialsThroughTheDaemon drives issue 4 through the real binary:
// an external OAuth provider created with the admin CLI (secret from
// stdin), a host-app user, a GitHub tool walking the user through consent
// at a fake OAuth 2.1 provider, an API key submitted to the endpoint and
// reaching the weather tool, the user's connections listed by the CLI, and
// a tool set disabled for the tenant.
func TestCredentialsThroughTheDaemon(t *testing.T) {
	in := newInstance(t)
	provider := oauthtest.New(t, oauthtest.WithClient("it-client", "client-secret-canary-7e21")) // also serves GET /api/user, GitHub's /user
	var (
		mu        sync.Mutex
		weatherKs []string
	)
	weather := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		weatherKs = append(weatherKs, r.URL.Query().Get("appid"))
		mu.Unlock()
		fmt.Fprintf(w, `{"name":%q,"main":{"temp":21.5,"feels_like":20,"humidity":40},"weather":[{"description":"clear sky"}],"wind":{"speed":3}}`, r.URL.Query().Get("q"))
	}))
	t.Cleanup(weather.Close)

	_, rt := in.serve("--github-api-url", provider.URL+"/api", "--weather-api-url", weather.URL, "--log-level", "debug")
	admin := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := in.command(ctx, append([]string{"admin", "--data", in.dataDir}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("plexus admin %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	admin("", "tenant", "create", "--entity-id", "acme", "--name", "Acme")
	out := admin(provider.ClientSecret+"\n", "ext-oauth", "create", "--entity-id", "acme", "--provider-name", "github",
		"--client-id", provider.ClientID, "--client-secret", "-",
		"--authorization-url", provider.AuthorizationURL(), "--token-url", provider.TokenURL(),
		"--revocation-url", provider.RevocationURL(), "--scopes", "read:user", "--api-origins", provider.URL)
	if strings.Contains(out, provider.ClientSecret) {
		t.Fatal("ext-oauth create printed the client secret")
	}
	if out := admin("", "ext-oauth", "list", "--entity-id", "acme"); !strings.Contains(out, "github") || strings.Contains(out, provider.ClientSecret) {
		t.Fatalf("ext-oauth list = %q", out)
	}

	var rot map[string]string
	if err := json.Unmarshal([]byte(admin("", "--json", "tenant", "rotate-secret", "--entity-id", "acme")), &rot); err != nil {
		t.Fatal(err)
	}
	reg := postJSON(t, rt.BaseURL()+"/acme/plexus-auth/register-user", map[string]string{"X-Host-App-Secret": rot["host_app_secret"]},
		`{"user_id_from_host_app":"alice@example.com"}`)
	token, userID := reg["plexus_user_auth_token"].(string), reg["persistent_user_id"].(string)
	auth := map[string]string{"Authorization": "Bearer " + token}

	acme := rt.BaseURL() + "/acme/mcp"
	_, sid, _ := rpc(t, acme, auth, initializeBody)
	call := func(tool, args string) (string, bool) {
		t.Helper()
		hdr := map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-11-25", "Authorization": "Bearer " + token}
		status, _, m := rpc(t, acme, hdr, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"`+tool+`","arguments":`+args+`}}`)
		res, _ := m["result"].(map[string]any)
		content, _ := res["content"].([]any)
		if status != http.StatusOK || len(content) == 0 {
			t.Fatalf("%s: %d %v", tool, status, m)
		}
		text, _ := content[0].(map[string]any)["text"].(string)
		isErr, _ := res["isError"].(bool)
		return text, isErr
	}

	// Consent: the tool answers with a link to Plexus's consent page; the
	// person approves there, which sends that browser to the provider.
	text, isErr := call("github_whoami", "{}")
	var consent map[string]any
	if err := json.Unmarshal([]byte(text), &consent); err != nil || !isErr || consent["error"] != "external_auth_required" {
		t.Fatalf("first github_whoami = %q (isError %v), want the consent result", text, isErr)
	}
	consentURL, _ := consent["authorization_url"].(string)
	if !strings.HasPrefix(consentURL, rt.BaseURL()+"/acme/oauth/consent/") {
		t.Fatalf("authorization_url = %q, want the daemon's consent page", consentURL)
	}
	browser := oauthtest.NewBrowser()
	authURL := browser.Approve(t, consentURL)
	if !strings.HasPrefix(authURL, provider.AuthorizationURL()+"?") || !strings.Contains(authURL, "code_challenge_method=S256") {
		t.Fatalf("approve sent the browser to %q", authURL)
	}
	callback := provider.Authorize(t, authURL)
	if !strings.HasPrefix(callback, rt.BaseURL()+"/acme/oauth/external_callback/github?") {
		t.Fatalf("callback %q is not the daemon's", callback)
	}
	// Another browser (another cookie jar) cannot complete it.
	if status, _, _, err := oauthtest.NewBrowser().Get(callback); err != nil || status != http.StatusForbidden {
		t.Fatalf("callback in another browser: %d %v", status, err)
	}
	status, page, _, err := browser.Get(callback)
	if err != nil || status != http.StatusOK || !strings.Contains(strings.ToLower(page), "connected") {
		t.Fatalf("callback: %d %s %v", status, page, err)
	}
	cbURL, _ := url.Parse(callback)
	if text, isErr := call("github_whoami", "{}"); isErr || !strings.Contains(text, "octocat") {
		t.Fatalf("github_whoami after consent = %q (isError %v)", text, isErr)
	}

	// API key: without it the tool says where to put it; with it the key
	// reaches the upstream API.
	text, isErr = call("weather", `{"city":"Paris"}`)
	if !isErr || !strings.Contains(text, "plexus-services/api-keys") {
		t.Fatalf("weather without a key = %q (isError %v)", text, isErr)
	}
	postJSON(t, rt.BaseURL()+"/acme/plexus-services/api-keys", auth, `{"provider_name":"openweathermap","api_key_value":"wx-key-canary-123"}`)
	if text, isErr := call("weather", `{"city":"Paris"}`); isErr || !strings.Contains(text, "Paris") {
		t.Fatalf("weather with a key = %q (isError %v)", text, isErr)
	}
	mu.Lock()
	gotKey := weatherKs[len(weatherKs)-1]
	mu.Unlock()
	if gotKey != "wx-key-canary-123" {
		t.Fatalf("weather API got appid %q", gotKey)
	}

	out = admin("", "connections", "list", "--entity-id", "acme", "--user", userID)
	if !strings.Contains(out, "github") || !strings.Contains(out, "openweathermap") || strings.Contains(out, "wx-key-canary-123") {
		t.Fatalf("connections list = %q", out)
	}

	// Disabling a tool set hides its tools from tools/list.
	admin("", "tools", "disable", "--entity-id", "acme", "--tool-set", "weather")
	hdr := map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-11-25", "Authorization": "Bearer " + token}
	_, _, m := rpc(t, acme, hdr, `{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{}}`)
	names := fmt.Sprint(m["result"])
	if strings.Contains(names, "name:weather") || !strings.Contains(names, "name:github_whoami") {
		t.Fatalf("tools/list after disabling the weather set: %s", names)
	}

	// Nothing leaked: no secret of this flow is in the daemon's debug log
	// or, unsealed, in any file of the data directory (bbolt file included).
	secrets := append(provider.Issued(), provider.ClientSecret, "wx-key-canary-123", token, rot["host_app_secret"],
		consentURL[strings.LastIndex(consentURL, "/")+1:], cbURL.Query().Get("state"))
	if len(secrets) < 7 {
		t.Fatalf("expected a code, tokens and keys to check, got %d", len(secrets))
	}
	assertNoSecretsIn(t, "the daemon log", in.logs.String(), secrets)
	files, _ := filepath.Glob(filepath.Join(in.dataDir, "*"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			assertNoSecretsIn(t, filepath.Base(f), string(b), secrets)
		}
	}
	if !strings.Contains(in.logs.String(), "oauth callback: connected") {
		t.Errorf("the daemon's debug log lacks the callback line; is it the log scanned?")
	}
}

// assertNoSecretsIn fails if any secret appears in s, without printing it.
func assertNoSecretsIn(t *testing.T, where, s string, secrets []string) {
	t.Helper()
	for i, secret := range secrets {
		if secret != "" && strings.Contains(s, secret) {
			t.Errorf("secret #%d (%d bytes) appears in %s", i, len(secret), where)
		}
	}
}

// postJSON posts body with headers and decodes a 2xx JSON answer.
func postJSON(t *testing.T, url string, hdr map[string]string, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 || json.Unmarshal(raw, &m) != nil {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, raw)
	}
	return m
}

// TestLocalOwnerStoresAPIKeyWithTheCLI: the person using Claude Desktop
// (plexus stdio, the tenant's local owner) calls a tool that needs an API
// key, is told the CLI command, runs it (key from stdin) and the next call
// through the same bridge reaches the API with that key.
func TestLocalOwnerStoresAPIKeyWithTheCLI(t *testing.T) {
	in := newInstance(t)
	keys := make(chan string, 4)
	weather := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case keys <- r.URL.Query().Get("appid"):
		default:
		}
		fmt.Fprintf(w, `{"name":%q,"main":{"temp":21.5,"feels_like":20,"humidity":40},"weather":[{"description":"clear sky"}],"wind":{"speed":3}}`, r.URL.Query().Get("q"))
	}))
	t.Cleanup(weather.Close)
	in.serve("--weather-api-url", weather.URL)
	if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err, stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := in.stdioClient(ctx, t, "acme")
	callWeather := func() (string, bool) {
		t.Helper()
		req := mcp.CallToolRequest{}
		req.Params.Name = "weather"
		req.Params.Arguments = map[string]any{"city": "Paris"}
		res, err := c.CallTool(ctx, req)
		if err != nil || len(res.Content) == 0 {
			t.Fatalf("call weather: %v %v", err, res)
		}
		return res.Content[len(res.Content)-1].(mcp.TextContent).Text, res.IsError
	}
	const cmd = "plexus admin connections set-api-key --entity-id acme --provider-name openweathermap"
	if text, isErr := callWeather(); !isErr || !strings.Contains(text, cmd) {
		t.Fatalf("weather without a key = %q (isError %v), want the CLI command", text, isErr)
	}

	const key = "wx-local-key-DO-NOT-PRINT"
	run := in.command(ctx, "admin", "--data", in.dataDir, "connections", "set-api-key", "--entity-id", "acme", "--provider-name", "openweathermap")
	run.Stdin = strings.NewReader(key + "\n")
	out, err := run.CombinedOutput()
	if err != nil || strings.Contains(string(out), key) {
		t.Fatalf("set-api-key: %v (output printed the key: %v)\n%s", err, strings.Contains(string(out), key), strings.ReplaceAll(string(out), key, "***"))
	}
	if text, isErr := callWeather(); isErr || !strings.Contains(text, "Paris") {
		t.Fatalf("weather with the key = %q (isError %v)", text, isErr)
	}
	if got := <-keys; got != key {
		t.Errorf("the weather API did not get the stored key")
	}
	listed, _, err := in.run("admin", "--data", in.dataDir, "connections", "list", "--entity-id", "acme")
	if err != nil || !strings.Contains(listed, "openweathermap") || strings.Contains(listed, key) {
		t.Errorf("connections list: %v\n%s", err, strings.ReplaceAll(listed, key, "***"))
	}
}
