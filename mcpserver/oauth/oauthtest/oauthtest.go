// Package oauthtest runs a fake OAuth 2.1 authorization server (with a small
// protected API) on an httptest server bound to 127.0.0.1, for tests of
// packages that connect users to external providers. It verifies client
// authentication, PKCE (S256), redirect_uri and single-use codes, issues
// short-lived access tokens and rotating refresh tokens, supports RFC 7009
// revocation and records the RFC 8707 resource parameter. Tests only: it
// keeps everything in memory and must never be used by production code.
package oauthtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/vault"
)

// Provider is the fake authorization server. Its endpoints:
//
//	GET  /authorize      authorization endpoint (redirects at once, as if the user consented)
//	POST /token          token endpoint (authorization_code, refresh_token)
//	POST /revoke         RFC 7009 revocation
//	GET  /api/user       protected API: {"login":..., "scopes":[...]}
//	POST /api/echo       protected API: echoes the request body
//	GET  /api/away       protected API that answers 302 to the second origin
//	GET  /api/here       protected API that answers 301 to /api/user (same origin)
//
// Second is another origin (another port), standing for a host that must
// never receive a credential: it answers 200 to everything and records
// what it got (Second.Requests). RedirectTokenRequests and
// RedirectRevocations make the token and revocation endpoints redirect
// there; HoldTokenRequests makes the token endpoint slow.
//
// Safe for concurrent use.
type Provider struct {
	// URL is the server's base URL (http://127.0.0.1:port).
	URL string
	// Second is the other origin; see Provider.
	Second *Recorder
	// ClientID and ClientSecret are the only client credentials accepted.
	ClientID     string
	ClientSecret string
	// Server is the underlying test server (closed by t.Cleanup).
	Server *httptest.Server

	mu               sync.Mutex
	accessTTL        time.Duration
	codeTTL          time.Duration
	login            string
	scopes           []string
	requiredResource string
	rotate           bool
	noRefresh        bool
	slack            bool
	denyNext         string
	codes            map[string]*grant
	access           map[string]accessToken
	refresh          map[string]*grant
	failures         []failure
	resources        []string
	tokenRequests    int
	refreshes        int
	apiCalls         int
	revocations      []string
	issued           []string // every code, access and refresh token handed out
	tokenRedirect    int      // status the token endpoint redirects with (0 = none)
	revokeRedirect   int
	hold             *hold
	mcp              mcpAS // mcp.go
}

// hold makes the next token request wait.
type hold struct {
	arrived chan struct{}
	release chan struct{}
}

// grant is what a code or refresh token stands for.
type grant struct {
	redirectURI string
	challenge   string
	scopes      []string
	resource    string
	expires     time.Time
}

type accessToken struct {
	expires time.Time
	scopes  []string
	refresh string // the refresh token issued with it
}

type failure struct {
	status     int
	retryAfter string
}

// Option configures a Provider.
type Option func(*Provider)

// WithAccessTokenTTL sets the lifetime of issued access tokens (default 1h).
func WithAccessTokenTTL(d time.Duration) Option { return func(p *Provider) { p.accessTTL = d } }

// WithLogin sets the login /api/user reports (default "octocat").
func WithLogin(login string) Option { return func(p *Provider) { p.login = login } }

// WithClient sets the accepted client credentials (default
// "test-client" / "test-secret").
func WithClient(id, secret string) Option {
	return func(p *Provider) { p.ClientID, p.ClientSecret = id, secret }
}

// WithGrantedScopes makes the server grant exactly these scopes whatever
// was asked (default: grant what was asked).
func WithGrantedScopes(scopes ...string) Option {
	return func(p *Provider) { p.scopes = scopes }
}

// WithRequiredResource makes every token request without resource=uri (or
// with another value) fail with invalid_target.
func WithRequiredResource(uri string) Option { return func(p *Provider) { p.requiredResource = uri } }

// WithoutRotation makes refreshes keep the same refresh token (and omit it
// from the response).
func WithoutRotation() Option { return func(p *Provider) { p.rotate = false } }

// WithoutRefreshTokens makes the server issue access tokens only (as a
// GitHub OAuth app does).
func WithoutRefreshTokens() Option { return func(p *Provider) { p.noRefresh = true } }

// WithSlackStyle makes the server behave like Slack's OAuth v2 for user
// tokens: scopes are asked in user_scope (comma-separated), token answers
// are HTTP 200 with {"ok":true,"authed_user":{"access_token",...}} and no
// top-level access_token, token_type is "user", and errors are HTTP 200
// {"ok":false,"error":"invalid_refresh_token"} (or "invalid_code", ...).
func WithSlackStyle() Option { return func(p *Provider) { p.slack = true } }

