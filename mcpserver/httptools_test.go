package mcpserver

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

// seen is one request an upstream API received.
type seen struct {
	method, path, query, body string
	header                    http.Header
}

// fakeAPI records requests and answers with the next status of script
// (200 with a JSON echo when the script is used up).
type fakeAPI struct {
	hs     *httptest.Server
	mu     sync.Mutex
	got    []seen
	script []int
}

func newFakeAPI(t *testing.T, script ...int) *fakeAPI {
	f := &fakeAPI{script: script}
	f.hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, seen{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, body: string(b), header: r.Header.Clone()})
		status := 200
		if len(f.script) > 0 {
			status, f.script = f.script[0], f.script[1:]
		}
		f.mu.Unlock()
		if status != 200 {
			http.Error(w, `{"message":"try later"}`, status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "data": map[string]any{"temp": 21.5, "name": "Paris"}})
	}))
	t.Cleanup(f.hs.Close)
	return f
}

func (f *fakeAPI) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.got...)
}

func (e *env) addHTTPTool(h vault.HTTPTool) {
	e.t.Helper()
	if _, err := e.v.CreateHTTPTool(e.t.Context(), h); err != nil {
		e.t.Fatalf("create http tool: %v", err)
	}
}

func cityHTTPTool(tenant, base string) vault.HTTPTool {
	return vault.HTTPTool{
		TenantID: tenant, Name: "city_weather", Description: "Weather in a city", Method: "POST",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"},"units":{"type":"string"},"note":{"type":"string"}},"required":["city"]}`),
		URL:         base + "/v1/cities/{city}",
		Query:       map[string]string{"units": "{units}"},
		Headers:     map[string]string{"X-Note": "{note}"},
		Body:        json.RawMessage(`{"city":"{city}","fixed":true}`),
	}
}

// fastRetries is an OAuth manager (whose retry policy HTTP tools share)
// with millisecond backoff.
func fastRetries(v *vault.Vault, _ string) []Option {
	return []Option{WithOAuth(oauth.NewManager(v, oauth.WithRetryPolicy(time.Millisecond, 5*time.Millisecond)))}
}

// TestHTTPToolEscaping: a declarative tool's request reaches the API with
// every argument escaped for its place; injection attempts stay inside
// their value, and arguments are checked before any request.
func TestHTTPToolEscaping(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t)
	e.addHTTPTool(cityHTTPTool("acme", api.hs.URL))
	tests := []struct {
		name, args string
		path       string
		query      url.Values
		note       string
		bodyCity   string
		err        string
	}{
		{"plain", `{"city":"Paris","units":"metric"}`, "/v1/cities/Paris", url.Values{"units": {"metric"}}, "", "Paris", ""},
		{"path traversal", `{"city":"../../admin"}`, "/v1/cities/..%2F..%2Fadmin", url.Values{}, "", "../../admin", ""},
		{"query injection", `{"city":"x?admin=1","units":"a&admin=1"}`, "/v1/cities/x%3Fadmin=1", url.Values{"units": {"a&admin=1"}}, "", "x?admin=1", ""},
		{"json injection", `{"city":"\"},{\"admin\":true,\"x\":\""}`, "", url.Values{}, "", `"},{"admin":true,"x":"`, ""},
		{"header", `{"city":"P","note":"hello"}`, "/v1/cities/P", url.Values{}, "hello", "P", ""},
		{"crlf header", `{"city":"P","note":"a\r\nX-Admin: 1"}`, "", nil, "", "", "line breaks"},
		{"dot-dot segment", `{"city":".."}`, "", nil, "", "", `".."`},
		{"extra argument", `{"city":"P","admin":true}`, "", nil, "", "", "admin"},
		{"wrong type", `{"city":3}`, "", nil, "", "", "city"},
		{"missing", `{}`, "", nil, "", "", "city"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(api.requests())
			text, isErr := toolText(t, e.modernCall("acme", localToken, "city_weather", tc.args))
			reqs := api.requests()
			if tc.err != "" {
				if !isErr || !strings.Contains(text, tc.err) {
					t.Fatalf("result %q (error %v); want an error mentioning %q", text, isErr, tc.err)
				}
				if len(reqs) != before {
					t.Fatalf("a request was sent for refused arguments: %+v", reqs[before:])
				}
				return
			}
			if isErr || len(reqs) != before+1 {
				t.Fatalf("result %q (error %v), %d requests", text, isErr, len(reqs)-before)
			}
			r := reqs[len(reqs)-1]
			if tc.path != "" && r.path != tc.path {
				t.Errorf("path %s; want %s", r.path, tc.path)
			}
			if q, _ := url.ParseQuery(r.query); q.Encode() != tc.query.Encode() {
				t.Errorf("query %s; want %s", r.query, tc.query.Encode())
			}
			if r.header.Get("X-Note") != tc.note || r.header.Get("X-Admin") != "" {
				t.Errorf("headers %v", r.header)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(r.body), &body); err != nil || body["city"] != tc.bodyCity || body["fixed"] != true || len(body) != 2 {
				t.Errorf("body %s; want city %q", r.body, tc.bodyCity)
			}
		})
	}
}

