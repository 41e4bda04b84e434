package adminapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

// Secrets the tests plant; none may ever appear in a response or the log.
const (
	githubSecret = "gh-client-secret-DO-NOT-LEAK-1"
	newSecret    = "rotated-client-secret-DO-NOT-LEAK-2"
	apiKeyValue  = "weather-api-key-DO-NOT-LEAK-3"
	oauthValue   = `{"access_token":"at-DO-NOT-LEAK-4"}`
)

// fakeOAuth is an in-memory OAuthConnections.
type fakeOAuth struct {
	mu           sync.Mutex
	conns        map[string][]oauth.Connection // tenant/user -> connections
	disconnected []string                      // tenant/user/provider
}

func newFakeOAuth() *fakeOAuth { return &fakeOAuth{conns: map[string][]oauth.Connection{}} }

func (o *fakeOAuth) add(tenant, user string, c oauth.Connection) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.conns[tenant+"/"+user] = append(o.conns[tenant+"/"+user], c)
}

func (o *fakeOAuth) Connections(_ context.Context, tenant, user string) ([]oauth.Connection, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.conns[tenant+"/"+user]), nil
}

func (o *fakeOAuth) Disconnect(_ context.Context, owner oauth.Owner, provider string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := owner.TenantID + "/" + owner.UserID
	i := slices.IndexFunc(o.conns[k], func(c oauth.Connection) bool { return c.Provider == provider })
	if i < 0 {
		return fmt.Errorf("no connection to %q: %w", provider, vault.ErrNotFound)
	}
	o.conns[k] = slices.Delete(o.conns[k], i, i+1)
	o.disconnected = append(o.disconnected, k+"/"+provider)
	return nil
}

// toolList is the fixture's Options.Tools.
func toolList(tenantID string) []apiv1.ToolInfo {
	ts := []apiv1.ToolInfo{
		{Name: "github_whoami", Description: "Who am I on GitHub", ToolSets: []string{"github"}, Requires: "oauth:github", Enabled: true},
		{Name: "github_list_repos", Description: "List my repositories", ToolSets: []string{"github", "code"}, Requires: "oauth:github", Enabled: true},
		{Name: "weather", Description: "Weather", ToolSets: []string{"weather tools"}, Requires: "api_key:openweather", Enabled: true},
	}
	if tenantID == "acme" {
		ts = append(ts, apiv1.ToolInfo{Name: "acme_only", Description: "Only for acme", Enabled: true})
	}
	return ts
}

// credFixture is a fixture with tenant acme, user alice (uid), a GitHub
// provider from the preset, an API key and an OAuth credential for alice,
// a fake OAuth engine with one connection and the tool list.
type credFixture struct {
	*fixture
	uid   string
	oauth *fakeOAuth

	changesMu sync.Mutex
	changes   []string // the vault's ToolSettingsChanged announcements
}

func (f *credFixture) toolChanges() []string {
	f.changesMu.Lock()
	defer f.changesMu.Unlock()
	return slices.Clone(f.changes)
}

func newCredFixture(t *testing.T, opts ...func(*adminops.Options)) *credFixture {
	t.Helper()
	cf := &credFixture{oauth: newFakeOAuth()}
	f := newFixture(t, append([]func(*adminops.Options){func(o *adminops.Options) {
		o.OAuth = cf.oauth
		o.Tools = toolList
		o.RedirectURL = func(tenant, provider string) string {
			return "https://plexus.example/" + tenant + "/oauth/external_callback/" + provider
		}
	}}, opts...)...)
	cf.fixture = f
	f.v.Subscribe(func(c vault.Change) {
		if c.Kind == vault.ToolSettingsChanged {
			cf.changesMu.Lock()
			defer cf.changesMu.Unlock()
			cf.changes = append(cf.changes, c.TenantID)
		}
	})
	f.createTenant(t, "acme")
	status, _, body := f.call(t, "POST", "/api/v1/tenants/acme/users", localToken, `{"user_id_from_host_app":"alice"}`, nil)
	if status != http.StatusOK {
		t.Fatalf("user token: %d %s", status, body)
	}
	var u struct {
		UserID string `json:"persistent_user_id"`
	}
	if err := json.Unmarshal([]byte(body), &u); err != nil {
		t.Fatal(err)
	}
	status, _, body = f.call(t, "POST", "/api/v1/tenants/acme/ext-oauth", localToken,
		`{"preset":"github","client_id":"gh-id","client_secret":"`+githubSecret+`"}`, nil)
	if status != http.StatusCreated {
		t.Fatalf("create github provider: %d %s", status, body)
	}
	ctx := t.Context()
	if err := f.v.PutCredential(ctx, "acme", u.UserID, vault.CredentialAPIKey, "openweather", []byte(apiKeyValue)); err != nil {
		t.Fatalf("PutCredential api key: %v", err)
	}
	if err := f.v.PutCredential(ctx, "acme", u.UserID, vault.CredentialOAuth, "github", []byte(oauthValue)); err != nil {
		t.Fatalf("PutCredential oauth: %v", err)
	}
	cf.oauth.add("acme", u.UserID, oauth.Connection{Provider: "github", Status: "connected", Scopes: []string{"read:user"}, UpdatedAt: time.Now()})
	cf.uid = u.UserID
	t.Cleanup(func() { cf.assertNoSecrets(t, "log", f.logs.String()) })
	return cf
}

