package mcpserver

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/examples"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/mcpserver/oauth/oauthtest"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// fakeGitHub is a GitHub API stand-in that accepts only access tokens the
// fake OAuth provider considers valid, and answers GET /user with a login
// derived from the token, so a test sees whose token reached it.
type fakeGitHub struct {
	p  *oauthtest.Provider
	hs *httptest.Server
}

func tokenLogin(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return "tok-" + hex.EncodeToString(h[:6])
}

func newFakeGitHub(t *testing.T, p *oauthtest.Provider) *fakeGitHub {
	g := &fakeGitHub{p: p}
	mux := http.NewServeMux()
	auth := func(w http.ResponseWriter, r *http.Request) (string, bool) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !p.AccessTokenValid(tok) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return "", false
		}
		return tok, true
	}
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := auth(w, r); ok {
			_ = json.NewEncoder(w).Encode(map[string]any{"login": tokenLogin(tok), "name": "Test User"})
		}
	})
	mux.HandleFunc("GET /user/repos", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth(w, r); ok {
			fmt.Fprintf(w, `[{"full_name":"octo/one","private":false},{"full_name":"octo/two","private":true}]`)
		}
	})
	// A debug endpoint that echoes the request's headers (some APIs have
	// one): the token must not come back through Plexus.
	mux.HandleFunc("GET /debug/headers", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth(w, r); ok {
			_ = json.NewEncoder(w).Encode(map[string]any{"authorization": r.Header.Get("Authorization")})
		}
	})
	g.hs = httptest.NewServer(mux)
	t.Cleanup(g.hs.Close)
	return g
}

// fakeWeather is an OpenWeatherMap stand-in recording the appid it gets.
type fakeWeather struct {
	hs   *httptest.Server
	mu   sync.Mutex
	keys []string
}