// TestHTTPToolRetries: 502, 503 and 429 are retried with backoff, a
// bounded number of times; other failures are not; the model gets the
// status in words.
func TestHTTPToolRetries(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		script   []int
		attempts int
		ok       bool
	}{
		{"transient then ok", "GET", []int{502, 503, 429}, 4, true},
		{"always unavailable", "GET", []int{503, 503, 503, 503, 503, 503}, 4, false},
		{"not transient", "GET", []int{500}, 1, false},
		{"not found", "GET", []int{404}, 1, false},
		{"POST 502 not retried", "POST", []int{502}, 1, false},
		{"POST 503 retried", "POST", []int{503}, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, tc.script...)
			e := newEnvFor(t, fastRetries)
			h := vault.HTTPTool{TenantID: "acme", Name: "get_it", Method: tc.method, URL: api.hs.URL + "/x", ResponsePointer: "/data/name"}
			if tc.method == "POST" {
				h.Body = json.RawMessage(`{"a":1}`)
			}
			e.addHTTPTool(h)
			text, isErr := toolText(t, e.modernCall("acme", localToken, "get_it", `{}`))
			if got := len(api.requests()); got != tc.attempts {
				t.Fatalf("%d attempts; want %d", got, tc.attempts)
			}
			if tc.ok != !isErr || tc.ok && text != "Paris" {
				t.Fatalf("result %q (error %v)", text, isErr)
			}
			if !tc.ok && !strings.Contains(text, fmt.Sprint(tc.script[len(tc.script)-1])) && !strings.Contains(text, fmt.Sprint(tc.script[0])) {
				t.Fatalf("error does not say the status: %q", text)
			}
			for _, r := range api.requests() {
				if tc.method == "POST" && r.body != `{"a":1}` {
					t.Fatalf("replayed body %q", r.body)
				}
			}
		})
	}
}

// TestHTTPToolAPIKey: the caller's own API key goes in the header or
// query parameter the definition names, only to the tool's origin; a
// redirect to another origin is not followed with it; without a key the
// caller is told how to add one and nothing is sent.
func TestHTTPToolAPIKey(t *testing.T) {
	api := newFakeAPI(t)
	other := newFakeAPI(t)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.hs.URL+"/stolen", http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	e := newEnv(t)
	aliceID, alice := e.user("acme", "alice")
	_, bob := e.user("acme", "bob")
	if err := e.v.PutCredential(t.Context(), "acme", aliceID, vault.CredentialAPIKey, "wx", []byte("alice-secret-key")); err != nil {
		t.Fatal(err)
	}
	e.addHTTPTool(vault.HTTPTool{TenantID: "acme", Name: "in_header", URL: api.hs.URL + "/h",
		Auth: &vault.HTTPToolAuth{Kind: vault.CredentialAPIKey, Provider: "wx", Header: "Authorization", Scheme: "Token"}})
	e.addHTTPTool(vault.HTTPTool{TenantID: "acme", Name: "in_query", URL: api.hs.URL + "/q?fixed=1",
		Auth: &vault.HTTPToolAuth{Kind: vault.CredentialAPIKey, Provider: "wx", QueryParam: "appid"}})
	e.addHTTPTool(vault.HTTPTool{TenantID: "acme", Name: "redirected", URL: redirector.URL + "/r",
		Auth: &vault.HTTPToolAuth{Kind: vault.CredentialAPIKey, Provider: "wx", Header: "X-Key"}})

	if text, isErr := toolText(t, e.modernCall("acme", alice, "in_header", `{}`)); isErr {
		t.Fatalf("in_header: %s", text)
	}
	if text, isErr := toolText(t, e.modernCall("acme", alice, "in_query", `{}`)); isErr {
		t.Fatalf("in_query: %s", text)
	}
	reqs := api.requests()
	if len(reqs) != 2 || reqs[0].header.Get("Authorization") != "Token alice-secret-key" {
		t.Fatalf("header key not sent: %+v", reqs)
	}
	if q, _ := url.ParseQuery(reqs[1].query); q.Get("appid") != "alice-secret-key" || q.Get("fixed") != "1" {
		t.Fatalf("query key not sent: %s", reqs[1].query)
	}
	// An API that echoes the key, in its answer or its error, never hands
	// it to the model.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			http.Error(w, "invalid appid "+r.URL.Query().Get("appid"), http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"you_sent": r.URL.RawQuery, "header": r.Header.Get("X-Key")})
	}))
	t.Cleanup(echo.Close)
	e.addHTTPTool(vault.HTTPTool{TenantID: "acme", Name: "echoing", URL: echo.URL + "/ok",
		Auth: &vault.HTTPToolAuth{Kind: vault.CredentialAPIKey, Provider: "wx", QueryParam: "appid"}})
	e.addHTTPTool(vault.HTTPTool{TenantID: "acme", Name: "echoing_error", URL: echo.URL + "/bad",
		Auth: &vault.HTTPToolAuth{Kind: vault.CredentialAPIKey, Provider: "wx", QueryParam: "appid"}})
	if text, isErr := toolText(t, e.modernCall("acme", alice, "echoing", `{}`)); isErr || strings.Contains(text, "alice-secret-key") ||
		!strings.Contains(text, "appid=[redacted]") {
		t.Fatalf("an echoing API's answer: %q", text)
	}
	if text, isErr := toolText(t, e.modernCall("acme", alice, "echoing_error", `{}`)); !isErr || strings.Contains(text, "alice-secret-key") ||
		!strings.Contains(text, "invalid appid [redacted]") {
		t.Fatalf("an echoing API's error: %q", text)
	}
	text, isErr := toolText(t, e.modernCall("acme", alice, "redirected", `{}`))
	if !isErr || !strings.Contains(text, "not followed") || strings.Contains(text, "alice-secret-key") {
		t.Fatalf("redirect result %q (error %v)", text, isErr)
	}
	if n := len(other.requests()); n != 0 {
		t.Fatalf("the other origin got %d requests", n)
	}
	// Bob has no key: told how to add one; nothing sent.
	before := len(api.requests())
	text, isErr = toolText(t, e.modernCall("acme", bob, "in_header", `{}`))
	if !isErr || !strings.Contains(text, ResultAPIKeyRequired) {
		t.Fatalf("bob without a key: %q", text)
	}
	if len(api.requests()) != before {
		t.Fatal("a request was sent without a key")
	}
}

