package mcpserver

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

const acmeSecret = "acme-host-secret"

type registerReply struct {
	status int
	header http.Header
	resp   registerResponse
	detail string
}

func (e *env) register(tenant, secret, contentType, body string) registerReply {
	e.t.Helper()
	hr, err := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.hs.URL+"/"+tenant+"/plexus-auth/register-user", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		hr.Header.Set("Content-Type", contentType)
	}
	if secret != "" {
		hr.Header.Set("X-Host-App-Secret", secret)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	rr := registerReply{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &rr.resp); err != nil {
			e.t.Fatalf("register-user body %s: %v", b, err)
		}
	} else {
		var d struct {
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal(b, &d); err != nil || d.Detail == "" {
			e.t.Fatalf("register-user error body %s is not {\"detail\"}: %v", b, err)
		}
		rr.detail = d.Detail
	}
	return rr
}

func TestRegisterUser(t *testing.T) {
	e := newEnv(t)
	if err := e.v.SetHostAppSecret(t.Context(), "acme", acmeSecret); err != nil {
		t.Fatal(err)
	}
	const ct = "application/json"

	first := e.register("acme", acmeSecret, ct, `{"user_id_from_host_app":"alice@example.com"}`)
	if first.status != http.StatusOK || first.resp.Token == "" || first.resp.PersistentUserID == "" || first.resp.Message != registeredMessage {
		t.Fatalf("register = %+v", first)
	}
	got := whoami(t, e.modernCall("acme", first.resp.Token, tools.WhoamiName, ""))
	if got.User != first.resp.PersistentUserID || got.Guest {
		t.Fatalf("whoami with the new token = %+v", got)
	}
	again := e.register("acme", acmeSecret, "application/json; charset=utf-8", `{"user_id_from_host_app":"alice@example.com","extra":1}`)
	if again.status != http.StatusOK || again.resp.PersistentUserID != first.resp.PersistentUserID || again.resp.Token == first.resp.Token {
		t.Fatalf("register again = %+v, first %+v", again, first)
	}
	if got := whoami(t, e.modernCall("acme", again.resp.Token, tools.WhoamiName, "")); got.User != first.resp.PersistentUserID {
		t.Fatalf("whoami with the second token = %+v", got)
	}
	// A token from acme is refused on beta.
	wantRPCError(t, e.modernCall("beta", first.resp.Token, tools.WhoamiName, ""), http.StatusUnauthorized, msgBadToken)

	for _, tc := range []struct {
		name, tenant, secret, ct, body string
		status                         int
		detail                         string
	}{
		{"missing secret", "acme", "", ct, `{"user_id_from_host_app":"a"}`, http.StatusUnauthorized, "X-Host-App-Secret header missing"},
		{"wrong secret", "acme", "nope", ct, `{"user_id_from_host_app":"a"}`, http.StatusForbidden, "Invalid X-Host-App-Secret"},
		{"no secret configured", "beta", "anything", ct, `{"user_id_from_host_app":"a"}`, http.StatusForbidden, "HOST_APP_REGISTRATION_SECRET"},
		{"unknown tenant", "nope", acmeSecret, ct, `{"user_id_from_host_app":"a"}`, http.StatusNotFound, `unknown tenant "nope"`},
		{"bad json", "acme", acmeSecret, ct, `{"user_id_from_host_app":`, http.StatusBadRequest, "invalid JSON body"},
		{"not an object", "acme", acmeSecret, ct, `["a"]`, http.StatusBadRequest, "invalid JSON body"},
		{"trailing data", "acme", acmeSecret, ct, `{"user_id_from_host_app":"a"} {}`, http.StatusBadRequest, "unexpected data"},
		{"missing field", "acme", acmeSecret, ct, `{}`, http.StatusBadRequest, "field required"},
		{"number", "acme", acmeSecret, ct, `{"user_id_from_host_app":5}`, http.StatusBadRequest, "invalid JSON body"},
		{"empty id", "acme", acmeSecret, ct, `{"user_id_from_host_app":""}`, http.StatusBadRequest, "must not be empty"},
		{"blank id", "acme", acmeSecret, ct, `{"user_id_from_host_app":"  "}`, http.StatusBadRequest, "must not be blank"},
		{"long id", "acme", acmeSecret, ct, `{"user_id_from_host_app":"` + strings.Repeat("a", 257) + `"}`, http.StatusBadRequest, "at most 256 bytes"},
		{"control char", "acme", acmeSecret, ct, `{"user_id_from_host_app":"a\u0000b"}`, http.StatusBadRequest, "control characters"},
		{"form body", "acme", acmeSecret, "application/x-www-form-urlencoded", `user_id_from_host_app=a`, http.StatusBadRequest, "invalid JSON body"},
		{"local owner", "acme", acmeSecret, ct, `{"user_id_from_host_app":"plexus-local-owner"}`, http.StatusBadRequest, "reserved"},
		{"local owner alias", "acme", acmeSecret, ct, `{"user_id_from_host_app":"Local-Owner"}`, http.StatusBadRequest, "reserved"},
		{"reserved prefix", "acme", acmeSecret, ct, `{"user_id_from_host_app":"plexus-admin"}`, http.StatusBadRequest, "reserved"},
		{"dot dot", "acme", acmeSecret, ct, `{"user_id_from_host_app":".."}`, http.StatusBadRequest, "not a usable id"},
		{"oversized", "acme", acmeSecret, ct, `{"user_id_from_host_app":"a","pad":"` + strings.Repeat("x", maxRegisterBody) + `"}`, http.StatusRequestEntityTooLarge, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := e.register(tc.tenant, tc.secret, tc.ct, tc.body)
			if rr.status != tc.status || !strings.Contains(rr.detail, tc.detail) {
				t.Fatalf("register = %d %q, want %d containing %q", rr.status, rr.detail, tc.status, tc.detail)
			}
		})
	}
	// GET is not allowed.
	resp, err := http.Get(e.hs.URL + "/acme/plexus-auth/register-user")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET register-user: %d", resp.StatusCode)
	}
}