func newFakeWeather(t *testing.T) *fakeWeather {
	f := &fakeWeather{}
	f.hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/data/2.5/weather" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		f.mu.Lock()
		f.keys = append(f.keys, q.Get("appid"))
		f.mu.Unlock()
		if q.Get("appid") == "rejected-key" {
			http.Error(w, `{"cod":401,"message":"Invalid API key"}`, http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"name":%q,"main":{"temp":21.5,"feels_like":20,"humidity":40},"weather":[{"description":"clear sky"}],"wind":{"speed":3}}`, q.Get("q"))
	}))
	t.Cleanup(f.hs.Close)
	return f
}

func (f *fakeWeather) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.keys) == 0 {
		return ""
	}
	return f.keys[len(f.keys)-1]
}

// credEnv is an env with the example tools pointed at fakes, and an OAuth
// provider "github" (the fake) configured for acme and beta.
type credEnv struct {
	*env
	p  *oauthtest.Provider
	gh *fakeGitHub
	wx *fakeWeather
}

func newCredEnv(t *testing.T, githubAPI func(p *oauthtest.Provider, gh *fakeGitHub) string, opts ...Option) *credEnv {
	t.Helper()
	p := oauthtest.New(t)
	gh := newFakeGitHub(t, p)
	wx := newFakeWeather(t)
	api := gh.hs.URL
	if githubAPI != nil {
		api = githubAPI(p, gh)
	}
	reg := tools.NewRegistry()
	if err := examples.Register(reg, examples.Config{GitHubAPIURL: api, WeatherAPIURL: wx.hs.URL}); err != nil {
		t.Fatal(err)
	}
	e := newEnvFor(t, func(v *vault.Vault, base string) []Option {
		return []Option{WithOAuth(oauth.NewManager(v, oauth.WithBaseURL(base))), WithPublicURL(base)}
	}, append([]Option{WithRegistry(reg)}, opts...)...)
	apiOrigin, err := egress.OriginOfURL(api)
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"acme", "beta"} {
		pr := p.OAuthProvider(tenant, "github", "read:user", "repo")
		pr.APIOrigins = append(pr.APIOrigins, gh.hs.URL, string(apiOrigin))
		if _, err := e.v.CreateOAuthProvider(t.Context(), pr); err != nil {
			t.Fatalf("create provider: %v", err)
		}
	}
	return &credEnv{env: e, p: p, gh: gh, wx: wx}
}

// caller is one party of the matrix: a user (token) or a guest, in a legacy
// session (sid) or statelessly.
type caller struct {
	name, tenant, token, sid, userID string
}

func (e *env) callAs(c caller, tool, args string) reply {
	e.t.Helper()
	if c.sid != "" {
		return e.legacyCall(c.tenant, c.token, c.sid, tool, args)
	}
	return e.modernCall(c.tenant, c.token, tool, args)
}

// credResult decodes a credential-required result (isError, JSON first).
func credResult(t *testing.T, rep reply) CredentialResult {
	t.Helper()
	text, isErr := toolText(t, rep)
	var r CredentialResult
	if err := json.Unmarshal([]byte(text), &r); err != nil || !isErr || r.Error == "" {
		t.Fatalf("want a credential result, got isError=%v %s", isErr, rep.body)
	}
	return r
}

// connect follows a consent result like a person's browser: the link is
// Plexus's consent page (never the provider's URL); Approve there, consent
// at the fake provider, then the callback on Plexus in the same browser.
func (ce *credEnv) connect(t *testing.T, r CredentialResult) {
	t.Helper()
	if r.Error != ResultAuthRequired || !strings.HasPrefix(r.AuthorizationURL, ce.hs.URL+"/") ||
		!strings.Contains(r.AuthorizationURL, "/oauth/consent/") || strings.Contains(r.AuthorizationURL, ce.p.URL) {
		t.Fatalf("not a consent result with a Plexus consent link: %+v", r)
	}
	b := oauthtest.NewBrowser()
	cb := ce.p.Authorize(t, b.Approve(t, r.AuthorizationURL))
	if !strings.HasPrefix(cb, ce.hs.URL+"/") {
		t.Fatalf("callback %q is not on Plexus", cb)
	}
	status, body, _, err := b.Get(cb)
	if err != nil || status != http.StatusOK {
		t.Fatalf("callback: %d %s %v", status, body, err)
	}
	// A replayed callback stores nothing and says so.
	if status, _, _, _ := b.Get(cb); status == http.StatusOK {
		t.Fatal("replayed callback accepted")
	}
}

// TestOAuthEndToEnd (acceptance 8): tool call -> consent result -> browser
// GET of the authorization URL -> callback -> tool call succeeds -> token
// expires -> silent refresh -> refresh revoked -> consent result again.
func TestOAuthEndToEnd(t *testing.T) {
	// github_whoami against the fake provider's own protected API (/api/user).
	ce := newCredEnv(t, func(p *oauthtest.Provider, _ *fakeGitHub) string { return p.URL + "/api" })
	uid, tok := ce.user("acme", "alice")
	_ = uid
	alice := caller{name: "alice", tenant: "acme", token: tok, sid: ce.initialize("acme", tok)}

	r := credResult(t, ce.callAs(alice, examples.GitHubWhoamiName, ""))
	if r.ProviderName != "github" || r.Message == "" {
		t.Fatalf("consent result %+v", r)
	}
	ce.connect(t, r)

	text, isErr := toolText(t, ce.callAs(alice, examples.GitHubWhoamiName, ""))
	if isErr || !strings.Contains(text, "octocat") {
		t.Fatalf("after consent: %q (isError %v)", text, isErr)
	}
	// The stateless era sees the same user's connection.
	if text, _ := toolText(t, ce.callAs(caller{tenant: "acme", token: tok}, examples.GitHubWhoamiName, "")); !strings.Contains(text, "octocat") {
		t.Fatalf("modern era: %q", text)
	}

	ce.p.ExpireAccessTokens()
	before := ce.p.Refreshes()
	text, isErr = toolText(t, ce.callAs(alice, examples.GitHubWhoamiName, ""))
	if isErr || !strings.Contains(text, "octocat") || ce.p.Refreshes() != before+1 {
		t.Fatalf("after expiry: %q (isError %v), refreshes %d -> %d", text, isErr, before, ce.p.Refreshes())
	}

	ce.p.RevokeRefreshTokens()
	ce.p.ExpireAccessTokens()
	r = credResult(t, ce.callAs(alice, examples.GitHubWhoamiName, ""))
	if r.Error != ResultAuthRequired {
		t.Fatalf("after revocation: %+v", r)
	}
	// Still expired on the next call (no retry loop on the dead refresh token).
	n := ce.p.TokenRequests()
	credResult(t, ce.callAs(alice, examples.GitHubListReposName, ""))
	if ce.p.TokenRequests() != n {
		t.Fatalf("token endpoint hit again after the refresh token died")
	}
	// Consent again works.
	ce.connect(t, r)
	if text, _ := toolText(t, ce.callAs(alice, examples.GitHubWhoamiName, "")); !strings.Contains(text, "octocat") {
		t.Fatalf("after reconnect: %q", text)
	}
}

// TestCredentialMatrix (acceptance 8): users A and B in acme, C in beta,
// guests in two sessions: each stores an API key and connects OAuth; no one
// ever gets another's key or token.
func TestCredentialMatrix(t *testing.T) {
	ce := newCredEnv(t, nil)
	ctx := t.Context()
	var parties []caller
	for _, u := range []struct{ name, tenant string }{{"A", "acme"}, {"B", "acme"}, {"C", "beta"}} {
		id, tok := ce.user(u.tenant, "host-"+u.name)
		c := caller{name: u.name, tenant: u.tenant, token: tok, userID: id}
		if u.name != "B" { // B calls statelessly
			c.sid = ce.initialize(u.tenant, tok)
		}
		parties = append(parties, c)
	}
	for _, g := range []string{"G1", "G2"} {
		parties = append(parties, caller{name: g, tenant: "acme", sid: ce.initialize("acme", "")})
	}
	keyOf := func(c caller) string { return "key-of-" + c.name + "-0123456789" }

	// Nobody has a key yet.
	for _, c := range parties {
		r := credResult(t, ce.callAs(c, examples.WeatherName, `{"city":"Paris"}`))
		if r.Error != ResultAPIKeyRequired || r.KeyNameDisplay != "OpenWeatherMap API key" || r.ProviderName != "openweathermap" ||
			r.SubmitURL != "/"+c.tenant+"/plexus-services/api-keys" || !strings.Contains(r.Instructions, "openweathermap.org") {
			t.Fatalf("%s: %+v", c.name, r)
		}
	}
	// Each stores its own: users through the endpoint, guests in their session.
	for _, c := range parties {
		if c.token != "" {
			st, body := ce.apiKeys(http.MethodPost, c.tenant, c.token, "", `{"provider_name":"openweathermap","api_key_value":"`+keyOf(c)+`"}`)
			if st != http.StatusOK {
				t.Fatalf("%s: store key: %d %s", c.name, st, body)
			}
			continue
		}
		if err := ce.v.SetSessionValue(ctx, c.tenant, c.sid, tools.GuestAPIKeyPrefix+"openweathermap", []byte(keyOf(c))); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 2 {
		for _, c := range parties {
			text, isErr := toolText(t, ce.callAs(c, examples.WeatherName, `{"city":"Paris"}`))
			if isErr || !strings.Contains(text, "clear sky") {
				t.Fatalf("round %d %s: %q", round, c.name, text)
			}
			if got := ce.wx.last(); got != keyOf(c) {
				t.Fatalf("round %d: %s's call reached the API with another key", round, c.name)
			}
		}
	}

	// OAuth: each connects; the API then sees each caller's own token.
	for _, c := range parties {
		ce.connect(t, credResult(t, ce.callAs(c, examples.GitHubWhoamiName, "")))
	}
	// A user of acme who never connected still gets the consent result.
	_, dTok := ce.user("acme", "host-D")
	if r := credResult(t, ce.callAs(caller{tenant: "acme", token: dTok}, examples.GitHubWhoamiName, "")); r.Error != ResultAuthRequired {
		t.Fatalf("D: %+v", r)
	}
	seen := map[string]string{} // login (token fingerprint) -> caller
	for round := range 2 {
		for _, c := range parties {
			var w struct {
				Login string `json:"login"`
			}
			rep := ce.callAs(c, examples.GitHubWhoamiName, "")
			text, isErr := toolText(t, rep)
			if isErr {
				t.Fatalf("round %d %s: %s", round, c.name, text)
			}
			_ = json.Unmarshal(structured(t, rep), &w)
			if owner, ok := seen[w.Login]; ok && owner != c.name {
				t.Fatalf("%s's call used %s's token", c.name, owner)
			}
			seen[w.Login] = c.name
		}
	}
	if len(seen) != len(parties) {
		t.Fatalf("want %d distinct tokens, saw %v", len(parties), seen)
	}

	// A guest on the stateless era has nowhere to keep credentials.
	r := credResult(t, ce.callAs(caller{tenant: "acme"}, examples.GitHubWhoamiName, ""))
	if r.Error != ResultSignInRequired {
		t.Fatalf("stateless guest: %+v", r)
	}
	r = credResult(t, ce.callAs(caller{tenant: "acme"}, examples.WeatherName, `{"city":"Paris"}`))
	if r.Error != ResultAPIKeyRequired {
		t.Fatalf("stateless guest weather: %+v", r)
	}
}

// TestProviderNotConfigured: a tool whose provider the tenant lacks says
// the command that adds it (with --preset for a built-in preset).
func TestProviderNotConfigured(t *testing.T) {
	ce := newCredEnv(t, nil)
	if err := ce.v.DeleteOAuthProvider(t.Context(), "beta", "github"); err != nil {
		t.Fatal(err)
	}
	text, isErr := toolText(t, ce.callAs(caller{tenant: "beta", token: localToken}, examples.GitHubWhoamiName, ""))
	want := "plexus admin ext-oauth create --entity-id beta --preset github --client-id ID --client-secret -"
	if !isErr || !strings.Contains(text, `tenant "beta" has not configured`) || !strings.Contains(text, want) {
		t.Errorf("github tool without the provider = %q (isError %v), want it to name %q", text, isErr, want)
	}
	if got := providerMissingMessage("acme", "intranet"); !strings.Contains(got, "--provider-name intranet") ||
		!strings.Contains(got, "--authorization-url URL --token-url URL") {
		t.Errorf("custom provider message = %q", got)
	}
}

// TestAPIKeyMessageByCaller: the person at this machine (local token, as
// through plexus stdio) is told the CLI command that stores the key; a
// host application's user is told the endpoint and their token.
func TestAPIKeyMessageByCaller(t *testing.T) {
	ce := newCredEnv(t, nil)
	_, tok := ce.user("acme", "host-A")
	for _, tc := range []struct {
		name     string
		c        caller
		want     string
		dontWant string
	}{
		{"local owner", caller{tenant: "acme", token: localToken},
			"plexus admin connections set-api-key --entity-id acme --provider-name openweathermap", "Bearer"},
		{"registered user", caller{tenant: "acme", token: tok},
			"POST /acme/plexus-services/api-keys (Authorization: Bearer <your Plexus user token>", "plexus admin"},
	} {
		r := credResult(t, ce.callAs(tc.c, examples.WeatherName, `{"city":"Paris"}`))
		if r.Error != ResultAPIKeyRequired || r.SubmitURL != "/acme/plexus-services/api-keys" ||
			!strings.Contains(r.Message, tc.want) || strings.Contains(r.Message, tc.dontWant) {
			t.Errorf("%s: %+v", tc.name, r)
		}
	}
}

// structured returns a tools/call result's structuredContent.
func structured(t *testing.T, rep reply) json.RawMessage {
	t.Helper()
	var res struct {
		Structured json.RawMessage `json:"structuredContent"`
	}
	if err := json.Unmarshal(rep.rpc.Result, &res); err != nil {
		t.Fatal(err)
	}
	return res.Structured
}

// TestAPIKeyToolSchema: the injected "<provider>_api_key" argument is
// hidden from tools/list, and a key the client passes is ignored.
func TestAPIKeyToolSchema(t *testing.T) {
	ce := newCredEnv(t, nil)
	_, tok := ce.user("acme", "alice")
	rep := ce.do(req{tenant: "acme", token: tok, version: modern, headers: map[string]string{"Mcp-Method": "tools/list"},
		body: `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{` + modernMeta + `}}`})
	if !strings.Contains(rep.body, `"city"`) || strings.Contains(rep.body, "openweathermap_api_key") {
		t.Fatalf("tools/list: %s", rep.body)
	}
	if st, body := ce.apiKeys(http.MethodPost, "acme", tok, "", `{"provider_name":"openweathermap","api_key_value":"the-real-key"}`); st != http.StatusOK {
		t.Fatalf("store: %d %s", st, body)
	}
	toolText(t, ce.modernCall("acme", tok, examples.WeatherName, `{"city":"Oslo","openweathermap_api_key":"client-sent"}`))
	if ce.wx.last() != "the-real-key" {
		t.Fatal("the client's key argument reached the API")
	}
	// A key the API refuses: a tool error that names neither key nor URL.
	if st, _ := ce.apiKeys(http.MethodPost, "acme", tok, "", `{"provider_name":"openweathermap","api_key_value":"rejected-key"}`); st != http.StatusOK {
		t.Fatal(st)
	}
	text, isErr := toolText(t, ce.modernCall("acme", tok, examples.WeatherName, `{"city":"Oslo"}`))
	if !isErr || strings.Contains(text, "rejected-key") || !strings.Contains(text, "401") {
		t.Fatalf("rejected key: %q", text)
	}
}

// TestWeatherRedactsURL: a transport error does not echo the appid.
func TestWeatherRedactsURL(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	reg := tools.NewRegistry()
	if err := examples.Register(reg, examples.Config{WeatherAPIURL: dead.URL}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, WithRegistry(reg))
	_, tok := e.user("acme", "alice")
	if st, body := e.apiKeys(http.MethodPost, "acme", tok, "", `{"provider_name":"openweathermap","api_key_value":"secret-appid-value"}`); st != http.StatusOK {
		t.Fatalf("%d %s", st, body)
	}
	text, isErr := toolText(t, e.modernCall("acme", tok, examples.WeatherName, `{"city":"Oslo"}`))
	if !isErr || strings.Contains(text, "secret-appid-value") || strings.Contains(text, "appid") {
		t.Fatalf("error text %q", text)
	}
}

// TestConsentViaURLElicitation: a 2025-11-25 client that declared URL-mode
// elicitation is asked through it; accepting and finishing the
// authorization lets the same call succeed; declining gives the result.
func TestConsentViaURLElicitation(t *testing.T) {
	for _, action := range []string{"accept", "decline"} {
		t.Run(action, func(t *testing.T) {
			ce := newCredEnv(t, nil, WithConsentWait(10*time.Second))
			_, tok := ce.user("acme", "alice")
			rep := ce.do(req{tenant: "acme", token: tok, body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",` +
				`"capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"test","version":"1"}}}`})
			sid := rep.header.Get("Mcp-Session-Id")
			ce.do(req{tenant: "acme", token: tok, session: sid, version: legacy, body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`})

			hr, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ce.url("acme"), strings.NewReader(
				`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"github_whoami","arguments":{}}}`))
			for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
				"Authorization": "Bearer " + tok, "Mcp-Session-Id": sid, "Mcp-Protocol-Version": legacy} {
				hr.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			events := bufio.NewScanner(resp.Body)
			next := func() json.RawMessage {
				for events.Scan() {
					if d, ok := strings.CutPrefix(events.Text(), "data: "); ok {
						return json.RawMessage(d)
					}
				}
				t.Fatalf("stream ended: %v", events.Err())
				return nil
			}
			var el struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
				Params struct {
					Mode, URL, Message string
					ElicitationID      string `json:"elicitationId"`
				} `json:"params"`
			}
			if err := json.Unmarshal(next(), &el); err != nil || el.Method != "elicitation/create" || el.Params.Mode != "url" {
				t.Fatalf("first event: %+v %v", el, err)
			}
			if action == "accept" {
				ce.connect(t, CredentialResult{Error: ResultAuthRequired, AuthorizationURL: el.Params.URL})
			}
			answer := ce.do(req{tenant: "acme", token: tok, session: sid, version: legacy,
				body: `{"jsonrpc":"2.0","id":` + string(el.ID) + `,"result":{"action":"` + action + `"}}`})
			if answer.status != http.StatusAccepted {
				t.Fatalf("answer: %d %s", answer.status, answer.body)
			}
			// Notifications may come before the response: on accept,
			// notifications/elicitation/complete names the elicitation.
			var final rpcResponse
			var completed []string
			for final.ID == nil {
				raw := next()
				var n struct {
					Method string `json:"method"`
					Params struct {
						ElicitationID string `json:"elicitationId"`
					} `json:"params"`
				}
				if json.Unmarshal(raw, &n) == nil && n.Method != "" {
					if n.Method == "notifications/elicitation/complete" {
						completed = append(completed, n.Params.ElicitationID)
					}
					continue
				}
				if err := json.Unmarshal(raw, &final); err != nil {
					t.Fatal(err)
				}
			}
			got := reply{status: http.StatusOK, rpc: final}
			if action == "accept" {
				if text, isErr := toolText(t, got); isErr || !strings.Contains(text, "You are tok-") {
					t.Fatalf("after accepted elicitation: %q", text)
				}
				if len(completed) != 1 || completed[0] != el.Params.ElicitationID {
					t.Fatalf("notifications/elicitation/complete: got %q, want [%q]", completed, el.Params.ElicitationID)
				}
				return
			}
			if r := credResult(t, got); r.Error != ResultAuthRequired {
				t.Fatalf("after decline: %+v", r)
			}
		})
	}
}

// apiKeys calls the api-keys endpoint; suffix is appended to the path.
func (e *env) apiKeys(method, tenant, token, suffix, body string) (int, string) {
	e.t.Helper()
	hr, err := http.NewRequestWithContext(e.t.Context(), method, e.hs.URL+"/"+tenant+"/plexus-services/api-keys"+suffix, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAPIKeysEndpoint (acceptance 6): store, list (names only), delete;
// guests and bad tokens refused; bad bodies get 400 {"detail"}.
func TestAPIKeysEndpoint(t *testing.T) {
	e := newEnv(t)
	_, alice := e.user("acme", "alice")
	_, bob := e.user("acme", "bob")
	const secret = "sk-very-secret-value"
	for _, tc := range []struct {
		name, method, tenant, token, suffix, body string
		status                                    int
		want                                      string
	}{
		{"guest", http.MethodPost, "acme", "", "", `{"provider_name":"p","api_key_value":"` + secret + `"}`, 401, "API keys are stored per user"},
		{"bad token", http.MethodPost, "acme", "nope", "", `{"provider_name":"p","api_key_value":"` + secret + `"}`, 401, msgBadToken},
		{"other tenant's token", http.MethodPost, "beta", alice, "", `{"provider_name":"p","api_key_value":"` + secret + `"}`, 401, msgBadToken},
		{"unknown tenant", http.MethodPost, "nosuch", alice, "", `{}`, 404, "unknown tenant"},
		{"bad json", http.MethodPost, "acme", alice, "", `{"provider_name":`, 400, "invalid JSON body"},
		{"missing key", http.MethodPost, "acme", alice, "", `{"provider_name":"p"}`, 400, "api_key_value: field required"},
		{"missing provider", http.MethodPost, "acme", alice, "", `{"api_key_value":"x"}`, 400, "provider_name: field required"},
		{"empty key", http.MethodPost, "acme", alice, "", `{"provider_name":"p","api_key_value":" "}`, 400, "api_key_value: must not be empty"},
		{"bad provider", http.MethodPost, "acme", alice, "", `{"provider_name":"a/b","api_key_value":"x"}`, 400, "provider_name"},
		{"provider the vault cannot store", http.MethodPost, "acme", alice, "", `{"provider_name":"OpenWeather","api_key_value":"x"}`, 400, `lowercase letters`},
		{"key not a string", http.MethodPost, "acme", alice, "", `{"provider_name":"p","api_key_value":12}`, 400, "api_key_value must be a string"},
		{"too big", http.MethodPost, "acme", alice, "", `{"provider_name":"p","api_key_value":"` + strings.Repeat("x", maxAPIKeyBody) + `"}`, 413, "larger than"},
		{"store", http.MethodPost, "acme", alice, "", `{"provider_name":"openweathermap","api_key_value":"` + secret + `"}`, 200, "API key for provider 'openweathermap' was successfully saved/updated."},
		{"store local owner", http.MethodPost, "acme", localToken, "", `{"provider_name":"other","api_key_value":"k2"}`, 200, "successfully saved"},
		{"list", http.MethodGet, "acme", alice, "", "", 200, `"provider_name":"openweathermap"`},
		{"list other user", http.MethodGet, "acme", bob, "", "", 200, `{"api_keys":[]}`},
		{"delete other user's", http.MethodDelete, "acme", bob, "/openweathermap", "", 404, "no API key stored"},
		{"delete", http.MethodDelete, "acme", alice, "/openweathermap", "", 200, "was deleted"},
		{"delete again", http.MethodDelete, "acme", alice, "/openweathermap", "", 404, "no API key stored"},
		{"list after delete", http.MethodGet, "acme", alice, "", "", 200, `{"api_keys":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body := e.apiKeys(tc.method, tc.tenant, tc.token, tc.suffix, tc.body)
			if st != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("%s: %d %s, want %d containing %q", tc.name, st, body, tc.status, tc.want)
			}
			if strings.Contains(body, secret) {
				t.Fatal("the key came back")
			}
			if st >= 400 && !strings.Contains(body, `"detail"`) {
				t.Fatalf("error without detail: %s", body)
			}
		})
	}
	// The key is sealed at rest: stored for alice, readable only through her.
	owner, err := e.v.EnsureLocalOwner(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.v.GetCredential(t.Context(), "acme", owner.ID, vault.CredentialAPIKey, "other")
	if err != nil || string(b) != "k2" {
		t.Fatalf("local owner's key: %q %v", b, err)
	}
}