// New starts a Provider on 127.0.0.1; it is closed by t.Cleanup.
func New(t testing.TB, opts ...Option) *Provider {
	t.Helper()
	p := &Provider{
		ClientID:     "test-client",
		ClientSecret: "test-secret",
		accessTTL:    time.Hour,
		codeTTL:      time.Minute,
		login:        "octocat",
		rotate:       true,
		codes:        map[string]*grant{},
		access:       map[string]accessToken{},
		refresh:      map[string]*grant{},
	}
	for _, o := range opts {
		o(p)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", p.handleAuthorize)
	mux.HandleFunc("POST /token", p.handleToken)
	mux.HandleFunc("POST /revoke", p.handleRevoke)
	mux.HandleFunc("GET /api/user", p.handleUser)
	mux.HandleFunc("POST /api/echo", p.handleEcho)
	mux.HandleFunc("GET /api/away", p.handleAway)
	mux.HandleFunc("GET /api/here", p.handleHere)
	p.mcpRoutes(mux)                   // mcp.go
	p.Server = httptest.NewServer(mux) // httptest listens on 127.0.0.1
	p.URL = p.Server.URL
	t.Cleanup(p.Server.Close)
	p.Second = NewRecorder(t)
	return p
}

// AuthorizationURL is the authorization endpoint.
func (p *Provider) AuthorizationURL() string { return p.URL + "/authorize" }

// TokenURL is the token endpoint.
func (p *Provider) TokenURL() string { return p.URL + "/token" }

// RevocationURL is the RFC 7009 revocation endpoint.
func (p *Provider) RevocationURL() string { return p.URL + "/revoke" }

// UserinfoURL is the protected /api/user endpoint.
func (p *Provider) UserinfoURL() string { return p.URL + "/api/user" }

// APIURL returns the URL of a protected API path such as "/api/user".
func (p *Provider) APIURL(path string) string { return p.URL + path }

// OAuthProvider returns a vault.OAuthProvider pointing at this server, for
// tenantID under name, with the given scopes.
func (p *Provider) OAuthProvider(tenantID, name string, scopes ...string) vault.OAuthProvider {
	return vault.OAuthProvider{
		TenantID:         tenantID,
		Name:             name,
		ClientID:         p.ClientID,
		ClientSecret:     p.ClientSecret,
		AuthorizationURL: p.AuthorizationURL(),
		TokenURL:         p.TokenURL(),
		UserinfoURL:      p.UserinfoURL(),
		RevocationURL:    p.RevocationURL(),
		Scopes:           scopes,
		APIOrigins:       []string{p.URL},
	}
}

// Authorize acts as the browser and a consenting user: it GETs authURL and
// returns the redirect (callback) URL carrying code and state. It fails the
// test if the server refuses the request.
func (p *Provider) Authorize(t testing.TB, authURL string) (callbackURL string) {
	t.Helper()
	u, err := p.TryAuthorize(authURL)
	if err != nil {
		t.Fatalf("oauthtest: authorize: %v", err)
	}
	return u
}

// DenyNext makes the next authorization redirect back with error=code
// (e.g. "access_denied") instead of a code.
func (p *Provider) DenyNext(code string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.denyNext = code
}

// TryAuthorize is Authorize returning an error instead of failing the test.
func (p *Provider) TryAuthorize(authURL string) (string, error) {
	if !strings.HasPrefix(authURL, p.AuthorizationURL()+"?") {
		return "", fmt.Errorf("authorization url does not start with %s", p.AuthorizationURL())
	}
	c := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Get(authURL)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("authorize: status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return resp.Header.Get("Location"), nil
}

func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.ClientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || (redirect.Scheme != "http" && redirect.Scheme != "https") || redirect.RawQuery != "" {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	switch {
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256":
		http.Error(w, "code_challenge_method must be S256", http.StatusBadRequest)
		return
	case len(q.Get("code_challenge")) != 43:
		http.Error(w, "code_challenge missing or malformed", http.StatusBadRequest)
		return
	case q.Get("state") == "":
		http.Error(w, "state missing", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if res := q.Get("resource"); res != "" {
		p.resources = append(p.resources, res)
	}
	out := url.Values{"state": {q.Get("state")}}
	if p.denyNext != "" {
		out.Set("error", p.denyNext)
		out.Set("error_description", "the user said no")
		p.denyNext = ""
	} else {
		code := randToken("code")
		p.issued = append(p.issued, code)
		p.codes[code] = &grant{
			redirectURI: q.Get("redirect_uri"),
			challenge:   q.Get("code_challenge"),
			scopes:      p.grantScopes(p.askedScopes(q)),
			resource:    q.Get("resource"),
			expires:     time.Now().Add(p.codeTTL),
		}
		out.Set("code", code)
	}
	redirect.RawQuery = out.Encode()
	w.Header().Set("Location", redirect.String())
	w.WriteHeader(http.StatusFound)
}

// askedScopes reads the scopes of an authorization request: "scope"
// (space-separated), or Slack's "user_scope" (comma-separated).
func (p *Provider) askedScopes(q url.Values) []string {
	if p.slack {
		return strings.FieldsFunc(q.Get("user_scope"), func(r rune) bool { return r == ',' })
	}
	return strings.Fields(q.Get("scope"))
}

func (p *Provider) grantScopes(asked []string) []string {
	if p.scopes != nil {
		return append([]string(nil), p.scopes...)
	}
	return asked
}

// clientOK checks client_secret_basic or client_secret_post.
func (p *Provider) clientOK(r *http.Request) bool {
	if id, secret, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		return id == p.ClientID && secret == p.ClientSecret
	}
	return r.PostForm.Get("client_id") == p.ClientID && r.PostForm.Get("client_secret") == p.ClientSecret
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	h, redirect := p.hold, p.tokenRedirect
	p.hold = nil
	p.mu.Unlock()
	if h != nil {
		close(h.arrived)
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
	}
	if redirect != 0 {
		w.Header().Set("Location", p.Second.URL+"/token")
		w.WriteHeader(redirect)
		return
	}
	if err := r.ParseForm(); err != nil {
		p.tokenError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokenRequests++
	if !p.clientOK(r) {
		p.tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	res := r.PostForm.Get("resource")
	if res != "" {
		p.resources = append(p.resources, res)
	}
	if p.requiredResource != "" && res != p.requiredResource {
		p.tokenError(w, http.StatusBadRequest, "invalid_target", "resource missing or not allowed")
		return
	}
	now := time.Now()
	var g *grant
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		c, ok := p.codes[code]
		if !ok {
			p.tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown or used code")
			return
		}
		delete(p.codes, code) // single use, whatever happens next
		if now.After(c.expires) {
			p.tokenError(w, http.StatusBadRequest, "invalid_grant", "code expired")
			return
		}
		if r.PostForm.Get("redirect_uri") != c.redirectURI {
			p.tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri mismatch")
			return
		}
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
			p.tokenError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
			return
		}
		g = c
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		old, ok := p.refresh[rt]
		if !ok {
			p.tokenError(w, http.StatusBadRequest, "invalid_grant", "refresh token invalid, used or revoked")
			return
		}
		p.refreshes++
		if !p.rotate {
			tok := p.issueAccess(now, old.scopes, rt)
			p.writeToken(w, tok, "", p.accessTTL, old.scopes)
			return
		}
		delete(p.refresh, rt)
		g = old
	default:
		p.tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type not supported")
		return
	}
	rt := ""
	if !p.noRefresh {
		rt = randToken("rt")
		p.issued = append(p.issued, rt)
		p.refresh[rt] = &grant{scopes: g.scopes, resource: g.resource}
	}
	tok := p.issueAccess(now, g.scopes, rt)
	p.writeToken(w, tok, rt, p.accessTTL, g.scopes)
}

func (p *Provider) issueAccess(now time.Time, scopes []string, rt string) string {
	tok := randToken("at")
	p.issued = append(p.issued, tok)
	p.access[tok] = accessToken{expires: now.Add(p.accessTTL), scopes: scopes, refresh: rt}
	return tok
}

// slackErrors maps OAuth error codes to what Slack answers instead.
var slackErrors = map[string]string{
	"invalid_client":         "invalid_client_id",
	"unsupported_grant_type": "invalid_grant_type",
}

// tokenError answers a token request with an OAuth error (RFC 6749 5.2),
// or in Slack style with HTTP 200 {"ok":false,"error":...}.
func (p *Provider) tokenError(w http.ResponseWriter, status int, code, desc string) {
	if !p.slack {
		tokenError(w, status, code, desc)
		return
	}
	if code == "invalid_grant" {
		code = "invalid_code"
		if strings.Contains(desc, "refresh") {
			code = "invalid_refresh_token"
		}
	} else if c, ok := slackErrors[code]; ok {
		code = c
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": code})
}

func (p *Provider) writeToken(w http.ResponseWriter, access, refresh string, ttl time.Duration, scopes []string) {
	body := map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   int(ttl.Seconds()),
		"scope":        strings.Join(scopes, " "),
	}
	if refresh != "" {
		body["refresh_token"] = refresh
	}
	if p.slack {
		body["token_type"] = "user"
		body["scope"] = strings.Join(scopes, ",")
		body = map[string]any{"ok": true, "app_id": "A0FAKE", "authed_user": body, "team": map[string]string{"id": "T0FAKE"}}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(body)
}

func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	redirect := p.revokeRedirect
	p.mu.Unlock()
	if redirect != 0 {
		w.Header().Set("Location", p.Second.URL+"/revoke")
		w.WriteHeader(redirect)
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.clientOK(r) {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	tok := r.PostForm.Get("token")
	p.revocations = append(p.revocations, r.PostForm.Get("token_type_hint"))
	if _, ok := p.refresh[tok]; ok {
		delete(p.refresh, tok)
		for at, a := range p.access { // revoke the access tokens issued with it
			if a.refresh == tok {
				delete(p.access, at)
			}
		}
	}
	delete(p.access, tok)
	w.WriteHeader(http.StatusOK) // RFC 7009: 200 even for unknown tokens
}

// authorized handles failure injection and bearer checks; false means a
// response was written.
func (p *Provider) authorized(w http.ResponseWriter, r *http.Request) (accessToken, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.apiCalls++
	if len(p.failures) > 0 {
		f := p.failures[0]
		p.failures = p.failures[1:]
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		http.Error(w, http.StatusText(f.status), f.status)
		return accessToken{}, false
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a, known := p.access[tok]
	if !ok || !known || time.Now().After(a.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return accessToken{}, false
	}
	return a, true
}

func (p *Provider) handleUser(w http.ResponseWriter, r *http.Request) {
	a, ok := p.authorized(w, r)
	if !ok {
		return
	}
	p.mu.Lock()
	login := p.login
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"login": login, "scopes": a.scopes})
}

func (p *Provider) handleAway(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.authorized(w, r); !ok {
		return
	}
	http.Redirect(w, r, p.Second.URL+"/steal", http.StatusFound)
}

func (p *Provider) handleHere(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.authorized(w, r); !ok {
		return
	}
	http.Redirect(w, r, "/api/user", http.StatusMovedPermanently)
}

func (p *Provider) handleEcho(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.authorized(w, r); !ok {
		return
	}
	w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
	_, _ = io.Copy(w, io.LimitReader(r.Body, 1<<20))
}

// FailNext makes the next n protected API calls answer status (e.g. 503 or
// 429), with a Retry-After header when retryAfter is not "".
func (p *Provider) FailNext(n, status int, retryAfter string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.failures = append(p.failures, failure{status: status, retryAfter: retryAfter})
	}
}

// RedirectTokenRequests makes the token endpoint answer every request
// with status (e.g. 307, which keeps the POST and its body) and a Location
// at the second origin; 0 turns it off.
func (p *Provider) RedirectTokenRequests(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokenRedirect = status
}

// RedirectRevocations does the same for the revocation endpoint.
func (p *Provider) RedirectRevocations(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revokeRedirect = status
}

// HoldTokenRequests makes the next token request wait: arrived is closed
// when it comes in, and it goes on when release is called (idempotent;
// also called by t.Cleanup).
func (p *Provider) HoldTokenRequests(t testing.TB) (arrived <-chan struct{}, release func()) {
	h := &hold{arrived: make(chan struct{}), release: make(chan struct{})}
	p.mu.Lock()
	p.hold = h
	p.mu.Unlock()
	var once sync.Once
	release = func() { once.Do(func() { close(h.release) }) }
	t.Cleanup(release)
	return h.arrived, release
}

// ExpireAccessTokens makes every issued access token expired (the API
// answers 401 to them); refresh tokens stay valid.
func (p *Provider) ExpireAccessTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for k, a := range p.access {
		a.expires = past
		p.access[k] = a
	}
}

// RevokeRefreshTokens invalidates every issued refresh token (the next
// refresh gets invalid_grant); access tokens stay valid until they expire.
func (p *Provider) RevokeRefreshTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.refresh)
}

// RefreshTokenValid reports whether rt would be accepted by a refresh.
func (p *Provider) RefreshTokenValid(rt string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.refresh[rt]
	return ok
}

// AccessTokenValid reports whether at would be accepted by the API.
func (p *Provider) AccessTokenValid(at string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.access[at]
	return ok && time.Now().Before(a.expires)
}

// Issued returns every authorization code, access token and refresh token
// the server has handed out, for tests that check none of them leaked.
func (p *Provider) Issued() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.issued)
}

// TokenRequests counts requests to the token endpoint (any grant, any outcome).
func (p *Provider) TokenRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokenRequests
}

// Refreshes counts refresh_token grants that presented a valid refresh token.
func (p *Provider) Refreshes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshes
}

// APICalls counts requests to the protected API (including failed ones).
func (p *Provider) APICalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.apiCalls
}

// Revocations returns the token_type_hint of every revocation request, in order.
func (p *Provider) Revocations() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.revocations...)
}

// Resources returns every RFC 8707 resource value received (authorization
// and token requests), in order.
func (p *Provider) Resources() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.resources...)
}

func randToken(prefix string) string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + base64.RawURLEncoding.EncodeToString(b[:])
}