// TestRegisterUserDefaultSecret: HOST_APP_REGISTRATION_SECRET is accepted
// for every tenant (as in MCP Plexus), besides a tenant's own secret, which
// opens only that tenant.
func TestRegisterUserDefaultSecret(t *testing.T) {
	e := newEnv(t, WithDefaultHostAppSecret("default-secret"))
	if err := e.v.SetHostAppSecret(t.Context(), "acme", acmeSecret); err != nil {
		t.Fatal(err)
	}
	body := `{"user_id_from_host_app":"u1"}`
	for _, tc := range []struct {
		tenant, secret string
		status         int
	}{
		{"beta", "default-secret", http.StatusOK},
		{"beta", "wrong", http.StatusForbidden},
		{"acme", acmeSecret, http.StatusOK},
		{"acme", "default-secret", http.StatusOK},
		{"beta", acmeSecret, http.StatusForbidden},
		{"acme", "default-secre", http.StatusForbidden},
		{"acme", "default-secret-", http.StatusForbidden},
	} {
		if rr := e.register(tc.tenant, tc.secret, "application/json", body); rr.status != tc.status {
			t.Errorf("%s with %q: %d %q, want %d", tc.tenant, tc.secret, rr.status, rr.detail, tc.status)
		}
	}
}

// registerBodyCases seed FuzzRegisterUserBody.
var registerBodyCases = []string{
	`{"user_id_from_host_app":"alice"}`,
	`{"user_id_from_host_app":""}`,
	`{"user_id_from_host_app":null}`,
	`{"user_id_from_host_app":"a\u0000"}`,
	`{"user_id_from_host_app":"a"} {}`,
	`{"user_id_from_host_app":"plexus-local-owner"}`,
	`{"user_id_from_host_app":"local-owner"}`,
	`{"user_id_from_host_app":".."}`,
	`{"user_id_from_host_app":"auth0|123"}`,
	`{"user_id_from_host_app":`,
	`[]`,
	`null`,
	``,
	"{\"user_id_from_host_app\":\"\xff\"}",
}

func FuzzRegisterUserBody(f *testing.F) {
	for _, c := range registerBodyCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, body string) {
		id, err := parseRegisterBody(strings.NewReader(body))
		if err != nil {
			if _, ok := err.(*httpError); !ok {
				t.Fatalf("error %v is not an *httpError", err)
			}
			if id != "" {
				t.Fatalf("id %q returned with error", id)
			}
			return
		}
		if err := vault.ValidateHostUserID(id); err != nil {
			t.Fatalf("accepted id %q that the vault refuses: %v", id, err)
		}
	})
}

// TestRegisterAgainKeepsOldTokens: persistent_user_id is the host user id;
// registering again gives a new working token and the old one keeps
// working until revoked; tokens live as long as WithUserTokenTTL says.
func TestRegisterAgainKeepsOldTokens(t *testing.T) {
	e := newEnv(t, WithDefaultHostAppSecret("default-secret"), WithUserTokenTTL(90*time.Minute))
	body := `{"user_id_from_host_app":"auth0|5f7c8ec7"}`
	first := e.register("acme", "default-secret", "application/json", body)
	second := e.register("acme", "default-secret", "application/json", body)
	for _, rr := range []registerReply{first, second} {
		if rr.status != http.StatusOK || rr.resp.PersistentUserID != "auth0|5f7c8ec7" {
			t.Fatalf("register = %+v, want persistent_user_id = the host user id", rr)
		}
	}
	if first.resp.Token == second.resp.Token {
		t.Fatal("the same token twice")
	}
	for i, tok := range []string{first.resp.Token, second.resp.Token} {
		if got := whoami(t, e.modernCall("acme", tok, tools.WhoamiName, "")); got.User != "auth0|5f7c8ec7" {
			t.Fatalf("token %d: whoami = %+v", i, got)
		}
	}
	list, err := e.v.ListTokens(t.Context(), "acme", "auth0|5f7c8ec7")
	if err != nil || len(list) != 2 {
		t.Fatalf("tokens = %+v, %v", list, err)
	}
	for _, info := range list {
		if life := info.ExpiresAt.Sub(info.CreatedAt); life != 90*time.Minute {
			t.Fatalf("token lifetime %v, want the configured 90m", life)
		}
	}
}