func (f *credFixture) assertNoSecrets(t *testing.T, where, s string) {
	t.Helper()
	for _, secret := range []string{githubSecret, newSecret, apiKeyValue, "at-DO-NOT-LEAK-4"} {
		if strings.Contains(s, secret) {
			t.Errorf("a secret appeared in the %s: %.400s", where, s)
		}
	}
	if strings.Contains(s, `"client_secret"`) {
		t.Errorf("the %s has a client_secret field: %.400s", where, s)
	}
}

func TestCredentialRoutes(t *testing.T) {
	t.Parallel()
	full := `{"provider_name":"idp","client_id":"cid","client_secret":"` + newSecret + `",
		"authorization_url":"https://idp.example.com/authorize","token_url":"https://idp.example.com/token",
		"userinfo_url":"https://idp.example.com/userinfo","revocation_url":"https://idp.example.com/revoke",
		"resource":"https://api.example.com","scopes":"read:user  repo"}`
	withURL := func(field, u string) string {
		return `{"provider_name":"idp","client_id":"cid","client_secret":"x","authorization_url":"https://idp.example.com/a",
			"token_url":"https://idp.example.com/t","api_origins":["https://api.idp.example.com"],` + `"` + field + `":"` + u + `"}`
	}
	tests := []struct {
		name       string
		method     string
		path       string // {uid} is replaced by alice's persistent id
		token      string
		body       string
		hdr        map[string]string
		wantStatus int
		wantIn     []string
		wantNotIn  []string
		wantHeader map[string]string
	}{
		// Auth and origin on every new group.
		{name: "presets no token", method: "GET", path: "/api/v1/oauth-presets", wantStatus: 401},
		{name: "ext-oauth no token", method: "GET", path: "/api/v1/tenants/acme/ext-oauth", wantStatus: 401},
		{name: "ext-oauth create wrong token", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: "nope", body: full, wantStatus: 401},
		{name: "ext-oauth foreign origin", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken, body: full,
			hdr: map[string]string{"Origin": "https://evil.example"}, wantStatus: 403},
		{name: "tools no token", method: "GET", path: "/api/v1/tenants/acme/tools", wantStatus: 401},
		{name: "tool disable no token", method: "POST", path: "/api/v1/tenants/acme/tools/weather/disable", wantStatus: 401},
		{name: "connections no token", method: "GET", path: "/api/v1/tenants/acme/users/{uid}/connections", wantStatus: 401},
		{name: "disconnect no token", method: "DELETE", path: "/api/v1/tenants/acme/users/{uid}/connections/github", wantStatus: 401},
		{name: "api key delete no token", method: "DELETE", path: "/api/v1/tenants/acme/users/{uid}/api-keys/openweather", wantStatus: 401},
		{name: "api key put no token", method: "PUT", path: "/api/v1/tenants/acme/users/{uid}/api-keys/openweather",
			body: `{"api_key_value":"` + apiKeyValue + `"}`, wantStatus: 401},

		// Presets.
		{name: "presets", method: "GET", path: "/api/v1/oauth-presets", token: localToken, wantStatus: 200,
			wantIn: []string{`"presets"`, `"name":"github"`, `"name":"google"`, `"name":"slack"`, `"name":"microsoft"`,
				`"api_origins":["https://api.github.com"]`}},

		// Providers.
		{name: "list", method: "GET", path: "/api/v1/tenants/acme/ext-oauth", token: localToken, wantStatus: 200,
			wantIn: []string{`"providers":[`, `"provider_name":"github"`, `"client_secret_set":true`, `"preset":"github"`}},
		{name: "list missing tenant", method: "GET", path: "/api/v1/tenants/nope/ext-oauth", token: localToken, wantStatus: 404},
		{name: "create full, scopes as string", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: full, wantStatus: 201,
			wantIn: []string{`"provider_name":"idp"`, `"scopes":["read:user","repo"]`, `"client_secret_set":true`,
				`"resource":"https://api.example.com"`, `"revocation_url":"https://idp.example.com/revoke"`,
				`"api_origins":["https://idp.example.com"]`}, // the userinfo URL's origin
			wantHeader: map[string]string{"Location": "/api/v1/tenants/acme/ext-oauth/idp"}},
		{name: "create scopes as array", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: `{"provider_name":"idp","client_id":"c","client_secret":"s","authorization_url":"https://i.example/a",
				"token_url":"https://i.example/t","scopes":["a b","c"],"api_origins":["https://API.i.example/","https://b.i.example:8443"]}`, wantStatus: 201,
			wantIn: []string{`"scopes":["a","b","c"]`, `"api_origins":["https://api.i.example","https://b.i.example:8443"]`}},
		{name: "create custom without api origins", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: `{"provider_name":"idp","client_id":"c","client_secret":"s","authorization_url":"https://i.example/a",
				"token_url":"https://i.example/t"}`, wantStatus: 400,
			wantIn: []string{"api_origins is required", "https://api.example.com", "--api-origins"}},
		{name: "create custom with a bad api origin", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: `{"provider_name":"idp","client_id":"c","client_secret":"s","authorization_url":"https://i.example/a",
				"token_url":"https://i.example/t","api_origins":["http://192.0.2.10"]}`, wantStatus: 400,
			wantIn: []string{"api_origins", "must use https"}},
		{name: "create preset fill-in", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: `{"preset":"google","client_id":"g","client_secret":"s"}`, wantStatus: 201,
			wantIn: []string{`"provider_name":"google"`, `"authorization_url":"https://accounts.google.com/o/oauth2/v2/auth"`,
				`"token_url":"https://oauth2.googleapis.com/token"`, `"revocation_url":"https://oauth2.googleapis.com/revoke"`,
				`"scopes":["openid","email","profile"]`}},
		{name: "create preset with overrides", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: `{"preset":"github","provider_name":"ghe","client_id":"g","client_secret":"s",
				"authorization_url":"https://ghe.example.com/login/oauth/authorize","scopes":"repo"}`, wantStatus: 201,
			wantIn: []string{`"provider_name":"ghe"`, `"authorization_url":"https://ghe.example.com/login/oauth/authorize"`,
				`"token_url":"https://github.com/login/oauth/access_token"`, `"scopes":["repo"]`}},
		{name: "create loopback http", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: withURL("userinfo_url", "http://127.0.0.1:9/userinfo"), wantStatus: 201},
		{name: "create unknown preset", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: `{"preset":"gitlab","client_id":"g","client_secret":"s"}`, wantStatus: 400,
			wantIn: []string{`unknown preset \"gitlab\"`, "github, google, slack, microsoft"}},
		{name: "create without client id", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: `{"preset":"github","provider_name":"gh2","client_secret":"s"}`, wantStatus: 400, wantIn: []string{"client_id is required"}},
		{name: "create without client secret", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: `{"preset":"github","provider_name":"gh2","client_id":"c"}`, wantStatus: 400, wantIn: []string{"client_secret is required"}},
		{name: "create without name", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body:       `{"client_id":"c","client_secret":"s","authorization_url":"https://i.example/a","token_url":"https://i.example/t"}`,
			wantStatus: 400, wantIn: []string{"provider_name is required"}},
		{name: "create without token url", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body:       `{"provider_name":"idp","client_id":"c","client_secret":"s","authorization_url":"https://i.example/a"}`,
			wantStatus: 400, wantIn: []string{"token_url is required", "preset"}},
		{name: "create bad url", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: withURL("authorization_url", "not a url"), wantStatus: 400},
		{name: "create http non-loopback url", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: withURL("token_url", "http://idp.example.com/token"), wantStatus: 400, wantIn: []string{"token_url", "must use https"}},
		{name: "create http non-loopback revocation url", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: withURL("revocation_url", "http://idp.example.com/revoke"), wantStatus: 400},
		{name: "create bad name", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: `{"preset":"github","provider_name":"Git Hub","client_id":"c","client_secret":"s"}`, wantStatus: 400},
		{name: "create duplicate", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: `{"preset":"github","client_id":"c","client_secret":"s"}`, wantStatus: 409},
		{name: "create scopes wrong type", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body:       `{"preset":"github","provider_name":"gh2","client_id":"c","client_secret":"s","scopes":5}`,
			wantStatus: 400, wantIn: []string{`field \"scopes\" must be an array of strings or a space-separated string`}},
		{name: "create scope with control char", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body:       `{"preset":"github","provider_name":"gh2","client_id":"c","client_secret":"s","scopes":["a\u0000b"]}`,
			wantStatus: 400, wantIn: []string{"scopes"}},
		{name: "create unknown field", method: "POST", path: "/api/v1/tenants/acme/ext-oauth", token: localToken,
			body: `{"preset":"github","client_id":"c","client_secret":"s","secret":"x"}`, wantStatus: 400, wantIn: []string{"unknown field"}},
		{name: "create in missing tenant", method: "POST", path: "/api/v1/tenants/nope/ext-oauth", token: localToken,
			body: `{"preset":"github","client_id":"c","client_secret":"s"}`, wantStatus: 404},
		{name: "show", method: "GET", path: "/api/v1/tenants/acme/ext-oauth/github", token: adminKey, wantStatus: 200,
			wantIn: []string{`"provider"`, `"client_id":"gh-id"`, `"client_secret_set":true`, `"scopes":["read:user"]`,
				`"redirect_url":"https://plexus.example/acme/oauth/external_callback/github"`}},
		{name: "show missing", method: "GET", path: "/api/v1/tenants/acme/ext-oauth/nope", token: localToken, wantStatus: 404},
		{name: "patch scopes", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/github", token: localToken,
			body: `{"scopes":["repo","read:user"]}`, wantStatus: 200,
			wantIn: []string{`"client_id":"gh-id"`, `"client_secret_set":true`, `"scopes":["repo","read:user"]`,
				`"token_url":"https://github.com/login/oauth/access_token"`, `"connections_dropped":0`}},
		{name: "patch client id without secret", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/github", token: localToken,
			body: `{"client_id":"new-id"}`, wantStatus: 400, wantIn: []string{"client_secret is required when client_id changes"}},
		{name: "patch token url without secret", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/github", token: localToken,
			body: `{"token_url":"https://elsewhere.example/token"}`, wantStatus: 400, wantIn: []string{"client_secret is required when token_url changes"}},
		{name: "patch api origins without secret", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/github", token: localToken,
			body: `{"api_origins":["https://api.github.com","https://evil.example"]}`, wantStatus: 400,
			wantIn: []string{"client_secret is required when api_origins changes"}},
		{name: "patch client id with secret", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/github", token: localToken,
			body: `{"client_id":"new-id","client_secret":"` + newSecret + `"}`, wantStatus: 200,
			wantIn: []string{`"client_id":"new-id"`, `"connections_dropped":1`, "consent again"}},
		{name: "patch empty secret", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/github", token: localToken,
			body: `{"client_secret":""}`, wantStatus: 400, wantIn: []string{"client_secret must not be empty"}},
		{name: "patch rename refused", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/github", token: localToken,
			body: `{"provider_name":"gh"}`, wantStatus: 400, wantIn: []string{"unknown field"}},
		{name: "patch http non-loopback url", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/github", token: localToken,
			body: `{"token_url":"http://github.com/token"}`, wantStatus: 400},
		{name: "patch clears token url", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/github", token: localToken,
			body: `{"token_url":""}`, wantStatus: 400, wantIn: []string{"token_url is required"}},
		{name: "patch unknown preset", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/github", token: localToken,
			body: `{"preset":"nope"}`, wantStatus: 400, wantIn: []string{"unknown preset"}},
		{name: "patch missing", method: "PATCH", path: "/api/v1/tenants/acme/ext-oauth/nope", token: localToken,
			body: `{"client_id":"x"}`, wantStatus: 404},
		{name: "delete", method: "DELETE", path: "/api/v1/tenants/acme/ext-oauth/github", token: localToken, wantStatus: 204},
		{name: "delete missing", method: "DELETE", path: "/api/v1/tenants/acme/ext-oauth/nope", token: localToken, wantStatus: 404},
		{name: "ext-oauth wrong method", method: "PUT", path: "/api/v1/tenants/acme/ext-oauth/github", token: localToken,
			body: `{}`, wantStatus: 405, wantHeader: map[string]string{"Allow": "PATCH"}},

		// Tools.
		{name: "tools", method: "GET", path: "/api/v1/tenants/acme/tools", token: localToken, wantStatus: 200,
			wantIn: []string{`"disabled_tools":[]`, `"disabled_tool_sets":[]`, `"name":"github_whoami"`,
				`"requires":"oauth:github"`, `"tool_sets":["github","code"]`, `"name":"acme_only"`, `"tool_sets":[]`, `"enabled":true`},
			wantNotIn: []string{`"enabled":false`}},
		{name: "tools missing tenant", method: "GET", path: "/api/v1/tenants/nope/tools", token: localToken, wantStatus: 404},
		{name: "tools put", method: "PUT", path: "/api/v1/tenants/acme/tools", token: localToken,
			body: `{"disabled_tools":["weather","weather"],"disabled_tool_sets":[" code "]}`, wantStatus: 200,
			wantIn: []string{`"disabled_tools":["weather"]`, `"disabled_tool_sets":["code"]`, `"enabled":false`}},
		{name: "tools put bad name", method: "PUT", path: "/api/v1/tenants/acme/tools", token: localToken,
			body: `{"disabled_tools":["bad name"]}`, wantStatus: 400, wantIn: []string{"invalid tool name"}},
		{name: "tools put bad type", method: "PUT", path: "/api/v1/tenants/acme/tools", token: localToken,
			body: `{"disabled_tools":"weather"}`, wantStatus: 400, wantIn: []string{"disabled_tools"}},
		{name: "tools put unknown field", method: "PUT", path: "/api/v1/tenants/acme/tools", token: localToken,
			body: `{"tools":[]}`, wantStatus: 400, wantIn: []string{"unknown field"}},
		{name: "tool disable", method: "POST", path: "/api/v1/tenants/acme/tools/weather/disable", token: localToken, wantStatus: 200,
			wantIn: []string{`"disabled_tools":["weather"]`}},
		{name: "tool disable unknown", method: "POST", path: "/api/v1/tenants/acme/tools/nope/disable", token: localToken, wantStatus: 404,
			wantIn: []string{`has no tool \"nope\"`}},
		{name: "tool enable invalid name", method: "POST", path: "/api/v1/tenants/acme/tools/a%20b/enable", token: localToken, wantStatus: 400},
		{name: "tool enable already enabled", method: "POST", path: "/api/v1/tenants/acme/tools/weather/enable", token: localToken, wantStatus: 200,
			wantIn: []string{`"disabled_tools":[]`}},
		{name: "tool set disable with space", method: "POST", path: "/api/v1/tenants/acme/tool-sets/weather%20tools/disable", token: localToken,
			wantStatus: 200, wantIn: []string{`"disabled_tool_sets":["weather_tools"]`}},
		{name: "tool set disable unknown", method: "POST", path: "/api/v1/tenants/acme/tool-sets/nope/disable", token: localToken, wantStatus: 404},
		{name: "tool switch missing tenant", method: "POST", path: "/api/v1/tenants/nope/tools/weather/disable", token: localToken, wantStatus: 404},
		{name: "tool switch wrong method", method: "GET", path: "/api/v1/tenants/acme/tools/weather/disable", token: localToken, wantStatus: 405},

		// Connections and API keys.
		{name: "connections", method: "GET", path: "/api/v1/tenants/acme/users/{uid}/connections", token: localToken, wantStatus: 200,
			wantIn: []string{`"connections":[{"provider_name":"github","status":"connected"`, `"api_keys":[{"provider_name":"openweather"`}},
		{name: "connections unknown user", method: "GET", path: "/api/v1/tenants/acme/users/nobody/connections", token: localToken, wantStatus: 404},
		{name: "connections missing tenant", method: "GET", path: "/api/v1/tenants/nope/users/{uid}/connections", token: localToken, wantStatus: 404},
		{name: "disconnect", method: "DELETE", path: "/api/v1/tenants/acme/users/{uid}/connections/github", token: localToken, wantStatus: 204},
		{name: "disconnect not connected", method: "DELETE", path: "/api/v1/tenants/acme/users/{uid}/connections/slack", token: localToken,
			wantStatus: 404, wantIn: []string{"not found"}},
		{name: "disconnect unknown user", method: "DELETE", path: "/api/v1/tenants/acme/users/nobody/connections/github", token: localToken, wantStatus: 404},
		{name: "api key put", method: "PUT", path: "/api/v1/tenants/acme/users/{uid}/api-keys/weather", token: localToken,
			body: `{"api_key_value":"` + apiKeyValue + `"}`, wantStatus: 200,
			wantIn: []string{`"provider_name":"weather"`, `"persistent_user_id":"`, "saved"}},
		{name: "api key put local owner", method: "PUT", path: "/api/v1/tenants/acme/users/local-owner/api-keys/weather", token: localToken,
			body: `{"api_key_value":"` + apiKeyValue + `"}`, wantStatus: 200, wantIn: []string{`"provider_name":"weather"`}},
		{name: "connections local owner", method: "GET", path: "/api/v1/tenants/acme/users/local-owner/connections", token: localToken,
			wantStatus: 200, wantIn: []string{`"connections":[]`, `"api_keys":[]`}},
		{name: "api key put unknown user", method: "PUT", path: "/api/v1/tenants/acme/users/nobody/api-keys/weather", token: localToken,
			body: `{"api_key_value":"` + apiKeyValue + `"}`, wantStatus: 404},
		{name: "api key put missing tenant", method: "PUT", path: "/api/v1/tenants/nope/users/local-owner/api-keys/weather", token: localToken,
			body: `{"api_key_value":"` + apiKeyValue + `"}`, wantStatus: 404},
		{name: "api key put bad provider", method: "PUT", path: "/api/v1/tenants/acme/users/{uid}/api-keys/Open%20Weather", token: localToken,
			body: `{"api_key_value":"` + apiKeyValue + `"}`, wantStatus: 400, wantIn: []string{"provider name"}},
		{name: "api key put empty", method: "PUT", path: "/api/v1/tenants/acme/users/{uid}/api-keys/weather", token: localToken,
			body: `{"api_key_value":"  "}`, wantStatus: 400, wantIn: []string{"api_key_value: must not be empty"}},
		{name: "api key put missing field", method: "PUT", path: "/api/v1/tenants/acme/users/{uid}/api-keys/weather", token: localToken,
			body: `{}`, wantStatus: 400, wantIn: []string{"api_key_value: must not be empty"}},
		{name: "api key put control character", method: "PUT", path: "/api/v1/tenants/acme/users/{uid}/api-keys/weather", token: localToken,
			body: `{"api_key_value":"` + apiKeyValue + `\n"}`, wantStatus: 400, wantIn: []string{"control characters"}},
		{name: "api key put unknown field", method: "PUT", path: "/api/v1/tenants/acme/users/{uid}/api-keys/weather", token: localToken,
			body: `{"api_key":"` + apiKeyValue + `"}`, wantStatus: 400, wantIn: []string{"unknown field"}},
		{name: "api key put not json", method: "PUT", path: "/api/v1/tenants/acme/users/{uid}/api-keys/weather", token: localToken,
			body: apiKeyValue, wantStatus: 400},
		{name: "api key delete", method: "DELETE", path: "/api/v1/tenants/acme/users/{uid}/api-keys/openweather", token: localToken, wantStatus: 204},
		{name: "api key delete missing", method: "DELETE", path: "/api/v1/tenants/acme/users/{uid}/api-keys/nope", token: localToken, wantStatus: 404},
		{name: "api key delete is not oauth", method: "DELETE", path: "/api/v1/tenants/acme/users/{uid}/api-keys/github", token: localToken, wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newCredFixture(t)
			path := strings.ReplaceAll(tc.path, "{uid}", f.uid)
			status, h, body := f.call(t, tc.method, path, tc.token, tc.body, tc.hdr)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body: %.400s", status, tc.wantStatus, body)
			}
			if status >= 400 {
				var e struct {
					Error string `json:"error"`
				}
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
					t.Errorf("error body is not {\"error\": ...}: %.300s", body)
				}
			}
			for _, s := range tc.wantIn {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q: %.600s", s, body)
				}
			}
			for _, s := range tc.wantNotIn {
				if strings.Contains(body, s) {
					t.Errorf("body has %q: %.600s", s, body)
				}
			}
			for k, v := range tc.wantHeader {
				if got := h.Get(k); !strings.Contains(got, v) {
					t.Errorf("header %s = %q, want it to contain %q", k, got, v)
				}
			}
			f.assertNoSecrets(t, "response", body)
		})
	}
}

