package adminops_test

// Tests of the operations the admin UI's pages added: API-key hints,
// sessions, the local owner's consent link, a provider's connection count
// and the typed "secret required" error.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

const apiKey = "weather-key-DO-NOT-LEAK-77f3a9"

func TestAPIKeyHints(t *testing.T) {
	s, v := newOps(t, adminops.Options{})
	ctx := t.Context()
	for _, user := range []string{"alice", apiv1.LocalOwner} {
		if _, err := s.SetAPIKey(ctx, "acme", user, "openweather", apiKey); err != nil {
			t.Fatal(err)
		}
		cs, err := s.Connections(ctx, "acme", user)
		if err != nil || len(cs.APIKeys) != 1 || cs.APIKeys[0].Hint != "f3a9" || cs.APIKeys[0].Provider != "openweather" {
			t.Fatalf("Connections(%s) = %+v, %v", user, cs, err)
		}
		raw, _ := json.Marshal(cs)
		if strings.Contains(string(raw), apiKey[:len(apiKey)-4]) {
			t.Fatalf("the key is in the answer: %s", raw)
		}
	}
	// A very short key is listed without a hint.
	if err := v.PutCredential(ctx, "acme", "alice", vault.CredentialAPIKey, "short", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	cs, err := s.Connections(ctx, "acme", "alice")
	if err != nil || len(cs.APIKeys) != 2 || cs.APIKeys[1].Provider != "short" || cs.APIKeys[1].Hint != "" {
		t.Fatalf("short key: %+v, %v", cs, err)
	}
}

func TestSessions(t *testing.T) {
	s, v := newOps(t, adminops.Options{})
	ctx := t.Context()
	owner, err := v.EnsureLocalOwner(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, sess := range []vault.Session{
		{ID: "sid-guest", TenantID: "acme", Protocol: "2025-06-18"},
		{ID: "sid-alice", TenantID: "acme", UserID: "alice", Protocol: "2025-11-25",
			Client: json.RawMessage(`{"clientInfo":{"name":"claude-ai","title":"Claude\u202e\u0007","version":"0.12"}}`)},
		{ID: "sid-owner", TenantID: "acme", UserID: owner.ID, Protocol: "2025-11-25",
			Client: json.RawMessage(`{"clientInfo":{"name":"plexus-bridge"}}`)},
	} {
		sess.LastSeen = now.Add(time.Duration(i) * time.Second)
		sess.ExpiresAt = now.Add(time.Hour)
		if err := v.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListSessions(ctx, "acme")
	if err != nil || list.Total != 3 || len(list.Sessions) != 3 {
		t.Fatalf("ListSessions = %+v, %v", list, err)
	}
	o, a, g := list.Sessions[0], list.Sessions[1], list.Sessions[2]
	if !o.LocalOwner || o.Client != "plexus-bridge" || a.HostUserID != "alice" || a.LocalOwner || a.Client != "Claude 0.12" ||
		g.UserID != "" || g.Client != "" || a.Fingerprint != a.Ref[:8] || a.Ref != vault.SessionHash("sid-alice") {
		t.Fatalf("sessions: %+v", list.Sessions)
	}
	raw, _ := json.Marshal(list)
	if strings.Contains(string(raw), "sid-") {
		t.Fatalf("a session id is in the list: %s", raw)
	}
	for _, c := range []struct {
		name, tenant, ref string
		want              error
		field             string
	}{
		{"malformed", "acme", "sid-alice", vault.ErrInvalid, "session_ref"},
		{"fingerprint only", "acme", a.Fingerprint, vault.ErrInvalid, "session_ref"},
		{"unknown tenant", "nope", a.Ref, vault.ErrNotFound, ""},
		{"unknown session", "acme", vault.SessionHash("nope"), vault.ErrNotFound, ""},
	} {
		err := s.EndSession(ctx, c.tenant, c.ref)
		fe, isField := errors.AsType[*apiv1.FieldError](err)
		if !errors.Is(err, c.want) || (c.field != "") != isField || isField && fe.Field != c.field {
			t.Errorf("EndSession %s: %v", c.name, err)
		}
	}
	if err := s.EndSession(ctx, "acme", a.Ref); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.ListSessions(ctx, "acme"); list.Total != 2 {
		t.Fatalf("after end: %+v", list)
	}
	if _, err := s.ListSessions(ctx, "nope"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
}

// fakeConsent records the consent request it was asked for.
type fakeConsent struct {
	fakeOAuth
	got oauth.ConsentRequest
}

func (f *fakeConsent) ConsentURL(_ context.Context, req oauth.ConsentRequest) (string, error) {
	if req.Provider != "github" {
		return "", fmt.Errorf("provider %q: %w", req.Provider, oauth.ErrUnknownProvider)
	}
	f.got = req
	return "http://127.0.0.1:1/acme/oauth/consent/abc", nil
}

func TestOwnerConsentURL(t *testing.T) {
	fc := &fakeConsent{}
	s, v := newOps(t, adminops.Options{OAuth: fc})
	ctx := t.Context()
	link, err := s.OwnerConsentURL(ctx, "acme", "github")
	if err != nil || link != "http://127.0.0.1:1/acme/oauth/consent/abc" {
		t.Fatalf("OwnerConsentURL = %q, %v", link, err)
	}
	owner, err := v.EnsureLocalOwner(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if fc.got.Owner != (oauth.Owner{TenantID: "acme", UserID: owner.ID}) || fc.got.Client != adminops.ConsentClientName || fc.got.Scopes != nil {
		t.Fatalf("consent request %+v", fc.got)
	}
	if _, err := s.OwnerConsentURL(ctx, "acme", "slack"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("unknown provider: %v", err)
	}
	if _, err := s.OwnerConsentURL(ctx, "nope", "github"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	// An engine that cannot make links, or none.
	for _, o := range []adminops.Options{{OAuth: &fakeOAuth{}}, {}} {
		s, _ := newOps(t, o)
		if _, err := s.OwnerConsentURL(ctx, "acme", "github"); !errors.Is(err, adminops.ErrUnsupported) {
			t.Fatalf("no consent links: %v", err)
		}
	}
}

func TestProviderConnectionsAndSecretRequired(t *testing.T) {
	s, v := newOps(t, adminops.Options{RedirectURL: func(tenant, p string) string { return "https://x.example/" + tenant + "/cb/" + p }})
	ctx := t.Context()
	if got := s.CallbackURL("acme", "gitlab"); got != "https://x.example/acme/cb/gitlab" {
		t.Fatalf("CallbackURL = %q", got)
	}
	if got := adminops.New(v, adminops.Options{}).CallbackURL("acme", "x"); got != "" {
		t.Fatalf("CallbackURL without a base = %q", got)
	}
	if n, err := s.ProviderConnections(ctx, "acme", "github"); err != nil || n != 0 {
		t.Fatalf("ProviderConnections = %d, %v", n, err)
	}
	owner, _ := v.EnsureLocalOwner(ctx, "acme")
	for _, u := range []string{"alice", owner.ID} {
		if err := v.PutCredential(ctx, "acme", u, vault.CredentialOAuth, "github", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.PutCredential(ctx, "acme", "alice", vault.CredentialAPIKey, "github", []byte("k")); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ProviderConnections(ctx, "acme", "github"); err != nil || n != 2 {
		t.Fatalf("ProviderConnections = %d, %v", n, err)
	}
	if _, err := s.ProviderConnections(ctx, "acme", "slack"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("unknown provider: %v", err)
	}
	_, err := s.UpdateProvider(ctx, "acme", "github", apiv1.ProviderPatch{ClientID: ptr("other")})
	if fe, ok := errors.AsType[*apiv1.FieldError](err); !ok || fe.Field != "client_secret" ||
		!errors.Is(err, adminops.ErrSecretRequired) || !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("destination change without the secret: %v", err)
	}
	if _, err := s.UpdateProvider(ctx, "acme", "github", apiv1.ProviderPatch{ClientID: ptr("")}); errors.Is(err, adminops.ErrSecretRequired) {
		t.Fatalf("an empty client id is not a missing secret: %v", err)
	}
}
