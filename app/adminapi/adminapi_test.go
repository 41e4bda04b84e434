package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/plexus-mcp/plexus/app/adminapi"
	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

const (
	localToken = "local-token-for-tests"
	adminKey   = "admin-key-for-tests"
)

// fixture is an admin API over a fresh vault, served on 127.0.0.1.
type fixture struct {
	srv     *httptest.Server
	v       *vault.Vault
	logs    *syncBuffer
	mu      sync.Mutex
	deleted []string
}

// newFixture starts the API; opts may adjust the operations' Options.
func newFixture(t *testing.T, opts ...func(*adminops.Options)) *fixture {
	t.Helper()
	f := &fixture{v: vaulttest.New(t), logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o := adminops.Options{Logger: log}
	// What the daemon's MCP server hears of: the vault's announcements.
	f.v.Subscribe(func(c vault.Change) {
		if c.Kind == vault.TenantDeleted {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.deleted = append(f.deleted, c.TenantID)
		}
	})
	for _, opt := range opts {
		opt(&o)
	}
	h := adminapi.New(adminops.New(f.v, o), adminapi.Options{Tokens: []string{localToken, "", adminKey}, Logger: log})
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// call sends one request and returns the status, headers and body.
func (f *fixture) call(t *testing.T, method, path, token, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b.String()
}

func (f *fixture) createTenant(t *testing.T, id string) string {
	t.Helper()
	status, _, body := f.call(t, "POST", "/api/v1/tenants", localToken, `{"entity_id":"`+id+`","name":"Tenant `+id+`"}`, nil)
	if status != http.StatusCreated {
		t.Fatalf("create tenant %s: status %d: %s", id, status, body)
	}
	var out struct {
		Secret string `json:"host_app_secret"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Secret == "" {
		t.Fatalf("create tenant %s: no secret in %s (%v)", id, body, err)
	}
	return out.Secret
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		method     string
		path       string
		token      string
		body       string
		hdr        map[string]string
		wantStatus int
		wantIn     []string // substrings of the response body
		wantHeader map[string]string
	}{
		// Auth.
		{name: "no token", method: "GET", path: "/api/v1/tenants", wantStatus: 401,
			wantIn: []string{`"error"`, "admin token"}, wantHeader: map[string]string{"WWW-Authenticate": "Bearer"}},
		{name: "wrong token", method: "GET", path: "/api/v1/tenants", token: "nope", wantStatus: 401},
		{name: "empty string is not a token", method: "GET", path: "/api/v1/tenants",
			hdr: map[string]string{"Authorization": "Bearer "}, wantStatus: 401},
		{name: "basic auth is not bearer", method: "GET", path: "/api/v1/tenants",
			hdr: map[string]string{"Authorization": "Basic " + adminKey}, wantStatus: 401},
		{name: "unknown path needs auth too", method: "GET", path: "/api/v1/secret-stuff", wantStatus: 401},
		{name: "local token", method: "GET", path: "/api/v1/tenants", token: localToken, wantStatus: 200,
			wantIn: []string{`"tenants"`, `"entity_id":"acme"`}},
		{name: "admin key", method: "GET", path: "/api/v1/tenants", token: adminKey, wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}},

		// Origin.
		{name: "foreign origin", method: "GET", path: "/api/v1/tenants", token: localToken,
			hdr: map[string]string{"Origin": "https://evil.example"}, wantStatus: 403, wantIn: []string{"cross-origin"}},
		{name: "null origin", method: "GET", path: "/api/v1/tenants", token: localToken,
			hdr: map[string]string{"Origin": "null"}, wantStatus: 403},
		{name: "foreign origin without token", method: "POST", path: "/api/v1/tenants",
			hdr: map[string]string{"Origin": "http://localhost:1"}, body: `{"entity_id":"x"}`, wantStatus: 403},

		// Tenants.
		{name: "create", method: "POST", path: "/api/v1/tenants", token: localToken,
			body: `{"entity_id":"beta","name":"Beta Ltd"}`, wantStatus: 201,
			wantIn:     []string{`"host_app_secret":"phs_`, `"entity_id":"beta"`, `"has_host_app_secret":true`},
			wantHeader: map[string]string{"Location": "/api/v1/tenants/beta"}},
		{name: "create uppercase id", method: "POST", path: "/api/v1/tenants", token: localToken,
			body: `{"entity_id":"API","name":"x"}`, wantStatus: 400, wantIn: []string{"tenant id", "lowercase"}},
		{name: "create reserved id ui", method: "POST", path: "/api/v1/tenants", token: localToken,
			body: `{"entity_id":"ui","name":"x"}`, wantStatus: 400, wantIn: []string{"reserved"}},
		{name: "create reserved id api", method: "POST", path: "/api/v1/tenants", token: localToken,
			body: `{"entity_id":"api","name":"x"}`, wantStatus: 400, wantIn: []string{"reserved"}},
		{name: "create without id", method: "POST", path: "/api/v1/tenants", token: localToken,
			body: `{"name":"x"}`, wantStatus: 400, wantIn: []string{"entity_id is required"}},
		{name: "create duplicate", method: "POST", path: "/api/v1/tenants", token: localToken,
			body: `{"entity_id":"acme","name":"again"}`, wantStatus: 409, wantIn: []string{"exists"}},
		{name: "bad json", method: "POST", path: "/api/v1/tenants", token: localToken,
			body: `{"entity_id":`, wantStatus: 400, wantIn: []string{"request body"}},
		{name: "syntax error", method: "POST", path: "/api/v1/tenants", token: localToken,
			body: `{"entity_id" "x"}`, wantStatus: 400, wantIn: []string{"invalid JSON at byte"}},
		{name: "unknown field", method: "POST", path: "/api/v1/tenants", token: localToken,
			body: `{"entity_id":"x","tenant":"y"}`, wantStatus: 400, wantIn: []string{"unknown field", "tenant"}},
		{name: "wrong type", method: "POST", path: "/api/v1/tenants", token: localToken,
			body: `{"entity_id":5}`, wantStatus: 400, wantIn: []string{`field \"entity_id\"`}},
		{name: "not an object", method: "POST", path: "/api/v1/tenants", token: localToken,
			body: `[1]`, wantStatus: 400, wantIn: []string{"expected a JSON object"}},
		{name: "two values", method: "POST", path: "/api/v1/tenants", token: localToken,
			body: `{"entity_id":"x"}{}`, wantStatus: 400, wantIn: []string{"more than one"}},
		{name: "empty body", method: "POST", path: "/api/v1/tenants", token: localToken,
			wantStatus: 400, wantIn: []string{"empty"}},
		{name: "body too large", method: "POST", path: "/api/v1/tenants", token: localToken,
			body: `{"name":"` + strings.Repeat("a", adminapi.MaxBodyBytes) + `"}`, wantStatus: 413, wantIn: []string{"larger than"}},
		{name: "show", method: "GET", path: "/api/v1/tenants/acme", token: localToken, wantStatus: 200,
			wantIn: []string{`"tenant"`, `"name":"Tenant acme"`}},
		{name: "show missing", method: "GET", path: "/api/v1/tenants/nope", token: localToken, wantStatus: 404,
			wantIn: []string{"not found"}},
		{name: "update", method: "PATCH", path: "/api/v1/tenants/acme", token: localToken,
			body: `{"name":"Acme Inc."}`, wantStatus: 200, wantIn: []string{`"name":"Acme Inc."`}},
		{name: "update empty name", method: "PATCH", path: "/api/v1/tenants/acme", token: localToken,
			body: `{"name":""}`, wantStatus: 400, wantIn: []string{"name is required"}},
		{name: "update no name", method: "PATCH", path: "/api/v1/tenants/acme", token: localToken,
			body: `{}`, wantStatus: 400, wantIn: []string{"name is required"}},
		{name: "update missing", method: "PATCH", path: "/api/v1/tenants/nope", token: localToken,
			body: `{"name":"x"}`, wantStatus: 404},
		{name: "delete", method: "DELETE", path: "/api/v1/tenants/acme", token: localToken, wantStatus: 204},
		{name: "delete missing", method: "DELETE", path: "/api/v1/tenants/nope", token: localToken, wantStatus: 404},
		{name: "rotate missing", method: "POST", path: "/api/v1/tenants/nope/host-app-secret", token: localToken, wantStatus: 404},

		// Users and tokens.
		{name: "users", method: "GET", path: "/api/v1/tenants/acme/users", token: localToken, wantStatus: 200,
			wantIn: []string{`"users":[]`}},
		{name: "users of missing tenant", method: "GET", path: "/api/v1/tenants/nope/users", token: localToken, wantStatus: 404},
		{name: "user token without user", method: "POST", path: "/api/v1/tenants/acme/users", token: localToken,
			body: `{}`, wantStatus: 400, wantIn: []string{"user_id_from_host_app is required"}},
		{name: "user token in missing tenant", method: "POST", path: "/api/v1/tenants/nope/users", token: localToken,
			body: `{"user_id_from_host_app":"alice"}`, wantStatus: 404},
		{name: "tokens", method: "GET", path: "/api/v1/tenants/acme/tokens", token: localToken, wantStatus: 200,
			wantIn: []string{`"tokens":[]`}},
		{name: "tokens of unknown user", method: "GET", path: "/api/v1/tenants/acme/tokens?user=nobody", token: localToken, wantStatus: 404},
		{name: "revoke unknown token", method: "DELETE", path: "/api/v1/tenants/acme/tokens/abc", token: localToken, wantStatus: 404},

		// Routing.
		{name: "unknown path", method: "GET", path: "/api/v1/nothing", token: localToken, wantStatus: 404,
			wantIn: []string{"no such admin API endpoint"}, wantHeader: map[string]string{"Content-Type": "application/json"}},
		{name: "wrong method", method: "PUT", path: "/api/v1/tenants", token: localToken, wantStatus: 405,
			wantIn: []string{"not allowed"}, wantHeader: map[string]string{"Allow": "GET"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.createTenant(t, "acme")
			status, h, body := f.call(t, tc.method, tc.path, tc.token, tc.body, tc.hdr)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body: %.300s", status, tc.wantStatus, body)
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
					t.Errorf("body lacks %q: %.300s", s, body)
				}
			}
			for k, v := range tc.wantHeader {
				if got := h.Get(k); !strings.Contains(got, v) {
					t.Errorf("header %s = %q, want it to contain %q", k, got, v)
				}
			}
		})
	}
}