func FuzzAPIKeyBody(f *testing.F) {
	for _, s := range []string{
		`{"provider_name":"openweathermap","api_key_value":"k"}`,
		`{"provider_name":`, `{"provider_name":"p"}`, `{"api_key_value":"x"}`, `{"provider_name":"a/b","api_key_value":"x"}`,
		`{"provider_name":"p","api_key_value":12}`, `[]`, `null`, ``, `{"provider_name":"p","api_key_value":"a\nb"}`,
		`{"provider_name":"p","api_key_value":"k"} trailing`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		provider, key, err := parseAPIKeyBody(bytes.NewReader(body))
		if err != nil {
			if _, ok := err.(*httpError); !ok {
				t.Fatalf("error %T, want *httpError", err)
			}
			// The error never quotes the key.
			var in struct {
				P string `json:"provider_name"`
				K string `json:"api_key_value"`
			}
			if json.Unmarshal(body, &in) == nil && len(in.K) >= 8 && !strings.Contains(in.P, in.K) && strings.Contains(err.Error(), in.K) {
				t.Fatalf("error %q quotes the key", err)
			}
			return
		}
		if provider == "" || key == "" || validProviderName(provider) != nil || len(key) > vault.MaxAPIKeyLen {
			t.Fatalf("accepted provider %q key len %d", provider, len(key))
		}
	})
}