// TestLocalOwnerCannotBeImpersonated: a host application cannot get a
// token for the user `plexus stdio` acts as, by its host id, its admin
// alias or its persistent id; the local token still reaches it.
func TestLocalOwnerCannotBeImpersonated(t *testing.T) {
	e := newEnv(t)
	if err := e.v.SetHostAppSecret(t.Context(), "acme", acmeSecret); err != nil {
		t.Fatal(err)
	}
	// The local owner has a key stored (as `plexus admin connections set-api-key` does).
	owner, err := e.v.EnsureLocalOwner(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.v.PutCredential(t.Context(), "acme", owner.ID, vault.CredentialAPIKey, "openweathermap", []byte("owner-key")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{vault.LocalOwnerHostUserID, "PLEXUS-LOCAL-OWNER", vault.LocalOwnerAlias, owner.ID} {
		rr := e.register("acme", acmeSecret, "application/json", `{"user_id_from_host_app":"`+id+`"}`)
		if rr.status != http.StatusBadRequest || !strings.Contains(rr.detail, "reserved") {
			t.Errorf("register %q = %d %q, want 400 naming the rule", id, rr.status, rr.detail)
		}
	}
	if got := whoami(t, e.modernCall("acme", localToken, tools.WhoamiName, "")); got.User != owner.ID {
		t.Fatalf("local token = %+v", got)
	}
	if st, body := e.apiKeys(http.MethodGet, "acme", localToken, "", ""); st != http.StatusOK || !strings.Contains(body, "openweathermap") {
		t.Fatalf("local owner's keys through the local token: %d %s", st, body)
	}
}

// curlDataType is the Content-Type `curl -d` sends: the README's host-app
// examples post JSON with it.
const curlDataType = "application/x-www-form-urlencoded"

// TestHostAppFlowAsCurlSendsIt: the README's "Host-app flow" requests, with
// exactly the headers and bodies curl sends, succeed (they got 415 before).
func TestHostAppFlowAsCurlSendsIt(t *testing.T) {
	e := newEnv(t)
	if err := e.v.SetHostAppSecret(t.Context(), "acme", acmeSecret); err != nil {
		t.Fatal(err)
	}
	send := func(method, path string, hdr map[string]string, body string) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		hr, err := http.NewRequestWithContext(t.Context(), method, e.hs.URL+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		hr.Header.Set("Accept", "*/*")
		hr.Header.Set("User-Agent", "curl/8.5.0")
		for k, v := range hdr {
			hr.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st, body := send(http.MethodPost, "/acme/plexus-auth/register-user", map[string]string{
		"X-Host-App-Secret": acmeSecret, "Content-Type": curlDataType,
	}, `{"user_id_from_host_app": "alice@example.com"}`)
	var reg registerResponse
	if st != http.StatusOK || json.Unmarshal([]byte(body), &reg) != nil || reg.PersistentUserID != "alice@example.com" {
		t.Fatalf("register-user as curl -d sends it: %d %s", st, body)
	}
	bearer := "Bearer " + reg.Token
	st, body = send(http.MethodPost, "/acme/plexus-services/api-keys", map[string]string{
		"Authorization": bearer, "Content-Type": curlDataType,
	}, `{"provider_name": "openweathermap", "api_key_value": "..."}`)
	if st != http.StatusOK {
		t.Fatalf("api-keys as curl -d sends it: %d %s", st, body)
	}
	st, body = send(http.MethodGet, "/acme/plexus-services/api-keys", map[string]string{"Authorization": bearer}, "")
	if st != http.StatusOK || !strings.Contains(body, `"provider_name":"openweathermap"`) || strings.Contains(body, `"..."`) {
		t.Fatalf("list: %d %s", st, body)
	}
	st, body = send(http.MethodDelete, "/acme/plexus-services/api-keys/openweathermap", map[string]string{"Authorization": bearer}, "")
	if st != http.StatusOK {
		t.Fatalf("delete: %d %s", st, body)
	}
	// 3. call tools on $B/mcp with the token.
	if got := whoami(t, e.modernCall("acme", reg.Token, tools.WhoamiName, "")); got.User != "alice@example.com" {
		t.Fatalf("whoami = %+v", got)
	}
}