func TestSameOriginAllowed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	origin := f.srv.URL // http://127.0.0.1:PORT, the host the request goes to
	status, _, body := f.call(t, "GET", "/api/v1/tenants", localToken, "", map[string]string{"Origin": origin})
	if status != http.StatusOK {
		t.Fatalf("same-origin request: status %d: %s", status, body)
	}
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	old := f.createTenant(t, "acme")
	if ok, err := f.v.CheckHostAppSecret(ctx, "acme", old); err != nil || !ok {
		t.Fatalf("secret from create does not match: ok=%v err=%v", ok, err)
	}
	status, _, body := f.call(t, "POST", "/api/v1/tenants/acme/host-app-secret", adminKey, "", nil)
	if status != http.StatusOK {
		t.Fatalf("rotate: status %d: %s", status, body)
	}
	var out struct {
		Secret string `json:"host_app_secret"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Secret == "" {
		t.Fatalf("rotate: no secret in answer (%v)", err)
	}
	if out.Secret == old {
		t.Fatal("rotate returned the old secret")
	}
	if ok, err := f.v.CheckHostAppSecret(ctx, "acme", old); err != nil || ok {
		t.Errorf("old secret still matches after rotation: ok=%v err=%v", ok, err)
	}
	if ok, err := f.v.CheckHostAppSecret(ctx, "acme", out.Secret); err != nil || !ok {
		t.Errorf("new secret does not match: ok=%v err=%v", ok, err)
	}
	if strings.Contains(f.logs.String(), old) || strings.Contains(f.logs.String(), out.Secret) {
		t.Error("a host-app secret appeared in the log")
	}
}

func TestUserTokenAndRevoke(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.createTenant(t, "acme")

	issue := func() (token, uid string) {
		t.Helper()
		status, _, body := f.call(t, "POST", "/api/v1/tenants/acme/users", localToken, `{"user_id_from_host_app":"alice"}`, nil)
		if status != http.StatusOK {
			t.Fatalf("user token: status %d: %s", status, body)
		}
		var out struct {
			Token  string `json:"plexus_user_auth_token"`
			UserID string `json:"persistent_user_id"`
		}
		if err := json.Unmarshal([]byte(body), &out); err != nil || out.Token == "" || out.UserID == "" {
			t.Fatalf("user token: incomplete answer (%v)", err)
		}
		return out.Token, out.UserID
	}
	tok1, uid1 := issue()
	tok2, uid2 := issue()
	if uid1 != uid2 {
		t.Errorf("same host user got two persistent ids: %s, %s", uid1, uid2)
	}
	if tok1 == tok2 {
		t.Error("two issues returned the same token")
	}
	info, err := f.v.ResolveToken(ctx, tok1)
	if err != nil {
		t.Fatalf("ResolveToken: %v", err)
	}
	if info.TenantID != "acme" || info.UserID != uid1 {
		t.Errorf("token resolves to %s/%s, want acme/%s", info.TenantID, info.UserID, uid1)
	}

	status, _, body := f.call(t, "GET", "/api/v1/tenants/acme/users", localToken, "", nil)
	if status != 200 || !strings.Contains(body, `"user_id_from_host_app":"alice"`) {
		t.Errorf("users: status %d: %s", status, body)
	}
	status, _, body = f.call(t, "GET", "/api/v1/tenants/acme/tokens?user="+uid1, localToken, "", nil)
	if status != 200 || !strings.Contains(body, `"token_id":"`+info.ID+`"`) {
		t.Errorf("tokens: status %d: %s", status, body)
	}
	if strings.Contains(body, tok1) {
		t.Error("token list contains a token value")
	}

	status, _, body = f.call(t, "DELETE", "/api/v1/tenants/acme/tokens/"+info.ID, localToken, "", nil)
	if status != http.StatusNoContent {
		t.Fatalf("revoke: status %d: %s", status, body)
	}
	if _, err := f.v.ResolveToken(ctx, tok1); !errors.Is(err, vault.ErrTokenRevoked) {
		t.Errorf("revoked token resolves with err %v, want ErrTokenRevoked", err)
	}
	if _, err := f.v.ResolveToken(ctx, tok2); err != nil {
		t.Errorf("the other token stopped working: %v", err)
	}
	status, _, body = f.call(t, "GET", "/api/v1/tenants/acme/tokens", localToken, "", nil)
	if status != 200 || !strings.Contains(body, `"revoked":true`) {
		t.Errorf("tokens after revoke: status %d: %s", status, body)
	}
	if logs := f.logs.String(); strings.Contains(logs, tok1) || strings.Contains(logs, tok2) {
		t.Error("a user token appeared in the log")
	}
}

func TestDeleteTenant(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.createTenant(t, "acme")
	f.createTenant(t, "beta")
	if status, _, body := f.call(t, "POST", "/api/v1/tenants/acme/users", localToken, `{"user_id_from_host_app":"alice"}`, nil); status != 200 {
		t.Fatalf("user token: %d %s", status, body)
	}
	status, _, body := f.call(t, "DELETE", "/api/v1/tenants/acme", localToken, "", nil)
	if status != http.StatusNoContent {
		t.Fatalf("delete: status %d: %s", status, body)
	}
	f.mu.Lock()
	deleted := append([]string(nil), f.deleted...)
	f.mu.Unlock()
	if len(deleted) != 1 || deleted[0] != "acme" {
		t.Errorf("TenantDeleted announcements = %v, want [acme]", deleted)
	}
	if _, err := f.v.GetTenant(ctx, "acme"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("GetTenant after delete: %v, want ErrNotFound", err)
	}
	if us, err := f.v.ListUsers(ctx, "acme"); err == nil && len(us) > 0 {
		t.Errorf("users survived their tenant: %v", us)
	}
	if _, err := f.v.GetTenant(ctx, "beta"); err != nil {
		t.Errorf("other tenant gone too: %v", err)
	}
	status, _, body = f.call(t, "GET", "/api/v1/tenants", localToken, "", nil)
	if status != 200 || strings.Contains(body, `"acme"`) || !strings.Contains(body, `"beta"`) {
		t.Errorf("list after delete: %d %s", status, body)
	}
}

// brokenStore fails ListTenants with an error that must not reach clients.
type brokenStore struct{ adminops.Store }

func (brokenStore) ListTenants(context.Context) ([]vault.Tenant, error) {
	return nil, errors.New("disk on fire at /secret/path")
}

func TestInternalErrorIsGeneric(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	h := adminapi.New(adminops.New(brokenStore{}, adminops.Options{}), adminapi.Options{
		Tokens: []string{localToken},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	req := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+localToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "disk on fire") {
		t.Errorf("internal cause leaked to the client: %s", rec.Body)
	}
	if !strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("500 body is not an error object: %s", rec.Body)
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("cause not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), localToken) {
		t.Error("admin token in the log")
	}
}

func TestNoTokensRefusesAll(t *testing.T) {
	t.Parallel()
	h := adminapi.New(adminops.New(brokenStore{}, adminops.Options{}), adminapi.Options{Tokens: []string{""}})
	req := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer ")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", rec.Code)
	}
}

// FuzzCreateTenantBody checks that no POST /api/v1/tenants body makes the
// API fail inside (500) or panic, and that every refusal is a JSON error.
func FuzzCreateTenantBody(f *testing.F) {
	for _, s := range []string{
		`{"entity_id":"acme","name":"Acme Inc."}`,
		`{"entity_id":"API","name":"x"}`,
		`{"entity_id":"ui"}`,
		`{"entity_id":"` + strings.Repeat("a", 64) + `"}`,
		`{"entity_id":"-x"}`,
		`{"entity_id":"x","name":"a\u0000b"}`,
		`{"entity_id":`,
		`{"entity_id":"x","tenant":"y"}`,
		`{"entity_id":5}`,
		`[1]`,
		`{"entity_id":"x"}{}`,
		``,
		`null`,
		`{"name":"\xff"}`,
	} {
		f.Add(s)
	}
	_, h := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body string) {
		rec := adminRequest(t, h, "POST", "/api/v1/tenants", body)
		switch rec.Code {
		case http.StatusCreated:
			return
		case http.StatusBadRequest, http.StatusConflict:
		default:
			t.Fatalf("body %q: status %d: %s", body, rec.Code, rec.Body)
		}
		requireJSONError(t, body, rec)
	})
}

// newFuzzAPI returns a vault (with the given tenants) and the admin API over
// it, accepting localToken, for fuzz tests.
func newFuzzAPI(f *testing.F, tenants ...string) (*vault.Vault, http.Handler) {
	f.Helper()
	v := vaulttest.New(f)
	for _, id := range tenants {
		if _, err := v.CreateTenant(f.Context(), vault.Tenant{ID: id, Name: id}); err != nil {
			f.Fatal(err)
		}
	}
	return v, adminapi.New(adminops.New(v, adminops.Options{}), adminapi.Options{Tokens: []string{localToken}})
}

// adminRequest sends body to h as method path with the local token.
func adminRequest(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	// A loopback Host: mounted alone, the API applies the edge rule itself.
	req := httptest.NewRequestWithContext(t.Context(), method, "http://127.0.0.1"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+localToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// requireJSONError fails unless the refusal of body is {"error": "..."}.
func requireJSONError(t *testing.T, body string, rec *httptest.ResponseRecorder) {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("body %q: refusal is not a JSON error: %s", body, rec.Body)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