// TestPutAPIKeyStoresSealed: PUT stores the key for the named user (or
// the local owner, created on first use), replaces it on a second PUT, and
// the key is listed by name only.
func TestPutAPIKeyStoresSealed(t *testing.T) {
	t.Parallel()
	f := newCredFixture(t)
	ctx := t.Context()
	for _, uid := range []string{f.uid, apiv1.LocalOwner} {
		path := "/api/v1/tenants/acme/users/" + uid + "/api-keys/weather"
		for _, key := range []string{"first-" + apiKeyValue, apiKeyValue} {
			status, _, body := f.call(t, "PUT", path, localToken, `{"api_key_value":"`+key+`"}`, nil)
			if status != http.StatusOK {
				t.Fatalf("PUT %s: %d %s", path, status, body)
			}
			f.assertNoSecrets(t, "PUT answer", body)
			if strings.Contains(body, "first-") {
				t.Errorf("PUT answer echoes the key: %s", body)
			}
		}
		user := uid
		if uid == apiv1.LocalOwner {
			// A new local owner's persistent id is its (reserved) host id.
			u, err := f.v.GetUser(ctx, "acme", vault.LocalOwnerHostUserID)
			if err != nil || u.HostUserID != vault.LocalOwnerHostUserID {
				t.Fatalf("local owner: %+v, %v", u, err)
			}
			user = u.ID
		}
		got, err := f.v.GetCredential(ctx, "acme", user, vault.CredentialAPIKey, "weather")
		if err != nil || string(got) != apiKeyValue {
			t.Errorf("stored key of %s: err %v, replaced by the second PUT = %v", uid, err, string(got) == apiKeyValue)
		}
		status, _, body := f.call(t, "GET", "/api/v1/tenants/acme/users/"+uid+"/connections", localToken, "", nil)
		if status != http.StatusOK || !strings.Contains(body, `"provider_name":"weather"`) {
			t.Errorf("connections of %s: %d %s", uid, status, body)
		}
		f.assertNoSecrets(t, "connections answer", body)
	}
}

