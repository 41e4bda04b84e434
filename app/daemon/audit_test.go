package daemon

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/mcpserver/examples"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// TestDataDirHoldsNoSecret: a daemon stores one secret of every kind (API
// keys, OAuth tokens, provider client secrets, host-app secrets, user
// tokens, the admin API key), tools are called with those secrets as
// arguments (plain, nested, inside longer text, under innocent keys),
// an admin signs in through a link, a wrong admin token is tried, secrets
// are rotated; every one of these is in the audit log (queryable through
// the admin API by kind, tool, outcome, tenant and time). Then, with the
// daemon stopped and the audit files gzipped, no file under the data dir
// (the bbolt file, the audit files decompressed, the log) holds any of the
// secrets in any common encoding.
func TestDataDirHoldsNoSecret(t *testing.T) {
	dir := t.TempDir()
	masterKey := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	kr := vaulttest.NewKeyring()
	getenv := func(k string) string { return map[string]string{"PLEXUS_MASTER_KEY": masterKey}[k] }
	ctx := t.Context()

	const (
		adminKey      = "ADMINKEY-canary-a1b2c3d4e5f6"
		defaultHost   = "HOSTDEFAULT-canary-9f8e7d6c5b"
		oauthAccess   = "gho_OAUTHACCESS-canary-77aa88bb99"
		oauthRefresh  = "ghr_OAUTHREFRESH-canary-11cc22dd33"
		preClient     = "PRECLIENT-canary-secret-4455ee"
		apiKeyLocal   = "sk-APIKEYLOCAL-canary-66ff77gg"
		apiKeyUser    = "sk-APIKEYUSER-canary-88hh99ii"
		apiKeyRotated = "sk-APIKEYROTATED-canary-00jj11kk"
		clientSecret  = "CLIENTSECRET-canary-22ll33mm44"
	)
	// An OAuth connection of the local owner, stored before the daemon
	// starts (the consent flow needs a real provider).
	v, err := vault.Open(ctx, vault.Config{Path: filepath.Join(dir, DBFileName), Keyring: kr, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.CreateTenant(ctx, vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.CreateOAuthProvider(ctx, vault.OAuthProvider{TenantID: "acme", Name: "github", ClientID: "gh-id",
		ClientSecret: preClient, AuthorizationURL: "https://github.com/login/oauth/authorize",
		TokenURL: "https://github.com/login/oauth/access_token", APIOrigins: []string{"https://api.github.com"}}); err != nil {
		t.Fatal(err)
	}
	owner, err := v.EnsureLocalOwner(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	set := `{"access_token":"` + oauthAccess + `","refresh_token":"` + oauthRefresh + `","token_type":"bearer"}`
	if err := v.PutCredential(ctx, "acme", owner.ID, vault.CredentialOAuth, "github", []byte(set)); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}

	logFile, err := os.OpenFile(filepath.Join(dir, "plexus.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	runCtx, stop := context.WithCancel(context.Background())
	ready := make(chan localclient.Runtime, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, Config{DataDir: dir, Listen: "127.0.0.1:0", Version: "test", AdminAPIKey: adminKey,
			HostAppSecret: defaultHost, Vault: vault.Config{Keyring: kr, Getenv: getenv},
			Examples: examples.Config{WeatherAPIURL: "http://127.0.0.1:1", GitHubAPIURL: "http://127.0.0.1:1"},
			Logger:   slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Ready:    func(rt localclient.Runtime) { ready <- rt }})
	}()
	stopped := false
	stopDaemon := func() {
		if stopped {
			return
		}
		stopped = true
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("daemon did not stop")
		}
	}
	t.Cleanup(stopDaemon)
	var rt localclient.Runtime
	select {
	case rt = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("daemon not ready")
	}
	c := localclient.NewClient(rt)
	started := time.Now().Add(-time.Second)

	// Secrets made through the admin API and the host-app endpoint.
	_, hostSecret, err := c.CreateTenant(ctx, "beta", "Beta")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateOAuthProvider(ctx, "beta", apiv1.ProviderRequest{Preset: "github", ClientID: "b-id", ClientSecret: clientSecret}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetAPIKey(ctx, "acme", apiv1.LocalOwner, "openweathermap", apiKeyLocal); err != nil {
		t.Fatal(err)
	}
	userToken, userID := registerUser(t, rt.BaseURL(), "beta", hostSecret, "alice")
	if err := c.SetAPIKey(ctx, "beta", userID, "openweathermap", apiKeyUser); err != nil {
		t.Fatal(err)
	}
	adminToken, _, err := c.CreateUserToken(ctx, "acme", "bob")
	if err != nil {
		t.Fatal(err)
	}
	// The admin API key works too, and a wrong token is refused.
	byKey := &localclient.Client{BaseURL: rt.BaseURL(), Token: adminKey}
	if _, err := byKey.ListTenants(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := (&localclient.Client{BaseURL: rt.BaseURL(), Token: "wrong-token-123456"}).ListTenants(ctx); err == nil {
		t.Fatal("a wrong admin token was accepted")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, rt.BaseURL()+"/acme/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Authorization", "Bearer plx_not-a-token")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong MCP token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// An admin signs in to the UI through a link; a used link is refused.
	ui := newClient(t, rt.BaseURL())
	link, err := c.LoginURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{http.StatusOK, 0} {
		st, _, _ := ui.do(http.MethodGet, strings.TrimPrefix(link, rt.BaseURL()), "", nil)
		if i == 0 && st != want {
			t.Fatalf("login link: %d", st)
		}
	}
	// An admin action in the UI: rename a tenant.
	if st, _, body := ui.do(http.MethodGet, "/ui/tenants", "", nil); st != http.StatusOK {
		t.Fatalf("/ui/tenants: %d %s", st, body)
	}
	if st, _, body := ui.form("/ui/tenants/beta/rename", url.Values{"csrf": {ui.csrf()}, "name": {"Beta Two"}}); st >= 400 {
		t.Fatalf("rename: %d %s", st, body)
	}

	// Tool calls carrying the secrets: as values, nested, inside text,
	// under a secret-named key and under innocent ones.
	allSecrets := map[string]string{"admin key": adminKey, "default host-app secret": defaultHost, "oauth access": oauthAccess,
		"oauth refresh": oauthRefresh, "client secret (pre)": preClient, "api key (local)": apiKeyLocal,
		"api key (user)": apiKeyUser, "client secret": clientSecret, "host-app secret": hostSecret,
		"user token": userToken, "admin-issued token": adminToken}
	args := func(s string) string {
		b, _ := json.Marshal(map[string]any{
			"city":    s,
			"note":    "my key is " + s + ", keep it",
			"nested":  map[string]any{"list": []any{1, s, map[string]any{"deeper": "Bearer " + s}}},
			"api_key": s,
			"headers": map[string]any{"Authorization": "Bearer " + s},
		})
		return string(b)
	}
	for _, s := range allSecrets {
		mcpCall(t, rt.BaseURL(), "acme", rt.Token, examples.WeatherName, args(s))
	}
	mcpCall(t, rt.BaseURL(), "beta", userToken, examples.WeatherName, args(apiKeyUser))

	// Rotations: a new host-app secret, a replaced key, a revoked token.
	newHostSecret, err := c.RotateHostAppSecret(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	allSecrets["rotated host-app secret"] = newHostSecret
	if err := c.SetAPIKey(ctx, "acme", apiv1.LocalOwner, "openweathermap", apiKeyRotated); err != nil {
		t.Fatal(err)
	}
	allSecrets["rotated api key"] = apiKeyRotated
	mcpCall(t, rt.BaseURL(), "acme", rt.Token, examples.WeatherName, args(apiKeyRotated))
	mcpCall(t, rt.BaseURL(), "beta", rt.Token, examples.WeatherName, args(newHostSecret))
	toks, err := c.ListTokens(ctx, "acme", "")
	if err != nil || len(toks) == 0 {
		t.Fatalf("tokens: %v %v", toks, err)
	}
	if err := c.RevokeToken(ctx, "acme", toks[0].ID); err != nil {
		t.Fatal(err)
	}

	// Everything is in the audit log, and the admin API filters it.
	count := func(q apiv1.AuditQuery) []apiv1.AuditRecord {
		t.Helper()
		q.Limit = 200
		res, err := c.Audit(ctx, q)
		if err != nil {
			t.Fatalf("audit %+v: %v", q, err)
		}
		return res.Records
	}
	calls := count(apiv1.AuditQuery{Kind: "tool_call", Tool: examples.WeatherName, Since: started.UTC().Format(time.RFC3339Nano)})
	if len(calls) != len(allSecrets)-2+3 {
		t.Errorf("%d weather calls recorded, want %d", len(calls), len(allSecrets)+1)
	}
	for _, r := range calls {
		var a map[string]any
		if err := json.Unmarshal(r.Args, &a); err != nil {
			t.Fatalf("args %s: %v", r.Args, err)
		}
		if a["api_key"] != audit.Masked || a["city"] != audit.Masked || a["note"] != audit.Masked {
			t.Errorf("args not masked: %s", r.Args)
		}
	}
	if got := count(apiv1.AuditQuery{Kind: "tool_call", Tenant: "beta"}); len(got) != 2 || got[0].Tenant != "beta" {
		t.Errorf("beta's calls: %+v", got)
	}
	if got := count(apiv1.AuditQuery{Kind: "tool_call", User: userID}); len(got) != 1 || got[0].UserName != "alice" {
		t.Errorf("alice's calls: %+v", got)
	}
	denied := map[string]bool{}
	for _, r := range count(apiv1.AuditQuery{Kind: "login", Outcome: "denied"}) {
		denied[r.Action] = true
	}
	if !denied["admin_api"] || !denied["ui_login_link"] || !denied["mcp_token"] {
		t.Errorf("denied logins (wrong admin token, used link, wrong MCP token): %v", denied)
	}
	logins := count(apiv1.AuditQuery{Kind: "login", Outcome: "ok"})
	var sawLink, sawRegister bool
	for _, r := range logins {
		sawLink = sawLink || r.Action == "ui_login_link"
		sawRegister = sawRegister || (r.Action == "register_user" && r.Tenant == "beta")
	}
	if !sawLink || !sawRegister {
		t.Errorf("logins: %+v", logins)
	}
	admin := count(apiv1.AuditQuery{Kind: "admin"})
	want := map[string]bool{"POST /api/v1/tenants": false, "POST /api/v1/tenants/{id}/host-app-secret": false,
		"POST /ui/tenants/beta/rename": false}
	for _, r := range admin {
		if _, ok := want[r.Action]; ok {
			want[r.Action] = true
		}
		if r.Actor != "local_token" && r.Actor != "admin_token" && !(r.Actor == "ui" && strings.HasPrefix(r.Action, "POST /ui/")) {
			t.Errorf("admin record without its actor: %+v", r)
		}
	}
	for a, seen := range want {
		if !seen {
			t.Errorf("no admin record of %s in %+v", a, admin)
		}
	}
	creds := count(apiv1.AuditQuery{Kind: "credential"})
	var sawKey, sawRevoke bool
	for _, r := range creds {
		sawKey = sawKey || (r.Action == "credential_changed" && r.Target == "api_key/openweathermap")
		sawRevoke = sawRevoke || r.Action == "token_revoked"
	}
	if !sawKey || !sawRevoke {
		t.Errorf("credential records: %+v", creds)
	}
	if got := count(apiv1.AuditQuery{Until: started.UTC().Format(time.RFC3339Nano)}); len(got) != 0 {
		t.Errorf("%d records before the daemon started", len(got))
	}
	if _, err := c.Audit(ctx, apiv1.AuditQuery{Kind: "nope"}); err == nil {
		t.Error("kind nope accepted")
	}

	// Stop, and let a day pass so the audit files are gzipped.
	stopDaemon()
	tomorrow := time.Now().Add(25 * time.Hour)
	al, err := audit.Open(audit.Options{Dir: filepath.Join(dir, ActivityDirName), Now: func() time.Time { return tomorrow }})
	if err != nil {
		t.Fatal(err)
	}
	al.Close()

	var sawGz, sawDB, sawLog bool
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".gz") {
			sawGz = true
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if !bytes.Contains(b, []byte(`"kind":"tool_call"`)) {
				t.Errorf("%s holds no tool call", p)
			}
		}
		sawDB = sawDB || filepath.Base(p) == DBFileName
		sawLog = sawLog || (filepath.Base(p) == "plexus.log" && len(b) > 0)
		for name, s := range allSecrets {
			for enc, form := range map[string]string{"raw": s, "base64": base64.StdEncoding.EncodeToString([]byte(s)),
				"base64url": base64.RawURLEncoding.EncodeToString([]byte(s)), "hex": hex.EncodeToString([]byte(s))} {
				if bytes.Contains(b, []byte(form)) {
					t.Errorf("%s holds the %s (%s)", strings.TrimPrefix(p, dir), name, enc)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sawGz || !sawDB || !sawLog {
		t.Errorf("walked: gz %v, db %v, log %v", sawGz, sawDB, sawLog)
	}
}

// registerUser registers hostUser in tenant through the host-app
// endpoint and returns its token and persistent id.
func registerUser(t *testing.T, base, tenant, secret, hostUser string) (string, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/"+tenant+"/plexus-auth/register-user",
		strings.NewReader(`{"user_id_from_host_app":"`+hostUser+`"}`))
	req.Header.Set("X-Host-App-Secret", secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"plexus_user_auth_token"`
		ID    string `json:"persistent_user_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("register-user: %d %v", resp.StatusCode, err)
	}
	return out.Token, out.ID
}

// mcpCall makes one tools/call with the given arguments (JSON) in a new
// session and returns the answer.
func mcpCall(t *testing.T, base, tenant, token, tool, args string) string {
	t.Helper()
	post := func(sid, body string) (*http.Response, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/"+tenant+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := post("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"Claude","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || sid == "" {
		t.Fatalf("initialize: %d %s", resp.StatusCode, body)
	}
	post(sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	_, body = post(sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"`+tool+`","arguments":`+args+`}}`)
	return body
}