// TestGitHubTokenNotSentThroughRedirect (acceptance 1, as measured):
// github_whoami against an API that answers 302 to another origin gets
// the redirect as a tool error, and the other origin never receives the
// user's access token.
func TestGitHubTokenNotSentThroughRedirect(t *testing.T) {
	var redirector *httptest.Server
	ce := newCredEnv(t, func(p *oauthtest.Provider, _ *fakeGitHub) string {
		redirector = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, p.Second.URL+r.URL.Path, http.StatusFound)
		}))
		t.Cleanup(redirector.Close)
		return redirector.URL
	})
	_, tok := ce.user("acme", "alice")
	alice := caller{name: "alice", tenant: "acme", token: tok, sid: ce.initialize("acme", tok)}
	ce.connect(t, credResult(t, ce.callAs(alice, examples.GitHubWhoamiName, "")))
	text, isErr := toolText(t, ce.callAs(alice, examples.GitHubWhoamiName, ""))
	if !isErr || !strings.Contains(text, "redirect") {
		t.Fatalf("github_whoami through a cross-origin redirect = %q (isError %v)", text, isErr)
	}
	for _, secret := range ce.p.Issued() {
		if ce.p.Second.Saw(secret) {
			t.Fatal("a token reached the other origin")
		}
	}
	if n := len(ce.p.Second.Requests()); n != 0 {
		t.Fatalf("the other origin got %d requests", n)
	}
}