func TestProviderSecretKeptAndNeverShown(t *testing.T) {
	t.Parallel()
	f := newCredFixture(t)
	ctx := t.Context()
	secretOf := func() string {
		t.Helper()
		p, err := f.v.GetOAuthProvider(ctx, "acme", "github")
		if err != nil {
			t.Fatalf("GetOAuthProvider: %v", err)
		}
		return p.ClientSecret
	}
	if got := secretOf(); got != githubSecret {
		t.Fatal("the vault does not hold the client secret given at creation")
	}
	do := func(method, path, body string, want int) {
		t.Helper()
		status, _, b := f.call(t, method, path, localToken, body, nil)
		if status != want {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
		}
		f.assertNoSecrets(t, "response", b)
		if status == 200 && !strings.Contains(b, `"client_secret_set":true`) {
			t.Errorf("%s %s: answer lacks client_secret_set: %s", method, path, b)
		}
	}
	do("GET", "/api/v1/tenants/acme/ext-oauth", "", 200)
	do("GET", "/api/v1/tenants/acme/ext-oauth/github", "", 200)
	do("PATCH", "/api/v1/tenants/acme/ext-oauth/github", `{"scopes":"repo read:user","preset":""}`, 200)
	if got := secretOf(); got != githubSecret {
		t.Error("PATCH without client_secret changed the stored secret")
	}
	p, _ := f.v.GetOAuthProvider(ctx, "acme", "github")
	if p.Preset != "" || p.TokenURL != "https://github.com/login/oauth/access_token" {
		t.Errorf("after PATCH: %+v", p)
	}
	do("PATCH", "/api/v1/tenants/acme/ext-oauth/github", `{"client_id":"other"}`, 400)
	if got := secretOf(); got != githubSecret {
		t.Error("a refused PATCH changed the stored secret")
	}
	do("PATCH", "/api/v1/tenants/acme/ext-oauth/github", `{"client_id":"other","client_secret":"`+newSecret+`"}`, 200)
	if got := secretOf(); got != newSecret {
		t.Error("PATCH with client_secret did not store the new secret")
	}
	do("PATCH", "/api/v1/tenants/acme/ext-oauth/github", `{"preset":"github","scopes":"repo"}`, 200)
	if got := secretOf(); got != newSecret {
		t.Error("PATCH with a preset changed the stored secret")
	}
	// A failing request must not leak it either.
	do("PATCH", "/api/v1/tenants/acme/ext-oauth/github", `{"client_secret":"`+githubSecret+`","token_url":"http://x.example/t"}`, 400)
	do("POST", "/api/v1/tenants/acme/ext-oauth", `{"preset":"github","client_id":"c","client_secret":"`+githubSecret+`"}`, 409)
	do("POST", "/api/v1/tenants/acme/ext-oauth", `{"provider_name":"x","client_id":"c","client_secret":"`+githubSecret+`","authorization_url":"ftp://a","token_url":"https://t.example"}`, 400)
}