// TestHTTPToolOAuth: an OAuth tool sends the caller's own connection as a
// bearer token to the provider's API origin, asks for consent when there
// is none, and refuses an origin outside the provider's API origins.
func TestHTTPToolOAuth(t *testing.T) {
	ce := newCredEnv(t, nil)
	other := newFakeAPI(t)
	ce.addHTTPTool(vault.HTTPTool{TenantID: "acme", Name: "gh_login", URL: ce.gh.hs.URL + "/user", ResponsePointer: "/login",
		Auth: &vault.HTTPToolAuth{Kind: vault.CredentialOAuth, Provider: "github"}})
	ce.addHTTPTool(vault.HTTPTool{TenantID: "acme", Name: "elsewhere", URL: other.hs.URL + "/x",
		Auth: &vault.HTTPToolAuth{Kind: vault.CredentialOAuth, Provider: "github"}})
	_, tok := ce.user("acme", "alice")
	alice := caller{name: "alice", tenant: "acme", token: tok, sid: ce.initialize("acme", tok)}
	ce.connect(t, credResult(t, ce.callAs(alice, "gh_login", `{}`)))
	text, isErr := toolText(t, ce.callAs(alice, "gh_login", `{}`))
	if isErr || !strings.HasPrefix(text, "tok-") {
		t.Fatalf("gh_login: %q (error %v)", text, isErr)
	}
	// An API that echoes the token does not hand it to the model.
	ce.addHTTPTool(vault.HTTPTool{TenantID: "acme", Name: "gh_headers", URL: ce.gh.hs.URL + "/debug/headers",
		Auth: &vault.HTTPToolAuth{Kind: vault.CredentialOAuth, Provider: "github"}})
	text, isErr = toolText(t, ce.callAs(alice, "gh_headers", `{}`))
	if isErr || !strings.Contains(text, `"authorization":"Bearer [redacted]"`) {
		t.Fatalf("gh_headers: %q (error %v)", text, isErr)
	}
	text, isErr = toolText(t, ce.callAs(alice, "elsewhere", `{}`))
	if !isErr || !strings.Contains(text, "API origins") {
		t.Fatalf("elsewhere: %q (error %v)", text, isErr)
	}
	if n := len(other.requests()); n != 0 {
		t.Fatalf("the token's request reached another origin %d times", n)
	}
}

// TestHTTPToolStalledAndLarge: an API that does not answer is given up
// after the tool's timeout; an answer past max_response_bytes is refused
// in words, not passed on.
func TestHTTPToolStalledAndLarge(t *testing.T) {
	release := make(chan struct{})
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(stalled.Close)
	t.Cleanup(func() { close(release) })
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 4096)))
	}))
	t.Cleanup(big.Close)
	e := newEnv(t)
	e.addHTTPTool(vault.HTTPTool{TenantID: "acme", Name: "slow", URL: stalled.URL + "/", TimeoutSeconds: 1})
	e.addHTTPTool(vault.HTTPTool{TenantID: "acme", Name: "big", URL: big.URL + "/", MaxResponseBytes: 1024})
	start := time.Now()
	text, isErr := toolText(t, e.modernCall("acme", localToken, "slow", `{}`))
	if !isErr || !strings.Contains(text, "no answer within 1s") || time.Since(start) > 20*time.Second {
		t.Fatalf("slow: %q (error %v) after %s", text, isErr, time.Since(start))
	}
	text, isErr = toolText(t, e.modernCall("acme", localToken, "big", `{}`))
	if !isErr || !strings.Contains(text, "larger than 1024 bytes") {
		t.Fatalf("big: %q (error %v)", text, isErr)
	}
}
