package mcpserver

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
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
		{"blank id", "acme", acmeSecret, ct, `{"user_id_from_host_app":"  "}`, http.StatusBadRequest, "must not be empty"},
		{"long id", "acme", acmeSecret, ct, `{"user_id_from_host_app":"` + strings.Repeat("a", 257) + `"}`, http.StatusBadRequest, "longer than 256"},
		{"control char", "acme", acmeSecret, ct, `{"user_id_from_host_app":"a\u0000b"}`, http.StatusBadRequest, "control characters"},
		{"form body", "acme", acmeSecret, "application/x-www-form-urlencoded", `user_id_from_host_app=a`, http.StatusUnsupportedMediaType, "Content-Type"},
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

// TestRegisterUserDefaultSecret: HOST_APP_REGISTRATION_SECRET serves tenants
// without their own secret; a tenant's own secret wins over it.
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
		{"acme", "default-secret", http.StatusForbidden},
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
	`{"user_id_from_host_app":`,
	`[]`,
	`null`,
	``,
	"{\"user_id_from_host_app\":\"\xff\"}",
}

func FuzzRegisterUserBody(f *testing.F) {
	for _, c := range registerBodyCases {
		f.Add("application/json", c)
	}
	f.Add("text/plain", `{"user_id_from_host_app":"a"}`)
	f.Add("", `{"user_id_from_host_app":"a"}`)
	f.Fuzz(func(t *testing.T, ct, body string) {
		id, err := parseRegisterBody(ct, strings.NewReader(body))
		if err != nil {
			if _, ok := err.(*httpError); !ok {
				t.Fatalf("error %v is not an *httpError", err)
			}
			if id != "" {
				t.Fatalf("id %q returned with error", id)
			}
			return
		}
		if id == "" || len(id) > maxHostUserID || hasControl(id) {
			t.Fatalf("accepted bad id %q", id)
		}
	})
}