// TestConsentPageNamesClientToolAndTenant (acceptance 4): the consent
// link of a tool result opens a page that a person can judge: which
// client (its clientInfo, "claude-ai" shown as Claude), which tenant (by
// name), which tool, which account and what it will be able to do.
func TestConsentPageNamesClientToolAndTenant(t *testing.T) {
	ce := newCredEnv(t, nil)
	_, tok := ce.user("acme", "alice")
	rep := ce.do(req{tenant: "acme", token: tok, body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",` +
		`"capabilities":{},"clientInfo":{"name":"claude-ai","version":"1"}}}`})
	sid := rep.header.Get("Mcp-Session-Id")
	ce.do(req{tenant: "acme", token: tok, session: sid, version: legacy, body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`})
	r := credResult(t, ce.legacyCall("acme", tok, sid, examples.GitHubListReposName, "{}"))
	status, page, _, err := oauthtest.NewBrowser().Get(r.AuthorizationURL)
	if err != nil || status != http.StatusOK {
		t.Fatalf("consent page: %d %v", status, err)
	}
	tenant, _ := ce.v.GetTenant(t.Context(), "acme")
	for _, want := range []string{"<strong>Claude</strong>", tenant.Name, "github_list_repos", "alice",
		"use the permission “repo”", "Approve", "Deny", "127.0.0.1"} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	// A stateless (2026-07-28) caller's clientInfo comes from _meta.
	if clientName(t.Context()) != "" {
		t.Error("clientName without a request")
	}
}