func TestToolSettingsPersistAndNotify(t *testing.T) {
	t.Parallel()
	f := newCredFixture(t)
	ctx := t.Context()
	changes := f.toolChanges
	type view struct {
		DisabledTools    []string         `json:"disabled_tools"`
		DisabledToolSets []string         `json:"disabled_tool_sets"`
		Tools            []apiv1.ToolInfo `json:"tools"`
	}
	call := func(method, path, body string) view {
		t.Helper()
		status, _, b := f.call(t, method, path, localToken, body, nil)
		if status != 200 {
			t.Fatalf("%s %s: %d %s", method, path, status, b)
		}
		var v view
		if err := json.Unmarshal([]byte(b), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	enabled := func(v view) map[string]bool {
		m := map[string]bool{}
		for _, ti := range v.Tools {
			m[ti.Name] = ti.Enabled
		}
		return m
	}
	stored := func() vault.ToolSettings {
		t.Helper()
		st, err := f.v.GetToolSettings(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	v := call("POST", "/api/v1/tenants/acme/tools/github_whoami/disable", "")
	if got := enabled(v); got["github_whoami"] || !got["github_list_repos"] || !got["weather"] {
		t.Errorf("after disabling github_whoami: %v", got)
	}
	if st := stored(); !slices.Equal(st.DisabledTools, []string{"github_whoami"}) {
		t.Errorf("stored after disable: %+v", st)
	}
	if c := changes(); !slices.Equal(c, []string{"acme"}) {
		t.Errorf("ToolSettingsChanged announcements = %v, want [acme]", c)
	}
	call("POST", "/api/v1/tenants/acme/tools/github_whoami/disable", "")
	if c := changes(); len(c) != 1 {
		t.Errorf("disabling again notified again: %v", c)
	}

	v = call("POST", "/api/v1/tenants/acme/tool-sets/code/disable", "")
	if got := enabled(v); got["github_list_repos"] || !got["weather"] || !got["acme_only"] {
		t.Errorf("after disabling tool set code: %v", got)
	}
	if st := stored(); !slices.Equal(st.DisabledToolSets, []string{"code"}) {
		t.Errorf("stored after tool-set disable: %+v", st)
	}
	call("POST", "/api/v1/tenants/acme/tools/github_whoami/enable", "")
	v = call("POST", "/api/v1/tenants/acme/tool-sets/code/enable", "")
	if got := enabled(v); !got["github_whoami"] || !got["github_list_repos"] {
		t.Errorf("after enabling again: %v", got)
	}
	if st := stored(); len(st.DisabledTools)+len(st.DisabledToolSets) != 0 {
		t.Errorf("stored after enabling all: %+v", st)
	}
	if c := changes(); len(c) != 4 {
		t.Errorf("ToolSettingsChanged announcements = %v, want 4", c)
	}

	v = call("PUT", "/api/v1/tenants/acme/tools", `{"disabled_tools":["weather","acme_only"],"disabled_tool_sets":["github"]}`)
	if got := enabled(v); got["weather"] || got["acme_only"] || got["github_whoami"] || got["github_list_repos"] {
		t.Errorf("after PUT: %v", got)
	}
	if st := stored(); !slices.Equal(st.DisabledTools, []string{"acme_only", "weather"}) || !slices.Equal(st.DisabledToolSets, []string{"github"}) {
		t.Errorf("stored after PUT: %+v", st)
	}
	if c := changes(); len(c) != 5 {
		t.Errorf("ToolSettingsChanged announcements = %v, want 5", c)
	}
	// A name no longer offered by the daemon can still be re-enabled.
	call("PUT", "/api/v1/tenants/acme/tools", `{"disabled_tools":["retired_tool"]}`)
	call("POST", "/api/v1/tenants/acme/tools/retired_tool/enable", "")
	if st := stored(); len(st.DisabledTools) != 0 {
		t.Errorf("retired tool still disabled: %+v", st)
	}
}

func TestToolsWithoutList(t *testing.T) {
	t.Parallel()
	f := newCredFixture(t, func(o *adminops.Options) { o.Tools = nil })
	status, _, body := f.call(t, "GET", "/api/v1/tenants/acme/tools", localToken, "", nil)
	if status != 200 || strings.Contains(body, `"tools"`) || !strings.Contains(body, `"disabled_tools":[]`) {
		t.Errorf("GET tools without Options.Tools: %d %s", status, body)
	}
	// Without a list, any well-formed name may be switched (and no callback is needed).
	status, _, body = f.call(t, "POST", "/api/v1/tenants/acme/tools/anything/disable", localToken, "", nil)
	if status != 200 || !strings.Contains(body, `"disabled_tools":["anything"]`) {
		t.Errorf("disable without Options.Tools: %d %s", status, body)
	}
}

func TestConnections(t *testing.T) {
	t.Parallel()
	f := newCredFixture(t)
	path := "/api/v1/tenants/acme/users/" + f.uid
	status, _, body := f.call(t, "GET", path+"/connections", localToken, "", nil)
	if status != 200 {
		t.Fatalf("connections: %d %s", status, body)
	}
	var out apiv1.ConnectionsResponse
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Connections) != 1 || out.Connections[0].Provider != "github" || out.Connections[0].Status != "connected" {
		t.Errorf("connections = %+v", out.Connections)
	}
	// The OAuth credential is the engine's to list; api_keys has only keys.
	if len(out.APIKeys) != 1 || out.APIKeys[0].Provider != "openweather" || out.APIKeys[0].UpdatedAt.IsZero() {
		t.Errorf("api_keys = %+v", out.APIKeys)
	}
	f.assertNoSecrets(t, "response", body)

	if status, _, body := f.call(t, "DELETE", path+"/connections/github", localToken, "", nil); status != 204 {
		t.Fatalf("disconnect: %d %s", status, body)
	}
	f.oauth.mu.Lock()
	got := slices.Clone(f.oauth.disconnected)
	f.oauth.mu.Unlock()
	if !slices.Equal(got, []string{"acme/" + f.uid + "/github"}) {
		t.Errorf("Disconnect calls = %v", got)
	}
	if status, _, body := f.call(t, "DELETE", path+"/api-keys/openweather", localToken, "", nil); status != 204 {
		t.Fatalf("delete api key: %d %s", status, body)
	}
	if _, err := f.v.GetCredential(t.Context(), "acme", f.uid, vault.CredentialAPIKey, "openweather"); err == nil {
		t.Error("API key still stored after delete")
	}
	if _, err := f.v.GetCredential(t.Context(), "acme", f.uid, vault.CredentialOAuth, "github"); err != nil {
		t.Errorf("deleting the API key touched the OAuth credential: %v", err)
	}
	status, _, body = f.call(t, "GET", path+"/connections", localToken, "", nil)
	if status != 200 || !strings.Contains(body, `"connections":[]`) || !strings.Contains(body, `"api_keys":[]`) {
		t.Errorf("connections after removal: %d %s", status, body)
	}
}

func TestConnectionsWithoutOAuth(t *testing.T) {
	t.Parallel()
	f := newCredFixture(t, func(o *adminops.Options) { o.OAuth = nil })
	path := "/api/v1/tenants/acme/users/" + f.uid
	status, _, body := f.call(t, "GET", path+"/connections", localToken, "", nil)
	if status != 200 || !strings.Contains(body, `"connections":[]`) || !strings.Contains(body, `"openweather"`) {
		t.Errorf("connections without OAuth: %d %s", status, body)
	}
	status, _, body = f.call(t, "DELETE", path+"/connections/github", localToken, "", nil)
	if status != http.StatusNotImplemented || !strings.Contains(body, `"error"`) {
		t.Errorf("disconnect without OAuth: %d %s", status, body)
	}
}

// FuzzCreateProviderBody checks that no POST .../ext-oauth body makes the
// API fail inside (500) or panic, that every refusal is a JSON error, and
// that no answer carries a client secret.
func FuzzCreateProviderBody(f *testing.F) {
	for _, s := range []string{
		`{"preset":"github","client_id":"c","client_secret":"s"}`,
		`{"preset":"google","provider_name":"g2","client_id":"c","client_secret":"s","scopes":"a b"}`,
		`{"provider_name":"idp","client_id":"c","client_secret":"s","authorization_url":"https://i.example/a","token_url":"https://i.example/t","scopes":["x"]}`,
		`{"provider_name":"idp","client_id":"c","client_secret":"s","authorization_url":"http://i.example/a","token_url":"https://i.example/t"}`,
		`{"provider_name":"idp","client_id":"c","client_secret":"s","authorization_url":"not a url","token_url":"https://i.example/t"}`,
		`{"provider_name":"idp","client_id":"c","client_secret":"s","authorization_url":"http://[::1]:9/a","token_url":"http://localhost/t"}`,
		`{"preset":"nope","client_id":"c","client_secret":"s"}`,
		`{"preset":"github","client_id":"c","client_secret":"s","scopes":5}`,
		`{"preset":"github","client_id":"c","client_secret":"s","scopes":[1]}`,
		`{"preset":"github","client_id":"c","client_secret":"s","scopes":null}`,
		`{"preset":"github","provider_name":"` + strings.Repeat("a", 70) + `","client_id":"c","client_secret":"s"}`,
		`{"preset":"github","provider_name":"Ab","client_id":"c","client_secret":"s"}`,
		`{"preset":"github","client_id":"c\u0000","client_secret":"s"}`,
		`{"provider_name":"idp","client_id":"c","client_secret":"s","authorization_url":"https://i.example/a","token_url":"https://i.example/t","resource":"urn:x"}`,
		`{"client_secret":"s"}`,
		`{"preset":`,
		`[]`,
		``,
		`null`,
		`{"preset":"github"}{}`,
	} {
		f.Add(s)
	}
	v, h := newFuzzAPI(f, "acme")
	f.Fuzz(func(t *testing.T, body string) {
		rec := adminRequest(t, h, "POST", "/api/v1/tenants/acme/ext-oauth", body)
		switch rec.Code {
		case http.StatusCreated:
			var out struct {
				Provider map[string]any `json:"provider"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Provider == nil {
				t.Fatalf("body %q: created, but the answer is not a provider: %s", body, rec.Body)
			}
			if _, ok := out.Provider["client_secret"]; ok {
				t.Fatalf("body %q: answer carries client_secret: %s", body, rec.Body)
			}
			if out.Provider["client_secret_set"] != true {
				t.Fatalf("body %q: answer lacks client_secret_set: %s", body, rec.Body)
			}
			// Make room for the next input with the same name.
			name, _ := out.Provider["provider_name"].(string)
			if err := v.DeleteOAuthProvider(t.Context(), "acme", name); err != nil {
				t.Fatalf("cleanup %q: %v", name, err)
			}
			return
		case http.StatusBadRequest, http.StatusConflict:
		default:
			t.Fatalf("body %q: status %d: %s", body, rec.Code, rec.Body)
		}
		requireJSONError(t, body, rec)
	})
}

// FuzzPutAPIKeyBody: PUT .../api-keys/{provider} answers 200 having stored
// exactly the key it was sent (a valid one), or 400 with a JSON error; the
// answer never contains the key.
func FuzzPutAPIKeyBody(f *testing.F) {
	for _, s := range []string{
		`{"api_key_value":"k#123-secret"}`,
		`{"api_key_value":"k#123\tsecret"}`,
		`{"api_key_value":"k#123-secret","x":1}`,
		`{"api_key_value":""}`,
		`{"api_key_value":"  "}`,
		`{"api_key_value":"a\nb"}`,
		`{"api_key_value":"\u00e9t\u00e9-key"}`,
		`{"api_key_value":"\udc00"}`,
		`{"api_key_value":5}`,
		`{"api_key_value":"k","other":1}`,
		`{"api_key_value":"k"}{}`,
		`{}`, `[]`, `null`, ``, `{"api_key_value":`,
	} {
		f.Add(s)
	}
	v, h := newFuzzAPI(f, "acme")
	f.Fuzz(func(t *testing.T, body string) {
		rec := adminRequest(t, h, "PUT", "/api/v1/tenants/acme/users/local-owner/api-keys/wx", body)
		var sent apiv1.APIKeyRequest
		_ = json.Unmarshal([]byte(body), &sent)
		// No answer has a "#" of its own, so a key with one is echoed only
		// if the handler quotes it.
		if len(sent.APIKeyValue) >= 4 && strings.Contains(sent.APIKeyValue, "#") && strings.Contains(rec.Body.String(), sent.APIKeyValue) {
			t.Fatalf("body %q: the answer contains the key: %s", body, rec.Body)
		}
		switch rec.Code {
		case http.StatusOK:
			owner, err := v.EnsureLocalOwner(t.Context(), "acme")
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.GetCredential(t.Context(), "acme", owner.ID, vault.CredentialAPIKey, "wx")
			if err != nil || string(got) != sent.APIKeyValue || vault.ValidateAPIKeyValue(string(got)) != nil {
				t.Fatalf("body %q: 200, but stored %q (err %v)", body, got, err)
			}
			return
		case http.StatusBadRequest:
		default:
			t.Fatalf("body %q: status %d: %s", body, rec.Code, rec.Body)
		}
		requireJSONError(t, body, rec)
	})
}
